#!/usr/bin/env python
"""Login throughput against raw Argon2 throughput, measured in the same run.

ARCHITECTURE.md (Performance): "Login throughput stays within 10% of raw
Argon2 hashing throughput measured in the same run". This script measures

  (a) raw Argon2 verifications per second: Django's configured production
      hasher (Argon2PasswordHasher, default parameters) verifying a
      precomputed hash;
  (b) full two-step logins per second through the real views with Django's
      test Client: POST /login/ (username + password), then POST
      /login/code/ with the two Security Code Card codes of the pending
      challenge, both form-encoded as a browser sends them;

interleaved in pairs, and reports logins/s divided by verifications/s
(target >= 0.9). Only the hash calls and the two POSTs are timed; reading
the challenge's positions (the harness playing the client) is not.

It uses the production settings module (sls_portal.settings) with DEBUG=1
(no HTTPS redirect; the hashers are the production ones); once the settings
are loaded, settings.DEBUG is turned off again, so that the requests run as
in production, without DEBUG's per-query logging (on SQLite that logging
runs an extra SELECT per query to quote its parameters); --keep-debug
leaves it on. It runs against a freshly migrated database: a temporary
SQLite file by default, or, when DATABASE_URL is set, a new database on
that server (bench_<name>_<pid>), dropped afterwards. The results go to
benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/login.py [--iterations 60] [--check] [--profile] [--kind code_card|dsc_plus|mobile|temporary_passcode|online_card]
    make bench [BENCH_ARGS="--check"]

Below the target, it profiles logins with cProfile and records where the
time goes. --check makes it exit 1 below the target.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import logging
import os
import platform
import pstats
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
TARGET = 0.9

USERNAME = "benchuser"
PASSWORD = "correct horse battery staple"

# What a browser sends for the login forms (they upload no files).
FORM = "application/x-www-form-urlencoded"

TABLE_END = "<!-- end of results table: login.py adds a row above this line -->"
LATEST = "## Latest run on "  # + the database's name: one section per database
LATEST_END = "<!-- end of login.py's latest runs: other scripts' sections follow -->"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=60, help="timed logins and timed hashes, each (default 60)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed logins and hashes first (default 10)")
    parser.add_argument("--check", action="store_true", help=f"exit 1 if the ratio is below {TARGET}")
    parser.add_argument("--profile", action="store_true", help="profile logins even when the target is met")
    parser.add_argument(
        "--output", type=Path, default=RESULTS, help="Markdown file to update (default benchmarks/RESULTS.md)"
    )
    parser.add_argument("--no-write", action="store_true", help="print the results only")
    parser.add_argument(
        "--kind",
        choices=("code_card", "dsc_plus", "mobile", "temporary_passcode", "online_card"),
        default="code_card",
        help="the second factor the demo user logs in with (default code_card)",
    )
    parser.add_argument(
        "--keep-debug", action="store_true", help="leave settings.DEBUG on while measuring (per-query logging)"
    )
    args = parser.parse_args()
    if args.iterations < 2:
        parser.error("--iterations must be at least 2")
    return args


# --- set-up -----------------------------------------------------------------


def configure(workdir: Path) -> None:
    """Environment for sls_portal.settings, before Django is set up."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "sls_portal.settings"
    os.environ["DEBUG"] = "1"
    os.environ["SECURE_SSL_REDIRECT"] = "0"
    os.environ["ALLOWED_HOSTS"] = "testserver,localhost,127.0.0.1"  # the test Client's host
    os.environ["SLS_VAR_DIR"] = str(workdir)  # mail and broker files stay in the temporary folder
    os.environ["CELERY_BROKER_URL"] = "filesystem://"  # nothing is sent anywhere
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    sys.path.insert(0, str(ROOT))


