"""The e-mails of this app, sent through the devices' outbox (principle 5)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.utils import formats
from django.utils.translation import gettext as _

from devices.jobs import register_notice

from .issuing import ISSUED
from .models import TemporaryPasscode


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


register_notice(ISSUED, load=_load_passcodes, word=_word_issued)
