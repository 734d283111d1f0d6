"""Demo data: clients in readable states and an agent, with how to log in as each.

Idempotent: running it again keeps what exists and prints the same guide.
"""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.demo import add_activity, require_debug
from accounts.models import Account, Client, User
from agents import actions, demo_interim
from devices import orders
from devices.flows import issue_code_card, issue_device
from devices.models import DeviceOrder, DeviceStatus, DeviceType, SecurityDevice
from login import lockout
from login.models import LoginAttempt
from passcodes import applicants

DEMO_PASSWORD = "demo-password-2026"

PERSONAS = [
    # username, first, last, country, equity, state
    ("enrolled1", "Alice", "Rossi", "IT", "150000.00", "enrolled"),
    ("unenrolled1", "Bob", "Smith", "US", "8000.00", "unenrolled"),
    ("locked1", "Carla", "Meyer", "DE", "42000.00", "locked"),
    ("closed1", "Daniel", "Wong", "HK", "0.00", "closed"),
    ("closed2", "Paola", "Conti", "IT", "0.00", "closed_device_kept"),
    ("intransit1", "Elena", "Bianchi", "IT", "3000.00", "in_transit"),
]

# One client per permanent device kind besides the code card (enrolled1),
# each with an active device; the PIN-bound kinds with a known demo PIN.
# username, first, last, country, equity, device type, PIN
DEVICE_PERSONAS = [
    ("dscplus1", "Elena", "Bianchi", "IT", "60000.00", DeviceType.DSC_PLUS, "2580"),
    ("gold1", "Frank", "Miller", "US", "400000.00", DeviceType.GOLD, "1357"),
    ("platinum1", "Grace", "Lee", "SG", "2500000.00", DeviceType.PLATINUM, "8642"),
    ("mobile1", "Hiro", "Sato", "JP", "12000.00", DeviceType.MOBILE, None),
    ("alpine1", "Ingrid", "Larsen", "NO", "90000.00", DeviceType.ALPINE, None),
]
# Their account numbers, apart from the other personas'.
DEVICE_ACCOUNT_BASE = 100
# closed2 kept its Digital Security Card+ after the closure: its PIN.
CLOSED_DEVICE_PIN = "4826"

# New applicants (C5): an online card to print and activate; the second's
# account is funded, so its device is ordered and the card's 21 days run.
# username, first, last, country, funded with (USD) or None
APPLICANTS = [
    ("applicant1", "Luca", "Conti", "IT", None),
    ("applicant2", "Marta", "Ferri", "IT", "5000.00"),
]