def fresh_database(workdir: Path, given_url: bool):
    """Migrate a new database; returns a function that drops it (or None)."""
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    if not given_url:
        call_command("migrate", verbosity=0, interactive=False)
        return None
    # Our own name, never test_<name>: a test run may be using that one.
    test = settings.DATABASES["default"].setdefault("TEST", {})
    if connection.vendor == "sqlite":
        test["NAME"] = str(workdir / "bench-test.sqlite3")
    else:
        test["NAME"] = f"bench_{settings.DATABASES['default']['NAME']}_{os.getpid()}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    return lambda: connection.creation.destroy_test_db(old_name, verbosity=0)


def quiet_console_logging() -> None:
    """The audit log still formats every event at INFO, as in production,
    but the lines go nowhere instead of flooding the terminal."""
    sink = open(os.devnull, "w")  # noqa: SIM115 (lives as long as the process)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sink)


def create_demo_user(kind: str = "code_card"):
    """An enrolled client with a device of this kind; returns the user and the device."""
    from django.utils import timezone

    from accounts.models import Account, Client, User
    from devices.flows import issue_code_card, issue_device
    from devices.models import active_binding_for

    now = timezone.now()
    agent = User.objects.create_user(
        username="benchagent", password=PASSWORD, is_staff=True, email="benchagent@sls.example"
    )
    person = Client.objects.create(
        first_name="Bench",
        last_name="Mark",
        email="bench@example.com",
        phone="+39 02 1234 5678",
        address="Via Roma 1\n20121 Milano",
        country="IT",
    )
    Account.objects.create(
        number="U9000001", client=person, equity_usd=Decimal("25000.00"), funded_at=now - timedelta(days=365)
    )
    user = User.objects.create_user(username=USERNAME, password=PASSWORD, client=person, email=person.email)
    if kind in ("code_card", "temporary_passcode", "online_card"):
        issue_code_card(person, agent=agent, now=now)
    else:
        issue_device(person, kind, now=now, pin="2580" if kind == "dsc_plus" else None)
    device = active_binding_for(user).security_device
    if kind == "temporary_passcode":
        return user, device, _passcode_answer(user, person, agent, now)
    if kind == "online_card":
        return user, device, _online_card_answer(user, person, now)
    return user, device, None


def _passcode_answer(user, person, agent, now):
    """The card reported lost on the phone, and a passcode issued (A2): the
    login is the passcode's, in its full window."""
    from accounts.models import IdentityVerification
    from passcodes.issuing import issue

    verification = IdentityVerification.objects.create(client=person, agent=agent, method="callback", reference="B-1")
    code = issue(person, [user], device_status="lost", agent=agent, verification=verification, now=now).code
    return lambda challenge: {"passcode": code}


def _online_card_answer(user, person, now):
    """The card reported lost, and an online card activated in its place (A4)."""
    from devices import codecard
    from devices.models import DeviceStatus, SecurityDevice
    from passcodes.models import OnlineCard

    SecurityDevice.objects.filter(client=person).update(status=DeviceStatus.LOST, deactivated_at=now)
    card = OnlineCard(user=user, name="bench", confirmed=True, client=person, created_at=now, activated_at=now)
    seed = codecard.new_seed()
    card.set_seed(seed)
    card.save()

    def answer(challenge):
        codes = [codecard.code_at(seed, position) for position in challenge["positions"]]
        return {f"code_{index}": code for index, code in enumerate(codes, start=1)}

    return answer


# --- the two measurements ------------------------------------------------------


