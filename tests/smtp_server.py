"""A real SMTP server on 127.0.0.1 (aiosmtpd) for the digest tests: keeps every message it accepts.

``refuse_next(code_line)`` makes the next DATA get that reply (a definite refusal); ``hang_after_store``
makes DATA store the message and then wait before replying, so a test can kill the sender mid-send.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Handler:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.raw: list[bytes] = []
        """The bytes of each accepted message as they came over the wire (after the SMTP dot-unstuffing)."""
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refusals: list[str] = []
        self.hang_after_store = 0.0
        self.stored = threading.Event()
        self.lock = threading.Lock()

    def refuse_next(self, reply: str) -> None:
        self.refusals.append(reply)

    async def handle_DATA(self, server, session, envelope):
        if self.refusals:
            return self.refusals.pop(0)
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)
            self.raw.append(raw)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.stored.set()
        if self.hang_after_store:
            await asyncio.sleep(self.hang_after_store)
        return "250 OK"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
            self.raw.clear()
            self.envelopes.clear()

    def raw_to(self, address: str) -> list[bytes]:
        with self.lock:
            return [raw for m, raw in zip(self.messages, self.raw) if m["To"] == address]


class SMTPServer:
    """Start with ``start()``, stop with ``stop()``; ``port`` and ``handler`` are what tests use."""

    def __init__(self) -> None:
        self.handler = Handler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def start(self) -> "SMTPServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
