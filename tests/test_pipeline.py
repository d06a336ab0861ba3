"""What follows an ingest (``paperfeed.pipeline.after_ingest``): every path that stores items leaves them tagged and
searchable; the Ingester says which item each record became; an index left by another store is rebuilt.

Real stores on both backends, real files; the demo flow (``ingest`` then ``topics tag``) on real subprocesses.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections import Counter
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from paperfeed.authors import refresh_identities
from paperfeed.cli import cli
from paperfeed.config import Settings
from paperfeed.ingest import Ingester
from paperfeed.library import Accounts, import_bibtex, submit_paper
from paperfeed.pipeline import after_ingest
from paperfeed.search import open_indexer, open_search
from paperfeed.storage import open_store

from datafiles import DATA, HF_DAY, LIBRARY, LISTING, LISTING_LINES, LISTING_UNIQUE, TOPIC_PAGE
from replay_server import ReplayServer, Reply

DAILY = DATA / "daily"
PASSWORD = "correct horse battery"
SRC = Path(__file__).parents[1] / "src" / "paperfeed"


@pytest.fixture
def data_home(tmp_path, monkeypatch):
    """The user's data directory, where a PostgreSQL store's index files go by default, inside tmp_path."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data"


def run(db: str, *args: str, env: dict | None = None):
    return CliRunner().invoke(cli, ["--db", db, *args], env={"CI": "1", **(env or {})}, catch_exceptions=False)


def paperfeed(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CI": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-m", "paperfeed", *args], capture_output=True, text=True, env=env,
                          timeout=600)


def searched(db: str, query: str, *options: str) -> list[dict]:
    result = run(db, "search", query, "--limit", "1000", "--json", *options)
    assert result.exit_code == 0, result.output
    assert "behind the store" not in result.stderr and "another store" not in result.stderr, result.stderr
    return orjson.loads(result.stdout)


# -- the demo flow: ingest, then topics tag ----------------------------------------------------------------------

def test_after_ingest_and_topics_tag_search_by_topic_finds_what_topics_show_lists(backend_url, data_home):
    """`make demo`'s two steps on real subprocesses; then for every topic with items, `search "topic:SLUG"` returns
    exactly the items `topics show SLUG` lists (the indexes took the topics `topics tag` put on)."""
    ingested = paperfeed("--db", backend_url, "ingest", str(LISTING), str(HF_DAY), str(TOPIC_PAGE))
    assert ingested.returncode == 0, ingested.stderr
    assert "search index: " in ingested.stdout
    tagged = paperfeed("--db", backend_url, "topics", "tag")
    assert tagged.returncode == 0, tagged.stderr
    lines = tagged.stdout.splitlines()
    assert lines[-2].startswith("tagged ") and lines[-1].startswith("search index: "), tagged.stdout

    topics = orjson.loads(run(backend_url, "topics", "list", "--json").stdout)
    with_items = [topic for topic in topics if topic["items"]]
    assert len(with_items) >= 3, topics
    for topic in with_items:
        shown = orjson.loads(run(backend_url, "topics", "show", topic["slug"], "--limit", "1000", "--json").stdout)
        listed = {item["id"] for item in shown["items"]}
        assert len(listed) == topic["items"]
        for mode in ("hybrid", "keyword"):
            found = {hit["id"] for hit in searched(backend_url, f"topic:{topic['slug']}", "--mode", mode)}
            assert found == listed, (topic["slug"], mode, len(found), len(listed))


def test_topics_tag_json_reports_the_index_and_no_index_leaves_it(backend_url, data_home):
    assert run(backend_url, "ingest", "--no-index", str(LISTING), str(TOPIC_PAGE)).exit_code == 0
    result = run(backend_url, "topics", "tag", "--no-index", "--json")
    assert result.exit_code == 0, result.output
    assert "search_index" not in orjson.loads(result.output)
    behind = run(backend_url, "search", "--mode", "keyword", "--json", "topic:large-language-model")
    assert "behind the store" in behind.stderr
    result = run(backend_url, "topics", "tag", "--no-vectors", "--json")
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.output)  # nothing but the JSON: the index's figures are in it
    assert report["tagged"] == 0 and report["search_index"]["indexed"] > 0 and report["search_index"]["embedded"] == 0
    assert searched(backend_url, "topic:large-language-model", "--mode", "keyword")


# -- library import, submit ----------------------------------------------------------------------------------

