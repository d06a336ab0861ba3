"""``paperfeed sync`` and ``paperfeed sources`` against a real replay server on 127.0.0.1.

Politeness and backoff delays are set small through the same settings users have, so the suite stays fast;
politeness is asserted from the server's own request log.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from paperfeed.cli import cli
from paperfeed.config import Settings
from paperfeed.fetch import client_from_settings
from paperfeed.storage import open_store
from paperfeed.storage import SourceExistsError, SyncBusyError
from paperfeed.sync import make_source, sync_store
from paperfeed.sync.checks import quiet_day_note
from paperfeed.sync.schedule import Scheduler, start_scheduler
from paperfeed.sync.sources_file import read_sources
from replay_server import SYNC_DATA, OaiChain, ReplayServer, Reply, numbered_chain, recorded_records, xml

INTERVAL = 0.05
ENV = {"PAPERFEED_ALLOW_PRIVATE_URLS": "1", "PAPERFEED_ARXIV_INTERVAL": str(INTERVAL),
       "PAPERFEED_HOST_INTERVAL": "0", "PAPERFEED_RETRY_DELAY": "0.01", "PAPERFEED_HTTP_RETRIES": "1",
       "PAPERFEED_HTTP_TIMEOUT": "2", "PAPERFEED_CONTACT": "ops@example.org", "CI": "true"}
RSS = (SYNC_DATA / "arxiv_rss_cs.LG_fixture.rss").read_bytes()
API = (SYNC_DATA / "arxiv_api_idlist_1707.08567.xml").read_bytes()
HF_DAY = (SYNC_DATA / "hf_2025-01-10.json").read_bytes()
ATOM = (SYNC_DATA / "heise_developer_2016-02-01.atom").read_bytes()
HTML = b"<!DOCTYPE html><html><head><title>Service unavailable</title></head><body>Try later</body></html>"


def settings_for(db: Path | str, **changes) -> Settings:
    values = {"db": str(db), "allow_private_urls": True, "arxiv_interval": INTERVAL, "host_interval": 0.0,
              "retry_delay": 0.01, "http_retries": 1, "http_timeout": 2.0, "contact": "ops@example.org"}
    return Settings(**{**values, **changes})


def run_cli(db: Path | str, *args: str, **env: str):
    return CliRunner().invoke(cli, ["--db", str(db), *args], env={**ENV, **env}, catch_exceptions=False)


def three_page_chain() -> OaiChain:
    _, records, _ = recorded_records()
    return OaiChain([records[0:2], records[2:4], records[4:6]])


@pytest.fixture
def server():
    with ReplayServer() as running:
        yield running


def add(store, name, kind, url=None, **options):
    store.add_source(make_source(name, kind, url, None, options, allow_private=True))


def sync(store, settings, names=None, since=None):
    rows = [row for row in store.sources() if names is None or row.name in names]
    with client_from_settings(settings) as client:
        return sync_store(store, client, rows, since=since, settings=settings)


def record_ids(store, fmt="arxiv-oai") -> list[str]:
    assert fmt.replace("-", "").isalnum()  # spliced into the query: read_rows is the portable, parameterless reader
    return sorted(row[0] for row in store.read_rows(f"SELECT record_id FROM source_records WHERE format = '{fmt}'"))


def gaps(requests) -> list[float]:
    return [later.at - earlier.at for earlier, later in zip(requests, requests[1:])]


# -- OAI-PMH harvests ------------------------------------------------------------------------------------------


def test_oai_harvest_follows_the_token_chain_and_goes_on_incrementally(server, store):
    server.route("/oai", three_page_chain())
    add(store, "oai", "arxiv-oai", server.url("/oai"), set="physics", **{"from": "2014-10-01"})
    report = sync(store, settings_for(store.url))
    result = report.sources[0]
    assert (result.new, result.merged, result.unchanged, result.pages, result.error) == (6, 0, 0, 3, None)
    assert len(record_ids(store)) == 6 == store.item_count()
    requests = server.requests("/oai")
    assert requests[0].query == {"verb": "ListRecords", "metadataPrefix": "arXivRaw", "set": "physics",
                                 "from": "2014-10-01"}
    assert [request.query.get("resumptionToken") for request in requests[1:]] == ["g0-1", "g0-2"]
    assert min(gaps(requests)) >= INTERVAL
    assert store.source("oai").cursor == {"next_from": "2015-01-06"}  # the first page's responseDate

    # The next sync starts at the last harvest's date; what comes again is recognised, not stored twice.
    again = sync(store, settings_for(store.url)).sources[0]
    assert (again.new, again.unchanged) == (0, 6)
    assert server.requests("/oai")[3].query["from"] == "2015-01-06"
    assert len(record_ids(store)) == 6


def test_a_synced_page_obeys_the_configured_field_limits(server, store):
    """A sync stores what `paperfeed ingest` would: the same settings bound each page's records."""
    server.route("/oai", three_page_chain())
    add(store, "oai", "arxiv-oai", server.url("/oai"), set="physics", **{"from": "2014-10-01"})
    settings = dataclasses.replace(settings_for(store.url), max_abstract_chars=20)
    result = sync(store, settings).sources[0]
    assert result.pages == 0 and "max_abstract_chars" in result.error
    assert store.item_count() == 0 and store.source("oai").cursor in (None, {})


