"""Rate-limit counters in the store: one atomic upsert per hit, shared by every worker, on both backends."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient

from paperfeed.storage import open_store
from paperfeed.web import create_app
from paperfeed.web.security import CSRF_COOKIE, csrf_token

from web_data import build_store


def test_hits_are_counted_per_bucket_and_window(store):
    assert store.count_hit("login:ip:1", 600, 540) == (1, 0)
    assert store.count_hit("login:ip:1", 600, 540) == (2, 0)
    assert store.count_hit("login:ip:2", 600, 540) == (1, 0)
    assert store.count_hit("login:ip:1", 660, 600) == (1, 2)  # the previous window's count comes along
    store.forget_hits_before(660)
    assert store.count_hit("login:ip:1", 720, 660) == (1, 1)
    assert store.count_hit("login:ip:2", 660, 600) == (1, 0)  # its 600 window was forgotten


def test_concurrent_hits_are_never_lost(backend_url):
    """Eight connections (as eight workers would) hitting one key at once: the count is exact."""
    with open_store(backend_url):
        pass  # migrated once, before the threads open their own connections
    errors = []

    def worker():
        try:
            with open_store(backend_url, migrate=False) as own:
                for _ in range(25):
                    own.count_hit("subscribe:ip:9", 0, -3600)
        except Exception as error:  # reported below: a lost or failed hit is the failure this test is for
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with open_store(backend_url) as store:
        assert store.count_hit("subscribe:ip:9", 0, -3600) == (201, 0)


def test_the_login_limit_holds_across_workers(tmp_path):
    """Two app instances on one store (two workers): together they let through the limit, not twice it."""
    from dataclasses import replace

    settings = replace(build_store(tmp_path), login_pair_limit=4)
    workers = [create_app(settings), create_app(settings)]
    codes = []
    clients = [TestClient(app, base_url="https://testserver") for app in workers]
    for client in clients:
        client.__enter__()
        client.get("/")
    try:
        for attempt in range(6):
            client = clients[attempt % 2]
            token = csrf_token(b"test-secret-key", client.cookies[CSRF_COOKIE])
            codes.append(client.post("/login", data={"csrf_token": token, "email": "x@example.org",
                                                     "password": "not it"}, follow_redirects=False).status_code)
    finally:
        for client in clients:
            client.__exit__(None, None, None)
    assert codes == [400, 400, 400, 400, 429, 429]
