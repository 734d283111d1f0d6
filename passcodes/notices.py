"""The e-mails of this app, sent through the devices' outbox (principle 5)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from devices.jobs import register_notice

from .applicants import INVITED
from .issuing import ISSUED
from .jobs import CARD_EXPIRED, CARD_WARNING, PASSCODE_EXPIRED, PASSCODE_RESTRICTED
from .models import OnlineCard, TemporaryPasscode


def phone_lines(client) -> str:
    """The client's regional numbers, one per line (A7, H2)."""
    region = client.region
    return "\n".join(f"  {phone.number}" + (f" ({phone.note})" if phone.note else "") for phone in region.phones)


def local(moment, client) -> str:
    """A moment in the client's time zone, with the zone's name."""
    zone = ZoneInfo(client.time_zone)
    return f"{formats.date_format(moment.astimezone(zone), 'DATETIME_FORMAT')} ({client.time_zone})"


def _load_passcodes(keys: list[str]) -> dict:
    ids = [int(key.split(":")[1]) for key in keys]
    found = {}
    for passcode in TemporaryPasscode.objects.filter(pk__in=ids).select_related("user"):
        found[f"passcode:{passcode.pk}"] = passcode
    return found


def _word_issued(notice, passcode: TemporaryPasscode | None) -> tuple[str, str]:
    client = notice.client
    usernames = (
        ", ".join(
            TemporaryPasscode.objects.filter(client=client, issued_at=passcode.issued_at)
            .order_by("user__username")
            .values_list("user__username", flat=True)
        )
        if passcode
        else ""
    )
    subject = _("A temporary passcode was issued for your login")
    body = _(
        "Dear %(name)s,\n\n"
        "at your request, our Customer Service issued a temporary passcode for username %(usernames)s at "
        "%(issued)s.\n\n"
        "It gives full access to Account Management and the trading platform, except withdrawals and changes "
        "of banking instructions, until %(full_until)s; then, until %(restricted_until)s, only to print and "
        "activate your online security card.\n\n"
        "If you did not call us, call your regional Customer Service Center at once:\n%(phones)s\n"
    ) % {
        "name": client.first_name,
        "usernames": usernames,
        "issued": local(passcode.issued_at, client) if passcode else "",
        "full_until": local(passcode.full_until, client) if passcode else "",
        "restricted_until": local(passcode.restricted_until, client) if passcode else "",
        "phones": phone_lines(client),
    }
    return str(subject), str(body)


def _word_passcode_restricted(notice, passcode: TemporaryPasscode | None) -> tuple[str, str]:
    client = notice.client
    subject = _("Your temporary passcode now only lets you print your online security card")
    body = _(
        "Dear %(name)s,\n\n"
        "the two days of full access of your temporary passcode have ended. Until %(until)s it only lets you "
        "log in to Account Management to print and activate your online security card, which then gives you "
        "full access again, withdrawals included. The trading platform no longer accepts the passcode.\n\n"
        "If you need help, call your regional Customer Service Center:\n%(phones)s\n"
    ) % {
        "name": client.first_name,
        "until": local(passcode.restricted_until, client) if passcode else "",
        "phones": phone_lines(client),
    }
    return str(subject), str(body)


def _word_passcode_expired(notice, passcode) -> tuple[str, str]:
    client = notice.client
    subject = _("Your temporary passcode has expired")
    body = _(
        "Dear %(name)s,\n\n"
        "your temporary passcode has expired and no longer lets you log in. To log in again, call your "
        "regional Customer Service Center: after verifying your identity we can help you.\n%(phones)s\n"
    ) % {"name": client.first_name, "phones": phone_lines(client)}
    return str(subject), str(body)


