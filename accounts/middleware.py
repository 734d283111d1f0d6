"""Times in the client's own time zone (UTC stays on hover: help/templatetags/sls_time.py)."""

from __future__ import annotations

import zoneinfo

from django.utils import timezone

from help import regions

TIME_ZONE = "sls_time_zone"


class ClientTimeZoneMiddleware:
    """Activates the logged-in client's time zone, from the country of residence.

    The zone is kept in the session, so the client row is read once per
    session, not on every page. Anyone else (before login, agents) reads UTC.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.client_id is not None:
            zone = request.session.get(TIME_ZONE)
            if zone not in regions.COUNTRY_TIME_ZONES.values():
                zone = user.client.time_zone
                request.session[TIME_ZONE] = zone
        if zone and zone != "UTC":
            timezone.activate(zoneinfo.ZoneInfo(zone))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
