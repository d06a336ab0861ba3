"""Sync kinds of the scholarly APIs (openreview, crossref, dblp, semantic-scholar) against the real replay server.

No recording of these services exists here (this machine reaches none of them): every response is built from the
hand-written fixtures in tests/data/sources (each in the exact shape its service's published documentation gives;
that folder's README names the pages), renumbered so that a harvest can run over several pages. What the servers
do here (offset, cursor and token paging, 429 with Retry-After, Crossref's X-Rate-Limit headers, a refused stale
cursor) is what their documentation says they do. Politeness is asserted from the server's own request log.
"""

from __future__ import annotations

import copy
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date

import orjson
import pytest
from click.testing import CliRunner

from paperfeed.cli import cli
from paperfeed.fetch.politeness import advertised_interval, group_for
from paperfeed.storage import open_store
from replay_server import SYNC_DATA, ReplayServer, Reply, Request
from test_sync import ENV, INTERVAL, add, gaps, record_ids, run_cli, settings_for, sync

SOURCES = SYNC_DATA.parent / "sources"
JSON = {"Content-Type": "application/json"}
SCHOLARLY_INTERVALS = {"openreview_interval": INTERVAL, "crossref_interval": INTERVAL, "dblp_interval": INTERVAL,
                       "semantic_scholar_interval": INTERVAL}


def polite(db, **changes):
    return settings_for(db, **{**SCHOLARLY_INTERVALS, **changes})


@pytest.fixture
def server():
    with ReplayServer() as running:
        yield running


def json_reply(document) -> Reply:
    return Reply(200, orjson.dumps(document), dict(JSON))


# -- documents built from the fixtures, numbered -----------------------------------------------------------------


def openreview_notes(count: int, start: int = 0) -> list[dict]:
    template = orjson.loads((SOURCES / "openreview_notes.json").read_bytes())["notes"][0]
    notes = []
    for number in range(start, start + count):
        note = copy.deepcopy(template)
        note["id"] = note["forum"] = f"Or{number:08d}"
        note["number"] = number
        note["content"]["title"] = {"value": f"Venue paper {number}: {WORDS[number % len(WORDS)]} adapters"}
        notes.append(note)
    return notes


def crossref_items(count: int, start: int = 0) -> list[dict]:
    template = orjson.loads((SOURCES / "crossref_works.json").read_bytes())["message"]["items"][0]
    items = []
    for number in range(start, start + count):
        item = {key: value for key, value in copy.deepcopy(template).items() if key != "relation"}
        item["DOI"] = f"10.5555/sync.{number}"
        item["URL"] = f"https://doi.org/10.5555/sync.{number}"
        item["title"] = [f"Work {number}: {WORDS[number % len(WORDS)]} of the axolotl limb"]
        items.append(item)
    return items


def dblp_hits(count: int, start: int = 0) -> list[dict]:
    template = orjson.loads((SOURCES / "dblp_search.json").read_bytes())["result"]["hits"]["hit"][0]
    hits = []
    for number in range(start, start + count):
        hit = copy.deepcopy(template)
        hit["@id"] = str(9000000 + number)
        info = hit["info"]
        info.update(key=f"journals/sync/P{number}", doi=f"10.5555/DBLP.{number}",
                    ee=f"https://doi.org/10.5555/dblp.{number}", url=f"https://dblp.org/rec/journals/sync/P{number}",
                    title=f"Hit {number}: {WORDS[number % len(WORDS)]} in sequence models.")
        hits.append(hit)
    return hits


def semantic_scholar_papers(count: int, start: int = 0) -> list[dict]:
    template = orjson.loads((SOURCES / "semantic_scholar_paper.json").read_bytes())
    papers = []
    for number in range(start, start + count):
        paper = copy.deepcopy(template)
        paper["paperId"] = f"{number:040x}"
        paper["externalIds"] = {"DOI": f"10.5555/s2.{number}", "CorpusId": 100000 + number}
        paper["url"] = f"https://www.semanticscholar.org/paper/{number:040x}"
        paper["title"] = f"Paper {number}: {WORDS[number % len(WORDS)]} of length generalization"
        papers.append(paper)
    return papers


WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo",
         "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango"]


class OpenReviewVenue:
    """``GET /notes?content.venueid=&limit=&offset=`` over a list of notes that can grow."""

    def __init__(self, venue: str, notes: list[dict]) -> None:
        self.venue, self.notes = venue, notes

    def __call__(self, request: Request) -> Reply:
        if request.query.get("content.venueid") != self.venue:
            return json_reply({"notes": [], "count": 0})
        offset, limit = int(request.query["offset"]), int(request.query["limit"])
        return json_reply({"notes": self.notes[offset:offset + limit], "count": len(self.notes)})


class CrossrefWorks:
    """``GET /works?filter=&rows=&cursor=`` with deep paging: ``*`` starts, each page names the next cursor, a page
    past the end has no items; a cursor it never handed out (or one from before ``expire``) answers 400."""

    def __init__(self, items: list[dict], rate_limit: tuple[str, str] | None = None) -> None:
        self.items, self.generation, self.rate_limit = items, 0, rate_limit

    def expire(self) -> None:
        self.generation += 1

    def __call__(self, request: Request) -> Reply:
        rows, token = int(request.query["rows"]), request.query["cursor"]
        if token == "*":
            index = 0
        else:
            generation, _, number = token.partition("-")
            if generation != f"g{self.generation}" or not number.isdigit():
                return Reply(400, b'{"status":"failed","message-type":"validation-failure"}', dict(JSON))
            index = int(number)
        items = self.items[index * rows:(index + 1) * rows]
        reply = json_reply({"status": "ok", "message-type": "work-list", "message-version": "1.0.0", "message": {
            "facets": {}, "total-results": len(self.items), "items": items, "items-per-page": rows,
            "next-cursor": f"g{self.generation}-{index + 1}", "query": {"start-index": 0, "search-terms": None}}})
        if self.rate_limit:
            reply.headers.update({"X-Rate-Limit-Limit": self.rate_limit[0],
                                  "X-Rate-Limit-Interval": self.rate_limit[1]})
        return reply


class DblpSearch:
    """``GET /search/publ/api?q=&format=json&h=&f=``."""

    def __init__(self, hits: list[dict]) -> None:
        self.hits = hits

    def __call__(self, request: Request) -> Reply:
        first, size = int(request.query["f"]), int(request.query["h"])
        page = self.hits[first:first + size]
        hits: dict = {"@total": str(len(self.hits)), "@computed": str(len(self.hits)), "@sent": str(len(page)),
                      "@first": str(first)}
        if page:
            hits["hit"] = page
        return json_reply({"result": {"query": request.query["q"], "status": {"@code": "200", "text": "OK"},
                                      "hits": hits}})


class BulkSearch:
    """``GET /graph/v1/paper/search/bulk?query=&fields=&token=``: pages of ``per_page`` with a continuation token."""

    def __init__(self, papers: list[dict], per_page: int) -> None:
        self.papers, self.per_page = papers, per_page

    def __call__(self, request: Request) -> Reply:
        token = request.query.get("token")
        index = int(token.removeprefix("t")) if token else 0
        page = self.papers[index * self.per_page:(index + 1) * self.per_page]
        more = (index + 1) * self.per_page < len(self.papers)
        return json_reply({"total": len(self.papers), "token": f"t{index + 1}" if more else None, "data": page})


# -- openreview ---------------------------------------------------------------------------------------------------