def test_an_interrupted_harvest_resumes_from_its_token(server, store):
    chain = three_page_chain()
    outages = [Reply(503, b"down"), Reply(503, b"down")]  # both attempts (one retry) at page 2

    def flaky(request):
        if request.query.get("resumptionToken") == "g0-1" and outages:
            return outages.pop()
        return chain(request)

    server.route("/oai", flaky)
    add(store, "oai", "arxiv-oai", server.url("/oai"), **{"from": "2014-10-01"})
    first = sync(store, settings_for(store.url)).sources[0]
    assert first.failed and "HTTP 503" in first.error and "resumptionToken=g0-1" in first.place
    assert first.new == 2 and store.source("oai").cursor["token"] == "g0-1"
    assert store.source("oai").failures == 1 and store.source("oai").last_error_at

    resumed = sync(store, settings_for(store.url)).sources[0]
    assert resumed.error is None and (resumed.new, resumed.unchanged) == (4, 0)
    assert server.requests("/oai")[3].query == {"verb": "ListRecords", "resumptionToken": "g0-1"}
    assert len(record_ids(store)) == 6 and store.source("oai").failures == 0


def test_bad_resumption_token_restarts_the_window_without_duplicates(server, store):
    chain = three_page_chain()
    server.route("/oai", chain)
    add(store, "oai", "arxiv-oai", server.url("/oai"), **{"from": "2014-10-01"})

    def expire_after_first_page(request):
        if request.query.get("resumptionToken") == "g0-1":
            chain.expire_tokens()
        return chain(request)

    server.route("/oai", expire_after_first_page)
    result = sync(store, settings_for(store.url)).sources[0]
    assert result.error is None, result.error
    queries = [request.query for request in server.requests("/oai")]
    assert queries[1] == {"verb": "ListRecords", "resumptionToken": "g0-1"}  # answered badResumptionToken
    assert queries[2]["from"] == "2014-10-01"  # the window again, from its datestamp
    assert (result.new, result.unchanged) == (6, 2)
    assert any("expired resumptionToken" in note for note in result.notes)
    assert len(record_ids(store)) == 6 == len(set(record_ids(store)))


def test_no_records_match_is_an_empty_harvest_not_an_error(server, store):
    server.route("/oai", xml((SYNC_DATA / "error_noRecordsMatch.xml").read_bytes()))
    add(store, "oai", "arxiv-oai", server.url("/oai"), **{"from": "2015-06-01"})
    result = sync(store, settings_for(store.url)).sources[0]
    assert result.error is None and result.new == 0 and "no records changed since 2015-06-01" in result.notes[0]


