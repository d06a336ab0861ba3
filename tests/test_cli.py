"""The ``paperfeed`` command, per DESIGN.md "Contracts".

Fast in-process checks use click's CliRunner; exit statuses, tracebacks, piped output and the
console script are checked on real subprocesses (``sys.executable -m paperfeed``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperfeed.cli import cli
from paperfeed.storage import open_store

from datafiles import BAD, DATA, HF_DAY, LIBRARY, LISTING, LISTING_LINES, LISTING_UNIQUE, PASSWD_MARKERS, TOPIC_PAGE

HF_ITEMS, LIBRARY_ENTRIES = 13, 7
EXPORT_FIELDS = {"id", "kind", "title", "abstract", "authors", "arxiv_id", "doi", "url", "published", "categories",
                 "topics", "sources"}
SOURCE_FIELDS = {"format", "label", "record_id", "origin", "seen_at"}


def invoke(*args, env: dict | None = None):
    runner = CliRunner()
    return runner.invoke(cli, [str(arg) for arg in args], env={"PAPERFEED_DB": None, "CI": "true", **(env or {})},
                         catch_exceptions=False)


def quiet_env(**extra) -> dict:
    env = {key: value for key, value in os.environ.items() if key != "PAPERFEED_DB"}
    env.update(CI="true", PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


def paperfeed(*args, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "paperfeed", *map(str, args)], capture_output=True, text=True,
                          env=env or quiet_env(), cwd=cwd, timeout=120)


def stats_of(db: Path) -> dict:
    with open_store(db) as store:
        return store.stats()


def export_lines(db: Path) -> list[dict]:
    result = invoke("--db", db, "export")
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


# -- --db and init ---------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["url", "path"])
def test_init_creates_the_store_at_a_sqlite_url_or_a_file_path(tmp_path, form):
    db = tmp_path / "sub" / "store.db"
    target = f"sqlite:///{db}" if form == "url" else str(db)

    first = invoke("--db", target, "init")
    assert first.exit_code == 0, first.output
    assert db.is_file()
    assert "0001_items_and_provenance" in first.stdout
    second = invoke("--db", target, "init")
    assert second.exit_code == 0
    assert "up to date" in second.stdout
    assert open_store(db).check_integrity() == []


def test_paperfeed_db_is_the_default_store_and_the_db_option_wins(tmp_path):
    from_env, from_option = tmp_path / "env.db", tmp_path / "option.db"

    assert invoke("ingest", LIBRARY, env={"PAPERFEED_DB": str(from_env)}).exit_code == 0
    assert invoke("--db", f"sqlite:///{from_option}", "ingest", HF_DAY,
                  env={"PAPERFEED_DB": str(from_env)}).exit_code == 0

    assert stats_of(from_env)["source_records_by_format"] == {"bibtex": LIBRARY_ENTRIES}
    assert stats_of(from_option)["source_records_by_format"] == {"hf-daily": HF_ITEMS}


def test_a_store_that_is_not_a_database_is_one_line_and_status_1(tmp_path):
    db = tmp_path / "notes.db"
    db.write_text("these are my notes, not a database\n")
    for args in (("ingest", LIBRARY), ("export",), ("stats",), ("show", "1"), ("init",)):
        result = invoke("--db", db, *args)
        assert result.exit_code == 1, args
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert str(db) in result.stderr
    assert db.read_text() == "these are my notes, not a database\n"


# -- ingest summary ---------------------------------------------------------------------------------


def test_ingest_prints_a_summary_per_file_and_a_total(tmp_path):
    db = tmp_path / "s.db"
    result = invoke("--db", db, "ingest", LISTING, LIBRARY, HF_DAY)

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:-1] == [
        f"{LISTING} [jsonl]: {LISTING_UNIQUE} new, 0 merged, {LISTING_LINES - LISTING_UNIQUE} unchanged",
        f"{LIBRARY} [bibtex]: {LIBRARY_ENTRIES} new, 0 merged, 0 unchanged",
        f"{HF_DAY} [hf-daily]: {HF_ITEMS} new, 0 merged, 0 unchanged",
        f"3 files: {LISTING_UNIQUE + LIBRARY_ENTRIES + HF_ITEMS} new, 0 merged, "
        f"{LISTING_LINES - LISTING_UNIQUE} unchanged, 0 failed",
    ]
    new_items = LISTING_UNIQUE + LIBRARY_ENTRIES + HF_ITEMS
    assert lines[-1].startswith(f"search index: {new_items} indexed, 0 removed, {new_items} embedded, ")
    assert result.stderr == ""


def test_ingesting_the_same_inputs_again_says_unchanged_and_changes_nothing(tmp_path):
    db = tmp_path / "s.db"
    paths = [LISTING, LIBRARY, HF_DAY, TOPIC_PAGE, DATA / "arxiv_api"]
    assert invoke("--db", db, "ingest", *paths).exit_code == 0
    exported = invoke("--db", db, "export").stdout
    stats = invoke("--db", db, "stats", "--json").stdout

    again = invoke("--db", db, "ingest", *paths)

    assert again.exit_code == 0, again.output
    per_file = again.stdout.splitlines()[:-2]  # then the total and the search-index line
    assert per_file and all(re.search(r": 0 new, 0 merged, \d+ unchanged$", line) for line in per_file), per_file
    assert f": 0 new, 0 merged, {LISTING_LINES} unchanged" in per_file[0]
    assert re.fullmatch(r"\d+ files: 0 new, 0 merged, \d+ unchanged, 0 failed", again.stdout.splitlines()[-2])
    assert again.stdout.splitlines()[-1].startswith("search index: 0 indexed, 0 removed, 0 embedded")
    assert invoke("--db", db, "export").stdout == exported
    assert invoke("--db", db, "stats", "--json").stdout == stats


def test_format_option_forces_a_format(tmp_path):
    db = tmp_path / "s.db"
    disguised = tmp_path / "listing.txt"
    shutil.copy(LISTING, disguised)
    ok = invoke("--db", db, "ingest", "--format", "jsonl", disguised)
    assert ok.exit_code == 0, ok.output
    assert f"{disguised} [jsonl]: {LISTING_UNIQUE} new" in ok.stdout

    wrong = invoke("--db", db, "ingest", "--format", "csv", LIBRARY)
    assert wrong.exit_code == 1
    assert wrong.stderr.startswith(f"FAILED {LIBRARY} at line ")


# -- export, show, stats ------------------------------------------------------------------------------


def test_export_writes_one_json_object_per_item_with_the_contract_fields(tmp_path):
    db = tmp_path / "s.db"
    sources = [LISTING, LIBRARY, HF_DAY, TOPIC_PAGE, DATA / "news" / "heise_developer_2016-02-01.atom",
               DATA / "arxiv_api" / "idlist_astro-ph_0601001.xml", DATA / "oai" / "listrecords_arXivRaw_2015-01-06.xml",
               DATA / "arxiv_rss"]
    assert invoke("--db", db, "ingest", *sources).exit_code == 0

    result = invoke("--db", db, "export", "--format", "jsonl")

    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == stats_of(db)["items"]
    objects = [json.loads(line) for line in lines]
    assert len({obj["id"] for obj in objects}) == len(objects)
    formats = set()
    for obj in objects:
        assert EXPORT_FIELDS <= obj.keys(), obj.keys()
        assert obj["kind"] in ("paper", "news")
        assert isinstance(obj["title"], str) and obj["title"]
        assert isinstance(obj["abstract"], str)
        assert isinstance(obj["authors"], list) and all(isinstance(a, str) and a for a in obj["authors"])
        assert obj["published"] is None or re.fullmatch(r"\d{4}-\d{2}-\d{2}", obj["published"])
        assert isinstance(obj["categories"], list)
        for topic in obj["topics"]:
            assert {"name", "confidence"} <= topic.keys() and 0 <= topic["confidence"] <= 1
        assert obj["sources"]
        for source in obj["sources"]:
            assert SOURCE_FIELDS <= source.keys(), source.keys()
            assert isinstance(source["record_id"], str) and source["record_id"]
            assert source["origin"] in {str(path) for path in sources} or source["origin"].startswith(str(DATA))
            assert re.match(r"\d{4}-\d{2}-\d{2}T", source["seen_at"])
            formats.add(source["format"])
    assert formats == {"jsonl", "bibtex", "hf-daily", "capture", "feed", "arxiv-atom", "arxiv-oai", "arxiv-rss"}
    listing = next(obj for obj in objects if obj["arxiv_id"] == "2602.22639")
    assert listing["sources"][0]["record_id"] == "2602.22639"
    assert listing["authors"] == ["Daniel Miao", "Gilad Lerman", "Joe Kileel"]
    assert listing["published"] == "2026-02-27"
    assert listing["url"] == "https://arxiv.org/abs/2602.22639"
    assert listing["categories"][0] == "cs.CV"

    to_file = tmp_path / "out.jsonl"
    assert invoke("--db", db, "export", "-o", to_file).exit_code == 0
    assert to_file.read_text(encoding="utf-8") == result.stdout


def test_show_finds_an_item_by_item_id_arxiv_id_or_doi(tmp_path):
    db = tmp_path / "s.db"
    invoke("--db", db, "ingest", LISTING, LIBRARY)

    by_arxiv = invoke("--db", db, "show", "arXiv:2602.22639v2")
    assert by_arxiv.exit_code == 0, by_arxiv.output
    item = json.loads(by_arxiv.stdout)
    assert item["arxiv_id"] == "2602.22639"
    assert item["sources"][0]["record_id"] == "2602.22639"
    assert json.loads(invoke("--db", db, "show", str(item["id"])).stdout)["id"] == item["id"]

    godel = json.loads(invoke("--db", db, "show", "https://doi.org/10.1007/BF01700692").stdout)
    assert godel["title"].startswith("Über formal unentscheidbare Sätze")
    assert godel["sources"][0]["record_id"] == "godel1931"

    raw = json.loads(invoke("--db", db, "show", "--raw", "2602.22639").stdout)
    assert json.loads(raw["sources"][0]["raw"])["id"] == "2602.22639"

    missing = invoke("--db", db, "show", "9999.99999")
    assert missing.exit_code == 1
    assert len(missing.stderr.splitlines()) == 1 and "9999.99999" in missing.stderr


def test_stats_counts_what_the_store_holds(tmp_path):
    db = tmp_path / "s.db"
    invoke("--db", db, "ingest", LISTING, TOPIC_PAGE)

    figures = json.loads(invoke("--db", db, "stats", "--json").stdout)
    assert figures["items"] == LISTING_UNIQUE + 10
    assert figures["items_by_kind"] == {"news": 2, "paper": LISTING_UNIQUE + 8}
    assert figures["source_records_by_format"] == {"capture": 10, "jsonl": LISTING_UNIQUE}
    assert figures["topics"] == {"Large Language Model": 10}
    text = invoke("--db", db, "stats").stdout
    assert f"items: {LISTING_UNIQUE + 10:,}" in text
    assert "topic Large Language Model: 10 items" in text


# -- usage errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    [],
    ["ingest"],
    ["ingest", "--format", "bogus", str(LIBRARY)],
    ["ingest", "--format"],
    ["export", "--format", "csv"],
    ["show"],
    ["no-such-command"],
], ids=["no command", "ingest without paths", "unknown --format", "--format without a name", "export --format csv",
        "show without id", "unknown command"])
def test_usage_errors_exit_with_status_2_and_touch_no_store(tmp_path, args):
    db = tmp_path / "s.db"
    result = invoke("--db", db, *args)
    assert result.exit_code == 2, result.output
    assert not db.exists()
    assert "Traceback" not in result.output


def test_unknown_format_option_names_the_known_formats(tmp_path):
    result = invoke("--db", tmp_path / "s.db", "ingest", "--format", "bogus", LIBRARY)
    assert result.exit_code == 2
    assert "bogus" in result.stderr and "jsonl" in result.stderr and "bibtex" in result.stderr


# -- bad inputs on a real process ------------------------------------------------------------------------


def _bad_inputs(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "bad"
    folder.mkdir()
    lines = [line for line in LISTING.read_text(encoding="utf-8").split("\n") if line.strip()]
    lines[149] = lines[149][:40]
    broken = folder / "2026-02-26.jsonl"
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")
    truncated = folder / "query_truncated.xml"
    truncated.write_bytes((DATA / "arxiv_api" / "query_all-testing_start0_max100.xml").read_bytes()[:40_000])
    archive = folder / "damaged.tar.gz"
    with tarfile.open(folder / "whole.tar.gz", "w:gz") as whole:
        whole.add(LISTING, "2026-02-25.jsonl")
    data = (folder / "whole.tar.gz").read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    (folder / "whole.tar.gz").unlink()
    not_zip = folder / "damaged.zip"
    not_zip.write_bytes(b"PK\x03\x04 but nothing of a zip after that")
    return [broken, truncated, BAD / "latin1.csv", BAD / "billion_laughs.atom.xml", BAD / "xxe_file.atom.xml",
            BAD / "xxe_file.rss", BAD / "xxe_parameter_entity.rss", BAD / "no_title_column.csv",
            BAD / "unknown_format.dat", archive, not_zip, tmp_path / "does-not-exist.jsonl"]


def test_bad_inputs_each_fail_with_one_line_and_status_1_while_the_rest_is_stored(tmp_path):
    db = tmp_path / "s.db"
    bad = _bad_inputs(tmp_path)
    good = [LIBRARY, LISTING, HF_DAY]
    args = [good[0], *bad[:6], good[1], *bad[6:], good[2]]

    run = paperfeed("--db", db, "ingest", *args)

    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr and "Error:" not in run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == len(bad), run.stderr
    for path in bad:
        mine = [line for line in lines if line.startswith(f"FAILED {path}")]
        assert len(mine) == 1, (path, run.stderr)
        if path.exists():
            assert re.match(rf"FAILED {re.escape(str(path))} at (line \d+|byte \d+|DTD|archive)", mine[0]), mine[0]
    assert f"{LISTING} [jsonl]: {LISTING_UNIQUE} new" in run.stdout
    assert run.stdout.splitlines()[-2] == (f"{len(args)} files: {LISTING_UNIQUE + LIBRARY_ENTRIES + HF_ITEMS} new, "
                                           f"0 merged, {LISTING_LINES - LISTING_UNIQUE} unchanged, {len(bad)} failed")
    figures = stats_of(db)
    assert figures["source_records_by_format"] == {"bibtex": LIBRARY_ENTRIES, "hf-daily": HF_ITEMS,
                                                   "jsonl": LISTING_UNIQUE}
    exported = paperfeed("--db", db, "export").stdout
    assert len(exported.splitlines()) == figures["items"]
    for marker in PASSWD_MARKERS:
        assert marker not in exported and marker not in run.stdout and marker not in run.stderr
    with open_store(db) as store:
        assert store.check_integrity() == []


def test_a_malformed_bibtex_library_fails_with_exactly_one_line(tmp_path):
    truncated = tmp_path / "truncated.bib"
    truncated.write_text("\n".join(LIBRARY.read_text(encoding="utf-8").splitlines()[:40]) + "\n", encoding="utf-8")

    run = paperfeed("--db", tmp_path / "s.db", "ingest", truncated, HF_DAY)

    assert run.returncode == 1
    assert run.stderr.splitlines() == [line for line in run.stderr.splitlines() if line.startswith("FAILED ")]
    assert len(run.stderr.splitlines()) == 1, run.stderr


def test_a_malformed_bibtex_library_is_reported_with_its_line_and_not_stored(tmp_path):
    truncated = tmp_path / "truncated.bib"
    truncated.write_text("\n".join(LIBRARY.read_text(encoding="utf-8").splitlines()[:40]) + "\n", encoding="utf-8")
    db = tmp_path / "s.db"

    run = paperfeed("--db", db, "ingest", truncated, HF_DAY)

    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert re.search(rf"^FAILED {re.escape(str(truncated))} at line \d+: ", run.stderr, re.MULTILINE)
    assert stats_of(db)["source_records_by_format"] == {"hf-daily": HF_ITEMS}


def test_an_xml_file_declaring_an_unknown_encoding_fails_alone_on_the_command_line(tmp_path):
    db = tmp_path / "s.db"
    bad = BAD / "unknown_xml_encoding.xml"

    run = paperfeed("--db", db, "ingest", LIBRARY, bad, HF_DAY)

    assert "Traceback" not in run.stderr
    assert run.returncode == 1
    assert run.stderr.startswith(f"FAILED {bad} at ")
    assert stats_of(db)["items"] == LIBRARY_ENTRIES + HF_ITEMS


# -- output when piped; entry points -------------------------------------------------------------------


def test_piped_ingest_output_has_no_progress_bar_control_characters(tmp_path):
    env = quiet_env(TERM="xterm-256color", COLUMNS="120")
    env.pop("CI")  # piping alone must keep it quiet
    run = subprocess.run([sys.executable, "-m", "paperfeed", "--db", str(tmp_path / "s.db"), "ingest", str(LISTING),
                          str(DATA / "hf"), str(BAD / "unknown_format.dat")], capture_output=True, env=env, timeout=120)
    assert run.returncode == 1
    for stream in (run.stdout, run.stderr):
        assert b"\x1b" not in stream and b"\r" not in stream
        assert not re.search("[\u2800-\u28ff\u2580-\u259f\u2500-\u257f]", stream.decode("utf-8")), stream
    assert len(run.stdout.decode().splitlines()) == 1 + 3 + 1 + 1  # files, total, search index


def test_python_dash_m_paperfeed_help_lists_the_commands():
    run = paperfeed("--help")
    assert run.returncode == 0, run.stderr
    for command in ("init", "ingest", "export", "show", "stats"):
        assert re.search(rf"^\s+{command}\b", run.stdout, re.MULTILINE), command
    assert "--db" in run.stdout


def test_the_console_script_works(tmp_path):
    script = Path(sys.executable).with_name("paperfeed")
    if not script.exists():
        found = shutil.which("paperfeed")
        if not found:
            pytest.skip("the paperfeed console script is not installed beside this Python")
        script = Path(found)
    db = tmp_path / "s.db"
    help_run = subprocess.run([str(script), "--help"], capture_output=True, text=True, env=quiet_env(), timeout=60)
    assert help_run.returncode == 0 and "ingest" in help_run.stdout
    ingest_run = subprocess.run([str(script), "--db", str(db), "ingest", str(LIBRARY)], capture_output=True, text=True,
                                env=quiet_env(), timeout=60)
    assert ingest_run.returncode == 0, ingest_run.stderr
    assert stats_of(db)["items"] == LIBRARY_ENTRIES
