"""Votes and comments reach every server process: the store's change counters (``app_state`` rows
``changes.<kind>``, moved in the write's transaction) and the caches that poll them (web/changes.py)."""

from __future__ import annotations

import re
import socket
import sys
import time

import pytest

from paperfeed.library import Accounts
from paperfeed.storage import open_store
from paperfeed.web import changes, pagecache
from paperfeed.web.pagecache import CachedPage, PageCache
from paperfeed.web.security import CSRF_COOKIE, csrf_token

from test_web_limits import SECRET, connections_held, free_port, serve, stop, wait_for_http, worker_pids
from web_data import build_store

PASSWORD = "correct horse battery"


def _user_and_item(store) -> tuple[int, int]:
    from paperfeed.ingest import Ingester
    from datafiles import LISTING

    Ingester(store).ingest_paths([LISTING])
    user = Accounts(store).create("reader@example.org", PASSWORD)
    return user, store.sample_item_ids(1, seed=0)[0]


def test_votes_and_comments_move_their_counters_in_their_transaction(store):
    assert store.shared_change_counts() == {"daily": 0, "comments": 0}
    user, item = _user_and_item(store)
    assert store.set_vote(user, item, True)
    assert store.shared_change_counts() == {"daily": 1, "comments": 0}
    assert not store.set_vote(user, item, True)  # one vote per user: nothing changed, nothing counted
    assert store.shared_change_counts() == {"daily": 1, "comments": 0}
    assert store.set_vote(user, item, False) and not store.set_vote(user, item, False)
    assert store.shared_change_counts() == {"daily": 2, "comments": 0}

    comment = store.add_comment(item, user, "first", "<p>first</p>", 1)
    assert store.shared_change_counts() == {"daily": 2, "comments": 1}
    assert store.edit_comment(comment, "second", "<p>second</p>", 1)
    assert store.hide_comment(comment, user, True) and not store.hide_comment(comment, user, True)
    assert store.hide_comment(comment, user, False)
    assert store.delete_comment(comment) and not store.delete_comment(comment)
    assert not store.edit_comment(comment, "gone", "<p>gone</p>", 1)
    assert store.shared_change_counts() == {"daily": 2, "comments": 5}

    # A write that fails takes its count with it: the counter moves only with what committed.
    with pytest.raises(Exception):
        store.set_vote(user, 10 ** 12, True)  # no such item: the foreign key refuses it
    with pytest.raises(Exception):
        store.add_comment(10 ** 12, user, "lost", "<p>lost</p>", 1)
    assert store.shared_change_counts() == {"daily": 2, "comments": 5}
    assert store.set_vote(user, item, True)  # and the store still takes writes after the refusals
    assert store.shared_change_counts() == {"daily": 3, "comments": 5}


def test_counters_are_shared_by_every_connection_to_the_store(backend_url):
    with open_store(backend_url) as writer, open_store(backend_url) as reader:
        user, item = _user_and_item(writer)
        before = reader.shared_change_counts()
        writer.set_vote(user, item, True)
        writer.add_comment(item, user, "seen elsewhere", "<p>seen elsewhere</p>", 1)
        after = reader.shared_change_counts()
        assert after == {"daily": before["daily"] + 1, "comments": before["comments"] + 1}


def page(body: bytes) -> CachedPage:
    return CachedPage(1, time.monotonic(), b"t" * 64, [], body)