def test_library_import_leaves_new_entries_searchable(backend_url, data_home):
    db = backend_url
    assert run(db, "ingest", str(LISTING)).exit_code == 0
    assert not searched(db, '"Attention Is All You Need"', "--mode", "keyword")
    added = CliRunner().invoke(cli, ["--db", db, "users", "add", "ada@example.org", "--password-stdin"],
                               input=PASSWORD + "\n", env={"CI": "1"})
    assert added.exit_code == 0, added.output
    result = run(db, "library", "import", str(LIBRARY), "--user", "ada@example.org")
    assert result.exit_code == 0, result.output
    assert "new items" in result.stdout and "search index: " in result.stdout
    hits = searched(db, '"Attention Is All You Need"', "--mode", "keyword")
    assert [hit["title"] for hit in hits] == ["Attention Is All You Need"]
    with open_store(db) as store:
        user = Accounts(store).user("ada@example.org")
        assert hits[0]["id"] in [entry.item_id for entry in store.library_entries(user.id)]


def test_import_bibtex_reports_each_entry_once_from_one_parse(store, tmp_path):
    """The entries' items come from the Ingester's per-record report: a second import matches every entry to the
    item the first made, and an entry repeated in the file is saved once more to the same item."""
    user = Accounts(store).create("ada@example.org", PASSWORD)
    first = import_bibtex(store, user, LIBRARY, ["imported"])
    assert first.entries == len(first.item_ids) == first.ingested + first.matched
    assert first.after is None  # no settings: nothing tagged or indexed here
    twice = tmp_path / "twice.bib"
    text = LIBRARY.read_text(encoding="utf-8")
    # The same entries again under other keys (BibTeX refuses a key twice; the @string is defined once).
    copy = re.sub(r"(@(?!string)\w+\{)([^,\s]+),", r"\1\2-again,", re.sub(r"(?m)^@string.*$", "", text))
    twice.write_text(text + "\n" + copy, encoding="utf-8")
    again = import_bibtex(store, user, twice, [])
    assert again.entries == 2 * first.entries and again.ingested == 0
    assert again.item_ids == first.item_ids + first.item_ids


@pytest.fixture
def arxiv(tmp_path):
    body = (DATA / "arxiv_api" / "idlist_astro-ph_0601001.xml").read_bytes()
    with ReplayServer() as server:
        server.route("/api/query", Reply(200, body, {"Content-Type": "application/atom+xml"}))
        yield server


def test_submit_fetches_tags_and_indexes_the_paper(backend_url, data_home, arxiv):
    db = backend_url
    assert run(db, "ingest", "--no-vectors", str(LISTING), str(TOPIC_PAGE)).exit_code == 0
    assert run(db, "topics", "tag", "--no-vectors").exit_code == 0
    settings = Settings.load(db=db, allow_private_urls=True, arxiv_interval=0.0, host_interval=0.0, http_retries=1,
                             contact="ops@example.org", embedder="none")
    reports = []
    with open_store(db) as store:
        user = Accounts(store).create("ada@example.org", PASSWORD)
        item_id, new = submit_paper(store, user, "astro-ph/0601001", date(2026, 2, 28), settings,
                                    api_url=arxiv.url("/api/query"), on_stored=reports.append)
        assert new
        [report] = reports
        assert report.ok and report.tagging is not None and report.tagging.tagged >= 1
        assert report.index is not None and report.index.indexed >= 1
        hits = open_search(store, settings).search("Hot Jupiters OGLE", mode="keyword").hits
        assert item_id in [hit.id for hit in hits]
        # Tagged now: a later pass of the tagger finds nothing left to do.
        assert after_ingest(store, settings, None, index=False).tagging.tagged == 0


def test_submit_on_the_cli_prints_what_the_pipeline_did(tmp_path, data_home, arxiv, monkeypatch):
    """`paperfeed submit` passes its settings to the library, which runs the pipeline; the CLI prints it."""
    import paperfeed.library.community as community

    db = str(tmp_path / "s.db")
    # The command asks export.arxiv.org; here the replay server answers in its place.
    monkeypatch.setattr(community.submit_paper, "__defaults__", (None, arxiv.url("/api/query"), None))
    env = {"PAPERFEED_ALLOW_PRIVATE_URLS": "1", "PAPERFEED_ARXIV_INTERVAL": "0", "PAPERFEED_HOST_INTERVAL": "0",
           "PAPERFEED_CONTACT": "ops@example.org", "PAPERFEED_EMBEDDER": "none"}
    added = CliRunner().invoke(cli, ["--db", db, "users", "add", "ada@example.org", "--password-stdin"],
                               input=PASSWORD + "\n", env={"CI": "1"})
    assert added.exit_code == 0, added.output
    result = run(db, "submit", "astro-ph/0601001", "--user", "ada@example.org", "--date", "2026-02-28", env=env)
    assert result.exit_code == 0, result.output
    assert "submitted to 2026-02-28" in result.stdout and "search index: 1 indexed" in result.stdout
    hits = searched(db, "Hot Jupiters", "--mode", "keyword")
    assert len(hits) == 1


