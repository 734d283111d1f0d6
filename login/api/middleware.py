"""Everything under /api/ is the platform API's: no cookie in or out, and
every answer JSON, even one that was not the API's own (Django's 400 for a
bad Host header, a 500)."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse

from . import errors

logger = logging.getLogger(__name__)

PREFIX = "/api/"


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(PREFIX)


class PlatformApiMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_api(request):
            return self.get_response(request)
        # A browser's cookies are not the platform's: no session, CSRF or
        # language cookie is read (Accept-Language chooses the language), so
        # none is refreshed, set or deleted either.
        request.COOKIES = {}
        response = self.get_response(request)
        if response.status_code >= 400 and not response.get("Content-Type", "").startswith("application/json"):
            response = errors.error(
                errors.for_status(response.status_code, request.method or ""), status=response.status_code
            )
        response.cookies.clear()
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api(request):
            return None
        logger.exception("platform API: %s %s", request.method, request.path_info)
        return errors.error(errors.internal_error())
