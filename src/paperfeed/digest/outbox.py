"""A mail transport that writes each mail as an ``.eml`` file into a folder instead of handing it to SMTP.

For a demo or a laptop with no mail server (setting ``mail_outbox``): subscribing, registering and
``paperfeed digest send`` work as with a server, and the mails are there to open in any mail client or text
editor. It stands in for ``smtplib.SMTP`` where the senders use it (``send_message``, ``quit``, ``sock``), so
the senders have one code path. Files are written whole (a temporary name, then renamed) and never overwritten.
"""

from __future__ import annotations

import os
import re
import secrets
from datetime import datetime, timezone
from email.message import EmailMessage
from pathlib import Path


class Outbox:
    """A folder of ``.eml`` files, one per mail, named ``<UTC time>-<recipient>-<random>.eml`` (oldest first)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.sock = True
        """Never closed by a refusal (``send_digests`` reconnects when an SMTP connection's ``sock`` is None)."""
        self.written: list[Path] = []

    def send_message(self, message: EmailMessage) -> dict:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        recipient = re.sub(r"[^A-Za-z0-9@._-]+", "_", str(message["To"] or "nobody"))[:80]
        path = self.folder / f"{stamp}-{recipient}-{secrets.token_hex(3)}.eml"
        partial = path.with_name("." + path.name + ".part")
        data = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
        with open(partial, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
        self.written.append(path)
        return {}  # as smtplib: no refused recipients

    def quit(self) -> None:
        pass
