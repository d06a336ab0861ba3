"""Sync health ("why no new papers?"): each day's reason, and `sources status`, /status and the digest against a
real replay server with scripted faults."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import orjson
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from paperfeed.cli import cli
from paperfeed.config import Settings, SettingsError
from paperfeed.digest import confirm, send_digests, subscribe
from paperfeed.fetch import client_from_settings
from paperfeed.ingest import Ingester
from paperfeed.storage import SourceRow, SyncRunRow, open_store
from paperfeed.sync import make_source, sync_store
from paperfeed.sync.health import announcement_at, next_announcement, source_health
from paperfeed.web.app import create_app

from datafiles import DATA
from replay_server import SYNC_DATA, ReplayServer, Reply
from smtp_server import SMTPServer

HF_DAY = (SYNC_DATA / "hf_2025-01-10.json").read_bytes()
ATOM = (SYNC_DATA / "heise_developer_2016-02-01.atom").read_bytes()
UTC = timezone.utc


def run(source: str, at: str, ok: bool = True, new: int = 0, merged: int = 0, unchanged: int = 0,
        error: str | None = None) -> SyncRunRow:
    return SyncRunRow(source, at, ok, error, new, merged, unchanged, 1)


def arxiv(**state) -> SourceRow:
    return SourceRow(name="ml", kind="arxiv", last_run_at="2026-12-04T06:00:00+00:00",
                     last_ok_at="2026-12-04T06:00:00+00:00", **state)


def reasons(health) -> dict[str, str | None]:
    return {day.day.isoformat(): day.reason for day in health.days}


# -- the calendar and each day's reason (pure) -------------------------------------------------------------------


def test_arxiv_announces_sunday_to_thursday_at_20_new_york_time_in_utc_days():
    assert announcement_at(date(2026, 12, 7)) == datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # Monday, EST
    assert announcement_at(date(2026, 7, 6)) == datetime(2026, 7, 6, 0, 0, tzinfo=UTC)  # Monday, EDT
    assert announcement_at(date(2026, 12, 5)) is None and announcement_at(date(2026, 12, 6)) is None  # weekend
    friday_evening = datetime(2026, 12, 4, 23, 0, tzinfo=UTC)
    assert next_announcement(friday_evening) == datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
    assert next_announcement(friday_evening, holidays=[date(2026, 12, 7)]) == datetime(2026, 12, 8, 1, 0,
                                                                                      tzinfo=UTC)


def test_every_empty_day_says_why_and_a_day_with_papers_says_nothing():
    now = datetime(2026, 12, 8, 0, 30, tzinfo=UTC)  # Tuesday before the announcement (01:00 UTC)
    runs = [run("ml", "2026-11-30T06:00:00+00:00", new=412),  # Monday: papers
            run("ml", "2026-12-01T06:00:00+00:00", ok=False, error="https://rss.arxiv.org/rss/cs.LG: HTTP 503"),
            run("ml", "2026-12-02T06:00:00+00:00", unchanged=380),  # everything already stored
            run("ml", "2026-12-03T06:00:00+00:00"),  # an empty list on a weekday
            run("ml", "2026-12-05T06:00:00+00:00"),  # Saturday
            run("ml", "2026-12-07T06:00:00+00:00")]  # a holiday
    health = source_health(arxiv(), runs, now, interval_minutes=60, days=9, holidays=[date(2026, 12, 7)])
    why = reasons(health)
    assert why["2026-11-30"] is None and health.days[-1].new == 412
    assert why["2026-12-01"] == "the source failed: https://rss.arxiv.org/rss/cs.LG: HTTP 503"
    assert why["2026-12-02"] == "the source listed 380 records, all already stored"
    assert why["2026-12-03"].startswith("arXiv's list was empty")
    assert why["2026-12-04"] == "no sync ran that day"
    assert why["2026-12-05"].startswith("arXiv announces nothing for Saturdays and Sundays")
    assert why["2026-12-06"].startswith("arXiv announces nothing for Saturdays and Sundays")
    assert why["2026-12-07"] == "an arXiv holiday: arXiv announced nothing that day"
    assert why["2026-12-08"] == "arXiv has not announced today's list yet (it does at 01:00 UTC)"
    assert health.days[0].day == date(2026, 12, 8)  # today first
    assert health.next_run == "2026-12-08T00:30:00+00:00"  # the last run is over an hour old: due now
    assert "arXiv's next announcement: 2026-12-08T01:00+00:00" in health.next_run_note


def test_states_healthy_failing_stale_and_never_run():
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    assert source_health(arxiv(), [], now).state == "healthy"
    failing = source_health(arxiv(failures=3, last_error="HTTP 503 Service Unavailable",
                                  last_error_at="2026-12-04T11:00:00+00:00"), [], now)
    assert failing.state == "failing" and failing.failing
    assert failing.summary == ("failing: the last 3 syncs failed (last success: 2026-12-04T06:00:00+00:00): "
                               "HTTP 503 Service Unavailable")
    stale = SourceRow(name="news", kind="feed", last_run_at="2026-11-20T06:00:00+00:00",
                      last_ok_at="2026-11-20T06:00:00+00:00")
    assert source_health(stale, [], now).state == "stale"
    never = source_health(SourceRow(name="new", kind="hf-daily"), [], now)
    assert never.state == "never run" and never.next_run is None
    assert "PAPERFEED_SYNC_INTERVAL is 0" in never.next_run_note


def test_arxiv_holidays_setting_is_checked():
    with pytest.raises(SettingsError, match="PAPERFEED_ARXIV_HOLIDAYS: '2026-13-01' is not a date"):
        Settings.load(arxiv_holidays="2026-12-25,2026-13-01")
    assert Settings.load(arxiv_holidays="2026-12-25, 2027-01-01").arxiv_holidays


# -- end to end: a replay server with a healthy and a failing source --------------------------------------------


def _settings(db, **changes) -> Settings:
    values = {"db": str(db), "allow_private_urls": True, "host_interval": 0.0, "retry_delay": 0.01,
              "http_retries": 1, "http_timeout": 2.0, "contact": "ops@example.org", "embedder": "none",
              "hf_max_calls": 50, "sync_interval": 30.0}
    return Settings(**{**values, **changes})


@pytest.fixture
def synced(backend_url):
    """A store whose two sources were synced twice: `news` answers, `down` fails with 503 both times."""
    with ReplayServer() as server:
        server.route("/news.atom", Reply(200, ATOM, {"Content-Type": "application/atom+xml"}))
        server.route("/down.atom", Reply(503, b"<html>Service Unavailable</html>", {"Content-Type": "text/html"}))
        settings = _settings(backend_url)
        with open_store(backend_url) as store:
            for name in ("news", "down"):
                store.add_source(make_source(name, "feed", server.url(f"/{name}.atom"), None, {}, True))
            for _ in range(2):
                with client_from_settings(settings) as client:
                    sync_store(store, client, store.sources(), settings=settings)
        yield settings


def test_sources_status_names_the_failing_source_and_its_error(synced):
    result = CliRunner().invoke(cli, ["--db", synced.db, "sources", "status", "--json"],
                                env={"PAPERFEED_SYNC_INTERVAL": "30"}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    health = {source["name"]: source for source in orjson.loads(result.output)}
    down, news = health["down"], health["news"]
    assert down["state"] == "failing" and down["failures"] == 2 and "503" in down["last_error"]
    today = down["days"][0]
    assert (today["runs"], today["failed"], today["new"]) == (2, 2, 0)
    assert today["reason"].startswith("the source failed:") and "503" in today["reason"]
    assert news["state"] == "healthy" and news["days"][0]["new"] > 0 and news["days"][0]["reason"] is None
    assert news["days"][0]["seen"] == news["days"][0]["new"]  # the second sync found the same entries
    assert len(news["days"]) == 30 and news["next_run"] is not None

    text = CliRunner().invoke(cli, ["--db", synced.db, "sources", "status", "--days", "2"]).output
    assert re.search(r"^down \[feed\] FAILING: failing: the last 2 syncs failed", text, re.M)
    assert "nothing new: the source failed:" in text and "nothing new: no sync ran that day" in text


def test_status_page_and_api_explain_each_source(synced):
    with TestClient(create_app(synced), base_url="https://testserver") as client:
        page = client.get("/status")
        assert page.status_code == 200
        assert "failing" in page.text and "503" in page.text and "the source failed:" in page.text
        assert "no sync ran that day" in page.text and "healthy" in page.text
        api = client.get("/api/v1/status")
        assert api.status_code == 200
        assert {source["name"]: source["state"] for source in api.json()} == {"down": "failing", "news": "healthy"}


def test_a_digest_says_a_source_is_failing_instead_of_sending_less_silently(synced):
    smtp = SMTPServer().start()
    try:
        settings = replace(synced, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_security="none",
                           digest_from="digest@paperfeed.example.org", base_url="http://127.0.0.1:9",
                           secret_key="")
        day = date(2026, 2, 27)
        with open_store(settings.db) as store:
            Ingester(store).ingest_paths([DATA / "daily" / "2026-02-27.jsonl"])
            subscribe(store, settings, "ada@example.org")
            token = re.search(r"token=([\w.%=-]+)", smtp.handler.to("ada@example.org")[-1]
                              .get_body(("plain",)).get_content()).group(1)
            confirm(store, settings, token)
            report = send_digests(store, settings, day)
        assert report.sent == ["ada@example.org"]
        assert len(report.failing_sources) == 1 and report.failing_sources[0].startswith("down has failed 2 times")
        text = smtp.handler.to("ada@example.org")[-1].get_body(("plain",)).get_content()
        assert "This digest may be missing papers: down has failed 2 times in a row" in text
        assert "Sources: http://127.0.0.1:9/status" in text
    finally:
        smtp.stop()


def test_a_source_removed_takes_its_history_with_it(synced):
    with open_store(synced.db) as store:
        since = (datetime.now(UTC) - timedelta(days=1)).isoformat(timespec="seconds")
        assert len(store.sync_runs("down", since)) == 2
        store.remove_source("down")
        assert store.sync_runs("down", since) == []
        assert len(store.sync_runs("news", since)) == 2