def _load_cards(keys: list[str]) -> dict:
    from .jobs import cards_with_expiry

    ids = [int(key.split(":")[1]) for key in keys]
    now = timezone.now()
    found = {f"card:{card.pk}": card for card in OnlineCard.objects.filter(pk__in=ids)}
    # The expiry as the job computed it, in one query for the batch.
    for pk, expiry in cards_with_expiry(now).filter(pk__in=ids).values_list("pk", "expiry"):
        found[f"card:{pk}"].sql_expiry = expiry
    return found


def _word_card_warning(notice, card: OnlineCard | None) -> tuple[str, str]:
    client = notice.client
    expiry = getattr(card, "sql_expiry", None)
    subject = _("Your online security card expires soon")
    body = _(
        "Dear %(name)s,\n\n"
        "your online security card expires on %(expiry)s. Before then, log in and open Settings > Security > "
        "Secure Login System to reactivate your security device or request a new one.\n\n"
        "If you need help, call your regional Customer Service Center:\n%(phones)s\n"
    ) % {
        "name": client.first_name,
        "expiry": local(expiry, client) if expiry else "",
        "phones": phone_lines(client),
    }
    return str(subject), str(body)


def _word_card_expired(notice, card) -> tuple[str, str]:
    client = notice.client
    subject = _("Your online security card has expired")
    body = _(
        "Dear %(name)s,\n\n"
        "your online security card has expired and no longer lets you log in. Call your regional Customer "
        "Service Center, and be ready to tell us the status of your permanent security device.\n%(phones)s\n"
    ) % {"name": client.first_name, "phones": phone_lines(client)}
    return str(subject), str(body)


register_notice(ISSUED, load=_load_passcodes, word=_word_issued)
register_notice(PASSCODE_RESTRICTED, load=_load_passcodes, word=_word_passcode_restricted)
register_notice(PASSCODE_EXPIRED, load=_load_passcodes, word=_word_passcode_expired)
register_notice(CARD_WARNING, load=_load_cards, word=_word_card_warning)
register_notice(CARD_EXPIRED, load=_load_cards, word=_word_card_expired)


def _load_invited_cards(keys: list[str]) -> dict:
    ids = [int(key.split(":")[1]) for key in keys]
    return {f"card:{card.pk}": card for card in OnlineCard.objects.filter(pk__in=ids).select_related("user")}


def _password_link(user) -> str:
    """A single-use link to choose the password (SECURITY.md 13: it dies with
    the password it sets, and within PASSWORD_RESET_TIMEOUT), made when the
    e-mail is sent, on the portal's public address."""
    uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return settings.PORTAL_URL + reverse("password-reset-confirm", kwargs={"uidb64": uidb64, "token": token})


def _word_invited(notice, card: OnlineCard | None) -> tuple[str, str]:
    """C5: the new applicant's e-mail: choose a password, log in, print and activate the card."""
    client = notice.client
    subject = _("Your new account: your login and your online security card")
    if card is None:  # pragma: no cover - the card row is never deleted (PROTECT)
        return str(subject), ""
    body = _(
        "Dear %(name)s,\n\n"
        "welcome! Your account is being set up. Your username is %(username)s.\n\n"
        "1. Choose your password with this link. It works once, within %(minutes)d minutes; if it has "
        "expired, call us and we send you a new one:\n%(password_link)s\n\n"
        "2. Log in with your username and password, and open your online security card:\n%(card_link)s\n\n"
        "3. Print the card, or save it as an image, then activate it by typing the two codes the page asks "
        "for. From then on you log in with your password and two codes of the card.\n\n"
        "The card works until 21 days after your account is funded. When it is funded we send you your "
        "permanent security device; once that device is active, the card stops working.\n\n"
        "If you did not apply for an account, call your regional Customer Service Center:\n%(phones)s\n"
    ) % {
        "name": client.first_name,
        "username": card.user.username,
        "minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
        "password_link": _password_link(card.user),
        "card_link": settings.PORTAL_URL + reverse("settings-security-sls-online-card"),
        "phones": phone_lines(client),
    }
    return str(subject), str(body)


register_notice(INVITED, load=_load_invited_cards, word=_word_invited)
