"""A real SMTP server (aiosmtpd) on loopback that keeps every message it receives."""

from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class ReceivedEmail:
    """One message as the SMTP server received it."""

    to: list[str]
    subject: str
    text: str

    def link(self, path_fragment: str = "") -> str:
        """The first http(s) link in the body containing `path_fragment`."""
        for url in re.findall(r"https?://[^\s<>\"]+", self.text):
            if path_fragment in url:
                return url
        raise AssertionError(f"no link containing {path_fragment!r} in: {self.text}")


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        self.box.deliver(ReceivedEmail(list(envelope.rcpt_tos), str(message["Subject"]), text))
        return "250 Message accepted for delivery"


class Mailbox:
    """Starts aiosmtpd on a free port; tests wait for the messages the app sends."""

    def __init__(self) -> None:
        self.messages: list[ReceivedEmail] = []
        self._cond = threading.Condition()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> Mailbox:
        """Start listening."""
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        self._controller.stop()

    def deliver(self, message: ReceivedEmail) -> None:
        """Keep a message and wake waiters."""
        with self._cond:
            self.messages.append(message)
            self._cond.notify_all()

    def wait_for(self, to: str, subject_contains: str = "", timeout: float = 15.0) -> ReceivedEmail:
        """The newest message to `to` whose subject contains the text, waiting for it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for message in reversed(self.messages):
                    if to in message.to and subject_contains.lower() in message.subject.lower():
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no email to {to} about {subject_contains!r} arrived")
                self._cond.wait(remaining)

    def count_to(self, to: str) -> int:
        """How many messages went to `to`."""
        with self._cond:
            return sum(1 for message in self.messages if to in message.to)