class RoundTripCounter:
    """A database execute wrapper that counts round trips to the database
    (each statement is one; commits are not statements and not counted)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


class Harness:
    def __init__(self, user, device, answer=None):
        from django.contrib.auth.hashers import Argon2PasswordHasher, get_hasher, identify_hasher
        from django.test import Client as HttpClient

        self.hasher = get_hasher("default")
        if type(self.hasher) is not Argon2PasswordHasher:
            sys.exit(f"the default hasher is {type(self.hasher).__name__}, not Django's Argon2PasswordHasher")
        if identify_hasher(user.password).algorithm != self.hasher.algorithm:
            sys.exit("the demo user's password was not hashed with the default hasher")
        self.encoded = self.hasher.encode(PASSWORD, self.hasher.salt())
        same_costs = ("time_cost", "memory_cost", "parallelism")
        stored, ours = self.hasher.decode(user.password), self.hasher.decode(self.encoded)
        if any(stored[key] != ours[key] for key in same_costs):
            sys.exit("the user's hash and the benchmark's hash have different Argon2 costs")
        self.device = device
        self.seed = device.seed
        # The interim kinds answer step 2 their own way (create_demo_user).
        self.interim_answer = answer
        self.queries = 0
        self.steps = (0.0, 0.0)
        # One client for every login, as one server process serves many: a
        # new Client would load the whole middleware stack again (WhiteNoise
        # indexes every static file when it starts).
        self.http = HttpClient()

    def hash_once(self) -> float:
        start = time.perf_counter()
        ok = self.hasher.verify(PASSWORD, self.encoded)
        elapsed = time.perf_counter() - start
        if not ok:
            sys.exit("Argon2 verification failed")
        return elapsed

    def answer(self, challenge: dict) -> dict:
        """The step-2 form the device's holder would send (untimed)."""
        from devices import algorithms, codecard
        from devices.models import DeviceBinding, SecurityDevice

        if self.interim_answer is not None:
            return self.interim_answer(challenge)

        kind = DeviceBinding.KINDS[self.device.type]
        if self.device.type == "code_card":
            codes = [codecard.code_at(self.seed, position) for position in challenge["positions"]]
            return {f"code_{index}": code for index, code in enumerate(codes, start=1)}
        if self.device.type == "dsc_plus":
            return {
                "code": algorithms.ocra_response(
                    kind.ocra_suite, self.seed, challenge["question"], self.device.pin_digest
                )
            }
        # TOTP accepts each time step once (SEC8): a login every few ms would
        # be a replay, so the harness forgets the last step, as 30 s passing would.
        SecurityDevice.objects.filter(pk=self.device.pk).update(totp_last_step=None)
        return {"code": algorithms.totp(self.seed, digits=kind.code_length, period=kind.period).now()}

    def login_once(self) -> float:
        """Both steps; returns the seconds spent inside the two requests.

        Also sets self.queries: the round trips to the database the two
        requests made (BEGIN included on SQLite; commits not counted)."""
        from django.db import connection
        from django.utils import timezone

        from login.flows import load_pending
        from login.views import PENDING

        http = self.http
        http.cookies.clear()  # a new visitor: no session yet
        counter = RoundTripCounter()
        with connection.execute_wrapper(counter):
            start = time.perf_counter()
            first = http.post("/login/", urlencode({"username": USERNAME, "password": PASSWORD}), content_type=FORM)
            step_one = time.perf_counter() - start
        if first.status_code != 302 or first.url != "/login/code/":
            sys.exit(f"step 1 answered {first.status_code} {getattr(first, 'url', '')}: {first.content[:300]!r}")

        # The harness reads the challenge, as a client reads the page: untimed.
        challenge = load_pending(http.session[PENDING], timezone.now()).offers[0]["challenge"]
        data = self.answer(challenge)

        with connection.execute_wrapper(counter):
            start = time.perf_counter()
            second = http.post("/login/code/", urlencode(data), content_type=FORM)
            step_two = time.perf_counter() - start
        self.queries = counter.count
        self.steps = (step_one, step_two)
        if second.status_code != 302 or second.url != "/":
            sys.exit(f"step 2 answered {second.status_code} {getattr(second, 'url', '')}: {second.content[:300]!r}")
        return step_one + step_two