def test_openreview_pages_by_offset_saves_each_page_and_resumes(server, store):
    venue = OpenReviewVenue("ICLR.cc/2025/Conference", openreview_notes(5))
    server.route("/notes", venue)
    add(store, "or", "openreview", server.url("/notes"), venue="ICLR.cc/2025/Conference", page_size="2")
    # The third page fails for good (retries spent): the two pages before it are kept with their cursor.
    server.route("/notes", lambda request: Reply(503, b"busy") if request.query["offset"] == "4" else venue(request))
    failed = sync(store, polite(store.url)).sources[0]
    assert failed.error and failed.pages == 2 and failed.new == 4
    assert store.source("or").cursor == {"offset": 4}

    server.route("/notes", venue)
    resumed = sync(store, polite(store.url)).sources[0]
    assert (resumed.error, resumed.new, resumed.pages) == (None, 1, 1)
    offsets = [request.query["offset"] for request in server.requests("/notes")]
    assert offsets == ["0", "2", "4", "4", "4"]  # two failed attempts at 4, then the resumed request
    assert all(request.query["content.venueid"] == "ICLR.cc/2025/Conference" and request.query["limit"] == "2"
               for request in server.requests("/notes"))
    assert store.source("or").cursor == {"offset": 5}
    assert len(record_ids(store, "openreview")) == 5 == store.item_count()

    # Nothing new: one request past the stored offset, nothing stored; then two accepted papers join the venue.
    again = sync(store, polite(store.url)).sources[0]
    assert (again.new, again.unchanged, again.pages) == (0, 0, 0) and "past the 5 stored" in again.notes[0]
    venue.notes += openreview_notes(2, start=5)
    later = sync(store, polite(store.url)).sources[0]
    assert (later.new, later.unchanged) == (2, 0)
    assert [request.query["offset"] for request in server.requests("/notes")][5:] == ["5", "5", "7"]
    assert len(record_ids(store, "openreview")) == 7
    # Each sync is polite within itself (a new sync is a new process, minutes later in real use).
    for one_sync in (slice(0, 4), slice(6, 8)):
        assert min(gaps(server.requests("/notes")[one_sync])) >= INTERVAL


# -- crossref -----------------------------------------------------------------------------------------------------


def test_crossref_deep_paging_sends_mailto_and_filters_and_resumes_from_the_stored_cursor(server, store):
    works = CrossrefWorks(crossref_items(7))
    server.route("/works", works)
    add(store, "cr", "crossref", server.url("/works"), filter="prefix:10.5555,type:journal-article",
        query="axolotl", page_size="3", **{"from": "2026-01-01"})
    # The third page (cursor g0-2) fails for good: pages one and two are kept, with the cursor that follows them.
    server.route("/works", lambda request: Reply(503, b"busy") if request.query["cursor"] == "g0-2"
                 else works(request))
    failed = sync(store, polite(store.url)).sources[0]
    assert failed.error and (failed.pages, failed.new) == (2, 6)
    today = date.today().isoformat()
    assert store.source("cr").cursor == {"next_cursor": "g0-2", "window_from": "2026-01-01", "window_started": today}

    server.route("/works", works)
    resumed = sync(store, polite(store.url)).sources[0]
    assert (resumed.error, resumed.new, resumed.unchanged) == (None, 1, 0)
    requests = server.requests("/works")
    assert [request.query["cursor"] for request in requests] == ["*", "g0-1", "g0-2", "g0-2", "g0-2", "g0-3"]
    first = requests[0].query
    assert first["filter"] == "prefix:10.5555,type:journal-article,from-index-date:2026-01-01"
    assert (first["query"], first["rows"], first["mailto"]) == ("axolotl", "3", "ops@example.org")
    assert store.source("cr").cursor == {"next_from": today}
    assert len(record_ids(store, "crossref")) == 7 == store.item_count()

    # The next window starts on the day this one started; what comes again is recognised.
    again = sync(store, polite(store.url)).sources[0]
    assert (again.error, again.new, again.unchanged) == (None, 0, 7)
    assert server.requests("/works")[6].query["filter"].endswith(f"from-index-date:{today}")
    assert server.requests("/works")[6].query["cursor"] == "*"
    for one_sync in (slice(0, 4), slice(4, 6)):
        assert min(gaps(server.requests("/works")[one_sync])) >= INTERVAL
    assert len(record_ids(store, "crossref")) == 7