@pytest.mark.parametrize("reply, message, place", [
    (xml(b"<?xml version='1.0'?>\n<OAI-PMH><ListRecords><record>\n</OAI-PMH>"), "malformed XML", "line 3"),
    (Reply(200, HTML, {"Content-Type": "text/html"}), "the server sent an HTML page (HTTP 200, text/html)",
     "byte 0"),
    (Reply(200, b"\x89PNG\r\n\x1a\n....", {"Content-Type": "image/png"}), "wrong content type 'image/png'",
     "byte 0"),
    (xml(b""), "empty response", "byte 0"),
])
def test_bad_pages_fail_their_source_with_a_place_and_store_nothing_of_it(server, store, reply, message, place):
    server.route("/oai", reply)
    add(store, "oai", "arxiv-oai", server.url("/oai"), **{"from": "2014-10-01"})
    result = sync(store, settings_for(store.url)).sources[0]
    assert result.failed and message in result.error and place in result.place and "/oai?" in result.place
    assert store.item_count() == 0 and store.source("oai").cursor == {}


def test_a_page_that_fails_to_ingest_is_rolled_back_and_the_cursor_stays(server, store):
    head, records, tail = recorded_records()
    broken = records[1].replace(b"<header>", b"<headr>").replace(b"</header>", b"</headr>")
    chain = OaiChain([records[0:2], [records[2], broken], records[4:6]])
    server.route("/oai", chain)
    add(store, "oai", "arxiv-oai", server.url("/oai"), **{"from": "2014-10-01"})
    result = sync(store, settings_for(store.url)).sources[0]
    assert result.failed and "no <header>" in result.error and "<record> 2" in result.place
    assert result.new == 2 and store.item_count() == 2  # page 1 whole, nothing of page 2
    assert store.source("oai").cursor["token"] == "g0-1"
    assert store.check_integrity() == []


# -- arxiv (RSS + API), hf-daily, feed ------------------------------------------------------------------------


def test_arxiv_kind_reads_rss_then_the_api_in_batches_sharing_one_polite_connection(server, store):
    def rss(request):
        if request.headers.get("if-none-match") == '"day1"':
            return Reply(304, b"", {"ETag": '"day1"'})
        return xml(RSS, ETag='"day1"')

    server.route("/rss/cs.LG+cs.CL", rss)
    server.route("/api/query", xml(API))
    server.route("/oai", three_page_chain())
    store.add_source(make_source("ml", "arxiv", server.url("/rss"), None,
                                 {"categories": "cs.LG,cs.CL", "api_url": server.url("/api/query")}, True))
    add(store, "bulk", "arxiv-oai", server.url("/oai"), **{"from": "2014-10-01"})
    report = sync(store, settings_for(store.url))
    assert [result.error for result in report.sources] == [None, None]
    api_call = server.requests("/api/query")[0]
    announced = api_call.query["id_list"].split(",")
    assert "2401.01234" in announced and len(announced) == len(set(announced)) == int(api_call.query["max_results"])
    formats = {row[0] for row in store.read_rows("SELECT DISTINCT format FROM source_records")}
    assert formats == {"arxiv-rss", "arxiv-atom", "arxiv-oai"}
    requests = server.requests()
    assert min(gaps(requests)) >= INTERVAL, gaps(requests)
    assert len({request.client_port for request in requests}) == 1
    assert all("ops@example.org" in request.headers["user-agent"] for request in requests)

    again = sync(store, settings_for(store.url), names={"ml"}).sources[0]
    assert again.notes == ["feed not modified since the last sync"] and again.new == 0
    assert len(server.requests("/api/query")) == 1


def test_a_day_without_announcements_is_reported_as_such(server, store):
    saturday = RSS.split(b"    <item>")[0].replace(b"Mon, 15 Jan 2024", b"Sat, 13 Jan 2024") + b"</channel></rss>"
    server.route("/rss/cs.LG", xml(saturday))
    add(store, "ml", "arxiv", server.url("/rss"), categories="cs.LG")
    result = sync(store, settings_for(store.url)).sources[0]
    assert result.error is None and result.new == 0
    assert result.notes == ["2024-01-13 (Saturday): no arXiv announcements, weekend, nothing is announced"]
    assert server.requests("/api/query") == []


