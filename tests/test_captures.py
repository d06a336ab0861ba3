"""The four captures of the topic and daily pages, ingested on each backend: items with their authors and labels in
page order, and the Daily Papers capture's papers as that day's list on ``/``.

Inputs: the two real captures and the two third-shape files of tests/data/captures (see
tests/data/README_text_sources.md: one built by hand with blank lines, one derived from the real topic page with
none). Copies are given a fixed modification time, which is what dates the daily page's ``Jul 30``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from datafiles import DAILY_PAGE, SHAPE3, TOPIC_PAGE
from paperfeed.config import Settings
from paperfeed.ingest import Ingester
from paperfeed.records import ParseContext
from paperfeed.sources import capture
from paperfeed.web import create_app

SHAPE3_NO_BLANKS = TOPIC_PAGE.parent / "topic-page_shape3_no-blank-lines.txt"
CAPTURES = [TOPIC_PAGE, DAILY_PAGE, SHAPE3, SHAPE3_NO_BLANKS]
SAVED = datetime(2025, 8, 2, 9, 30, tzinfo=timezone.utc)
"""When the copies say they were saved: the daily page's ``Jul 30`` is then 2025-07-30."""
DAY = "2025-07-30"


def _copies(directory: Path) -> list[Path]:
    directory.mkdir(exist_ok=True)
    copies = []
    for path in CAPTURES:
        copy = directory / path.name
        shutil.copyfile(path, copy)
        os.utime(copy, (SAVED.timestamp(), SAVED.timestamp()))
        copies.append(copy)
    return copies


def _parsed(path: Path) -> list:
    return list(capture.parse(path.read_bytes(), ParseContext(str(path), modified=SAVED.date().isoformat())))


@pytest.fixture
def ingested(store, tmp_path):
    report = Ingester(store).ingest_paths(_copies(tmp_path / "captures"))
    assert not report.failed, [(f.origin, f.error) for f in report.failed]
    return report


def _item_of(store, title: str) -> dict:
    found = [item for item in store.iter_items() if item["title"] == title]
    assert len(found) == 1, title
    return found[0]


def test_every_capture_gives_its_items_with_authors_and_labels_in_page_order(store, ingested):
    # 10 topic-page items and 97 daily papers; the third-shape files' items are all on one of the two pages.
    assert store.item_count() == 10 + 97
    assert [result.new for result in ingested.files] == [10, 97, 0, 0]
    for path in CAPTURES:
        origin = next(result.origin for result in ingested.files if result.origin.endswith(path.name))
        items = {item["title"]: item for item in store.iter_items()
                 if any(source["origin"] == origin for source in item["sources"])}
        expected = _parsed(path)
        assert set(items) == {record.title for record in expected}, path.name
        for record in expected:  # the page's authors and label; the item holds those of every capture
            item = items[record.title]
            assert set(record.authors) <= set(item["authors"]), (path.name, record.title)
            assert record.label in {source["label"] for source in item["sources"]}
            assert item["kind"] == record.kind or record.kind == "news" and path == SHAPE3_NO_BLANKS
    # Authors from either third-shape file reach the item the real page (which has none) made.
    assert _item_of(store, "Scalable Variational Bayesian Fine-Tuning of LLMs via Orthogonalized Low-Rank "
                           "Adapters")["authors"] == ["Haotian Xiang", "Bingcong Li", "Qin Lu"]
    robust = _item_of(store, "Robust Batch-Level Query Routing for Large Language Models under Cost and "
                             "Capacity Constraints")
    assert robust["authors"][:2] == ["Jelena Markovic-Voronov", "Kayhan Behdin"]
    assert {source["label"] for source in robust["sources"]} == {"arXiv.org Machine Learning", "Large Language Model"}
    atlantic = _item_of(store, "Silicon Valley Is in a Frenzy Over Bots That Build Themselves")
    assert atlantic["kind"] == "news" and atlantic["authors"] == []


def test_page_order_is_stored_with_each_source_record(store, ingested):
    import orjson

    for path in CAPTURES:
        records = _parsed(path)
        ranks = {}
        for row in store.read_rows(f"SELECT record_id, data FROM source_records WHERE origin LIKE '%{path.name}' "
                                   "ORDER BY id"):
            ranks[row[0]] = orjson.loads(row[1])["extra"]["page_rank"]
        assert [ranks[record.record_id] for record in records] == list(range(1, len(records) + 1)), path.name


def test_the_daily_capture_is_that_days_list_on_the_home_page_in_page_order(store, backend_url, tmp_path):
    daily = _copies(tmp_path / "captures")[1]
    report = Ingester(store).ingest_paths([daily])
    assert not report.failed and report.files[0].notes == []  # the modification day dates it
    titles = [record.title for record in _parsed(DAILY_PAGE)]
    settings = Settings.load(db=backend_url, embedder="none", secret_key="test-secret-key")
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        home = client.get("/")
        listed = []
        for offset in (0, 50):
            page = client.get("/api/v1/daily", params={"date": DAY, "limit": 50, "offset": offset}).json()
            listed += [entry["title"] for entry in page["entries"]]
        latest = client.get("/api/v1/daily").json()
    assert home.status_code == 200 and latest["start"] == DAY  # the capture's day is the latest with papers
    assert listed == titles  # all 97, in the page's order
    # The home page lists them in that order too (the first of them, as many as it shows).
    on_home = [_unescape(title) for title in re.findall(r'<a href="/items/\d+"[^>]*>([^<]+)</a>', home.text)]
    assert len(on_home) >= 20 and on_home == titles[:len(on_home)]


def test_with_other_captures_the_daily_order_still_holds_among_equals(store, ingested, backend_url):
    settings = Settings.load(db=backend_url, embedder="none", secret_key="test-secret-key")
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        entries = client.get("/api/v1/daily", params={"date": DAY, "limit": 200}).json()["entries"]
    assert len(entries) == 97
    # Two of the day's papers are on a topic capture too: a second source ranks them first (the trending score);
    # the rest, alike in every signal, keep the page's order.
    assert [entry["source_count"] for entry in entries[:3]] == [2, 2, 1]
    titles = [record.title for record in _parsed(DAILY_PAGE)]
    rest = [entry["title"] for entry in entries[2:]]
    assert rest == [title for title in titles if title in rest]


def _unescape(text: str) -> str:
    import html

    return html.unescape(text).strip()


def test_an_undated_daily_capture_is_said_in_the_ingest_summary(tmp_path):
    copy = tmp_path / "daily-papers-page.txt"
    shutil.copyfile(DAILY_PAGE, copy)
    os.utime(copy, (0, 0))  # no modification time to go by (an archiver's "unknown")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    run = subprocess.run([sys.executable, "-m", "paperfeed", "--db", str(tmp_path / "s.db"), "ingest", "--no-index",
                          str(copy)], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert f"note on {copy}: the page date 'Jul 30' has no year" in run.stderr
    assert "97 papers are stored without a day" in run.stderr