def test_crossref_restarts_a_window_whose_cursor_expired_without_duplicates(server, store):
    works = CrossrefWorks(crossref_items(4))
    server.route("/works", works)
    add(store, "cr", "crossref", server.url("/works"), filter="prefix:10.5555", page_size="2",
        **{"from": "2026-01-01"})
    store.save_cursor("cr", {"next_cursor": "g0-1", "window_from": "2026-01-01", "window_started": "2026-01-02"})
    works.expire()  # Crossref forgets cursors after five minutes unused
    result = sync(store, polite(store.url)).sources[0]
    assert result.error is None and result.new == 4
    assert [request.query["cursor"] for request in server.requests("/works")] == ["g0-1", "*", "g1-1", "g1-2"]
    assert "no longer knew the stored cursor" in result.notes[0]
    assert store.source("cr").cursor == {"next_from": "2026-01-02"}


def test_each_service_is_paced_as_one_group_by_host_or_by_kind():
    assert [group_for(url) for url in ("https://api2.openreview.net/notes", "https://api.crossref.org/works",
                                       "https://dblp.org/search/publ/api", "https://dblp.uni-trier.de/search/publ/api",
                                       "https://api.semanticscholar.org/graph/v1/paper/search/bulk")] == [
        "openreview", "crossref", "dblp", "dblp", "semantic-scholar"]
    assert group_for("http://127.0.0.1:8080/works", "crossref") == "crossref"  # a mirror is paced as the service
    assert group_for("https://notdblp.org/x") == "notdblp.org"


def test_crossref_rate_limit_headers_space_requests_even_with_no_interval_set(server, store):
    assert advertised_interval({"x-rate-limit-limit": "50", "x-rate-limit-interval": "1s"}) == pytest.approx(0.02)
    assert advertised_interval({"x-rate-limit-limit": "0", "x-rate-limit-interval": "1s"}) is None
    assert advertised_interval({"x-rate-limit-limit": "1", "x-rate-limit-interval": "999999s"}) == 60.0
    server.route("/works", CrossrefWorks(crossref_items(6), rate_limit=("5", "1s")))
    add(store, "cr", "crossref", server.url("/works"), query="axolotl", page_size="2")
    result = sync(store, polite(store.url, crossref_interval=0.0)).sources[0]
    assert result.error is None and result.new == 6
    spacing = gaps(server.requests("/works"))
    assert len(spacing) == 3 and min(spacing) >= 0.2  # 5 requests per second, as the server says


# -- dblp ---------------------------------------------------------------------------------------------------------


def test_dblp_pages_by_first_hit_and_a_rerun_asks_only_past_the_stored_hits(server, store):
    search = DblpSearch(dblp_hits(5))
    server.route("/search/publ/api", search)
    add(store, "db", "dblp", server.url("/search/publ/api"), query="length generalization", page_size="2")
    result = sync(store, polite(store.url)).sources[0]
    assert (result.error, result.new, result.pages) == (None, 5, 3)
    requests = server.requests("/search/publ/api")
    assert [(request.query["f"], request.query["h"]) for request in requests] == [("0", "2"), ("2", "2"), ("4", "2")]
    assert {(request.query["q"], request.query["format"]) for request in requests} == {
        ("length generalization", "json")}
    assert store.source("db").cursor == {"first": 5}
    assert len(record_ids(store, "dblp")) == 5 == store.item_count()
    again = sync(store, polite(store.url)).sources[0]
    assert (again.new, again.unchanged) == (0, 0) and server.requests("/search/publ/api")[3].query["f"] == "5"
    assert min(gaps(server.requests("/search/publ/api")[:3])) >= INTERVAL