def test_hf_daily_fetches_each_day_within_the_rate_cap(server, store):
    today = date.today()
    days = [(today - timedelta(days=back)).isoformat() for back in (3, 2, 1, 0)]

    def daily(request):
        day = date.fromisoformat(request.query["date"])
        return Reply(200, b"[]" if day.weekday() >= 5 else HF_DAY, {"Content-Type": "application/json"})

    server.route("/api/daily_papers", daily)
    add(store, "hf", "hf-daily", server.url("/api/daily_papers"))
    result = sync(store, settings_for(store.url, hf_max_calls=2, hf_window=0.3), since=days[0]).sources[0]
    assert result.error is None
    requests = server.requests("/api/daily_papers")
    assert [request.query["date"] for request in requests] == days
    assert requests[2].at - requests[0].at >= 0.3 and requests[3].at - requests[1].at >= 0.3
    weekend = [day for day in days if date.fromisoformat(day).weekday() >= 5]
    assert [note.split(" ")[0] for note in result.notes] == weekend
    assert store.source("hf").cursor["next_date"] == today.isoformat()  # today is fetched again next time
    # The same recorded day served for every weekday: another day's listing of the same papers merges.
    assert result.new == 9 and result.merged == 9 * (len(days) - len(weekend) - 1)


def test_feed_sources_bad_input_and_the_others_go_on(server, store):
    server.route("/good.atom", Reply(200, ATOM, {"Content-Type": "application/atom+xml",
                                                 "Last-Modified": "Mon, 01 Feb 2016 10:00:00 GMT"}))
    server.route("/page.html", Reply(200, HTML, {"Content-Type": "text/html"}))
    server.route("/json", Reply(200, b'{"not": "a feed"}', {"Content-Type": "application/json"}))
    server.route("/gone", Reply(404, b"no"))
    for name, path in (("a-html", "/page.html"), ("b-json", "/json"), ("c-gone", "/gone"), ("d-good", "/good.atom")):
        add(store, name, "feed", server.url(path))
    report = sync(store, settings_for(store.url))
    by_name = {result.name: result for result in report.sources}
    assert "HTML page" in by_name["a-html"].error
    assert "not an RSS or Atom feed: no XML root element" in by_name["b-json"].error
    assert "HTTP 404" in by_name["c-gone"].error
    assert by_name["d-good"].error is None and by_name["d-good"].new == 15
    assert store.source("d-good").cursor["last_modified"] == "Mon, 01 Feb 2016 10:00:00 GMT"
    assert store.source("a-html").failures == 1 and store.source("d-good").failures == 0


def test_loopback_sources_are_refused_unless_allowed(server, store):
    server.route("/good.atom", Reply(200, ATOM))
    add(store, "local", "feed", server.url("/good.atom"))
    result = sync(store, settings_for(store.url, allow_private_urls=False)).sources[0]
    assert result.failed and "loopback address 127.0.0.1" in result.error
    assert server.requests() == []


@pytest.mark.parametrize("url, reason", [
    ("http://100.100.100.200/latest/meta-data/", "shared (carrier-grade NAT)"),
    ("http://[2002:a9fe:a9fe::]/latest/meta-data/", "6to4 (carrying link-local 169.254.169.254)"),
    ("http://192.0.0.192/", "IETF protocol assignment"),
])
def test_a_literal_non_global_source_address_is_refused_when_added(tmp_path, url, reason):
    result = run_cli(tmp_path / "store.db", "sources", "add", "meta", "--kind", "feed", "--url", url,
                     PAPERFEED_ALLOW_PRIVATE_URLS="0")
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert result.output.strip() == (f"paperfeed: source 'meta': --url {url!r} is a {reason} address "
                                     "(set PAPERFEED_ALLOW_PRIVATE_URLS=1 to allow it)")


# -- CLI ------------------------------------------------------------------------------------------------------