def measure(harness: Harness, iterations: int, warmup: int) -> dict:
    """Pairs of one verification and one login, alternating which goes
    first, so that a change in the machine's load hits both alike."""
    for _ in range(warmup):
        harness.hash_once()
        harness.login_once()
    gc.collect()
    hash_times: list[float] = []
    login_times: list[float] = []
    steps: list[tuple[float, float]] = []
    for index in range(iterations):
        if index % 2 == 0:
            hash_times.append(harness.hash_once())
            login_times.append(harness.login_once())
        else:
            login_times.append(harness.login_once())
            hash_times.append(harness.hash_once())
        steps.append(harness.steps)
    hashes_per_s = len(hash_times) / sum(hash_times)
    logins_per_s = len(login_times) / sum(login_times)
    pair_ratios = [h / l for h, l in zip(hash_times, login_times, strict=True)]
    return {
        "hashes_per_s": hashes_per_s,
        "logins_per_s": logins_per_s,
        "ratio": logins_per_s / hashes_per_s,
        "pair_median": statistics.median(pair_ratios),
        "pair_quartiles": statistics.quantiles(pair_ratios, n=4),
        "hash_ms": statistics.median(hash_times) * 1000,
        "login_ms": statistics.median(login_times) * 1000,
        "step_one_ms": statistics.median(one for one, _two in steps) * 1000,
        "step_two_ms": statistics.median(two for _one, two in steps) * 1000,
        "queries": harness.queries,
    }


def transactions_per_login(harness: Harness, count: int = 5) -> str:
    """A few more logins, without the profiler: the statements of one login
    by kind, the transactions it needs (each a commit the database must make
    durable), and the time spent waiting for the database."""
    from collections import Counter

    from django.db import connections

    connection = connections["default"]
    kinds: Counter[str] = Counter()
    autocommit_writes = 0
    commits = 0
    in_database = 0.0

    def observe(execute, sql, params, many, context):
        nonlocal autocommit_writes, in_database
        verb = sql.lstrip().split(None, 1)[0].upper()
        kinds[verb] += 1
        if verb in ("INSERT", "UPDATE", "DELETE") and not context["connection"].in_atomic_block:
            autocommit_writes += 1
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            in_database += time.perf_counter() - start

    real_commit = connection.commit

    def counting_commit():
        nonlocal commits, in_database
        commits += 1
        start = time.perf_counter()
        try:
            return real_commit()
        finally:
            in_database += time.perf_counter() - start

    connection.commit = counting_commit  # atomic() commits through this attribute
    in_requests = 0.0
    try:
        with connection.execute_wrapper(observe):
            for _ in range(count):
                in_requests += harness.login_once()
    finally:
        del connection.commit
    listed = ", ".join(f"{n // count} {verb}" for verb, n in kinds.most_common())
    commits, autocommit_writes = commits // count, autocommit_writes // count
    return (
        f"- Round trips of one login by their statement, with the harness's 2 reads of the challenge: {listed}.\n"
        f"- Transactions: {commits} atomic blocks and {autocommit_writes} writes in autocommit "
        f"(each its own transaction), so {commits + autocommit_writes} durable commits per login.\n"
        f"- Over {count} unprofiled logins: {in_requests / count * 1000:.1f} ms in the two requests, of which "
        f"{in_database / count * 1000:.1f} ms waiting for the database (statements and commits, "
        "the harness's reads included)."
    )


DRIVER_MARKERS = ("sqlite3", "SQLiteCursorWrapper", "psycopg")