# -- semantic scholar ---------------------------------------------------------------------------------------------


def test_semantic_scholar_bulk_search_follows_tokens_sends_the_key_and_goes_on_by_date(server, store):
    path = "/graph/v1/paper/search/bulk"
    search = BulkSearch(semantic_scholar_papers(5), per_page=2)
    server.route(path, lambda request: Reply(503, b"busy") if request.query.get("token") == "t2" else search(request))
    add(store, "s2", "semantic-scholar", server.url(path), query="length generalization", **{"from": "2024-01-01"})
    settings = polite(store.url, semantic_scholar_api_key="s2-test-key")
    failed = sync(store, settings).sources[0]
    assert failed.error and failed.new == 4 and "s2-test-key" not in (failed.error + (failed.place or ""))
    today = date.today().isoformat()
    assert store.source("s2").cursor == {"token": "t2", "window_from": "2024-01-01", "window_started": today}

    server.route(path, search)
    resumed = sync(store, settings).sources[0]
    assert (resumed.error, resumed.new) == (None, 1)
    requests = server.requests(path)
    assert [request.query.get("token") for request in requests] == [None, "t1", "t2", "t2", "t2"]
    assert all(request.headers.get("x-api-key") == "s2-test-key" for request in requests)
    assert requests[0].query["publicationDateOrYear"] == "2024-01-01:"
    assert requests[0].query["fields"].startswith("externalIds,") and requests[0].query["sort"] == "publicationDate:asc"
    assert store.source("s2").cursor == {"next_from": today}
    assert len(record_ids(store, "semantic-scholar")) == 5 == store.item_count()

    # Without a key no header is sent; the next window asks for publication dates from the day the last began.
    again = sync(store, polite(store.url)).sources[0]
    assert (again.error, again.new, again.unchanged) == (None, 0, 5)
    assert "x-api-key" not in server.requests(path)[5].headers
    assert server.requests(path)[5].query["publicationDateOrYear"] == f"{today}:"
    assert min(gaps(server.requests(path)[:4])) >= INTERVAL
    assert len(record_ids(store, "semantic-scholar")) == 5


# -- what every kind shares ---------------------------------------------------------------------------------------