def test_cli_sources_add_list_remove_and_sync_exit_status(server, backend_url):
    db = backend_url
    server.route("/good.atom", Reply(200, ATOM, {"Content-Type": "application/atom+xml"}))
    server.route("/page.html", Reply(200, HTML, {"Content-Type": "text/html"}))
    assert run_cli(db, "sources", "add", "news", "--kind", "feed", "--url", server.url("/good.atom"),
                   "--label", "heise").exit_code == 0
    assert run_cli(db, "sources", "add", "broken", "--kind", "feed", "--url", server.url("/page.html")).exit_code == 0
    duplicate = run_cli(db, "sources", "add", "news", "--kind", "feed", "--url", server.url("/x"))
    assert duplicate.exit_code == 1 and "exists already" in duplicate.output

    result = run_cli(db, "sync")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any(line.startswith("FAILED broken at http://127.0.0.1:") and "HTML page" in line for line in lines)
    assert "news [feed]: 15 new, 0 merged, 0 unchanged" in lines
    assert lines[-1] == "2 sources: 15 new, 0 merged, 0 unchanged, 1 failed"
    assert "Traceback" not in result.output

    listing = run_cli(db, "sources", "list").output
    assert "news [feed]" in listing and "label='heise'" in listing and "last ok: " in listing
    failed_line = next(line for line in listing.splitlines() if "FAILED" in line)
    assert "(1 in a row)" in failed_line and "HTML page" in failed_line and "T" in failed_line.split()[1]
    rows = orjson.loads(run_cli(db, "sources", "list", "--json").output)
    assert {row["name"]: row["failures"] for row in rows} == {"broken": 1, "news": 0}

    only_news = run_cli(db, "sync", "--source", "news")
    assert only_news.exit_code == 0 and "news [feed]: 0 new, 0 merged, 15 unchanged" in only_news.output
    unknown = run_cli(db, "sync", "--source", "nope")
    assert unknown.exit_code == 2 and "no source named nope" in unknown.output
    assert run_cli(db, "sources", "remove", "broken").exit_code == 0
    assert run_cli(db, "sources", "remove", "broken").exit_code == 1
    assert [row["name"] for row in orjson.loads(run_cli(db, "sources", "list", "--json").output)] == ["news"]


@pytest.mark.parametrize("args, message", [
    (["--kind", "arxiv"], "needs --categories"),
    (["--kind", "rss"], "unknown kind 'rss'"),
    (["--kind", "feed"], "needs --url"),
    (["--kind", "feed", "--url", "file:///etc/passwd"], "only http and https"),
    (["--kind", "feed", "--url", "http://10.0.0.8/feed"], "private address"),
    (["--kind", "feed", "--url", "http://169.254.169.254/latest"], "link-local address"),
    (["--kind", "arxiv", "--categories", "cs.LG;drop table"], "not arXiv categories"),
    (["--kind", "arxiv-oai", "--from", "2024-02-30"], "not a date"),
])
def test_cli_sources_add_refuses_bad_configuration_in_one_line(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "x.db"), "sources", "add", "s", *args],
                                env={"CI": "true"})
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_sources_import_from_toml(tmp_path, backend_url):
    toml = tmp_path / "sources.toml"
    toml.write_text('''
[[source]]
name = "ml"
kind = "arxiv"
categories = ["cs.LG", "cs.CL"]

[[source]]
name = "cs-backfill"
kind = "arxiv-oai"
set = "cs"
from = 2024-01-01
metadata-prefix = "arXivRaw"

[sources.guardian]
kind = "feed"
url = "https://www.theguardian.com/us/rss"
label = "The Guardian"

[[source]]
name = "bad"
kind = "feed"
''', encoding="utf-8")
    db = backend_url
    result = run_cli(db, "sources", "import", str(toml))
    assert result.exit_code == 1
    assert "FAILED" in result.output and "[[source]] 3: kind feed needs --url" in result.output
    rows = {row["name"]: row for row in orjson.loads(run_cli(db, "sources", "list", "--json").output)}
    assert set(rows) == {"ml", "cs-backfill", "guardian"}
    assert rows["cs-backfill"]["options"] == {"set": "cs", "from": "2024-01-01", "metadata_prefix": "arXivRaw"}
    again = run_cli(db, "sources", "import", str(toml))
    assert "ml: exists already, left as it is" in again.output

    toml.write_text("[[source]]\nname = \n", encoding="utf-8")
    broken = run_cli(db, "sources", "import", str(toml))
    assert broken.exit_code == 1 and "not valid TOML" in broken.output and "line 2" in broken.output
    assert "Traceback" not in broken.output


