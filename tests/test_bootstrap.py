"""The whole-arXiv bootstrap path at test size: a Kaggle-snapshot file through the real CLI (quiet when piped,
read memory-mapped a line at a time when large), and search saying how far the embeddings have caught up
(CLI, /api/v1/search, /search) on both backends."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from paperfeed import inputs
from paperfeed.cli import cli
from paperfeed.config import Settings
from paperfeed.ingest import Ingester
from paperfeed.records import ParseContext, ParseError
from paperfeed.search import open_indexer, open_search
from paperfeed.search.embed import WordLlamaEmbedder
from paperfeed.sources import jsonl
from paperfeed.storage import open_store
from paperfeed.web import create_app

from datafiles import DATA, LISTING, LISTING_UNIQUE

KAGGLE = DATA / "jsonl" / "arxiv-metadata-oai-snapshot.head200.json"
NEWS = DATA / "news" / "guardian_us_2018-01-31.rss"
SRC = Path(__file__).resolve().parent.parent / "src"


def records_of(data, name: str = "snapshot.json") -> list[dict]:
    return [dataclasses.asdict(record) for record in jsonl.parse(data, ParseContext(name))]


def mapped(path: Path) -> inputs.MappedFile:
    with path.open("rb") as handle:
        return inputs.MappedFile(handle.fileno(), 0, access=inputs.mmap.ACCESS_READ)


def test_a_mapped_snapshot_parses_exactly_as_one_read_whole(tmp_path, monkeypatch):
    # Give pages back every few lines, so that the release path runs on a small file too.
    monkeypatch.setattr(jsonl, "RELEASE_BYTES", 5000)
    whole = records_of(KAGGLE.read_bytes())
    assert len(whole) == 200 and whole[0]["arxiv_id"] == "0704.0001"
    assert records_of(mapped(KAGGLE)) == whole
    # CRLF line ends and a BOM read the same too.
    crlf = tmp_path / "crlf.json"
    crlf.write_bytes(b"\xef\xbb\xbf" + KAGGLE.read_bytes().replace(b"\n", b"\r\n"))
    assert [r["title"] for r in records_of(mapped(crlf))] == [r["title"] for r in whole]


def test_a_bad_byte_in_a_mapped_snapshot_is_named_as_in_a_whole_one(tmp_path):
    lines = KAGGLE.read_bytes().splitlines(keepends=True)
    bad = tmp_path / "bad.json"
    broken = lines[2].replace(b'"title":"', b'"title":"\xff', 1)
    assert broken != lines[2]
    bad.write_bytes(b"".join(lines[:2]) + broken + b"".join(lines[3:]))
    places = []
    for data in (bad.read_bytes(), mapped(bad)):
        with pytest.raises(ParseError) as error:
            records_of(data)
        places.append((error.value.message, error.value.place))
    offset = len(lines[0]) + len(lines[1]) + broken.index(b"\xff")
    assert places[0] == places[1] == ("not valid UTF-8 (byte 0xff); re-save the file as UTF-8", f"byte {offset}")


def test_only_a_large_file_of_json_lines_is_mapped(tmp_path, monkeypatch):
    monkeypatch.setattr(inputs, "MAP_LINES_BYTES", 1000)
    assert isinstance(inputs.read_regular_file(KAGGLE), inputs.MappedFile)
    bibtex = tmp_path / "refs.bib"
    bibtex.write_text("@article{a, title={A}}\n" * 100)
    assert type(inputs.read_regular_file(bibtex)) is bytes
    monkeypatch.setattr(inputs, "MAP_LINES_BYTES", 1 << 30)
    assert type(inputs.read_regular_file(KAGGLE)) is bytes


def test_the_records_of_a_snapshot_are_estimated_for_the_eta(tmp_path):
    assert inputs.estimate_records([KAGGLE]) == 200  # a file within the sample is counted exactly
    bigger = tmp_path / "bigger.json"
    bigger.write_bytes(KAGGLE.read_bytes() * 20)  # 4,000 lines, 5.7 MB: sampled
    assert abs(inputs.estimate_records([bigger]) - 4000) < 200
    assert inputs.estimate_records([KAGGLE, bigger]) == inputs.estimate_records([KAGGLE]) + inputs.estimate_records([bigger])
    assert inputs.estimate_records([NEWS]) is None  # not JSON Lines: no estimate, a bar without an ETA
    assert inputs.estimate_records([tmp_path / "missing.json"]) is None
    os.mkfifo(tmp_path / "pipe")
    assert inputs.estimate_records([tmp_path / "pipe"]) is None  # never opened (it would block)


def test_the_cli_ingests_a_snapshot_mapped_and_quietly_when_piped(backend_url, tmp_path):
    """The real command in a child process with piped output: no progress bar, every record stored, searchable.
    The child maps any JSON Lines file (its threshold lowered), so the line-at-a-time path is the one run."""
    env = {**os.environ, "PYTHONPATH": str(SRC), "PAPERFEED_EMBEDDER": "none", "XDG_DATA_HOME": str(tmp_path)}
    env.pop("CI", None)  # quiet because the output is piped, not because of CI
    run = ("import sys, paperfeed.inputs as inputs; inputs.MAP_LINES_BYTES = 1; "
           "from paperfeed.cli import cli; sys.argv[0] = 'paperfeed'; cli()")
    done = subprocess.run([sys.executable, "-c", run, "--db", backend_url, "ingest", str(KAGGLE)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "1 files: 200 new, 0 merged, 0 unchanged, 0 failed" in done.stdout
    assert "\r" not in done.stderr and "\x1b[" not in done.stderr and "ETA" not in done.stderr
    found = subprocess.run([sys.executable, "-m", "paperfeed", "--db", backend_url, "search", "--mode", "keyword",
                            "--json", "diphoton", "Tevatron"], capture_output=True, text=True, env=env, timeout=300)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)[0]["arxiv_id"] == "0704.0001"


@pytest.fixture(scope="module")
def embedder():
    return WordLlamaEmbedder()


def test_search_says_how_far_semantic_results_cover_while_embeddings_catch_up(backend_url, tmp_path, monkeypatch,
                                                                             embedder):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    settings = Settings.load(db=backend_url)
    with open_store(backend_url) as store:
        Ingester(store).ingest_paths([NEWS])
        open_indexer(store, settings).update()  # keyword and vectors for the 55 news items
        Ingester(store).ingest_paths([LISTING])
        open_indexer(store, settings, vectors=False).update()  # a bootstrap: keyword done, embeddings behind
        service = open_search(store, settings, embedder=embedder)
        items = 55 + LISTING_UNIQUE
        assert store.item_count() == items
        hybrid = service.search("quadrifocal tensor", mode="hybrid")
        assert hybrid.hits and hybrid.behind == {"semantic": LISTING_UNIQUE}
        assert hybrid.coverage == {"semantic": {"covered": 55, "items": items}}
        assert hybrid.catching_up == f"semantic results cover 55 of {items:,} papers; catching up"
        keyword = service.search("quadrifocal tensor", mode="keyword")
        assert keyword.coverage == {} and keyword.catching_up == ""

        cli_search = CliRunner().invoke(cli, ["--db", backend_url, "search", "quadrifocal", "tensor"],
                                        env={"CI": "1", "XDG_DATA_HOME": str(tmp_path / "data")},
                                        catch_exceptions=False)
        assert cli_search.exit_code == 0
        assert f"note: semantic results cover 55 of {items:,} papers; catching up" in cli_search.stderr

        with TestClient(create_app(settings), base_url="https://testserver") as client:
            api = client.get("/api/v1/search", params={"q": "quadrifocal tensor", "mode": "hybrid"}).json()
            assert api["coverage"] == {"semantic": {"covered": 55, "items": items}}
            assert api["catching_up"] == f"semantic results cover 55 of {items:,} papers; catching up"
            page = client.get("/search", params={"q": "quadrifocal tensor"})
            assert page.status_code == 200
            assert f"Semantic results cover 55 of {items:,} papers; catching up." in page.text

        open_indexer(store, settings).update()  # caught up: nothing more to say
        with TestClient(create_app(settings), base_url="https://testserver") as client:
            api = client.get("/api/v1/search", params={"q": "quadrifocal tensor", "mode": "hybrid"}).json()
            assert api["coverage"] == {} and api["catching_up"] == ""
            assert "catching up" not in client.get("/search", params={"q": "quadrifocal tensor"}).text
        assert service.search("quadrifocal tensor", mode="semantic").coverage == {}


@pytest.mark.slow
def test_ctrl_c_during_the_author_identities_after_an_ingest_stops_promptly_and_keeps_the_ingest(backend_url, tmp_path):
    """Ctrl-C while the author identities are decided (after the ingest committed and the keyword index was built):
    the real command stops within seconds with one clear line (no traceback, status 130), every stored item stays,
    and keyword search answers. The child prints a line when the identity step begins (the real step follows it),
    so the signal lands in it and not at a guess of its time."""
    source = [json.loads(line) for line in KAGGLE.read_text().splitlines() if line.strip()]
    snapshot = tmp_path / "snapshot.json"
    with snapshot.open("w") as handle:
        for copy in range(10):  # 2,000 records: fresh ids and reordered title words, so they are new papers
            for number, record in enumerate(source):
                words = record["title"].split()
                words = words[copy % len(words):] + words[:copy % len(words)]
                handle.write(json.dumps({**record, "id": f"25{copy + 1:02d}.{number + 1:05d}",
                                         "title": " ".join(words)}) + "\n")
    store = backend_url
    env = {**os.environ, "PYTHONPATH": str(SRC), "PAPERFEED_EMBEDDER": "none", "XDG_DATA_HOME": str(tmp_path)}
    env.pop("CI", None)
    # The identities are decided in small chunks here, and the child says so once the first chunk is stored and
    # then waits: the signal lands inside the step, with some authors decided and others not, on either backend.
    run = ("import sys, time, paperfeed.authors as authors\n"
           "from paperfeed.storage.people import PeopleStorage\n"
           "real, save = authors.refresh_identities, PeopleStorage.save_people\n"
           "def chunked(*args, **kwargs):\n"
           "    return real(*args, **{**kwargs, 'chunk_slots': 500})\n"
           "def saved(self, *args, **kwargs):\n"
           "    save(self, *args, **kwargs)\n"
           "    print('identities begin', file=sys.stderr, flush=True)\n"
           "    time.sleep(60)\n"
           "authors.refresh_identities = chunked\n"
           "PeopleStorage.save_people = saved\n"
           "from paperfeed.cli import cli; sys.argv[0] = 'paperfeed'; cli()")
    # SIGINT as a terminal sends it, whatever this test's own parent ignores (a shell's background job ignores it).
    child = subprocess.Popen([sys.executable, "-c", run, "--db", str(store), "ingest", "--no-vectors", str(snapshot)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        for line in child.stderr:
            if line.startswith("identities begin"):
                break
        else:
            pytest.fail(f"the identity step never began: {child.wait(60)}, {child.stdout.read()}")
        child.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        child.wait(60)
        seconds = time.monotonic() - interrupted
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    stdout, stderr = child.stdout.read(), child.stderr.read()
    assert child.returncode == 130, (stdout, stderr)
    assert seconds < 15, f"{seconds:.1f} s from Ctrl-C to exit"
    assert "paperfeed: interrupted after the ingest: its" in stderr and "Traceback" not in stderr, stderr
    summary = next(line for line in stdout.splitlines() if line.startswith("1 files: "))
    new = int(summary.split()[2].replace(",", ""))
    assert new > 1000
    with open_store(store) as reopened:
        assert reopened.db.value("SELECT count(*) FROM items") == new
        # The refresh stopped part-way and says so: the next one decides every author, not only its own items'.
        assert reopened.identities_interrupted()
        assert reopened.db.value(UNDECIDED_SLOTS) > 0
    found = subprocess.run([sys.executable, "-m", "paperfeed", "--db", str(store), "search", "--mode", "keyword",
                            "--json", "diphoton", "Tevatron"], capture_output=True, text=True, env=env, timeout=300)
    assert found.returncode == 0, found.stderr
    assert any(hit["arxiv_id"].endswith(".00001") for hit in json.loads(found.stdout)), found.stdout

    one_more = tmp_path / "one_more.json"
    one_more.write_text(json.dumps({**source[0], "id": "2599.00001", "title": "A paper added after the interruption",
                                    "authors": "Ada Lovelace"}) + "\n")
    later = subprocess.run([sys.executable, "-m", "paperfeed", "--db", str(store), "ingest", "--no-vectors", "--format", "jsonl",
                            str(one_more)], capture_output=True, text=True, env=env, timeout=600)
    assert later.returncode == 0, later.stderr
    with open_store(store) as reopened:
        assert not reopened.identities_interrupted()
        assert reopened.db.value(UNDECIDED_SLOTS) == 0


UNDECIDED_SLOTS = ("SELECT count(*) FROM item_authors ia WHERE NOT EXISTS (SELECT 1 FROM item_people ip "
                   "WHERE ip.item_id = ia.item_id AND ip.position = ia.position AND ip.author_id = ia.author_id)")


def test_after_a_large_load_the_cli_says_keyword_search_answers_before_the_steps_after_it(tmp_path, monkeypatch):
    """After a whole-arXiv bootstrap the author identities, TL;DRs and embeddings take longer than the ingest:
    the command says keyword search is ready as soon as it is, and a search made at that moment (here, when the
    identity step begins) finds the new papers. A small load (a day's listing) says nothing of the kind."""
    import paperfeed.cli.items as items_cli
    import paperfeed.pipeline as pipeline

    db = tmp_path / "store.db"
    env = {"CI": "1", "PAPERFEED_EMBEDDER": "none", "XDG_DATA_HOME": str(tmp_path / "data"), "PAPERFEED_DB": None}
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    refresh = pipeline._refresh_identities
    found_then: list[str] = []

    def identities_begin(store, *args, **kwargs):
        import click

        click.echo("identities begin")
        service = open_search(store, Settings.load(db=str(db)))
        found_then.extend(hit.arxiv_id for hit in service.search("diphoton Tevatron", mode="keyword").hits)
        return refresh(store, *args, **kwargs)

    monkeypatch.setattr(pipeline, "_refresh_identities", identities_begin)
    monkeypatch.setattr(items_cli, "LARGE_LOAD_ITEMS", 200)  # the head's 200 papers stand for all of arXiv
    done = CliRunner().invoke(cli, ["--db", str(db), "ingest", "--no-vectors", str(KAGGLE)], env=env,
                              catch_exceptions=False)
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    ready = [number for number, line in enumerate(lines) if line.startswith("keyword search is ready: 200 papers")]
    assert ready and ready[0] < lines.index("identities begin"), done.stdout
    assert "0704.0001" in found_then

    monkeypatch.setattr(items_cli, "LARGE_LOAD_ITEMS", 20_000)
    small = CliRunner().invoke(cli, ["--db", str(tmp_path / "small.db"), "ingest", "--no-vectors", str(LISTING)],
                               env=env, catch_exceptions=False)
    assert small.exit_code == 0, small.output
    assert "identities begin" in small.stdout and "keyword search is ready" not in small.stdout
