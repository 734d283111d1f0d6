"""What a physical device displays now, for the demo and agents' tests.

Only with DEBUG: it shows login secrets (the management command refuses to
run without it, and the page is in the URLconf only when DEBUG is on)."""

from __future__ import annotations

from datetime import datetime

from .models import DeviceBinding, SecurityDevice


def displays(serial: str, *, now: datetime, question: str = "") -> tuple[SecurityDevice, list[str]] | None:
    """The device with this serial and the lines it shows, or None."""
    device = SecurityDevice.objects.filter(serial=serial).first()
    if device is None:
        return None
    return device, DeviceBinding.KINDS[device.type].display(device, now=now, question=question)
