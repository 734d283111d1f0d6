from __future__ import annotations

from django.utils.cache import add_never_cache_headers

# SECURITY.md 24: no inline script or style anywhere; nothing may frame us.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

# Pages whose content is private or carries a secret even before login.
_NO_STORE_PREFIXES = ("/login/", "/password/", "/admin/", "/logout/", "/api/")


class SecurityHeadersMiddleware:
    """Content-Security-Policy everywhere; no-store on private pages (SECURITY.md 23)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated) or request.path.startswith(_NO_STORE_PREFIXES):
            add_never_cache_headers(response)
        return response