def test_a_page_cache_drops_only_the_pages_of_the_kinds_another_process_changed(monkeypatch):
    monkeypatch.setattr(pagecache, "POLL_SECONDS", 0.0)
    counts = [{"daily": 0, "comments": 0}]
    cache = PageCache(lambda: 1, shared_changes=lambda: counts[0])
    paths = ("/", "/papers/2024-05-27", "/items/7", "/topics", "/authors/3")

    def fill():
        for path in paths:
            cache.get((path, b""))  # the first look reads the counters, as a request does before a fill
            cache.put((path, b""), page(path.encode()))

    def kept():
        return [path for path in paths if cache.get((path, b"")) is not None]

    fill()
    assert kept() == list(paths)
    counts[0] = {"daily": 1, "comments": 0}  # a vote elsewhere: the daily pages go
    assert kept() == ["/items/7", "/topics", "/authors/3"]
    fill()
    counts[0] = {"daily": 1, "comments": 1}  # a comment elsewhere: item pages and daily cards (their counts)
    assert kept() == ["/topics", "/authors/3"]
    fill()
    counts[0] = dict(counts[0])  # read again, nothing moved: everything stays
    assert kept() == list(paths)


def test_the_counters_are_read_once_per_poll_interval_for_all_caches(monkeypatch):
    monkeypatch.setattr(changes, "POLL_SECONDS", 3600.0)
    reads = []
    for _ in range(50):
        changes.latest_counts("test-store-read-once", lambda: reads.append(1) or {"daily": 1})
    assert reads == [1]


# -- a real server with two workers -----------------------------------------------------------------------------

CARD = r'id="paper-{item}".*?title="Upvotes on this site"><span aria-hidden="true">▲</span> (\d+)<'
FORM_TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


