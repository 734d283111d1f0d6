"""Text messages, through a backend chosen by settings.SMS_BACKEND (like
Django's e-mail backends): a file per message in SMS_FILE_PATH by default,
kept in memory for tests (`devices.sms.LocmemSmsBackend`, read `outbox`)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class TextMessage:
    to: str
    body: str


class SmsBackend:
    def send(self, message: TextMessage) -> None:
        raise NotImplementedError


class FileSmsBackend(SmsBackend):
    """Writes each message to its own file, as a phone would receive it."""

    def send(self, message: TextMessage) -> None:
        folder = Path(settings.SMS_FILE_PATH)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{timezone.now():%Y%m%d-%H%M%S}-{secrets.token_hex(4)}.txt"
        (folder / name).write_text(f"To: {message.to}\n\n{message.body}\n", encoding="utf-8")


outbox: list[TextMessage] = []


class LocmemSmsBackend(SmsBackend):
    def send(self, message: TextMessage) -> None:
        outbox.append(message)


def send_sms(to: str, body: str) -> None:
    import_string(settings.SMS_BACKEND)().send(TextMessage(to=to, body=body))
