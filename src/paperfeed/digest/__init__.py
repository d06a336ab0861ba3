"""Digests: daily mails of trending papers and per-tag recommendations, double opt-in, one-click unsubscribe."""

from .send import (DigestError, DigestReport, confirm, digest_day, preview, send_digests, subscribe,
                   unsubscribe)
from .tokens import TokenError

__all__ = ["DigestError", "DigestReport", "TokenError", "confirm", "digest_day", "preview", "send_digests",
           "subscribe", "unsubscribe"]
