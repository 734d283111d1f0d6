"""Times as the client reads them: in their own time zone, with UTC on hover.

`{{ when|sls_time }}` renders
`<time datetime="2026-11-03T09:00:00+00:00" title="2026-11-03 09:00 UTC">2026-11-03 10:00 CET</time>`
in the time zone activated for the request (accounts.middleware: the
client's country; UTC before login, when we do not know who is asking).
"""

from __future__ import annotations

from datetime import UTC, datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html

register = template.Library()


def _time(value: datetime | None, fmt: str, *, zone_name: bool) -> str:
    if not value:
        return "—"
    utc = value.astimezone(UTC)
    local = timezone.localtime(value)
    shown = local.strftime(fmt) + (f" {local.tzname() or 'UTC'}" if zone_name else "")
    return format_html(
        '<time datetime="{}" title="{} UTC">{}</time>', utc.isoformat(timespec="seconds"), utc.strftime(fmt), shown
    )


@register.filter
def sls_time(value: datetime | None) -> str:
    """Date and time, with the zone's abbreviation."""
    return _time(value, "%Y-%m-%d %H:%M", zone_name=True)


@register.filter
def sls_date(value: datetime | None) -> str:
    """The date in the client's zone (the UTC date on hover)."""
    return _time(value, "%Y-%m-%d", zone_name=False)


@register.filter
def sls_clock(value: datetime | None) -> str:
    """The time of day to the second, with the zone's abbreviation (a short delay)."""
    return _time(value, "%H:%M:%S", zone_name=True)


@register.filter
def sls_minute(value: datetime | None) -> str:
    """Date and time without the zone's abbreviation, for a list whose heading names the zone once."""
    return _time(value, "%Y-%m-%d %H:%M", zone_name=False)
