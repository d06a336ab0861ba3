"""The rendered-page cache (web/pagecache.py): shared between anonymous visitors, each with their own CSRF token."""

from __future__ import annotations

import dataclasses
import json
import re
import time

import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.ingest import Ingester
from paperfeed.library import Accounts
from paperfeed.storage import open_store
from paperfeed.web import create_app, pagecache, queries
from paperfeed.web.pagecache import CachedPage, PageCache
from paperfeed.web.security import CSRF_COOKIE, csrf_token

from datafiles import HF_DAY, LISTING
from web_data import KNOWN_ARXIV, build_store

SECRET = b"test-secret-key"
FORM_TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


@pytest.fixture
def settings(tmp_path):
    return build_store(tmp_path)


@pytest.fixture
def app(settings):
    return create_app(settings)


def visitor(app) -> TestClient:
    return TestClient(app, base_url="https://testserver")


def form_tokens(html: str) -> set[str]:
    return set(FORM_TOKEN.findall(html))


def test_anonymous_visitors_share_one_rendering_each_with_their_own_token(app, monkeypatch):
    with visitor(app) as first, visitor(app) as second:
        page_one = first.get("/")
        assert page_one.status_code == 200 and len(app.state.page_cache) == 1

        # A hit must not reach the query layer: make rendering impossible and ask again as someone else.
        def no_rendering(*args, **kwargs):
            raise AssertionError("the daily page was computed again")

        monkeypatch.setattr(queries, "daily", no_rendering)
        page_two = second.get("/")
        assert page_two.status_code == 200

        one, two = first.cookies[CSRF_COOKIE], second.cookies[CSRF_COOKIE]
        assert one != two
        assert form_tokens(page_one.text) == {csrf_token(SECRET, one)}
        assert form_tokens(page_two.text) == {csrf_token(SECRET, two)}  # valid for the second visitor only
        assert page_two.headers["content-length"] == str(len(page_two.content))
        assert "default-src 'self'" in page_two.headers["content-security-policy"]  # headers still added
        assert page_one.text.replace(csrf_token(SECRET, one), "") == page_two.text.replace(csrf_token(SECRET, two), "")


def test_a_token_from_a_cached_page_passes_the_csrf_check(app):
    with visitor(app) as first, visitor(app) as second:
        first.get("/")
        token = form_tokens(second.get("/").text).pop()
        # The login form: a wrong password is a 401 page, a CSRF refusal would be a 403.
        refused = second.post("/login", data={"csrf_token": token, "email": "nobody@example.org",
                                              "password": "not the password"}, follow_redirects=False)
        assert refused.status_code != 403


def test_signed_in_visitors_get_their_own_page_never_a_cached_one(app):
    with visitor(app) as anonymous, visitor(app) as member:
        anonymous.get("/")
        cached_pages = len(app.state.page_cache)
        member.get("/")
        token = csrf_token(SECRET, member.cookies[CSRF_COOKIE])
        with open_store(app.state.settings.db) as store:
            Accounts(store).create("reader@example.org", "correct horse")
        signed_in = member.post("/login", data={"csrf_token": token, "email": "reader@example.org",
                                                "password": "correct horse"}, follow_redirects=False)
        assert signed_in.status_code == 303
        page = member.get("/")
        assert "reader@example.org" in page.text and 'href="/library"' in page.text
        assert len(app.state.page_cache) <= cached_pages  # the POST emptied it; the member's page was not kept
        assert "reader@example.org" not in anonymous.get("/").text


def test_a_store_change_drops_cached_pages(tmp_path, monkeypatch):
    monkeypatch.setattr(pagecache, "POLL_SECONDS", 0.0)
    settings = Settings.load(db=str(tmp_path / "store.db"), embedder="none", secret_key=SECRET.decode())
    with open_store(settings.db) as store:
        Ingester(store).ingest_paths([LISTING])
    title = json.loads(HF_DAY.read_text())[0]["title"]
    app = create_app(settings)
    with visitor(app) as client:
        assert title not in client.get("/papers/2024-05-27").text
        assert len(app.state.page_cache) == 1
        with open_store(settings.db) as store:
            Ingester(store).ingest_paths([HF_DAY])  # new items move the search change log
        assert title in client.get("/papers/2024-05-27").text


