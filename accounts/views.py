from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views import i18n
from django.views.decorators.http import require_POST

from . import access
from .access import scope_required
from .models import Client


@require_POST
def set_language_view(request: HttpRequest) -> HttpResponse:
    """Django's set_language, which also keeps a logged-in client's choice:
    what we send them (e-mails, the printed card) follows it."""
    response = i18n.set_language(request)
    language = request.POST.get("language")
    user = request.user
    if user.is_authenticated and user.client_id is not None and language in dict(settings.LANGUAGES):
        Client.objects.filter(pk=user.client_id).exclude(language=language).update(language=language)
    return response


@scope_required(access.FULL, access.UNENROLLED)
def dashboard_view(request: HttpRequest) -> HttpResponse:
    client = request.user.client
    now = timezone.now()
    accounts = [
        {"account": account, "open": account.is_open(now), "funded": account.is_funded(now)}
        for account in client.accounts.all()
    ]
    # A8: a closed account's client still logs in, for statements and tax forms.
    all_closed = bool(accounts) and not any(row["open"] for row in accounts)
    return render(
        request, "accounts/dashboard.html", {"client": client, "accounts": accounts, "all_closed": all_closed}
    )