def test_read_sources_reports_each_bad_entry():
    rows, errors = read_sources('[[source]]\nname = "x"\nkind = "hf-daily"\nfoo = 1\n')
    assert rows == [] and errors == ["[[source]] 1: unknown option(s) foo; known: api_url, categories, filter, "
                                     "from, metadata_prefix, page_size, query, set, since, until, venue"]


def test_bad_setting_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "x.db"), "sources", "list"],
                                env={"PAPERFEED_HF_MAX_CALLS": "many"})
    assert result.exit_code == 2 and "PAPERFEED_HF_MAX_CALLS='many' is not a valid int" in result.output


# -- lock and scheduling ----------------------------------------------------------------------------------------


def test_two_syncs_never_run_at_once(server, store, backend_url):
    server.route("/good.atom", Reply(200, ATOM))
    add(store, "news", "feed", server.url("/good.atom"))
    with store.sync_lock("the test"):
        with pytest.raises(SyncBusyError, match=f"the test, pid {os.getpid()}, since 20"):
            sync(store, settings_for(backend_url))
        result = run_cli(backend_url, "sync")
        assert result.exit_code == 1 and "another sync is running on this store (the test" in result.output
    assert sync(store, settings_for(backend_url)).sources[0].new == 15  # released with the block
    with pytest.raises(RuntimeError, match="boom"), store.sync_lock("failing"):
        raise RuntimeError("boom")
    with store.sync_lock("after a failure"):  # a block that raised released the lock too
        pass


def test_scheduler_runs_sync_periodically_and_skips_a_round_while_locked(server, store, backend_url):
    server.route("/good.atom", Reply(200, ATOM))
    add(store, "news", "feed", server.url("/good.atom"))
    reports = []
    settings = settings_for(backend_url, sync_interval=0.002)  # 0.12 s
    with store.sync_lock("cron"):
        scheduler = start_scheduler(settings, on_report=reports.append)
        time.sleep(0.3)
        assert reports == [] and scheduler.rounds == 0
    deadline = time.monotonic() + 10
    while len(reports) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    scheduler.stop(timeout=5)
    assert len(reports) >= 2 and reports[0].sources[0].new == 15 and reports[1].sources[0].unchanged == 15
    assert start_scheduler(settings_for(backend_url)) is None  # sync_interval 0: no periodic sync
    with pytest.raises(ValueError):
        Scheduler(settings, 0)


def test_a_cursor_saved_in_a_write_group_commits_and_rolls_back_with_it(store, backend_url):
    add(store, "oai", "arxiv-oai", "http://127.0.0.1:9/oai", **{"from": "2014-10-01"})
    with open_store(backend_url) as other:
        with pytest.raises(RuntimeError, match="crash"), store.write_group() as commit_now:
            store.save_cursor("oai", {"token": "kept"})
            assert other.source("oai").cursor == {}  # not committed on its own
            commit_now()
            assert other.source("oai").cursor == {"token": "kept"}
            store.save_cursor("oai", {"token": "lost"})
            raise RuntimeError("crash")
        assert store.source("oai").cursor == other.source("oai").cursor == {"token": "kept"}
        store.save_cursor("oai", {"token": "alone"})  # outside a group: a transaction of its own
        assert other.source("oai").cursor == {"token": "alone"}
        store.record_sync_result("oai", "2026-01-02T03:04:05+00:00", "HTTP 503", {"new": 1})
        store.record_sync_result("oai", "2026-01-03T03:04:05+00:00", "HTTP 503", {"new": 0})
        row = other.source("oai")
        assert (row.failures, row.last_error, row.last_error_at, row.last_ok_at) == (
            2, "HTTP 503", "2026-01-03T03:04:05+00:00", None)
        store.record_sync_result("oai", "2026-01-04T03:04:05+00:00", None, {"new": 7})
        row = other.source("oai")
        assert (row.failures, row.last_ok_at, row.last_run_at, row.last_summary) == (
            0, "2026-01-04T03:04:05+00:00", "2026-01-04T03:04:05+00:00", {"new": 7})
    with pytest.raises(SourceExistsError, match="'oai' exists already"):
        add(store, "oai", "feed", "http://127.0.0.1:9/feed")
    assert store.source("oai").kind == "arxiv-oai"  # the failed add changed nothing
    assert store.remove_source("oai") and not store.remove_source("oai") and store.sources() == []


