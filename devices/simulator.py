"""What a physical device displays now, for the demo and agents' tests.

Only with DEBUG: it shows login secrets (the management command refuses to
run without it, and the page is in the URLconf only when DEBUG is on)."""

from __future__ import annotations

from datetime import datetime

from accounts.models import User

from .models import DeviceBinding, SecurityDevice, active_binding_for


def displays(serial: str, *, now: datetime, question: str = "") -> tuple[SecurityDevice, list[str]] | None:
    """The device with this serial and the lines it shows, or None."""
    device = SecurityDevice.objects.filter(serial=serial).first()
    if device is None:
        return None
    return device, DeviceBinding.KINDS[device.type].display(device, now=now, question=question)


def active_serial_of(username: str) -> str | None:
    """The serial of the username's active device, or None."""
    user = User.objects.filter(username=username).first()
    binding = active_binding_for(user) if user is not None else None
    return binding.security_device.serial if binding is not None else None
