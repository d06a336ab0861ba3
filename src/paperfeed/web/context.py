"""Per-request access to the store and search: a small pool of (store, search service) pairs per process."""

from __future__ import annotations

import logging
import queue
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from ..config import Settings
from ..storage import Store, open_store

log = logging.getLogger("paperfeed.web")

POOL_SIZE = 4
"""Connections per server process. Requests run in threads and a SQLite connection serves one at a time;
more than a few per process buys nothing on a small machine (add workers instead) and costs file handles."""


@dataclass
class Context:
    """What one request reads through: its own store connection and a search service over it."""

    store: Store
    settings: Settings
    pool: "ContextPool"
    _search: object = field(default=None, repr=False)

    @property
    def search(self):
        """The search service on this connection, opened on first use (the indexes may not exist yet)."""
        if self._search is None:
            from ..search import SearchService, index_directory

            self._search = SearchService(self.store, index_directory(self.store, self.settings.index_dir),
                                         self.pool.embedder())
        return self._search


class ContextPool:
    """Lend contexts to request threads; at most ``size`` exist, a request beyond that waits for one."""

    def __init__(self, settings: Settings, size: int = POOL_SIZE) -> None:
        self.settings = settings
        self.size = size
        self._free: queue.LifoQueue[Context] = queue.LifoQueue()
        self._all: list[Context] = []
        self._lock = threading.Lock()
        self._embedder_loaded = False
        self._embedder = None

    def embedder(self):
        """The process's one embedder (models are large: shared by every context), or None for keyword only."""
        with self._lock:
            if not self._embedder_loaded:
                self._embedder_loaded = True
                if self.settings.embedder != "none":
                    from ..search import EmbedderError, load_embedder

                    try:
                        self._embedder = load_embedder(self.settings.embedder, self.settings.embed_device or None)
                    except EmbedderError as error:  # search still works by keyword; say why once
                        log.warning("semantic search is off: %s", error)
            return self._embedder

    @contextmanager
    def borrow(self) -> Iterator[Context]:
        """Lend a context for the duration of a with-block."""
        try:
            context = self._free.get_nowait()
        except queue.Empty:
            with self._lock:
                grow = len(self._all) < self.size
                if grow:
                    context = Context(open_store(self.settings.db, migrate=False), self.settings, self)
                    self._all.append(context)
            if not grow:
                context = self._free.get()
        try:
            yield context
        finally:
            self._free.put(context)

    def close(self) -> None:
        """Close every connection (at shutdown)."""
        with self._lock:
            for context in self._all:
                context.store.close()
            self._all.clear()
