from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts import access
from accounts.access import scope_required

from .models import SecurityDevice


@scope_required(access.FULL, access.UNENROLLED)
def sls_settings_view(request: HttpRequest) -> HttpResponse:
    client = request.user.client
    devices = SecurityDevice.objects.filter(client=client).order_by("-created_at")
    return render(request, "accounts/sls_settings.html", {"client": client, "devices": devices})