def profile_logins(harness: Harness, count: int = 10) -> str:
    """Where a login's time goes, from cProfile (which slows Python down).

    Each function's own time goes to one bucket: the Argon2 C call, the
    database driver's C calls (execute, fetch, commit), or Python."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        harness.login_once()
    profiler.disable()
    stats = pstats.Stats(profiler)
    buckets = {"argon2": 0.0, "driver": 0.0, "python": 0.0}
    for (path, _line, name), row in stats.stats.items():
        own = row[2]
        if path == "~" and "argon2" in name:
            buckets["argon2"] += own
        elif path == "~" and any(marker in name for marker in DRIVER_MARKERS):
            buckets["driver"] += own
        else:
            buckets["python"] += own
    total = sum(buckets.values())
    labels = {
        "argon2": "Argon2 verification (argon2_verify, C)",
        "driver": "database driver (execute, fetch, commit)",
        "python": "Python: views, forms, ORM, middleware, sessions, audit, test Client",
    }
    lines = [
        f"cProfile over {count} logins: {total / count * 1000:.1f} ms per login. The profiler slows "
        "Python code several times more than C calls, so the Python share is overstated here; "
        "the medians above are unprofiled.",
        "",
    ]
    lines += ["| part | ms per login | share |", "|---|---:|---:|"]
    for key, label in labels.items():
        lines.append(f"| {label} | {buckets[key] / count * 1000:.1f} | {buckets[key] / total:.0%} |")
    out = io.StringIO()
    stats.stream = out
    stats.sort_stats("tottime").print_stats(15)
    text = out.getvalue()
    text = text[text.find("   ncalls") :] if "   ncalls" in text else text
    text = "\n".join(line for line in text.splitlines() if line.strip())
    text = text.replace(str(ROOT) + "/", "").replace(sys.prefix + "/lib/", "")
    lines += ["", "Top 15 functions by own time:", "", "```", text, "```"]
    return "\n".join(lines)


# --- reporting -------------------------------------------------------------------


def machine_facts() -> dict:
    from importlib.metadata import version

    import django
    from django.contrib.auth.hashers import get_hasher
    from django.db import connection

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    if connection.vendor == "postgresql":
        v = connection.pg_version
        database = f"PostgreSQL {v // 10000}.{v % 10000}"
    elif connection.vendor == "sqlite":
        import sqlite3

        database = f"SQLite {sqlite3.sqlite_version} (file)"
    else:
        database = connection.vendor
    hasher = get_hasher("default")
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "django": django.get_version(),
        "argon2": version("argon2-cffi"),
        "database": database,
        "hasher": f"{type(hasher).__name__}: time_cost={hasher.time_cost}, "
        f"memory_cost={hasher.memory_cost} KiB, parallelism={hasher.parallelism}",
    }


HEADER = f"""# Benchmark results

Written by `benchmarks/login.py` (`make bench`); one row per run, newest last.
Ratio = logins/s ÷ Argon2 verifications/s, measured in the same run; the
target (ARCHITECTURE.md, Performance) is ≥ {TARGET}. The load average
(1 minute, before and after) says how busy the machine was: Argon2 runs 8
threads, so other work slows hashes and logins unevenly.

