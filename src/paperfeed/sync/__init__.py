"""Live sources: source kinds, the fetchers that turn them into pages, the sync runner and its scheduler."""

from .kinds import KINDS, SourceConfigError, make_source
from .runner import SourceResult, SyncReport, sync_store

__all__ = ["KINDS", "SourceConfigError", "SourceResult", "SyncReport", "make_source", "sync_store"]
