"""Moments as an agent reads them out: in UTC and in the client's own time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from accounts.models import Client


@dataclass(frozen=True)
class Moment:
    """One instant, written in UTC and in the client's zone (with the zone's abbreviation)."""

    at: datetime
    utc: str
    local: str


def moment(at: datetime | None, client: Client) -> Moment | None:
    if at is None:
        return None
    zone = ZoneInfo(client.time_zone)
    local = at.astimezone(zone)
    return Moment(
        at=at,
        utc=f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
        local=f"{local:%Y-%m-%d %H:%M} {local.tzname() or client.time_zone}",
    )


def both(when: Moment) -> str:
    """ "2026-11-04 09:00 UTC (10:00 CET)": what the agent reads out, and to whom it is local."""
    return f"{when.utc} ({when.local})"
