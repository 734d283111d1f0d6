from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts import access
from accounts.access import scope_required

from . import simulator
from .models import SecurityDevice


@scope_required(access.FULL, access.UNENROLLED)
def sls_settings_view(request: HttpRequest) -> HttpResponse:
    client = request.user.client
    devices = SecurityDevice.objects.filter(client=client).order_by("-created_at")
    return render(request, "accounts/sls_settings.html", {"client": client, "devices": devices})


def simulator_view(request: HttpRequest, serial: str) -> HttpResponse:
    """DEBUG only (devices/dev_urls.py): what the device with this serial shows now."""
    if not settings.DEBUG:
        raise Http404
    question = str(request.GET.get("question", ""))[:64]
    shown = simulator.displays(serial[:64], now=timezone.now(), question=question)
    if shown is None:
        raise Http404
    device, lines = shown
    return render(request, "devices/simulator.html", {"device": device, "lines": lines, "question": question})
