"""The Atom feeds out: well-formed whatever the store holds, links from the configured public URL, RFC 4287's
rules, and no process-wide side effect on how the parsers write Atom records."""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from paperfeed.config import DEFAULT_BASE_URL, Settings, SettingsError
from paperfeed.ingest import Ingester
from paperfeed.sources import arxiv_atom, news_feed
from paperfeed.sources.common import element_xml, parse_xml
from paperfeed.records import ParseContext
from paperfeed.storage import open_store
from paperfeed.web import create_app

from datafiles import DATA
from web_data import TOPIC_SLUG, XSS_ARXIV, build_store

ATOM = "{http://www.w3.org/2005/Atom}"
ATOM_FILES = [DATA / "news" / "heise_developer_2016-02-01.atom",
              DATA / "arxiv_api" / "idlist_0808.05394_1707.08567.xml"]
CONTROL_TITLE = "Old \x01data\x0b with \x1f controls"


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    settings = build_store(tmp_path_factory.mktemp("feeds"))
    # Data stored before parsing dropped control characters: write one into a title as an old store holds it.
    with sqlite3.connect(settings.db) as connection:
        connection.execute("UPDATE items SET title = ? WHERE arxiv_id = ?", (CONTROL_TITLE, XSS_ARXIV))
    return settings


@pytest.fixture(scope="module")
def client(settings):
    with TestClient(create_app(settings), base_url="https://testserver") as test_client:
        yield test_client


def feed(response) -> ET.Element:
    """The feed's root, parsed by expat: an ill-formed document raises."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/atom+xml")
    return ET.fromstring(response.content)


# --- well-formed whatever the store and the request hold -----------------------------------------------------

def test_control_characters_in_stored_titles_and_in_the_query_leave_the_feeds_well_formed(client):
    found = feed(client.get("/search.atom", params={"q": "\x01adversarial titles\x02", "mode": "keyword"}))
    assert found.findtext(f"{ATOM}title") == "paperfeed — search: adversarial titles"
    titles = [entry.findtext(f"{ATOM}title") for entry in found.iter(f"{ATOM}entry")]
    assert "Old data with  controls" in titles
    topic = feed(client.get(f"/topics/{TOPIC_SLUG}.atom"))
    assert topic.find(f"{ATOM}entry") is not None


# --- RFC 4287 ------------------------------------------------------------------------------------------------

def test_every_entry_has_an_author_and_a_real_date(client):
    root = feed(client.get("/search.atom", params={"q": "adversarial titles"}))
    # 4.1.1: a feed without an author of its own needs one in every entry; the feed names its compiler.
    assert root.findtext(f"{ATOM}author/{ATOM}name") == "paperfeed"
    entries = root.findall(f"{ATOM}entry")
    assert entries
    for entry in entries:
        updated = entry.findtext(f"{ATOM}updated")
        assert updated and not updated.startswith("1970"), updated
    undated = next(e for e in entries if e.findtext(f"{ATOM}title").startswith("Old data"))
    assert undated.find(f"{ATOM}published") is None  # no publication date: updated is when it was stored
    assert undated.findtext(f"{ATOM}updated")[:4] >= "2025"


# --- links from the configured public URL, never from another host's Host header ------------------------------

def test_links_come_from_base_url_not_the_host_header(settings):
    configured = replace(settings, base_url="https://papers.example.org")
    with TestClient(create_app(configured), base_url="http://attacker.example") as forged:
        body = forged.get("/search.atom", params={"q": "adversarial titles"}).text
    assert "attacker.example" not in body
    assert 'href="https://papers.example.org/search.atom?q=adversarial+titles"' in body
    assert "<id>https://papers.example.org/items/" in body


def test_without_base_url_only_a_loopback_host_is_used(settings):
    with TestClient(create_app(settings), base_url="http://attacker.example") as forged:
        body = forged.get("/search.atom", params={"q": "adversarial titles"}).text
    assert "attacker.example" not in body and f"{DEFAULT_BASE_URL}/items/" in body
    with TestClient(create_app(settings), base_url="http://localhost:9123") as local:
        body = local.get(f"/topics/{TOPIC_SLUG}.atom").text
    assert f'href="http://localhost:9123/topics/{TOPIC_SLUG}.atom"' in body


def test_base_url_must_be_an_http_url():
    assert Settings.load(db="x.db", base_url="https://papers.example.org/").base_url == "https://papers.example.org"
    for bad in ("papers.example.org", "ftp://papers.example.org", "https://", "https://h:port/"):
        with pytest.raises(SettingsError, match="PAPERFEED_BASE_URL"):
            Settings.load(db="x.db", base_url=bad)


# --- no process-wide side effect --------------------------------------------------------------------------------

def parsed(path):
    module = news_feed if "news" in str(path) else arxiv_atom
    return [(r.record_id, r.raw) for r in module.parse(path.read_bytes(), ParseContext(str(path)))]


def test_a_feed_request_changes_neither_parse_output_nor_stored_provenance(client, tmp_path):
    before = [parsed(path) for path in ATOM_FILES]
    registry = dict(ET._namespace_map)
    with open_store(tmp_path / "store.db") as store:
        Ingester(store).ingest_paths(ATOM_FILES)
        stored = store.stats()["source_records"]
        assert stored == 16
        assert client.get(f"/topics/{TOPIC_SLUG}.atom").status_code == 200
        assert client.get("/search.atom", params={"q": "adversarial titles"}).status_code == 200
        for _ in range(2):  # the same files again (a sync scheduler's next run): nothing new to keep
            report = Ingester(store).ingest_paths(ATOM_FILES)
            assert not report.failed
            assert store.stats()["source_records"] == stored
    assert [parsed(path) for path in ATOM_FILES] == before
    assert dict(ET._namespace_map) == registry


def test_element_xml_ignores_the_process_wide_namespace_registry():
    root = parse_xml((ATOM_FILES[0]).read_bytes())
    entry = root.find(f"{ATOM}entry")
    expected = element_xml(entry)
    assert expected.startswith('<ns0:entry xmlns:ns0="http://www.w3.org/2005/Atom"')
    ET.register_namespace("", "http://www.w3.org/2005/Atom")  # what the feed writer used to do
    try:
        assert element_xml(entry) == expected
    finally:
        del ET._namespace_map["http://www.w3.org/2005/Atom"]