# -- the pipeline's own report -------------------------------------------------------------------------------

def test_a_failing_step_is_reported_and_the_rest_still_run(backend_url, data_home, tmp_path):
    bad = tmp_path / "topics.toml"
    bad.write_text("[[topic]]\nname = 42\n", encoding="utf-8")
    with open_store(backend_url) as store:
        report = Ingester(store).ingest_paths([LISTING, TOPIC_PAGE])
        settings = Settings.load(db=backend_url, embedder="none")
        first = after_ingest(store, settings, report.changed_item_ids)
        assert first.ok and first.tagging is None  # no tagger trained yet: not an error
        assert first.identities_merged is not None  # the changed items' authors were decided without a tagger
        assert first.index is not None and first.index.indexed == store.item_count()
        assert run(backend_url, "topics", "tag", "--no-index", env={"PAPERFEED_EMBEDDER": "none"}).exit_code == 0
        later = Ingester(store).ingest_paths([HF_DAY])
        broken = after_ingest(store, Settings.load(db=backend_url, embedder="none", topics_file=str(bad)),
                              later.changed_item_ids)
        assert set(broken.errors) == {"tag"} and broken.tagging is None
        assert broken.index is not None and broken.index.indexed >= later.total("new")  # indexed all the same
        assert broken.identities_merged is not None
        nothing = after_ingest(store, settings, [], index=False)
        assert nothing.ok and nothing.tagging is None and nothing.index is None and nothing.identities_merged is None


# -- the Ingester's per-record report ------------------------------------------------------------------------

def test_the_ingester_says_which_item_each_record_became(store):
    first = Ingester(store, record_outcomes=True).ingest_paths([LISTING]).files[0]
    assert first.outcomes is not None and len(first.outcomes) == LISTING_LINES
    assert [outcome.index for outcome in first.outcomes] == list(range(LISTING_LINES))
    counts = Counter(outcome.outcome for outcome in first.outcomes)
    assert counts == {"new": LISTING_UNIQUE, "unchanged": LISTING_LINES - LISTING_UNIQUE}
    new_ids = [outcome.item_id for outcome in first.outcomes if outcome.outcome == "new"]
    assert sorted(new_ids) == sorted(set(new_ids)) and first.changed_item_ids == new_ids
    by_record = {}
    for outcome in first.outcomes:  # a record repeated in the file points at the item its first copy became
        assert store.find_item(outcome.record_id) == outcome.item_id
        by_record.setdefault(outcome.record_id, outcome.item_id)
        assert by_record[outcome.record_id] == outcome.item_id

    again = Ingester(store, record_outcomes=True).ingest_paths([LISTING]).files[0]
    assert {outcome.outcome for outcome in again.outcomes} == {"unchanged"} and again.changed_item_ids == []
    assert [o.item_id for o in again.outcomes] == [o.item_id for o in first.outcomes]

    plain = Ingester(store).ingest_paths([DAILY / "2026-02-27.jsonl"])
    assert plain.files[0].outcomes is None  # kept only when asked: bulk ingests hold no per-record list
    hf = Ingester(store, record_outcomes=True).ingest_paths([DAILY / "hf_2026-02-27.json"]).files[0]
    merged = [outcome for outcome in hf.outcomes if outcome.outcome == "merged"]
    assert merged and len(merged) == hf.merged and len(hf.outcomes) == hf.records
    listed = set(new_ids) | set(plain.files[0].changed_item_ids)
    assert {outcome.item_id for outcome in merged} <= listed  # into the items the listings made for those papers
    assert set(hf.changed_item_ids) == {o.item_id for o in hf.outcomes if o.outcome in ("new", "merged")}


# -- an index left by another store --------------------------------------------------------------------------

def test_a_store_made_again_at_the_same_path_gets_its_own_index(tmp_path):
    db = str(tmp_path / "store.db")
    assert run(db, "ingest", "--no-vectors", str(LISTING)).exit_code == 0
    old_titles = {hit["title"] for hit in searched(db, "model", "--mode", "keyword")}
    assert old_titles
    for suffix in ("", "-wal", "-shm"):
        Path(db + suffix).unlink(missing_ok=True)

    # Ingested without indexing: search says the index is another store's, and shows none of its items.
    assert run(db, "ingest", "--no-index", str(HF_DAY)).exit_code == 0
    stale = run(db, "search", "--mode", "keyword", "--json", "model")
    assert orjson.loads(stale.stdout) == []
    assert "built for another store" in stale.stderr and "behind the store" in stale.stderr

    # The next ingest (or `paperfeed index`) rebuilds it, with a one-line notice.
    again = run(db, "ingest", "--no-vectors", str(HF_DAY))
    assert again.exit_code == 0, again.output
    assert sum("built for another store: rebuilding it" in line for line in again.stderr.splitlines()) == 1
    with open_store(db) as store:
        expected = {document.title for document in store.item_documents(list(range(1, 100))).values()}
    found = {hit["title"] for hit in searched(db, "model", "--mode", "keyword")}
    assert found and found <= expected and not (found & old_titles - expected)
    assert run(db, "index").stderr == ""  # its own now: no notice


