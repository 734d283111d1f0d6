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


@register.filter
def sls_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if not value:
        return "—"
    utc = value.astimezone(UTC)
    local = timezone.localtime(value)
    return format_html(
        '<time datetime="{}" title="{} UTC">{} {}</time>',
        utc.isoformat(timespec="seconds"),
        utc.strftime(fmt),
        local.strftime(fmt),
        local.tzname() or "UTC",
    )


@register.filter
def sls_date(value: datetime | None) -> str:
    return sls_time(value, "%Y-%m-%d")
