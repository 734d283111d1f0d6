"""Shared fixtures: personas and helpers.

alice is enrolled with a Security Code Card; bob has no device
(unenrolled); charlie is another client whom alice must never reach;
agent works in the admin with a TOTP device.
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test import Client as HttpClient
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Account, Client, User
from agents.admin_site import ADMIN_DEVICE_SESSION_KEY
from devices import codecard
from devices.flows import issue_code_card
from login.models import LoginGuard
from tests.hashers import FastArgon2PasswordHasher

PASSWORD = "correct horse battery staple"
WRONG = "not the right password"

# Debian's Chromium, driven by Playwright for the browser tests.
CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
NO_CHROMIUM = "Chromium not found at {path}: apt-get install chromium (as root) to run the browser tests"


def missing_browser_reason(path: str | None = None) -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    path = path or CHROMIUM_PATH
    return None if os.path.exists(path) else NO_CHROMIUM.format(path=path)


def pytest_collection_modifyitems(config, items):
    """No browser: skip the browser tests with one line saying how to get them,
    before Playwright's session fixture fails to launch it. In CI (CI=true)
    they run anyway and fail, so a missing browser is never hidden."""
    reason = missing_browser_reason()
    if reason is None or os.environ.get("CI") == "true":
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _english_by_default():
    """Each test starts in the default language and UTC, whatever a request
    in an earlier test activated in this thread (LocaleMiddleware and the
    client's time zone stay active after a response)."""
    from django.utils import translation

    translation.activate("en")
    timezone.deactivate()
    yield
    translation.deactivate()
    timezone.deactivate()


@pytest.fixture
def clock():
    """The frozen clock; `clock.shift(timedelta(...))` moves it."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def client_factory(db):
    def make(first="Alice", last="Rossi", country="IT", email=None, equity="25000.00", username=None, **kw) -> Client:
        person = Client.objects.create(
            first_name=first,
            last_name=last,
            email=email or f"{first.lower()}@example.com",
            phone="+39 02 1234 5678",
            address=kw.pop("address", "Via Roma 1\n20121 Milano"),
            country=country,
        )
        Account.objects.create(
            number=kw.pop("account_number", f"U{person.pk:07d}"),
            client=person,
            equity_usd=Decimal(equity),
            funded_at=kw.pop("funded_at", datetime(2025, 1, 1, tzinfo=UTC)),
            closed_at=kw.pop("closed_at", None),
        )
        if username:
            User.objects.create_user(username=username, password=PASSWORD, client=person, email=person.email)
        return person

    return make


@pytest.fixture
def agent(db):
    from django.contrib.auth.models import Group

    user = User.objects.create_user(username="agent7", password=PASSWORD, is_staff=True, email="agent7@sls.example")
    if not Group.objects.filter(name="Customer service").exists():
        _recreate_agent_groups()
    user.groups.add(Group.objects.get(name="Customer service"))
    return user


def _recreate_agent_groups() -> None:
    """A transactional test's flush removes what data migrations made; put the
    agents' groups back by running that migration's function again."""
    import importlib

    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    migration = importlib.import_module("agents.migrations.0001_agent_groups")
    state = MigrationLoader(connection).project_state(("agents", "0001_agent_groups"))
    migration.create_groups(state.apps, None)
    b2 = importlib.import_module("agents.migrations.0002_b2_permissions")
    b2.add_permissions(MigrationLoader(connection).project_state(("agents", "0002_b2_permissions")).apps, None)
    report = importlib.import_module("agents.migrations.0003_report_device")
    report.add_permission(MigrationLoader(connection).project_state(("agents", "0003_report_device")).apps, None)
    returns = importlib.import_module("agents.migrations.0004_returns_permissions")
    returns.add_permissions(
        MigrationLoader(connection).project_state(("agents", "0004_returns_permissions")).apps, None
    )
    close = importlib.import_module("agents.migrations.0005_close_account")
    close.add_permission(MigrationLoader(connection).project_state(("agents", "0005_close_account")).apps, None)
    passcodes = importlib.import_module("agents.migrations.0006_temporary_passcodes")
    passcodes.add_permissions(
        MigrationLoader(connection).project_state(("agents", "0006_temporary_passcodes")).apps, None
    )
    opening = importlib.import_module("agents.migrations.0007_open_account")
    opening.add_permissions(MigrationLoader(connection).project_state(("agents", "0007_open_account")).apps, None)


@pytest.fixture
def alice(client_factory, agent) -> User:
    person = client_factory("Alice", "Rossi", "IT", username="alice")
    issue_code_card(person, agent=agent, now=timezone.now())
    return User.objects.get(username="alice")


@pytest.fixture
def bob(client_factory) -> User:
    client_factory("Bob", "Smith", "US", username="bob")
    return User.objects.get(username="bob")


@pytest.fixture
def charlie(client_factory, agent) -> User:
    person = client_factory("Charlie", "Tanaka", "JP", username="charlie")
    issue_code_card(person, agent=agent, now=timezone.now())
    return User.objects.get(username="charlie")


@pytest.fixture
def web(db) -> HttpClient:
    """A browser-like client that enforces CSRF, as a real browser session would."""
    return HttpClient(enforce_csrf_checks=True)


def csrf_post(http: HttpClient, path: str, data: dict, **extra):
    """GET the page for its CSRF token, then POST the form with it."""
    page = http.get(path)
    token = page.cookies["csrftoken"].value if "csrftoken" in page.cookies else http.cookies["csrftoken"].value
    return http.post(path, {**data, "csrfmiddlewaretoken": token}, **extra)


def log_in_step_one(http: HttpClient, username: str = "alice", password: str = PASSWORD, **extra):
    """Step 1 on the web: the password form, with its CSRF token."""
    return csrf_post(http, "/login/", {"username": username, "password": password}, **extra)


def card_codes_for(user: User, positions: list[int]) -> list[str]:
    from devices.models import active_binding_for

    seed = active_binding_for(user).security_device.seed
    return [codecard.code_at(seed, p) for p in positions]


def pending_positions(http: HttpClient) -> list[int]:
    """The card positions step 2 asks now of this client's pending login."""
    from login.flows import load_pending
    from login.views import PENDING

    return load_pending(http.session[PENDING], timezone.now()).offers[0]["challenge"]["positions"]


@dataclass
class Opened:
    """What the test opener of a login was handed by the flow."""

    user: object = None
    factor: object = None
    pending: object = None
    token: str | None = None
    already: bool = False

    @property
    def positions(self) -> list[int]:
        return self.pending.offers[0]["challenge"]["positions"]


class RecordingOpener:
    """A login.flows.Opener that opens nothing and says what it was given."""

    def second_factor_needed(self, pending, token):
        return Opened(user=pending.user, pending=pending, token=token)

    def logged_in(self, user, factor):
        return Opened(user=user, factor=factor)

    def already_logged_in(self):
        return Opened(already=True)


def check_password_step(username: str, password: str, **context) -> Opened:
    """Step 1 through the flow itself, as the web and the API call it."""
    from login import flows

    return flows.password_step(username, password, opener=RecordingOpener(), **context)


def check_code_step(token: str, code: str, factor: int = 0, **context) -> Opened:
    """Step 2 through the flow itself, answering the offered factor `factor`."""
    from login import flows

    return flows.code_step(token, factor, code, opener=RecordingOpener(), **context)


def login_fully(http: HttpClient, user: User, password: str = PASSWORD):
    """Both steps with the right answers; returns the last response."""
    first = csrf_post(http, "/login/", {"username": user.username, "password": password})
    assert first.status_code == 302, first.content[:500]
    if first.url != "/login/code/":
        return first
    codes = card_codes_for(user, pending_positions(http))
    return csrf_post(http, "/login/code/", {"code_1": codes[0], "code_2": codes[1]})


INVALID = b"Invalid user name password combination"


def attempt(web, username: str, password: str, **extra):
    """Step 1 through the web form."""
    return csrf_post(web, "/login/", {"username": username, "password": password}, **extra)


def fail(web, username: str, times: int) -> None:
    """`times` wrong passwords, each answered with the plain L2 message."""
    for _ in range(times):
        response = attempt(web, username, WRONG)
        assert response.status_code == 401, response.content[:300]
        assert INVALID in response.content


def assert_logs_in(web, user) -> None:
    response = login_fully(web, user)
    assert response.status_code == 302 and response.url == "/", response.content[:300]


def assert_nothing_half_written() -> None:
    """A refusal before any check stores nothing: no login record of any kind."""
    from login.models import LoginAttempt, LoginGuard, PendingLogin

    assert not PendingLogin.objects.exists()
    assert not LoginGuard.objects.exists()
    assert not LoginAttempt.objects.exists()


def masked(response, username: str) -> bytes:
    """The page without its per-response CSRF token and with the typed
    username replaced, so two answers can be compared byte for byte."""
    content = re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", response.content)
    return content.replace(username.encode(), b"<username>")


@pytest.fixture
def hash_counter(monkeypatch) -> Counter:
    """Counts password hashes computed by the configured (test) Argon2id
    hasher, from any thread: `hash_counter["verify"]`."""
    counts: Counter = Counter()
    lock = threading.Lock()
    verify = FastArgon2PasswordHasher.verify

    def counting_verify(self, password, encoded):
        with lock:
            counts["verify"] += 1
        return verify(self, password, encoded)

    monkeypatch.setattr(FastArgon2PasswordHasher, "verify", counting_verify)
    return counts


def run_at_once(count: int, work: Callable[[int], object]) -> list[object]:
    """Run work(i) in `count` threads released together; results or exceptions."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def thread_main(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = work(index)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=thread_main, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return results


# --- The agents' admin ---------------------------------------------------------

# What an agent types after asking the caller's security questions.
VERIFIED = {"method": "security_questions", "reference": "CALL-4711", "notes": "Asked 3 questions, all right."}
NOT_VERIFIED = {"method": "", "reference": "", "notes": ""}


def totp_device(user: User) -> TOTPDevice:
    device, _ = TOTPDevice.objects.get_or_create(user=user, name="phone", defaults={"confirmed": True})
    return device


def current_token(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):0{device.digits}d}"


def admin_client(user: User) -> HttpClient:
    """A CSRF-enforcing browser session in the admin, past both factors."""
    http = HttpClient(enforce_csrf_checks=True)
    http.force_login(user)
    session = http.session
    session[DEVICE_ID_SESSION_KEY] = session[ADMIN_DEVICE_SESSION_KEY] = totp_device(user).persistent_id
    session.save()
    return http


def admin_login(web: HttpClient, agent: User, device: TOTPDevice):
    """The admin's login form with the password and the device's current code."""
    return csrf_post(
        web,
        "/admin/login/",
        {
            "username": agent.username,
            "password": PASSWORD,
            "otp_device": device.persistent_id,
            "otp_token": current_token(device),
        },
    )


def staff_user(username: str, *, group: str | None = None, superuser: bool = False) -> User:
    from django.contrib.auth.models import Group

    make = User.objects.create_superuser if superuser else User.objects.create_user
    user = make(username=username, password=PASSWORD, is_staff=True, email=f"{username}@sls.example")
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def lock(username: str) -> None:
    from datetime import timedelta

    now = timezone.now()
    LoginGuard.objects.update_or_create(username=username, defaults={"locked_until": now + timedelta(hours=24)})


def user_url(user: User, action: str) -> str:
    return f"/admin/accounts/user/{user.pk}/{action}/"


def client_url(user: User, action: str) -> str:
    return f"/admin/accounts/client/{user.client_id}/{action}/"


@pytest.fixture
def desk(agent) -> HttpClient:
    """The Customer-service agent's browser, logged in to the admin."""
    assert agent.groups.filter(name="Customer service").exists()
    return admin_client(agent)


@pytest.fixture
def root(db) -> User:
    return staff_user("root", superuser=True)


@pytest.fixture
def postgresql(db):
    """Skip on another database, except in CI, where a skip would hide a gap."""
    from django.db import connection

    if connection.vendor != "postgresql":
        reason = f"needs PostgreSQL (DATABASE_URL); the database is {connection.vendor}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def in_ci() -> bool:
    return os.environ.get("CI") == "true"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium (no browser download here), as root without a sandbox."""
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM_PATH,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """The browser asks for English whatever the machine's locale is."""
    return {**browser_context_args, "locale": "en-US"}


# --- The interim kinds (passcodes/) ----------------------------------------------------


def give_passcode(user: User, *, device_status: str = "lost", now=None) -> str:
    """An agent issues `user` a temporary passcode (after a verified call)
    and it is returned in clear, as the agent reads it out."""
    from accounts.models import IdentityVerification
    from passcodes.issuing import issue

    now = now or timezone.now()
    # An agent of its own, so that the tests' agents have no verification from it.
    desk = User.objects.filter(username="passcodedesk").first() or staff_user("passcodedesk")
    verification = IdentityVerification.objects.create(
        client=user.client, agent=desk, method="callback", reference="CALL-1", at=now
    )
    issued = issue(user.client, [user], device_status=device_status, agent=desk, verification=verification, now=now)
    return issued.code


def give_online_card(user: User, *, activated_at=None, applicant: bool = False):
    """`user` gets an online card, activated at `activated_at` (None: now)."""
    from devices import codecard
    from passcodes.models import OnlineCard

    now = timezone.now()
    card = OnlineCard(
        user=user,
        name="Online security code card",
        confirmed=True,
        client=user.client,
        created_at=now,
        activated_at=activated_at or now,
        applicant=applicant,
    )
    card.set_seed(codecard.new_seed())
    card.save()
    return card


def online_card_codes(card, positions: list[int]) -> list[str]:
    from devices import codecard

    return [codecard.code_at(card.seed, position) for position in positions]


def log_in_with_passcode(http: HttpClient, user: User, code: str):
    """Both steps on the web, answering step 2 with a temporary passcode."""
    first = csrf_post(http, "/login/", {"username": user.username, "password": PASSWORD})
    assert first.status_code == 302 and first.url == "/login/code/", first.content[:300]
    from login.flows import load_pending
    from login.views import PENDING

    offers = load_pending(http.session[PENDING], timezone.now()).offers
    index = next(i for i, offer in enumerate(offers) if "temporarypasscode" in offer["device"])
    return csrf_post(http, "/login/code/", {"passcode": code, "factor": index})