def test_an_index_that_does_not_name_its_store_is_rebuilt_once(tmp_path):
    db = str(tmp_path / "store.db")
    assert run(db, "ingest", "--no-vectors", str(LISTING)).exit_code == 0
    state_path = tmp_path / "store.db.search" / "state.json"
    assert state_path.exists(), list(tmp_path.iterdir())
    state = orjson.loads(state_path.read_bytes())
    assert len(state.pop("store_id")) == 32
    state_path.write_bytes(orjson.dumps(state))  # as an index built before stores had an identity
    with open_store(db) as store:
        settings = Settings.load(db=db, embedder="none")
        report = open_indexer(store, settings, vectors=False).update()
        assert report.indexed == LISTING_UNIQUE and len(report.notes) == 1
        assert "does not say which store" in report.notes[0]
        assert open_indexer(store, settings, vectors=False).update().notes == []
    assert len(searched(db, "model", "--mode", "keyword")) > 0


# -- the command's layout ------------------------------------------------------------------------------------

def test_the_command_modules_never_import_the_package_root():
    """cli/__init__.py imports the command groups; they share cli/common.py and never import the root back."""
    package = SRC / "cli"
    modules = sorted(path for path in package.glob("*.py") if path.name != "__init__.py")
    assert {path.stem for path in modules} >= {"common", "items", "search", "sync", "topics", "web", "admin",
                                               "daily", "library", "digest"}
    assert not list(SRC.glob("cli_*.py")) and not (SRC / "cli.py").exists()
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                assert node.module is not None, f"{path.name} imports the cli package root"
                assert node.module in {path.stem for path in modules}, (path.name, node.module)
                assert path.name != "common.py", f"common.py imports {node.module}"
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                assert node.module not in ("paperfeed.cli",), path.name
    result = paperfeed("--help")
    assert result.returncode == 0 and "ingest" in result.stdout


def test_the_identity_and_tldr_steps_report_their_progress(store):
    # After a whole-arXiv bootstrap each of these steps takes minutes: the command shows a bar with an ETA for each.
    report = Ingester(store).ingest_paths([LISTING])
    changed = sorted(set(report.changed_item_ids))
    bars: dict[str, dict] = {}

    @contextmanager
    def progress(description: str, total: int | None = None, unit: str = "records"):
        bar = bars.setdefault(description, {"total": total, "unit": unit, "done": 0})
        yield lambda count: bar.__setitem__("done", bar["done"] + count)

    settings = Settings.load(db=store.url, embedder="none", secret_key="test-secret-key")
    done = after_ingest(store, settings, changed, index=False, progress=progress)
    assert done.ok, done.errors
    # Counted in authorships (a paper's author slot), what a chunk's time follows: every paper changed, so every slot.
    slots = store.db.value("SELECT count(*) FROM item_authors")
    assert bars["author identities"] == {"total": slots, "unit": "authorships", "done": slots}
    assert bars["TL;DRs"] == {"total": len(changed), "unit": "papers", "done": len(changed)}
    assert done.tldr.extractive == len(changed) > 100
    # The store-wide refresh that catches up after one was stopped knows its total as well, and reaches it.
    bars.clear()
    refresh_identities(store, None, progress=progress)
    assert bars["author identities"] == {"total": slots, "unit": "authorships", "done": slots}
    assert slots > len(changed) > 100
    # A day's papers: the slots of their names' blocks, every paper of those names, not only the new ones.
    bars.clear()
    day = [store.db.value("SELECT min(item_id) FROM item_authors WHERE author_id = (SELECT author_id FROM item_authors "
                          "GROUP BY author_id ORDER BY count(*) DESC, author_id LIMIT 1)")]  # a prolific author's
    refresh_identities(store, day, progress=progress)
    d = store.db.dialect
    blocks = store.db.value(
        "SELECT count(*) FROM item_authors ia JOIN authors a ON a.id = ia.author_id WHERE a.key IN (SELECT a2.key "
        f"FROM item_authors ia2 JOIN authors a2 ON a2.id = ia2.author_id WHERE ia2.item_id {d.in_array(1)})",
        (d.array(day),))
    assert bars["author identities"] == {"total": blocks, "unit": "authorships", "done": blocks}
    assert blocks > store.db.value(f"SELECT count(*) FROM item_authors WHERE item_id {d.in_array(1)}", (d.array(day),))
