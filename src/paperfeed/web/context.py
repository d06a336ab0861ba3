"""Per-request access to the store and search: a small pool of (store, search service) pairs per process."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from starlette.concurrency import run_in_threadpool

from ..config import Settings
from ..storage import Store, open_store

log = logging.getLogger("paperfeed.web")

POOL_SIZE = 16
"""Connections kept open per server process, each with its search service: at most this many requests of a
process run at once (the others wait on the event loop for a context: ``ContextPool.acquire``). Requests run
in threads and use little beside the store, so a few more than the cores do; opening one and its search
indexes costs milliseconds, so they are kept."""


STORE_POOL_SIZE = 2
"""Server connections one context's PostgreSQL store may open: the one it holds for its queries, plus one for
what needs a second (the sync lock). A process then keeps about POOL_SIZE connections and never more than
POOL_SIZE x 2 (plus short-lived extras), where the store's default pool (4) would allow POOL_SIZE x 4."""


def _open_store(db: str) -> Store:
    # Not migrated here: create_app migrated the store once, so request connections only read the schema.
    return open_store(db, migrate=False, pool_size=STORE_POOL_SIZE)


@dataclass
class Context:
    """What one request reads through: its own store connection and a search service over it."""

    store: Store
    settings: Settings
    pool: "ContextPool"
    _search: object = field(default=None, repr=False)
    extra: bool = False
    """Opened past the pool's size for one request: closed when given back."""

    @property
    def search(self):
        """The search service on this connection, opened on first use (the indexes may not exist yet)."""
        if self._search is None:
            from ..search import QueryLimits, SearchService, index_directory, result_cache, shared_results

            directory = index_directory(self.store, self.settings.index_dir)
            hits = self.settings.search_cache_hits
            # The results kept are shared with the server's other workers (a file in the index directory).
            self._search = SearchService(self.store, directory, self.pool.embedder(),
                                         QueryLimits.from_settings(self.settings), cache=result_cache(hits),
                                         shared=shared_results(directory, hits))
        return self._search

    def search_if_open(self):
        """The search service if this context has opened it already (opening one reads index files), else None."""
        return self._search


class ContextPool:
    """Lend contexts to requests; ``size`` stay open. A request on the event loop waits for one past them
    (``acquire``); a quick read outside any request (``borrow``) gets a short-lived one instead."""

    def __init__(self, settings: Settings, size: int = POOL_SIZE) -> None:
        self.settings = settings
        self.size = size
        self._free: queue.LifoQueue[Context] = queue.LifoQueue()
        self._all: list[Context] = []
        self._lock = threading.Lock()
        self._embedder_loaded = False
        self._embedder = None
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = deque()

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
        """Lend a context for the duration of a with-block; never wait for one.

        Waiting would deadlock: a request borrows in one worker thread and runs its endpoint in another,
        so threads blocked here could hold every thread the lenders need to finish. Past ``size`` a
        context is opened for the request and closed after it, so steady state keeps ``size`` open.
        """
        context = self.take() or self.open_extra()
        try:
            yield context
        finally:
            self.give_back(context)

    async def acquire(self) -> Context:
        """A context for a request on the event loop: a free kept one, a new one while fewer than ``size`` are
        open, else the next one given back (waiting here holds no thread, so it cannot starve the requests
        being served; and no request opens a short-lived connection and search index of its own)."""
        context = self.take()
        if context is not None:
            return context
        loop = asyncio.get_running_loop()
        with self._lock:
            try:
                return self._free.get_nowait()
            except queue.Empty:
                pass
            future = None
            if len(self._all) >= self.size:
                future = loop.create_future()
                self._waiters.append((loop, future))
        if future is None:
            return await run_in_threadpool(self.open_extra)
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():  # handed over just as the request went away
                self.give_back(future.result())
            raise

    def take(self) -> Context | None:
        """A kept context if one is free, without waiting or opening anything (safe on the event loop)."""
        try:
            return self._free.get_nowait()
        except queue.Empty:
            return None

    def open_extra(self) -> Context:
        """A newly opened context (it opens a store connection: run it in a thread); it is kept while fewer
        than ``size`` are, else closed when given back."""
        context = Context(_open_store(self.settings.db), self.settings, self)
        with self._lock:
            if len(self._all) < self.size:
                self._all.append(context)
            else:
                context.extra = True
        return context

    def give_back(self, context: Context) -> None:
        """Return a context from ``take`` or ``open_extra`` (a short-lived one is closed)."""
        if context.extra:
            context.store.close()
            return
        with self._lock:
            while self._waiters:
                loop, future = self._waiters.popleft()
                if not future.done():
                    try:
                        loop.call_soon_threadsafe(self._hand_over, future, context)
                        return
                    except RuntimeError:  # its loop is closed (the server is stopping): try the next
                        continue
            self._free.put(context)

    def _hand_over(self, future: asyncio.Future, context: Context) -> None:
        if future.done():  # the waiting request went away meanwhile: the next one gets it
            self.give_back(context)
        else:
            future.set_result(context)

    def read(self, reader):
        """``reader(store)`` on a borrowed connection, for a quick read outside any request (a cache's version)."""
        with self.borrow() as context:
            return reader(context.store)

    def close(self) -> None:
        """Close every connection (at shutdown)."""
        with self._lock:
            for context in self._all:
                context.store.close()
            self._all.clear()