KINDS = {
    "openreview": ("/notes", OpenReviewVenue("V.cc/2025", openreview_notes(1)), {"venue": "V.cc/2025"}),
    "crossref": ("/works", CrossrefWorks(crossref_items(1)), {"query": "axolotl"}),
    "dblp": ("/search/publ/api", DblpSearch(dblp_hits(1)), {"query": "q"}),
    "semantic-scholar": ("/graph/v1/paper/search/bulk", BulkSearch(semantic_scholar_papers(1), 1), {"query": "q"}),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_429_with_retry_after_is_waited_out(server, store, kind):
    path, handler, options = KINDS[kind]
    server.route(path, handler)
    server.fail_next(path, Reply(429, b"", {"Retry-After": "1"}))
    add(store, "s", kind, server.url(path), **options)
    result = sync(store, polite(store.url)).sources[0]
    assert result.error is None and result.new == 1
    first, retry = server.requests(path)[:2]
    assert retry.at - first.at >= 1.0  # the retry delay setting is 0.01 s: only Retry-After makes it wait


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_response_of_another_shape_fails_the_source_with_its_place(server, store, kind):
    path, _, options = KINDS[kind]
    server.route(path, Reply(200, b'{"unexpected": []}', dict(JSON)))
    add(store, "s", kind, server.url(path), **options)
    result = sync(store, polite(store.url)).sources[0]
    assert result.error.startswith("not a") and path in result.place and result.place.endswith("byte 0")
    assert store.source("s").cursor == {} and store.item_count() == 0


@pytest.mark.parametrize("args, message", [
    (["--kind", "openreview"], "kind openreview needs --venue"),
    (["--kind", "openreview", "--venue", "ICLR.cc/2025/Conference?x=1"], "is not an OpenReview venue id"),
    (["--kind", "crossref"], "kind crossref needs --filter"),
    (["--kind", "crossref", "--filter", "prefix 10.1101"], "--filter 'prefix 10.1101' is not name:value"),
    (["--kind", "crossref", "--filter", "from-index-date:2024-01-01"], "give the index dates as --from/--until"),
    (["--kind", "crossref", "--query", "x", "--page-size", "5000"], "--page-size '5000' must be a whole number"),
    (["--kind", "dblp"], "kind dblp needs --query"),
    (["--kind", "dblp", "--query", "x", "--page-size", "two"], "--page-size 'two' must be a whole number"),
    (["--kind", "semantic-scholar"], "kind semantic-scholar needs --query"),
    (["--kind", "semantic-scholar", "--query", "x", "--page-size", "10"], "--page-size is for kind(s)"),
    (["--kind", "arxiv", "--categories", "cs.LG", "--venue", "V"], "--venue is for kind(s) openreview, not arxiv"),
    (["--kind", "dblp", "--query", "x" * 501], "--query must be 1 to 500 characters"),
])
def test_cli_sources_add_names_the_bad_option_of_each_scholarly_kind(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "x.db"), "sources", "add", "s", *args],
                                env={"CI": "true"})
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_cli_sources_add_and_list_a_scholarly_source(tmp_path):
    db = tmp_path / "x.db"
    added = run_cli(db, "sources", "add", "iclr", "--kind", "openreview", "--venue", "ICLR.cc/2025/Conference")
    assert added.exit_code == 0, added.output
    listed = run_cli(db, "sources", "list", "--json")
    source = orjson.loads(listed.output)[0]
    assert (source["kind"], source["options"]) == ("openreview", {"venue": "ICLR.cc/2025/Conference"})


def stored_cursor(db: str) -> dict | None:
    """The committed cursor, read behind the syncing process's back (read-only, never waiting on it)."""
    query = "SELECT cursor FROM sync_state WHERE source = 'bulk'"
    if db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db, autocommit=True, connect_timeout=5) as connection:
            row = connection.execute(query).fetchone()
    else:
        try:
            connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.2)
            try:
                row = connection.execute(query).fetchone()
            finally:
                connection.close()
        except sqlite3.Error:
            return None
    return orjson.loads(row[0]) if row and row[0] else None


@pytest.mark.slow
def test_kill_9_mid_crossref_harvest_then_rerun_stores_every_work_exactly_once(server, backend_url):
    works = CrossrefWorks(crossref_items(120))
    server.route("/works", works)
    db = backend_url
    assert run_cli(db, "sources", "add", "bulk", "--kind", "crossref", "--url", server.url("/works"),
                   "--filter", "prefix:10.5555", "--page-size", "3", "--from", "2026-01-01").exit_code == 0
    env = {**{k: v for k, v in os.environ.items() if k != "PAPERFEED_DB"}, **ENV,
           "PAPERFEED_CROSSREF_INTERVAL": str(INTERVAL)}
    command = [sys.executable, "-m", "paperfeed", "--db", db, "sync"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 60
    try:
        while ((stored_cursor(db) or {}).get("next_cursor") or "g0-0") in ("g0-0", "g0-1", "g0-2"):
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL, "the harvest finished before the kill: make it longer"
    with open_store(db) as store:
        partial = len(record_ids(store, "crossref"))
        assert 0 < partial < 120 and store.check_integrity() == []

    rerun = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    cursors = [request.query["cursor"] for request in server.requests("/works")]
    assert cursors.count("*") == 1, "the rerun must resume from the stored cursor, not restart the window"
    with open_store(db) as store:
        assert len(record_ids(store, "crossref")) == 120 == store.item_count()
        assert store.check_integrity() == []
