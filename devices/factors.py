"""The second-factor contract (ARCHITECTURE.md principle 7).

Every kind of second factor (a Security Code Card, and later the PIN card,
the mobile authenticator, the hardware tokens, the temporary passcode and
the online card) is a class on django-otp's `Device` contract:

- `generate_challenge()` returns what step 2 asks (JSON, kept with the
  pending login, never a secret);
- `verify_token(token)` answers that challenge, on a device loaded with
  `for_verify=True` (a row lock), and keeps django-otp's throttling
  (`verify_is_allowed()`, ThrottlingMixin);

plus what step 2, the scopes and the API need from it: `step_fields()` (the
form fields step 2 shows), `format_hint()` (L4), `describe_challenge()`
(the API's `challenge` object), `offer` (the API's `accepts` entry) and
`access_scope(now)`. Nothing outside a kind's own class asks which kind a
device is.

The factors a username may use at step 2 come from *sources*: each app
that owns a kind registers a function `(user, now) -> [SecondFactor]`, so
the login asks every source and needs to know none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from django import forms
from django.apps import apps
from django.conf import settings
from django.utils import timezone
from django_otp.models import Device, ThrottlingMixin

from accounts.access import PLATFORM_SCOPES
from help import refusals

# The channels a login comes through (LoginAttempt.channel, the audit).
WEB = "web"
PLATFORM = "platform"

Source = Callable[[object, datetime], list["SecondFactor"]]


@dataclass(frozen=True)
class Allowance:
    """What a login's factor allows now and until when (the dashboard, the
    Secure Login System page, the platform API's valid_until, the agents'
    timeline): `scope` until `until` (None: while the device stays
    active), then `then_scope` until `then_until`, if there is a next window.
    `warn_from`: from when the pages warn that the access ends (the online
    card's expiry, SLS ONLINE_CARD_WARNING_BEFORE), if they do."""

    scope: str
    until: datetime | None = None
    then_scope: str | None = None
    then_until: datetime | None = None
    warn_from: datetime | None = None

    def warns(self, now: datetime) -> bool:
        """The pages warn now that this access is about to end."""
        return self.warn_from is not None and self.until is not None and self.warn_from <= now < self.until


_sources: list[Source] = []


def register_source(source: Source) -> Source:
    """Add a source of factors for step 2 (an app's ready() calls this)."""
    if source not in _sources:
        _sources.append(source)
    return source


def offered_to(user, now: datetime) -> list[SecondFactor]:
    """Every factor this username may answer step 2 with, now: the permanent
    device first, then the interim ones. Empty: the password alone logs in."""
    offered: list[SecondFactor] = []
    for source in _sources:
        offered.extend(source(user, now))
    return offered


def _model_and_pk(persistent_id: str):
    try:
        label, pk = persistent_id.rsplit("/", 1)
        model = apps.get_model(label)
        pk = int(pk)
    except (AttributeError, LookupError, ValueError):
        return None, None
    return (model, pk) if issubclass(model, SecondFactor) else (None, None)


def presented(persistent_id: str, challenge: dict) -> SecondFactor | None:
    """The factor as step 2 shows it, without a query: what a kind shows
    (step_fields, step_instructions, describe_challenge) depends only on its
    class and the challenge the pending login keeps (the contract test
    checks that it equals what the loaded factor shows)."""
    model, pk = _model_and_pk(persistent_id)
    if model is None:
        return None
    factor = model.for_presentation(pk)
    factor.challenge = challenge
    return factor


def load_factor(persistent_id: str, *, for_verify: bool = False) -> SecondFactor | None:
    """The factor behind a django-otp persistent id, or None. With
    for_verify=True it stays locked until the transaction ends (django-otp's
    for_verify), so concurrent answers are decided one at a time."""
    model, pk = _model_and_pk(persistent_id)
    if model is None:
        return None
    return model.load_for_login(pk, for_verify=for_verify)


class SecondFactor(ThrottlingMixin, Device):
    """A kind of second factor. Subclasses implement the `check_token` and
    the step-2 presentation; the throttling and the bookkeeping are here."""

    # The API's name for this factor in `accepts` (API.md): "device" for a
    # permanent device, "temporary_passcode", "online_card".
    offer: ClassVar[str] = "device"

    class Meta:
        abstract = True

    # --- django-otp's contract -------------------------------------------------

    def generate_challenge(self) -> dict:
        """What step 2 asks this factor; kept with the pending login."""
        return {}

    def verify_token(self, token: str) -> bool:
        """Answer `self.challenge` (set by step 2 from the pending login).

        Throttled as django-otp's ThrottlingMixin says: while the delay after
        the last failures runs, nothing is checked and False is returned."""
        allowed, _why = self.verify_is_allowed()
        if not allowed:
            return False
        ok = self.check_token(token)
        if ok:
            self._throttle_write(reset=True)
        else:
            self._throttle_write(reset=False)
        return ok

    def get_throttle_factor(self) -> int:
        return settings.SLS["DEVICE_THROTTLE_FACTOR"]

    # --- what each kind says -------------------------------------------------------

    @classmethod
    def for_login(cls):
        """The rows step 2 loads, with what verifying one reads (one query)."""
        return cls.objects.all()

    @classmethod
    def load_for_login(cls, pk: int, *, for_verify: bool) -> SecondFactor | None:
        """Row `pk` as step 2 verifies it, locked when for_verify."""
        found = cls.for_login()
        if for_verify:
            found = found.select_for_update()
        return found.filter(pk=pk).first()

    @classmethod
    def for_presentation(cls, pk: int) -> SecondFactor:
        """An unsaved stand-in of row `pk` that can show its step 2."""
        return cls(pk=pk)

    challenge: dict = {}

    def check_token(self, token: str) -> bool:
        """The kind's own constant-time check of a token against self.challenge."""
        raise NotImplementedError

    def step_fields(self) -> dict[str, forms.Field]:
        """The fields step 2 shows for self.challenge (labels tied to them)."""
        raise NotImplementedError

    def step_instructions(self) -> str:
        """What step 2 tells the client to do with this factor, in words."""
        raise NotImplementedError

    def response_from(self, cleaned_data: dict) -> str:
        """The token those fields make, as the API takes it in one string."""
        return "".join(cleaned_data[name] for name in self.step_fields())

    def format_hint(self, token: str) -> str:
        """L4: the format rule the typed token broke, or ""."""
        return ""

    def describe_challenge(self) -> dict:
        """The API's `challenge` object for self.challenge."""
        return {"type": "totp"}

    def access_scope(self, now: datetime) -> str | None:
        """The scope a session verified by this factor has now; None: it ended."""
        raise NotImplementedError

    def allowance(self, now: datetime) -> Allowance | None:
        """What this factor allows now and until when; None: nothing any more."""
        scope = self.access_scope(now)
        return Allowance(scope) if scope is not None else None

    def window_refusal(self, now: datetime, channel: str):
        """A9: why a matched answer still opens nothing on `channel` now
        (a LoginRefusal naming the window's rule), or None. Asked after the
        code matched; such a refusal never counts toward L3 (API.md)."""
        scope = self.access_scope(now)
        if scope is None:
            return self.ended_refusal(now)
        if channel == PLATFORM and scope not in PLATFORM_SCOPES:
            return self.platform_refusal(now)
        return None

    def ended_refusal(self, now: datetime):
        """The refusal once this factor's access has ended (A7, A4, A6)."""
        return refusals.device_changed()

    def platform_refusal(self, now: datetime):
        """The refusal of the trading platform while this factor's access is
        narrower than full (A3)."""
        return refusals.login_failed()

    def audit_details(self) -> dict:
        """What the audit event of a login says about the factor (never a secret)."""
        return {"factor": self.offer}

    # --- bookkeeping ---------------------------------------------------------------------

    def _throttle_write(self, *, reset: bool) -> None:
        """ThrottlingMixin's reset and increment as one UPDATE of their two
        columns (its own save() writes every field): a success with nothing
        to reset writes nothing."""
        if reset:
            if self.throttling_failure_count == 0:
                return
            self.throttle_reset(commit=False)
        else:
            self.throttle_increment(commit=False)
        type(self)._base_manager.filter(pk=self.pk).update(
            throttling_failure_count=self.throttling_failure_count,
            throttling_failure_timestamp=self.throttling_failure_timestamp,
        )

    def throttled_until(self) -> datetime | None:
        """When this factor may be tried again, if it is throttled now."""
        allowed, why = self.verify_is_allowed()
        if allowed or not why:
            return None
        return why.get("locked_until") or timezone.now()


def as_kind(instance, kinds: dict):
    """Give a row loaded from a table shared by several kinds the class of
    its own kind (a proxy), when it has one."""
    kind_class = kinds.get(getattr(instance, "kind", None))
    if kind_class is not None and type(instance) is not kind_class:
        instance.__class__ = kind_class
    return instance
