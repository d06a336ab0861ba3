"""``library import`` of the reference-manager formats (RIS, CSL-JSON, a Zotero database) on both backends: each
entry is saved to the user's library with its own tags (RIS ``KW``, CSL ``keyword``, Zotero collections and
tags), matched to stored items the way every ingest merges. Inputs: tests/data/sources and
tests/zotero_fixture.py."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from paperfeed.cli import cli
from paperfeed.library import Accounts, import_library
from zotero_fixture import build_zotero_library

SOURCES = Path(__file__).parent / "data" / "sources"
PASSWORD = "correct horse battery staple"


def test_a_zotero_library_import_turns_collections_and_tags_into_library_tags(store, tmp_path):
    user = Accounts(store).create("ada@example.org", PASSWORD)
    report = import_library(store, user, build_zotero_library(tmp_path / "zotero.sqlite"), ["zotero"])
    assert (report.entries, report.ingested, report.matched) == (3, 3, 0)
    assert store.library_tags(user) == {"zotero": 3, "reading group": 2, "regeneration": 1, "to-read": 1}


def test_ris_and_csl_imports_match_what_is_stored(store):
    user = Accounts(store).create("ada@example.org", PASSWORD)
    first = import_library(store, user, SOURCES / "library.ris")
    assert (first.entries, first.ingested) == (2, 2)
    # The CSL library holds the RIS file's second paper (no shared id: the RIS record has the arXiv id, the CSL
    # item the DOI; matched by title and authors) and two papers not stored yet.
    second = import_library(store, user, SOURCES / "library_csl.json")
    assert (second.entries, second.matched, second.ingested) == (3, 1, 2)
    assert store.library_tags(user) == {"regeneration": 1, "single-cell": 1, "length generalization": 1,
                                        "sequence models": 1}


def test_the_cli_detects_the_format_and_refuses_an_unknown_one(tmp_path):
    db = str(tmp_path / "store.db")
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(cli, ["--db", db, *args], input=input)

    assert run("users", "add", "ada@example.org", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    result = run("library", "import", str(build_zotero_library(tmp_path / "zotero.sqlite")), "--user",
                 "ada@example.org")
    assert result.exit_code == 0, result.output
    assert "3 entries, 0 matched to stored items, 3 new items" in result.output and "to-read (1)" in result.output
    result = run("library", "import", str(SOURCES / "library.ris"), "--user", "ada@example.org", "--format", "nope")
    assert result.exit_code == 2 and "unknown format 'nope'" in result.output and "Traceback" not in result.output
    broken = tmp_path / "broken.ris"
    broken.write_text("TY  - JOUR\nTI  - Cut short\n", encoding="utf-8")
    result = run("library", "import", str(broken), "--user", "ada@example.org")
    assert result.exit_code == 1 and "broken.ris" in result.output and "line 2" in result.output
