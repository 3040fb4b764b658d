"""Emails through Django's file backend, read back as the investor's inbox."""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest


@dataclass
class ReceivedEmail:
    to: str
    subject: str
    text: str
    html: str

    def link(self) -> tuple[str, dict[str, str]]:
        """The first link of the plain text: (path, query) with the query's single values."""
        url = re.search(r"https?://\S+", self.text).group(0)
        parts = urlsplit(url)
        return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


class Mailbox:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def messages(self) -> list[ReceivedEmail]:
        found = []
        for path in sorted(self.folder.glob("*.log"), key=lambda p: p.stat().st_mtime_ns):
            # the file backend writes each message followed by a line of 79 dashes
            for raw in path.read_text().split("-" * 79):
                if raw.strip():
                    found.append(_parse(email.message_from_string(raw.strip())))
        return found

    def to(self, address: str) -> list[ReceivedEmail]:
        return [m for m in self.messages() if m.to == address]


def _part(message: Message, content_type: str) -> str:
    for part in message.walk():
        if part.get_content_type() == content_type:
            return part.get_payload(decode=True).decode()
    return ""


def _parse(message: Message) -> ReceivedEmail:
    return ReceivedEmail(to=message["To"], subject=message["Subject"], text=_part(message, "text/plain"),
                         html=_part(message, "text/html"))


@pytest.fixture
def mailbox(settings, tmp_path) -> Mailbox:
    """pytest-django swaps in the in-memory backend; the tests read files, as an operator could."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "emails")
    settings.ACCOUNT_LINK_BASE_URL = "https://app.example.com/open"
    return Mailbox(tmp_path / "emails")