def test_only_a_post_that_changed_shared_pages_empties_the_cache(app, settings):
    with open_store(settings.db) as store:
        item_id = store.find_item(KNOWN_ARXIV)
    with visitor(app) as client:
        client.get("/")
        client.get("/topics")
        assert len(app.state.page_cache) == 2
        client.post("/logout", data={"csrf_token": "forged"}, follow_redirects=False)
        assert len(app.state.page_cache) == 2  # refused by the CSRF check before anything could change

        def token() -> str:  # the client's own valid token (signing in or out may give it a new cookie)
            return csrf_token(SECRET, client.cookies[CSRF_COOKIE], client.cookies.get("pf_session", ""))

        # An anonymous client with its own valid token: a 405, a sign-out of nobody, a vote sent to sign in,
        # a refused sign-in. None of them changed what anonymous visitors see.
        assert client.post("/", data={"csrf_token": token()}).status_code == 405
        assert client.post("/topics", headers={"X-CSRF-Token": token()}).status_code == 405
        assert client.post("/logout", data={"csrf_token": token()}, follow_redirects=False).status_code == 303
        assert client.post(f"/items/{item_id}/vote", data={"csrf_token": token()},
                           follow_redirects=False).status_code == 303
        refused = client.post("/login", data={"csrf_token": token(), "email": "nobody@example.org",
                                              "password": "not the password"}, follow_redirects=False)
        assert refused.status_code in (400, 401)
        assert len(app.state.page_cache) == 2

        with open_store(settings.db) as store:
            Accounts(store).create("voter@example.org", "correct horse")
        signed_in = client.post("/login", data={"csrf_token": token(), "email": "voter@example.org",
                                                "password": "correct horse"}, follow_redirects=False)
        assert signed_in.status_code == 303 and len(app.state.page_cache) == 2
        # A vote moves the daily ranking, which the store version does not see: the daily pages go. What does
        # not show local votes to anonymous visitors (the topics page) stays.
        cached_paths = lambda: sorted(path for path, _ in app.state.page_cache._pages)  # noqa: E731
        voted = client.post(f"/items/{item_id}/vote", data={"csrf_token": token()}, follow_redirects=False)
        assert voted.status_code == 303 and cached_paths() == ["/topics"]
        anonymous = visitor(app)  # (not `with`: leaving it would run the app's shutdown)
        anonymous.get("/")
        assert cached_paths() == ["/", "/topics"]
        # Voting again changes nothing (one vote per user): the cache stays.
        client.post(f"/items/{item_id}/vote", data={"csrf_token": token()}, follow_redirects=False)
        assert cached_paths() == ["/", "/topics"]
        api = client.post(f"/api/v1/items/{item_id}/vote", json={"up": False}, headers={"X-CSRF-Token": token()})
        assert api.status_code == 200 and cached_paths() == ["/topics"], api.text


def test_only_plain_pages_are_cached(app):
    with visitor(app) as client:
        for path in ("/search?q=transformer", "/api/v1/topics", "/no-such-page", "/topics/no-such-topic"):
            client.get(path)
        assert len(app.state.page_cache) == 0
        client.get("/topics")
        client.get("/topics?ignored=1")
        assert len(app.state.page_cache) == 2  # the query string is part of the key


def test_the_page_cache_can_be_turned_off(settings):
    app = create_app(dataclasses.replace(settings, page_cache_seconds=0))
    assert not hasattr(app.state, "page_cache")
    with visitor(app) as client:
        assert client.get("/").status_code == 200


def page(version: int, body: bytes, stored_at: float | None = None) -> CachedPage:
    return CachedPage(version, time.monotonic() if stored_at is None else stored_at, b"t" * 64, [], body)


def test_cache_entries_expire_with_the_store_version_and_with_age(monkeypatch):
    monkeypatch.setattr(pagecache, "POLL_SECONDS", 0.0)
    version = [1]
    cache = PageCache(lambda: version[0], max_age=60.0)
    cache.put(("/", b""), page(1, b"a"))
    cache.put(("/old", b""), page(1, b"b", stored_at=time.monotonic() - 61))
    assert cache.get(("/", b"")).body == b"a"
    assert cache.get(("/old", b"")) is None and len(cache) == 1
    version[0] = 2
    assert cache.get(("/", b"")) is None and len(cache) == 0


def test_the_version_is_read_at_most_once_per_poll_interval(monkeypatch):
    monkeypatch.setattr(pagecache, "POLL_SECONDS", 3600.0)
    reads = []
    cache = PageCache(lambda: reads.append(1) or 7)
    for _ in range(100):
        cache.get(("/", b""))
    assert reads == [1]


def test_the_cache_keeps_within_its_byte_budget_dropping_the_least_recently_used():
    cache = PageCache(lambda: 1, max_bytes=8 * 100)
    for name in "abcdefgh":
        cache.put((f"/{name}", b""), page(1, name.encode() * 100))
    assert len(cache) == 8
    cache.get(("/a", b""))  # used: /b is now the oldest
    cache.put(("/i", b""), page(1, b"i" * 100))
    assert cache.get(("/b", b"")) is None and cache.get(("/a", b"")) is not None
    cache.put(("/huge", b""), page(1, b"x" * 101))  # over an eighth of the budget: never kept
    assert cache.get(("/huge", b"")) is None
