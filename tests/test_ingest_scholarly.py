"""Merging across the scholarly sources, end to end through ``Ingester`` on both backends (``store``).

A bioRxiv preprint and its journal article from Crossref (joined by the journal DOI that bioRxiv's ``published``
names); an OpenReview paper and the same paper in an arXiv listing (no shared id: title and authors); a Crossref
article whose ``has-preprint`` names an arXiv id (an arXiv id and a DOI on one record join the arXiv item); and
every fixture of tests/data/sources plus the Zotero library at once. Inputs: tests/data/sources (see its README)
and tests/zotero_fixture.py.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from paperfeed.ingest import Ingester
from zotero_fixture import build_zotero_library

SOURCES = Path(__file__).parent / "data" / "sources"
LISTING = SOURCES / "arxiv_listing_2023-10-09.jsonl"


def ingest(store, *paths):
    report = Ingester(store).ingest_paths([str(path) for path in paths])
    assert not [result for result in report.files if result.failed], [result.error for result in report.files]
    return report


def items_titled(store, title: str) -> list[dict]:
    found = [store.item(item["id"]) for item in store.iter_items()]
    return [item for item in found if item["title"] == title]


def source_formats(item: dict) -> list[str]:
    return sorted(source["format"] for source in item["sources"])


ATLAS = "Single-cell atlas of the regenerating axolotl limb"
ADAPTERS = "Sparse Adapters for Continual Instruction Tuning"
TOKENS = "Counting Tokens Is Not Enough: Length Generalization in Sequence Models"


@pytest.mark.parametrize("order", ["biorxiv first", "crossref first"])
def test_a_biorxiv_preprint_and_its_crossref_journal_article_are_one_item(store, order):
    files = [SOURCES / "biorxiv_details.json", SOURCES / "crossref_works.json"]
    ingest(store, *(files if order == "biorxiv first" else files[::-1]))
    (item,) = items_titled(store, ATLAS)
    assert source_formats(item) == ["biorxiv", "biorxiv", "crossref"]  # both versions and the article, all kept
    assert item["doi"] == "10.1016/j.devcel.2023.09.004"
    assert item["venue"] == "Developmental Cell"  # the journal article names where it was published
    record_ids = {source["record_id"] for source in item["sources"]}
    assert record_ids == {"10.1101/2023.03.14.532608v1", "10.1101/2023.03.14.532608v2",
                          "10.1016/j.devcel.2023.09.004"}


@pytest.mark.parametrize("order", ["openreview first", "listing first"])
def test_an_openreview_paper_and_the_same_arxiv_paper_are_one_item_by_title_and_authors(store, order):
    files = [SOURCES / "openreview_notes.json", LISTING]
    ingest(store, *(files if order == "openreview first" else files[::-1]))
    (item,) = items_titled(store, ADAPTERS)
    assert source_formats(item) == ["jsonl", "openreview"]
    assert item["arxiv_id"] == "2310.05521"
    assert item["venue"] == "ICLR 2024 poster"
    withdrawn = items_titled(store, "On the Limits of Prompted Self-Correction")
    assert len(withdrawn) == 1 and withdrawn[0]["venue"] is None  # a withdrawn submission shows no venue


@pytest.mark.parametrize("order", ["listing first", "crossref first"])
def test_a_crossref_article_with_an_arxiv_preprint_joins_the_arxiv_item(store, order):
    files = [LISTING, SOURCES / "crossref_work.json"]
    ingest(store, *(files if order == "listing first" else files[::-1]))
    (item,) = items_titled(store, TOKENS)
    assert source_formats(item) == ["crossref", "jsonl"]
    assert (item["arxiv_id"], item["doi"]) == ("2310.04417", "10.1162/tacl_a_00612")


def test_every_source_at_once_gives_one_item_per_work(store, tmp_path):
    zotero_library = build_zotero_library(tmp_path / "zotero.sqlite")
    files = sorted(path for path in SOURCES.iterdir() if path.suffix != ".md") + [zotero_library]
    ingest(store, *files)
    expected = {
        ATLAS: ["biorxiv", "biorxiv", "crossref", "ris", "zotero"],
        ADAPTERS: ["csl-json", "dblp", "jsonl", "openreview", "semantic-scholar", "zotero"],
        TOKENS: ["crossref", "csl-json", "dblp", "dblp", "dblp", "jsonl", "ris", "semantic-scholar"],
        "Dialect-Robust Evaluation of Machine Translation": ["bibtex", "mods"],
    }
    for title, formats in expected.items():
        found = items_titled(store, title)
        assert [source_formats(item) for item in found] == [formats], title


def test_ingesting_the_same_files_again_changes_nothing(store, tmp_path):
    files = sorted(path for path in SOURCES.iterdir() if path.suffix != ".md")
    ingest(store, *files)
    before = [store.item(item["id"]) for item in store.iter_items()]
    report = ingest(store, *files)
    assert sum(result.new for result in report.files) == 0
    after = [store.item(item["id"]) for item in store.iter_items()]
    strip = lambda items: [{**item, "sources": [{k: v for k, v in s.items() if k != "seen_at"}  # noqa: E731
                                                for s in item["sources"]]} for item in items]
    assert strip(after) == strip(before)


@pytest.mark.parametrize("order", ["biorxiv first", "crossref first"])
def test_a_preprint_that_crossref_knows_as_published_joins_the_biorxiv_record_that_does_not_yet(store, order):
    # bioRxiv still says "published": "NA" where Crossref already names the journal article (is-preprint-of):
    # the Crossref record carries the preprint's DOI beside the journal's, and the preprint DOI is no second DOI.
    files = [SOURCES / "biorxiv_details.json", SOURCES / "crossref_works.json"]
    ingest(store, *(files if order == "biorxiv first" else files[::-1]))
    (item,) = items_titled(store, "Light-gated chloride channels silence cortical neurons in vivo")
    assert source_formats(item) == ["biorxiv", "crossref"]
    assert item["doi"] == "10.1038/s41593-023-01234-5"  # the journal's DOI, not the preprint's
    versions = {source["format"]: (source["version"], source["doi"]) for source in item["sources"]}
    assert versions == {"biorxiv": ("preprint", "10.1101/2023.03.20.533417"),
                        "crossref": ("preprint", "10.1101/2023.03.20.533417")}


@pytest.mark.parametrize("order", ["biorxiv first", "crossref first"])
def test_the_journal_record_names_the_authors_in_full_whatever_the_order(store, order):
    # bioRxiv gives initials ("Okafor, C. N."), Crossref the journal's full names: Crossref ranks first.
    files = [SOURCES / "biorxiv_details.json", SOURCES / "crossref_works.json"]
    ingest(store, *(files if order == "biorxiv first" else files[::-1]))
    (item,) = items_titled(store, ATLAS)
    assert item["authors"] == ["Chidi N. Okafor", "Anna Lindqvist", "Paul van der Berg"]
    versions = sorted(source["version"] for source in item["sources"])
    assert versions == ["preprint", "preprint", "published"]


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))), ids=lambda order: "".join(map(str, order)))
def test_the_arxiv_and_journal_versions_meet_in_one_item_whatever_the_order(store, order):
    # The listing (arXiv id), DBLP (one record with the DOI, one with the arXiv id), Semantic Scholar and Crossref
    # (both ids on one record): every order of arrival ends with one item holding every record.
    files = [LISTING, SOURCES / "dblp_search.json", SOURCES / "semantic_scholar_paper.json",
             SOURCES / "crossref_work.json"]
    for index in order:
        ingest(store, files[index])
    (item,) = items_titled(store, TOKENS)
    assert source_formats(item) == ["crossref", "dblp", "dblp", "jsonl", "semantic-scholar"]
    assert (item["arxiv_id"], item["doi"]) == ("2310.04417", "10.1162/tacl_a_00612")


def test_two_biorxiv_preprints_of_different_works_stay_apart_and_a_journal_doi_still_vetoes(store, tmp_path):
    # Preprint DOIs are left out of "two DOIs never one item", not out of identity: two journal DOIs still clash.
    first = tmp_path / "first.json"
    second = tmp_path / "second.json"
    work = {"type": "journal-article", "title": ["A Shared Title Of Two Different Journal Articles"],
            "author": [{"given": "Ada", "family": "Moreau"}], "issued": {"date-parts": [[2023, 5, 1]]},
            "relation": {"has-preprint": [{"id-type": "doi", "id": "10.1101/2023.01.01.000001"}]}}
    first.write_text(json.dumps({"message-type": "work", "message": {**work, "DOI": "10.1000/journal.one"}}))
    second.write_text(json.dumps({"message-type": "work", "message": {**work, "DOI": "10.1000/journal.two"}}))
    report = ingest(store, first, second)
    assert len(items_titled(store, "A Shared Title Of Two Different Journal Articles")) == 2
    assert [str(conflict) for result in report.files for conflict in result.conflicts]  # reported, not merged
