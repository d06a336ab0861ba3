"""The web app's context pool: a request waits on the event loop for a context rather than opening one of its own."""

from __future__ import annotations

import asyncio

from paperfeed.config import Settings
from paperfeed.storage import open_store
from paperfeed.web.context import ContextPool


def test_requests_past_the_pool_size_wait_for_a_context_and_get_it_in_turn(backend_url):
    with open_store(backend_url):  # migrated, as create_app leaves it
        pass
    pool = ContextPool(Settings.load(db=backend_url, embedder="none"), size=2)

    async def scenario() -> None:
        first, second = await pool.acquire(), await pool.acquire()
        assert first is not second and len(pool._all) == 2
        waiting = [asyncio.create_task(pool.acquire()) for _ in range(2)]
        await asyncio.sleep(0.05)
        assert not any(task.done() for task in waiting)  # no third connection: they wait
        gone = asyncio.create_task(pool.acquire())
        await asyncio.sleep(0.01)
        gone.cancel()  # a request that went away while waiting is skipped
        pool.give_back(first)
        assert await waiting[0] is first and not waiting[1].done()
        pool.give_back(second)
        assert await waiting[1] is second
        assert len(pool._all) == 2 and not any(context.extra for context in pool._all)
        # Each context still answers (its connection was never shared by two requests at once).
        for context in (first, second):
            assert context.store.item_count() == 0
            pool.give_back(context)
        assert await pool.acquire() in (first, second)

    try:
        asyncio.run(scenario())
    finally:
        pool.close()


def test_a_context_handed_to_a_request_that_went_away_goes_to_the_next(backend_url):
    with open_store(backend_url):
        pass
    pool = ContextPool(Settings.load(db=backend_url, embedder="none"), size=1)

    async def scenario() -> None:
        only = await pool.acquire()
        leaving = asyncio.create_task(pool.acquire())
        staying = asyncio.create_task(pool.acquire())
        await asyncio.sleep(0.01)
        pool.give_back(only)  # handed to `leaving` on the loop's next turn ...
        leaving.cancel()  # ... which is cancelled before it runs
        assert await staying is only

    try:
        asyncio.run(scenario())
    finally:
        pool.close()


def test_a_worker_runs_at_most_web_threads_requests_at_once_in_threads(tmp_path):
    """Sync routes run in the worker's thread pool, bounded by ``web_threads``: the rest wait their turn rather
    than share one GIL (under load the signed-in mix's p99 fell from 104–215 to 70–79 ms with 2 against 40)."""
    import threading
    import time

    from fastapi.testclient import TestClient

    from paperfeed.web.app import create_app

    for threads, expected in (("2", 2), ("0", 6)):  # 0: the server's own default (40), so all 6 at once
        app = create_app(Settings.load(db=str(tmp_path / "store.db"), embedder="none", web_threads=threads))
        running, most = [0], [0]
        lock = threading.Lock()

        @app.get("/test-slow")
        def slow() -> dict:  # a sync route, as the pages and writes are
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.3)
            with lock:
                running[0] -= 1
            return {}

        with TestClient(app) as client:
            callers = [threading.Thread(target=client.get, args=("/test-slow",)) for _ in range(6)]
            for caller in callers:
                caller.start()
            for caller in callers:
                caller.join()
        assert most[0] == expected
