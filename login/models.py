from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

# J1: a lock whose lift is not yet recorded: live, or due for the job
# (login/jobs.py). The job's claim filters on exactly this, so that both
# databases read it from LoginGuard's partial index, which holds only these
# rows: the job costs what is due, not one read per username ever typed.
LIFT_UNRECORDED = Q(locked_until__isnull=False) & (
    Q(lift_recorded_for__isnull=True) | ~Q(lift_recorded_for=F("locked_until"))
)


class LoginGuard(models.Model):
    """L3: one row per username string typed at login, existing or not.

    The row is the per-username lock under which an attempt reserves its
    place before any password is hashed (ARCHITECTURE.md principle 6).
    Unknown usernames get one too, so lockouts reveal nothing about
    which usernames exist.
    """

    username = models.CharField(max_length=settings.SLS["USERNAME_MAX_LENGTH"], unique=True)
    # Failures at or before this instant no longer count (success or unlock).
    reset_at = models.DateTimeField(null=True, blank=True)
    # The lock holds while now < locked_until (24 h after the last failure).
    locked_until = models.DateTimeField(null=True, blank=True)
    # J1: set by the job when it recorded that the lock above was lifted.
    lift_recorded_for = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["locked_until"], name="guard_lift_unrecorded", condition=LIFT_UNRECORDED)]

    def __str__(self) -> str:
        return self.username

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until


class LoginAttempt(models.Model):
    """One login attempt at either step, on the web or the platform API."""

    class Outcome(models.TextChoices):
        PENDING = "pending", _("in progress")
        PASSED = "passed", _("step passed")
        FAILED = "failed", _("failed")
        REFUSED = "refused", _("refused while locked")
        SUCCEEDED = "succeeded", _("login completed")

    class Step(models.TextChoices):
        PASSWORD = "password", _("username and password")
        CODE = "code", _("security code")

    guard = models.ForeignKey(LoginGuard, on_delete=models.CASCADE, related_name="attempts")
    at = models.DateTimeField()
    step = models.CharField(max_length=10, choices=Step.choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    ip = models.GenericIPAddressField(null=True, blank=True)
    channel = models.CharField(max_length=10, default="web")

    class Meta:
        indexes = [
            # L3 counts a username's failures, refusals and live reservations
            # only: its successes stay out of the index, so a username with a
            # long history of logins costs a login no more (login/lockout.py).
            models.Index(
                fields=["guard", "at"],
                name="attempt_guard_at_counted",
                condition=Q(outcome__in=["failed", "refused", "pending"]),
            ),
            # SECURITY.md 7 counts an address's failures only: a busy
            # address's successes stay out of the way (login/lockout.py).
            models.Index(
                fields=["ip", "at"], name="attempt_ip_at_counted", condition=Q(outcome__in=["failed", "refused"])
            ),
            # The retention job finds the attempts older than their period
            # from the start of this index (login/retention.py).
            models.Index(fields=["at"], name="attempt_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.step} {self.outcome}"

    # L3: what counts toward the limit (login/lockout.py). A pending
    # attempt also counts until it resolves, so concurrent attempts cannot
    # all squeeze under the limit.
    COUNTED_OUTCOMES = (Outcome.FAILED, Outcome.REFUSED)


class PendingLogin(models.Model):
    """Between step 1 and step 2: who passed the password and what is asked.

    Step 2 finds it by an opaque token whose hash is stored here: the web
    keeps the token in the (rotated) session; the trading-platform API
    hands it to the client.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    # The factors offered to this username at step 2, each with its
    # challenge: [{"device": <django-otp persistent id>, "challenge": {..}}],
    # the permanent device first (devices.factors.offered_to).
    offers = models.JSONField(default=list)
    # Bumped by each step-2 attempt: the attempt that bumps it owns the challenges.
    challenge_serial = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"pending login of {self.user_id} from {self.created_at:%Y-%m-%d %H:%M:%S}"

    def is_live(self, now: datetime) -> bool:
        return self.finished_at is None and now < self.expires_at


class PlatformSession(models.Model):
    """A session of the trading platform, opened by the platform API's
    second step (or its first, for a login with the password alone).

    The platform holds a bearer token; only its SHA-256 is stored. What the
    session allows is never stored either: it is derived on every request
    from the factor that verified it and now (principle 2), so a temporary
    passcode's session stops at day 2 without any job (A3). The rows record
    only who, with what, since when, until when at most, and when it ended.
    """

    token_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # The verifying factor's django-otp persistent id; empty: the password
    # alone (an unenrolled client).
    factor = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField()
    # SECURITY.md 3: the absolute lifetime (SLS SESSION_ABSOLUTE) from the login.
    expires_at = models.DateTimeField()
    # Logout.
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("trading-platform session")
        verbose_name_plural = _("trading-platform sessions")

    def __str__(self) -> str:
        return f"platform session of {self.user_id} from {self.created_at:%Y-%m-%d %H:%M:%S}"
