from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from . import access
from .access import scope_required


@scope_required(access.FULL, access.UNENROLLED)
def dashboard_view(request: HttpRequest) -> HttpResponse:
    client = request.user.client
    now = timezone.now()
    accounts = [
        {"account": account, "open": account.is_open(now), "funded": account.is_funded(now)}
        for account in client.accounts.all()
    ]
    return render(request, "accounts/dashboard.html", {"client": client, "accounts": accounts})