class Worker:
    """One HTTP exchange on a fresh connection, and which worker process answered it (from /proc)."""

    def __init__(self, port: int, workers: list[int]) -> None:
        self.port, self.workers = port, workers

    def exchange(self, method: str, path: str, cookies: dict[str, str], form: str = "") -> tuple[int, dict, str, int]:
        """(status, cookies set, body, worker pid) of one request on its own connection."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            if cookies:
                head += "Cookie: " + "; ".join(f"{k}={v}" for k, v in cookies.items()) + "\r\n"
            body = form.encode()
            if method == "POST":
                head += f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
            sock.sendall(head.encode() + b"\r\n" + body)
            data = b""
            while b"\r\n\r\n" not in data:
                data += sock.recv(65536) or b""
            header, rest = data.split(b"\r\n\r\n", 1)
            lines = header.decode("latin-1").split("\r\n")
            length = next(int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:"))
            while len(rest) < length:
                rest += sock.recv(65536)
            # The connection is still open (kept alive): the worker holding its other end answered.
            answered = [pid for pid in self.workers if connections_held(pid, self.port)]
            set_cookies = dict(line.split(":", 1)[1].strip().split(";", 1)[0].split("=", 1)
                               for line in lines if line.lower().startswith("set-cookie:"))
            return int(lines[0].split()[1]), set_cookies, rest.decode(), answered[0] if len(answered) == 1 else 0


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to tell the workers apart")
def test_a_vote_and_a_comment_through_one_worker_are_shown_by_every_worker_within_two_seconds(tmp_path):
    settings = build_store(tmp_path)
    with open_store(settings.db) as store:
        Accounts(store).create("reader@example.org", PASSWORD)
    port = free_port()
    master = serve(settings.db, port, workers=2)
    workers: list[int] = []
    try:
        wait_for_http(port, master)
        workers = worker_pids(master)
        assert len(workers) == 2, workers
        http = Worker(port, workers)

        def each_worker(path: str, cookies: dict[str, str], at_least: int = 12) -> dict[int, list[str]]:
            """GET ``path`` over fresh connections until both workers answered ``at_least`` times in all."""
            bodies: dict[int, list[str]] = {}
            for _ in range(200):
                status, _, body, pid = http.exchange("GET", path, cookies)
                assert status == 200, (path, status)
                bodies.setdefault(pid, []).append(body)
                if len(bodies.get(workers[0], [])) + len(bodies.get(workers[1], [])) >= at_least \
                        and all(bodies.get(pid) for pid in workers):
                    return bodies
            raise AssertionError(f"the kernel never spread connections to both workers: {list(bodies)}")

        # Sign in (the CSRF cookie first, then the form with its token).
        _, anonymous, _, _ = http.exchange("GET", "/login", {})
        token = csrf_token(SECRET, anonymous[CSRF_COOKIE])
        status, signed, _, _ = http.exchange("POST", "/login", anonymous,
                                             f"csrf_token={token}&email=reader%40example.org&password=correct+horse+battery")
        assert status == 303, status
        reader = {**anonymous, **signed}

        # Warm both workers' caches: the daily page and an item page, anonymous (whole pages) and signed in (parts).
        daily = each_worker("/", {})
        item = int(re.search(r'id="paper-(\d+)"', daily[workers[0]][0]).group(1))
        card = re.compile(CARD.format(item=item), re.S)
        assert {card.search(body).group(1) for bodies in daily.values() for body in bodies} == {"0"}
        each_worker("/", reader)
        each_worker(f"/items/{item}", {})

        # A vote and a comment, each answered by one worker.
        status, _, page, _ = http.exchange("GET", f"/items/{item}", reader)
        form_token = FORM_TOKEN.search(page).group(1)
        status, _, _, voted_on = http.exchange("POST", f"/items/{item}/vote", reader, f"csrf_token={form_token}&up=1")
        assert status == 303
        status, _, _, commented_on = http.exchange("POST", f"/items/{item}/comments", reader,
                                                   f"csrf_token={form_token}&text=Seen+by+every+worker")
        assert status == 303
        written = time.monotonic()

        # Within two seconds every worker shows both, to anonymous visitors and to the signed-in reader.
        time.sleep(max(0.0, written + 2.0 - time.monotonic()))
        for cookies in ({}, reader):
            for pid, bodies in each_worker("/", cookies).items():
                assert {card.search(body).group(1) for body in bodies} == {"1"}, (pid, voted_on)
            for pid, bodies in each_worker(f"/items/{item}", cookies).items():
                assert all("Seen by every worker" in body for body in bodies), (pid, commented_on)
    finally:
        stop(master, workers)


def test_a_comment_drops_only_the_item_and_daily_pages_here_and_its_parts_elsewhere(tmp_path, monkeypatch):
    """In the writing process at once (the route); in another, the counter does it: here the part cache of this
    process plays the other worker, its counters moved by a write through a second connection to the store."""
    from fastapi.testclient import TestClient

    from paperfeed.web import create_app, partcache
    from web_data import KNOWN_ARXIV

    monkeypatch.setattr(changes, "POLL_SECONDS", 0.0)
    settings = build_store(tmp_path)
    with open_store(settings.db) as store:
        user = Accounts(store).create("reader@example.org", PASSWORD)
        item = store.find_item(KNOWN_ARXIV)
    app = create_app(settings)
    with TestClient(app, base_url="https://testserver") as client:
        for path in ("/", "/topics", f"/items/{item}"):
            assert client.get(path).status_code == 200
        cached_paths = lambda: sorted(path for path, _ in app.state.page_cache._pages)  # noqa: E731
        assert cached_paths() == sorted(["/", "/topics", f"/items/{item}"])
        token = lambda: csrf_token(SECRET, client.cookies[CSRF_COOKIE], client.cookies.get("pf_session", ""))  # noqa: E731
        client.post("/login", data={"csrf_token": token(), "email": "reader@example.org", "password": PASSWORD},
                    follow_redirects=False)
        posted = client.post(f"/items/{item}/comments", data={"csrf_token": token(), "text": "Here at once"},
                             follow_redirects=False)
        assert posted.status_code == 303 and cached_paths() == ["/topics"]
        assert "Here at once" in client.get(f"/items/{item}").text

        # Another worker's comment: this process's item part (its comment count) goes at the next poll.
        part_keys = lambda kind: [key for key in partcache._cache if key[0] == kind]  # noqa: E731
        assert part_keys("item") and part_keys("topics")
        with open_store(settings.db) as elsewhere:
            elsewhere.add_comment(item, user, "elsewhere", "<p>elsewhere</p>", 1)
        count = client.get(f"/api/v1/items/{item}").json()["comment_count"]
        assert count == 2 and part_keys("topics")
