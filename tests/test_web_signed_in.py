"""Signed-in requests: the session is looked up once, in the endpoint's own worker thread (no thread hop of its own),
only by the requests that need the user, and never kept past the request."""

from __future__ import annotations

import threading

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient

from paperfeed.library import Accounts
from paperfeed.storage import open_store
from paperfeed.web import create_app, queries
from paperfeed.web.security import CSRF_COOKIE, csrf_token

from web_data import KNOWN_ARXIV, build_store

SECRET = b"test-secret-key"
EMAIL = "reader@example.org"
SIGNED_IN = ">Log out</button>"
"""The header of a page shown to a signed-in user."""


@pytest.fixture
def signed_in(backend_url, tmp_path, monkeypatch):
    """A client signed in on one app (a server worker), the item it looks at, and the threads that looked up its
    session and read its marks (the real calls, recorded)."""
    settings = build_store(tmp_path, backend_url)
    with open_store(settings.db) as store:
        known = store.find_item(KNOWN_ARXIV)
        Accounts(store).create(EMAIL, "correct horse")
    threads: dict[str, list[int]] = {"session": [], "marks": [], "hops": []}
    session_user, my_item, run_sync = Accounts.session_user, queries.my_item, anyio.to_thread.run_sync

    def recorded_session_user(self, token, now=None):
        threads["session"].append(threading.get_ident())
        return session_user(self, token, now)

    def recorded_my_item(context, user, item_id):
        threads["marks"].append(threading.get_ident())
        return my_item(context, user, item_id)

    async def recorded_run_sync(function, *args, **kwargs):  # every hop from the event loop to a worker thread
        threads["hops"].append(threading.get_ident())
        return await run_sync(function, *args, **kwargs)

    monkeypatch.setattr(Accounts, "session_user", recorded_session_user)
    monkeypatch.setattr(anyio.to_thread, "run_sync", recorded_run_sync)
    monkeypatch.setattr(queries, "my_item", recorded_my_item)
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        client.get("/")
        token = csrf_token(SECRET, client.cookies[CSRF_COOKIE])
        signed = client.post("/login", data={"csrf_token": token, "email": EMAIL, "password": "correct horse"},
                             follow_redirects=False)
        assert signed.status_code == 303
        for kind in threads.values():
            kind.clear()
        yield client, settings, known, threads


def test_the_session_is_looked_up_in_the_endpoints_thread_once_and_only_where_needed(signed_in):
    client, settings, known, threads = signed_in
    mine = client.get(f"/api/v1/items/{known}/mine")
    assert mine.status_code == 200 and mine.json()["state"] is None
    # One lookup, in the thread that then read the marks: one thread hop on a database server, none on a local
    # SQLite file (three indexed reads, answered on the event loop); the session lookup never takes a hop of its own.
    assert len(threads["session"]) == 1 and threads["session"] == threads["marks"]
    assert len(threads["hops"]) == (1 if settings.db.startswith("postgres") else 0)
    assert threads["session"][0] != threading.get_ident()

    headers = {"X-CSRF-Token": client.get("/api/v1/me").json()["csrf_token"]}
    for kind in threads.values():
        kind.clear()
    saved = client.post(f"/api/v1/items/{known}/save", json={"tags": ["geometry"]}, headers=headers)
    assert saved.status_code == 200 and saved.json()["tags"] == ["geometry"]
    assert len(threads["session"]) == 1 and threads["session"] == threads["marks"] and len(threads["hops"]) == 1

    # The item page shows the user's own marks and the signed-in header, from one lookup.
    threads["session"].clear()
    page = client.get(f"/items/{known}")
    assert page.status_code == 200 and SIGNED_IN in page.text and "with tags: geometry" in page.text
    assert len(threads["session"]) == 1

    # The search API answers the same for everyone: a signed-in search looks nobody up.
    threads["session"].clear()
    for _ in range(2):
        found = client.get("/api/v1/search", params={"q": "tensor", "mode": "keyword"})
        assert found.status_code == 200 and found.json()["total"] >= 1
    assert threads["session"] == []

    # An error page raised inside a route (its context already given back) still shows who is signed in.
    missing = client.get("/items/999999999")
    assert missing.status_code == 404 and SIGNED_IN in missing.text


def test_a_session_ended_through_another_worker_is_ended_here_at_the_next_request(signed_in):
    client, settings, known, _ = signed_in
    assert client.get(f"/api/v1/items/{known}/mine").status_code == 200
    # The other worker: a second app on the same store signs the session out.
    with TestClient(create_app(settings), base_url="https://testserver") as other:
        other.cookies.update(client.cookies)
        token = csrf_token(SECRET, client.cookies[CSRF_COOKIE], client.cookies["pf_session"])
        assert other.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert client.get(f"/api/v1/items/{known}/mine").status_code == 401
    page = client.get(f"/items/{known}")
    assert page.status_code == 200 and SIGNED_IN not in page.text and "Not in your library" not in page.text


def test_a_write_to_a_resolved_item_id_stores_it_and_one_to_a_missing_item_stores_nothing(signed_in):
    from paperfeed.library import save_item
    from paperfeed.library.community import vote
    from paperfeed.storage import store_errors

    _, settings, known, _ = signed_in
    with open_store(settings.db) as store:
        user = store.user_by_email(EMAIL).id
        # The web resolves the item before its write turn and hands the id on: used as it is, not looked up again.
        assert save_item(store, user, known, ["geometry"]) == known
        assert vote(store, user, known, True) == (known, True)
        assert [(entry.item_id, entry.tags) for entry in store.library_entries(user)] == [(known, ["geometry"])]
        assert store.user_votes(user) == [known]
        # An item gone between the lookup and the write (an admin's merge): the write's reference to it fails.
        missing = 2 ** 40
        with pytest.raises(store_errors()):
            save_item(store, user, missing, ["geometry"])
        with pytest.raises(store_errors()):
            vote(store, user, missing, True)
        assert [entry.item_id for entry in store.library_entries(user)] == [known]
        assert store.user_votes(user) == [known]