def test_quiet_day_notes():
    assert quiet_day_note("2026-03-07", "daily papers") == \
        "2026-03-07 (Saturday): no daily papers, weekend, nothing is announced"
    assert "holiday" in quiet_day_note("2025-12-25", "arXiv announcements")


# -- crashes ------------------------------------------------------------------------------------------------


def cursor_token(db: str) -> str | None:
    """The committed cursor's token, read behind the syncing process's back (read-only, never waiting on it)."""
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
    return orjson.loads(row[0]).get("token") if row else None


@pytest.mark.slow
def test_kill_9_mid_harvest_then_rerun_stores_every_record_exactly_once(server, backend_url):
    chain, ids = numbered_chain(pages=40, per_page=5)
    server.route("/oai", chain)
    db = backend_url
    assert run_cli(db, "sources", "add", "bulk", "--kind", "arxiv-oai", "--url", server.url("/oai"),
                   "--from", "2025-12-01").exit_code == 0
    env = {**{k: v for k, v in os.environ.items() if k != "PAPERFEED_DB"}, **ENV}
    command = [sys.executable, "-m", "paperfeed", "--db", db, "sync"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 30
    try:
        while (cursor_token(db) or "g0-0") in ("g0-0", "g0-1", "g0-2"):
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL, "the harvest finished before the kill: make the chain longer"
    with open_store(db) as store:
        partial = len(record_ids(store))
        assert 0 < partial < len(ids) and store.check_integrity() == []

    # The lock died with the process; the rerun resumes from the committed token.
    rerun = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    tokens = [request.query.get("resumptionToken") for request in server.requests("/oai")]
    resumed_at = tokens.index(None, 1) if None in tokens[1:] else None
    assert resumed_at is None, "the rerun must resume from the token, not restart the window"
    with open_store(db) as store:
        assert record_ids(store) == sorted(ids) and store.item_count() == len(ids)
        assert store.check_integrity() == []

    # Tokens expire (server restart): a window restarted from its datestamp still stores nothing twice.
    chain.expire_tokens()
    with open_store(db) as store:
        store.save_cursor("bulk", {"token": "g0-7", "window_from": "2025-12-01"})
    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert again.returncode == 0, again.stderr
    assert f"bulk [arxiv-oai]: 0 new, 0 merged, {len(ids)} unchanged" in again.stdout
    with open_store(db) as store:
        assert record_ids(store) == sorted(ids)


@pytest.mark.slow
def test_a_lock_held_by_a_killed_process_is_free(backend_url):
    db = backend_url
    open_store(db).close()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom paperfeed.storage import open_store\n"
        f"store = open_store({db!r})\nwith store.sync_lock('doomed'):\n"
        "    print('locked', flush=True)\n    time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with open_store(db) as store, pytest.raises(SyncBusyError, match="doomed"):
            with store.sync_lock("me"):
                pass
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
        holder.stdout.close()
    with open_store(db) as store, store.sync_lock("me"):
        # What the killed holder left behind is not reported: the live holder is.
        with open_store(db) as other, pytest.raises(SyncBusyError, match=r"running on this store \(me, pid "):
            with other.sync_lock("you"):
                pass


def test_sync_every_runs_rounds_until_interrupted_and_exits_cleanly(server, backend_url):
    server.route("/news.atom", Reply(200, ATOM, {"Content-Type": "application/atom+xml",
                                                 "Last-Modified": "Mon, 01 Feb 2016 10:00:00 GMT"}))
    db = backend_url
    assert run_cli(db, "sources", "add", "news", "--kind", "feed", "--url", server.url("/news.atom")).exit_code == 0
    env = {**{k: v for k, v in os.environ.items() if k != "PAPERFEED_DB"}, **ENV}
    # 0.02 minutes: rounds 1.2 s apart, ample to interrupt right after the second round, short for a test.
    command = [sys.executable, "-m", "paperfeed", "--db", db, "sync", "--every", "0.02"]
    # SIGINT as a terminal sends it, whatever this test's own parent ignores (a shell's background job ignores it,
    # and a child inherits that).
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        waits = 0
        for line in process.stderr:  # each round ends by announcing the next one
            waits += line.startswith("next sync in 0.02 min")
            if waits == 2:
                break
        assert waits == 2, f"exited early with status {process.poll()}"
        process.send_signal(signal.SIGINT)  # Ctrl-C, as the help says
        stdout, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    rounds = [line for line in stdout.splitlines() if line.startswith("news [feed]:")]
    assert rounds == ["news [feed]: 15 new, 0 merged, 0 unchanged", "news [feed]: 0 new, 0 merged, 15 unchanged"]
    requests = server.requests("/news.atom")
    assert len(requests) == 2
    # The second round went on from the stored state: a conditional GET with the first round's validator.
    assert requests[1].headers.get("if-modified-since") == "Mon, 01 Feb 2016 10:00:00 GMT"
    with open_store(db) as store:
        assert store.item_count() == 15 and store.source("news").failures == 0


# -- biorxiv (the details API, day by day, 100 per page) ------------------------------------------------------------

BIORXIV = SYNC_DATA.parent / "sources" / "biorxiv_details.json"


def biorxiv_page(count: int, day: str, start: int = 0) -> bytes:
    """A details response of ``count`` preprints posted on ``day`` (the shape of tests/data/sources)."""
    template = orjson.loads(BIORXIV.read_bytes())["collection"][2]
    collection = [{**template, "doi": f"10.1101/{day}.{start + n:06d}", "title": f"Preprint {start + n} of {day}",
                   "date": day} for n in range(count)]
    messages = [{"status": "ok" if count else "no posts found", "count": count, "cursor": start}]
    return orjson.dumps({"messages": messages, "collection": collection})


def test_biorxiv_pages_through_each_day_and_resumes(server, store):
    today = date.today()
    days = [(today - timedelta(days=back)).isoformat() for back in (2, 1, 0)]
    pages = {(days[0], 0): biorxiv_page(100, days[0]), (days[0], 100): biorxiv_page(3, days[0], 100),
             (days[1], 0): biorxiv_page(0, days[1]), (days[2], 0): biorxiv_page(2, days[2])}
    for (day, offset), body in pages.items():
        server.route(f"/details/biorxiv/{day}/{day}/{offset}", Reply(200, body, {"Content-Type": "application/json"}))
    add(store, "bio", "biorxiv", server.url("/details/biorxiv"))
    result = sync(store, settings_for(store.url), since=days[0]).sources[0]
    assert result.error is None and result.new == 105
    assert [request.path for request in server.requests()] == [
        f"/details/biorxiv/{days[0]}/{days[0]}/0", f"/details/biorxiv/{days[0]}/{days[0]}/100",
        f"/details/biorxiv/{days[1]}/{days[1]}/0", f"/details/biorxiv/{days[2]}/{days[2]}/0"]
    assert result.notes == [f"{days[1]}: nothing posted"]
    assert store.source("bio").cursor == {"next_date": today.isoformat(), "offset": 0}  # today again next time
    again = sync(store, settings_for(store.url)).sources[0]
    assert again.error is None and again.new == 0 and len(server.requests()) == 5


def test_biorxiv_refuses_a_response_that_is_not_a_details_response(server, store):
    day = date.today().isoformat()
    server.route(f"/details/biorxiv/{day}/{day}/0",
                 Reply(200, b'{"messages": []}', {"Content-Type": "application/json"}))
    add(store, "bio", "biorxiv", server.url("/details/biorxiv"))
    result = sync(store, settings_for(store.url), since=day).sources[0]
    assert 'no "collection" array' in result.error and result.place.endswith(f"/details/biorxiv/{day}/{day}/0 byte 0")
    assert store.source("bio").cursor == {}  # nothing stored, nothing moved