| date (UTC) | machine | load before → after | Python | database | Argon2 verifications/s | logins/s | ratio | target | met |
|---|---|---|---|---|---:|---:|---:|---:|---|
{TABLE_END}
"""


def write_results(path: Path, row: str, latest: str) -> None:
    """Add the row to the table; replace the "Latest run" section of this
    run's database, keep the others, and keep whatever other scripts wrote
    after LATEST_END (their own sections, between their own markers)."""
    text = path.read_text() if path.exists() else HEADER
    if TABLE_END not in text:
        text = HEADER
    before, after = text.split(TABLE_END, 1)
    if LATEST_END in after:
        after, others = after.split(LATEST_END, 1)
    else:  # a file from before the marker: other scripts' sections start with "<!-- "
        cut = after.find("\n<!-- ")
        after, others = (after, "") if cut < 0 else (after[:cut], after[cut:])
    sections = [part.strip() for part in ("\n" + after).split("\n" + LATEST) if part.strip()]
    title = latest.splitlines()[0][len(LATEST) :]
    kept = [LATEST + part for part in sections if part.splitlines()[0] != title]
    body = "\n\n".join(sorted([*kept, latest.strip()]))
    path.write_text(before + row + "\n" + TABLE_END + "\n\n" + body + "\n\n" + LATEST_END + others.rstrip() + "\n")


def main() -> int:
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="sls-bench-"))
    given_url = bool(os.environ.get("DATABASE_URL"))
    configure(workdir)

    import django

    django.setup()
    if not args.keep_debug:
        from django.conf import settings

        settings.DEBUG = False
        # WhiteNoise, now out of DEBUG, looks for collected static files; none are needed here.
        warnings.filterwarnings("ignore", message="No directory at")
    quiet_console_logging()
    drop = fresh_database(workdir, given_url)
    try:
        user, device, answer = create_demo_user(args.kind)
        harness = Harness(user, device, answer)
        facts = machine_facts()
        print(f"{facts['cores']} cores, {facts['cpu']}; Python {facts['python']}; {facts['database']}")
        print(facts["hasher"])
        print(f"measuring {args.iterations} logins and {args.iterations} verifications, interleaved ...", flush=True)
        load_before = os.getloadavg()[0]
        result = measure(harness, args.iterations, args.warmup)
        load_after = os.getloadavg()[0]
        met = result["ratio"] >= TARGET
        profile = profile_logins(harness) if (args.profile or not met) else ""
        transactions = transactions_per_login(harness) if profile else ""
    finally:
        if drop:
            drop()
        shutil.rmtree(workdir, ignore_errors=True)

    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    machine = f"{facts['cores']} cores, {facts['cpu']}"
    row = (
        f"| {now} | {machine} | {load_before:.2f} → {load_after:.2f} | {facts['python']} | {facts['database']}, {args.kind} "
        f"| {result['hashes_per_s']:.2f} | "
        f"{result['logins_per_s']:.2f} | {result['ratio']:.3f} | ≥ {TARGET} | {'yes' if met else '**no**'} |"
    )
    q1, _q2, q3 = result["pair_quartiles"]
    latest = "\n".join(
        [
            LATEST + facts["database"].split()[0] + ("" if args.kind == "code_card" else f", {args.kind}"),
            "",
            f"- {now} UTC on {machine}; Python {facts['python']}, Django {facts['django']}, "
            f"argon2-cffi {facts['argon2']}; {facts['database']}; second factor: {args.kind}.",
            f"- Hasher: {facts['hasher']} (the production default).",
            "- settings.DEBUG "
            + (
                "left on (--keep-debug): every query is logged."
                if args.keep_debug
                else "turned off after loading the settings with DEBUG=1: no per-query logging, as in production."
            ),
            f"- {args.iterations} Argon2 verifications and {args.iterations} logins after {args.warmup} "
            "of each as warm-up, interleaved in pairs (one of each, alternating which goes first).",
            f"- Load average (1 min): {load_before:.2f} before, {load_after:.2f} after "
            f"({facts['cores']} cores); other work on the machine makes the numbers noisy.",
            f"- Median: one verification {result['hash_ms']:.1f} ms; one login {result['login_ms']:.1f} ms "
            f"(POST /login/ {result['step_one_ms']:.1f} ms, POST /login/code/ {result['step_two_ms']:.1f} ms), "
            f"so about {result['login_ms'] - result['hash_ms']:.0f} ms of a login is not the hash; "
            f"{result['queries']} round trips to the database per login, commits not counted.",
            f"- Ratio per pair: median {result['pair_median']:.3f}, quartiles {q1:.3f} to {q3:.3f}; "
            f"overall **{result['ratio']:.3f}** ({'meets' if met else 'misses'} the target ≥ {TARGET}).",
        ]
    )
    if profile:
        latest += "\n\n### Where a login's time goes\n\n" + transactions + "\n\n" + profile
    print(row)
    print(latest)
    if not args.no_write:
        write_results(args.output, row, latest)
        print(f"written to {args.output}")
    if args.check and not met:
        print(f"ratio {result['ratio']:.3f} is below the target {TARGET}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
