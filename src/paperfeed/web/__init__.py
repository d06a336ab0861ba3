"""The web app: HTML pages, the JSON API under /api/v1, Atom feeds and BibTeX, over one query layer."""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