class Command(BaseCommand):
    help = (
        "Create demo clients (enrolled, unenrolled, locked out, closed account, between devices) and an agent, "
        "and print how to log in."
    )

    def handle(self, *args, **options) -> None:
        require_debug()
        now = timezone.now()
        with transaction.atomic():
            agent = self._agent()
            for number, (username, first, last, country, equity, state) in enumerate(PERSONAS, start=1):
                self._persona(agent, number, username, first, last, country, Decimal(equity), state, now)
            for number, persona in enumerate(DEVICE_PERSONAS, start=DEVICE_ACCOUNT_BASE):
                self._device_persona(number, *persona, now=now)
            demo_interim.seed(agent, now, password=DEMO_PASSWORD)
            for persona in APPLICANTS:
                self._applicant(*persona, now=now)
        self._guide()
        self._device_guide()
        demo_interim.guide(self.stdout.write)

    def _agent(self) -> User:
        agent = User.objects.filter(username="agent").first()
        if agent is None:
            agent = User.objects.create_user(
                username="agent", password=DEMO_PASSWORD, is_staff=True, email="agent@sls.example", first_name="Demo"
            )
        group = Group.objects.filter(name="Customer service").first()
        if group is not None:
            agent.groups.add(group)
        if not TOTPDevice.objects.filter(user=agent, confirmed=True).exists():
            TOTPDevice.objects.create(user=agent, name="Agent authenticator", confirmed=True)
        return agent

    def _persona(self, agent, number, username, first, last, country, equity, state, now) -> None:
        if User.objects.filter(username=username).exists():
            return
        client = Client.objects.create(
            first_name=first,
            last_name=last,
            email=f"{username}@example.com",
            phone="+1 555 0100",
            address=f"{number} Demo Street\nDemo City",
            country=country,
        )
        funded_at = now - timedelta(days=400)
        account = Account.objects.create(
            number=f"U9{number:06d}", client=client, equity_usd=equity, funded_at=funded_at
        )
        user = User.objects.create_user(username=username, password=DEMO_PASSWORD, client=client, email=client.email)
        if state in ("enrolled", "locked", "closed"):
            device = issue_code_card(client, agent=agent, now=funded_at if state == "closed" else now)
        if state == "closed_device_kept":
            device = issue_device(client, DeviceType.DSC_PLUS, now=funded_at, pin=CLOSED_DEVICE_PIN)
        if state in ("closed", "closed_device_kept"):
            # A8: a year of records for the statements, the balance taken
            # out, then an agent's closure a month ago.
            closed_at = now - timedelta(days=30)
            add_activity(account, user, since=funded_at, until=closed_at, close_out=True)
            self._close(account, agent, closed_at)
        if state == "closed":
            # Its card came back: the password alone logs in (A8).
            SecurityDevice.objects.filter(pk=device.pk).update(status=DeviceStatus.RETURNED, deactivated_at=now)
        if state == "in_transit":
            # Ordered 2 days ago and shipped yesterday: due in a few days (D4).
            order = orders.place(client, now=now - timedelta(days=2)).order
            DeviceOrder.objects.filter(pk=order.pk).update(shipped_at=now - timedelta(days=1))
        if state == "locked":
            for _ in range(10):
                reservation = lockout.reserve(
                    username, step=LoginAttempt.Step.PASSWORD, ip="192.0.2.10", channel="web", now=now
                )
                lockout.resolve_failure(reservation, now)

    def _close(self, account: Account, agent: User, at) -> None:
        actions.close_account(
            account,
            reason="The client asked to close the account.",
            agent=agent,
            now=at,
            new_verification=actions.NewVerification("callback", "DEMO-CLOSE"),
        )

    def _device_persona(self, number, username, first, last, country, equity, device_type, pin, *, now) -> None:
        if User.objects.filter(username=username).exists():
            return
        client = Client.objects.create(
            first_name=first,
            last_name=last,
            email=f"{username}@example.com",
            phone="+1 555 0100",
            address=f"{number} Demo Street\nDemo City",
            country=country,
        )
        Account.objects.create(
            number=f"U9{number:06d}", client=client, equity_usd=Decimal(equity), funded_at=now - timedelta(days=400)
        )
        User.objects.create_user(username=username, password=DEMO_PASSWORD, client=client, email=client.email)
        issue_device(client, device_type, now=now, pin=pin)

    def _applicant(self, username, first, last, country, funded, *, now) -> None:
        if User.objects.filter(username=username).exists():
            return
        opened = applicants.open_account(
            first_name=first,
            last_name=last,
            email=f"{username}@example.com",
            phone="+39 02 555 0100",
            address="Via Demo 1\n20121 Milano",
            country=country,
            username=username,
            now=now,
        )
        # The e-mail's link would let them choose it; the demo sets it.
        opened.user.set_password(DEMO_PASSWORD)
        opened.user.save(update_fields=["password"])
        if funded:
            applicants.fund_account(opened.account, Decimal(funded), now=now)

    def _device_guide(self) -> None:
        """How to log in with each kind: the simulator shows what the device would."""
        w = self.stdout.write
        w("\nClients with a permanent device (same password; step 2 asks the device):")
        for username, _first, _last, _country, _equity, device_type, pin in DEVICE_PERSONAS:
            label = DeviceType(device_type).label
            if pin:
                w(f"  {username:<11}  {label}, PIN {pin}. Step 2 shows a challenge; the device's response:")
                w(f"               make demo-device CLIENT={username} QUESTION=<the challenge>")
            else:
                w(f"  {username:<11}  {label}. Step 2 asks the code it shows now:")
                w(f"               make demo-device CLIENT={username}")

    def _guide(self) -> None:
        w = self.stdout.write
        w(
            self.style.MIGRATE_HEADING(
                "\nSLS portal demo — http://127.0.0.1:{port}/".format(port=os.environ.get("PORT", "8000"))
            )
        )
        w(f"Every demo password is: {DEMO_PASSWORD}\n")
        w("Clients (log in at /login/):")
        w("  enrolled1    Security Code Card. Step 2 shows two card numbers, one box each; read the codes with")
        w('               make demo-card CLIENT=enrolled1 POSITIONS="12 187"   (without POSITIONS: the whole card)')
        w("  unenrolled1  no security device: the password alone logs in (scope 'unenrolled')")
        w("  locked1      locked after 10 failed attempts (L3); an agent can unlock it in the admin")
        w("  closed1      closed account, its card returned: the password alone logs in, to statements only")
        w(f"  closed2      closed account, its Digital Security Card+ (PIN {CLOSED_DEVICE_PIN}) kept: step 2 asks it;")
        w("               make demo-device CLIENT=closed2 QUESTION=<the challenge>; then statements only")
        in_transit = DeviceOrder.objects.filter(client__users__username="intransit1").select_related("device").first()
        if in_transit is not None and in_transit.device is not None:
            w("  intransit1   a Security Code Card in the post: the password alone logs in until it is activated at")
            w(
                "               /settings/security/sls/activate/ (serial %s); read its codes with"
                % in_transit.device.serial
            )
            w('               make demo-device SERIAL=%s QUESTION="12,187"' % in_transit.device.serial)
        w("  applicant1   a new applicant (C5): the password logs in; print and activate the online card at")
        w("               /settings/security/sls/online-card/ (the PDF or PNG shows its codes)")
        w("  applicant2   the same, with a funded account: the card's 21 days run and a device is on order")
        w("\nAgent (customer service) at /admin/:")
        w(f"  agent / {DEMO_PASSWORD}, then the current authenticator code from")
        w("               make demo-totp AGENT=agent")
