"""The scholarly-API and reference-manager parsers: bioRxiv/medRxiv, OpenReview, ACL Anthology (BibTeX and MODS),
DBLP (JSON and XML), Crossref, Semantic Scholar, RIS, CSL-JSON and Zotero's sqlite database.

No recording of these services exists here: the inputs in tests/data/sources were written by hand from each
service's published documentation (tests/data/sources/README.md names the page per file); the Zotero library is
built by tests/zotero_fixture.py from Zotero's schema. Broken inputs are written inline.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from golden import assert_golden
from paperfeed.records import ParseContext, ParseError
from paperfeed.sources import (biorxiv, crossref, csl_json, dblp, detect_format, mods, openreview, ris,
                               semantic_scholar, zotero)
from paperfeed.sources.bibtex import parse as parse_bibtex
from paperfeed.sources.labels import FORMAT_LABELS, format_label
from zotero_fixture import build_zotero_library

SOURCES = Path(__file__).parent / "data" / "sources"

# file -> (format it is detected as, golden file name)
FILES = {
    "biorxiv_details.json": ("biorxiv", "sources_biorxiv"),
    "medrxiv_details.json": ("biorxiv", "sources_medrxiv"),
    "openreview_notes.json": ("openreview", "sources_openreview"),
    "acl_anthology.bib": ("bibtex", "sources_acl_bibtex"),
    "acl_anthology_mods.xml": ("mods", "sources_acl_mods"),
    "dblp_search.json": ("dblp", "sources_dblp_search"),
    "dblp_records.xml": ("dblp", "sources_dblp_xml"),
    "crossref_works.json": ("crossref", "sources_crossref_works"),
    "crossref_work.json": ("crossref", "sources_crossref_work"),
    "semantic_scholar_paper.json": ("semantic-scholar", "sources_semantic_scholar_paper"),
    "semantic_scholar_batch.json": ("semantic-scholar", "sources_semantic_scholar_batch"),
    "library.ris": ("ris", "sources_ris"),
    "library_csl.json": ("csl-json", "sources_csl_json"),
}


def parse_file(name: str) -> list:
    path = SOURCES / name
    data = path.read_bytes()
    return list(detect_format(data, name).parse(data, ParseContext(str(path))))


def parse_inline(module, data: bytes | str, name: str = "input.json") -> list:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return list(module.parse(raw, ParseContext(name)))


@pytest.fixture
def zotero_library(tmp_path) -> Path:
    return build_zotero_library(tmp_path / "zotero.sqlite")


# --- detection and golden files ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(FILES))
def test_each_fixture_is_detected_as_its_format(name):
    data = (SOURCES / name).read_bytes()
    assert detect_format(data, name).FORMAT == FILES[name][0]
    # Content alone decides for the JSON and XML documents: a neutral name changes nothing.
    if not name.endswith((".bib", ".ris")):
        assert detect_format(data, "download").FORMAT == FILES[name][0]


def test_a_ris_file_is_detected_by_content_too():
    assert detect_format((SOURCES / "library.ris").read_bytes(), "export.txt").FORMAT == "ris"


@pytest.mark.parametrize("name", sorted(FILES))
def test_golden(name):
    assert_golden(parse_file(name), FILES[name][1])


def test_golden_zotero(zotero_library):
    records = list(zotero.parse(zotero_library.read_bytes(), ParseContext(str(zotero_library))))
    assert_golden(records, "sources_zotero")


def test_every_new_format_has_a_label_in_words():
    for name in ("biorxiv", "openreview", "mods", "dblp", "crossref", "semantic-scholar", "ris", "csl-json",
                 "zotero"):
        assert name in FORMAT_LABELS and format_label(name) != name


# --- what each format carries -----------------------------------------------------------------------------------

def test_biorxiv_versions_are_one_work_and_carry_the_journal_doi():
    records = parse_file("biorxiv_details.json")
    first, second, unpublished = records
    assert [first.record_id, second.record_id] == ["10.1101/2023.03.14.532608v1", "10.1101/2023.03.14.532608v2"]
    # "published" is "NA" on version 1 and a DOI on version 2: both versions name the journal version.
    assert first.doi == second.doi == "10.1016/j.devcel.2023.09.004"
    assert first.extra["preprint_doi"] == "10.1101/2023.03.14.532608"
    assert ["preprint", "doi", "10.1101/2023.03.14.532608"] in second.extra["related_ids"]
    assert first.authors == ["C. N. Okafor", "A. Lindqvist", "P. van der Berg"]
    assert unpublished.doi == "10.1101/2023.03.20.533417" and "preprint_doi" not in unpublished.extra
    assert unpublished.url == "https://www.biorxiv.org/content/10.1101/2023.03.20.533417v1"
    medrxiv = parse_file("medrxiv_details.json")[0]
    assert medrxiv.label == "medRxiv" and medrxiv.url.startswith("https://www.medrxiv.org/")


def test_openreview_keeps_a_venue_only_for_accepted_papers():
    accepted, withdrawn = parse_file("openreview_notes.json")
    assert accepted.extra["venue"] == "ICLR 2024 poster" and accepted.published == "2024-01-16"
    assert accepted.url == "https://openreview.net/forum?id=Xk2pQ9aB7c"
    assert "venue" not in withdrawn.extra and withdrawn.extra["openreview_venue"] == "Submitted to ICLR 2024"
    assert withdrawn.published == "2023-10-12"  # no pdate: the day it was opened to the public (odate)


def test_openreview_reads_api_v1_plain_values_too():
    note = {"id": "abc", "forum": "abc", "cdate": 1700000000000,
            "content": {"title": "Plain Title", "authors": ["A Person"], "venue": "NeurIPS 2023"}}
    (record,) = parse_inline(openreview, json.dumps({"notes": [note]}))
    assert (record.title, record.authors, record.extra["venue"]) == ("Plain Title", ["A Person"], "NeurIPS 2023")


def test_acl_bibtex_and_mods_carry_url_doi_anthology_id_and_venue():
    (bib,) = parse_file("acl_anthology.bib")
    modsrecord = parse_file("acl_anthology_mods.xml")[0]
    for record in (bib, modsrecord):
        assert record.doi == "10.18653/v1/2023.acl-long.901"
        assert record.url == "https://aclanthology.org/2023.acl-long.901"
        assert record.extra["anthology_id"] == "2023.acl-long.901"
        assert record.extra["venue"].startswith("Proceedings of the 61st Annual Meeting")
        assert record.authors == ["Ada Okonkwo", "João Ferreira"]  # editors are not authors
    second = parse_file("acl_anthology_mods.xml")[1]
    assert second.title == "Tokenizers Matter: A Study of Subword Vocabularies for Japanese"
    assert second.record_id == "2022.findings-emnlp.77" and second.doi is None


def test_dblp_json_and_xml():
    journal, corr = parse_file("dblp_search.json")
    assert journal.title == "Counting Tokens Is Not Enough: Length Generalization in Sequence Models"  # no period
    assert journal.authors == ["Ines Marchetti", "Tomasz Wolny"]  # the homonym number "0002" dropped
    assert journal.doi == "10.1162/tacl_a_00612" and journal.year == 2024
    assert corr.arxiv_id == "2310.04417" and corr.doi is None and "venue" not in corr.extra
    iclr, article = parse_file("dblp_records.xml")
    assert iclr.authors == ["Kwame Asante", "Yuki Tanaka", "María López"] and iclr.extra["venue"] == "ICLR"
    assert article.title == journal.title and article.doi == journal.doi
    one_author = {"result": {"hits": {"hit": {"info": {"authors": {"author": {"text": "Solo Author 0001"}},
                                                       "title": "Alone.", "key": "x/y/z", "year": "2020"}}}}}
    (record,) = parse_inline(dblp, json.dumps(one_author))
    assert (record.authors, record.title, record.year) == (["Solo Author"], "Alone", 2020)


def test_crossref_relations_bridge_versions():
    (journal,) = parse_file("crossref_work.json")
    assert journal.doi == "10.1162/tacl_a_00612" and journal.arxiv_id == "2310.04417"
    assert journal.abstract == "Sequence models trained on short inputs often fail on long ones; we show why."
    assert journal.authors[-1] == "The Example Consortium"
    assert journal.year == 2024 and journal.published == "2024-02-01"  # issued: the year; published-online: the day
    article, preprint = parse_file("crossref_works.json")
    assert article.abstract.startswith("We profile")  # the JATS heading "Summary" left out
    assert article.extra["related_ids"] == [["has-preprint", "doi", "10.1101/2023.03.14.532608"]]
    assert preprint.doi == "10.1038/s41593-023-01234-5" and preprint.extra["preprint_doi"] == preprint.record_id
    assert "venue" not in preprint.extra


def test_semantic_scholar_shapes():
    (paper,) = parse_file("semantic_scholar_paper.json")
    assert (paper.arxiv_id, paper.doi) == ("2310.04417", "10.1162/tacl_a_00612")
    assert paper.extra["author_ids"] == ["2109876543", "2101234567"]
    (batch,) = parse_file("semantic_scholar_batch.json")  # the null entry (an unknown id) is skipped
    assert batch.arxiv_id == "2310.05521" and "venue" not in batch.extra  # arXiv.org is no venue
    page = {"total": 1, "offset": 0, "data": [{"paperId": "p1", "title": "Paged", "externalIds": {
        "DOI": "10.48550/arXiv.2101.00001"}}]}
    (paged,) = parse_inline(semantic_scholar, json.dumps(page))
    assert (paged.arxiv_id, paged.doi) == ("2101.00001", None)  # arXiv's own DOI names the preprint


def test_ris_and_csl_json():
    article, preprint = parse_file("library.ris")
    assert article.abstract == "We profile 150,000 cells across six stages of axolotl limb regeneration."
    assert article.extra["tags"] == ["regeneration", "single-cell"] and article.published == "2023-10-23"
    assert preprint.arxiv_id == "2310.04417" and preprint.year == 2023
    assert article.record_id == "library.ris:1"  # RIS ids are local to their file
    journal, arxiv_paper, report = parse_file("library_csl.json")
    assert journal.extra["tags"] == ["length generalization", "sequence models"]
    assert arxiv_paper.arxiv_id == "2310.05521" and arxiv_paper.authors[-1] == "María López"
    assert report.authors == ["World Health Organization"] and report.year == 2024


def test_zotero_collections_and_tags_become_tags(zotero_library):
    records = list(zotero.parse(zotero_library.read_bytes(), ParseContext(str(zotero_library))))
    assert [r.title for r in records] == ["Single-cell atlas of the regenerating axolotl limb",
                                          "Sparse Adapters for Continual Instruction Tuning",
                                          "Global Tuberculosis Report 2024"]  # no attachment, nothing in the trash
    article, preprint, report = records
    assert article.extra["tags"] == ["Reading group", "Regeneration", "to-read"]
    assert preprint.arxiv_id == "2310.05521" and "Ed Itor" not in preprint.authors
    assert report.authors == ["World Health Organization"] and report.year == 2024 and report.published is None


def test_zotero_reads_a_library_that_zotero_holds_locked_and_never_changes_it(zotero_library):
    before = (zotero_library.read_bytes(), zotero_library.stat().st_mtime_ns)
    holder = sqlite3.connect(zotero_library)  # Zotero keeps an exclusive lock while it runs
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        records = list(zotero.parse(zotero_library.read_bytes(), ParseContext(str(zotero_library))))
    finally:
        holder.rollback()
        holder.close()
    assert len(records) == 3
    assert (zotero_library.read_bytes(), zotero_library.stat().st_mtime_ns) == before


def test_zotero_reads_a_wal_mode_library(zotero_library):
    connection = sqlite3.connect(zotero_library)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.close()
    data = zotero_library.read_bytes()
    assert data[18:20] == b"\x02\x02"
    assert len(list(zotero.parse(data, ParseContext("zotero.sqlite")))) == 3


def test_zotero_refuses_views_that_stand_in_for_tables(tmp_path):
    path = tmp_path / "zotero.sqlite"
    connection = sqlite3.connect(path)
    connection.executescript("CREATE TABLE itemTypes (itemTypeID INTEGER PRIMARY KEY, typeName TEXT);"
                             "CREATE TABLE fields (fieldID INTEGER PRIMARY KEY, fieldName TEXT);"
                             "CREATE TABLE itemData (itemID INT, fieldID INT, valueID);"
                             "CREATE TABLE itemDataValues (valueID INTEGER PRIMARY KEY, value);"
                             "CREATE VIEW items AS WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) "
                             "SELECT x AS itemID, 1 AS itemTypeID, 1 AS libraryID, 'K' AS key FROM n;")
    connection.close()
    with pytest.raises(ParseError, match="no table items") as error:
        list(zotero.parse(path.read_bytes(), ParseContext(str(path))))
    assert error.value.place == "database"


# --- broken input: a ParseError with a place --------------------------------------------------------------------

JSON_MODULES = [biorxiv, openreview, dblp, crossref, semantic_scholar, csl_json]
JSON_FILES = {biorxiv: "biorxiv_details.json", openreview: "openreview_notes.json", dblp: "dblp_search.json",
              crossref: "crossref_works.json", semantic_scholar: "semantic_scholar_paper.json",
              csl_json: "library_csl.json"}


@pytest.mark.parametrize("module", JSON_MODULES, ids=lambda m: m.FORMAT)
def test_truncated_json_fails_with_line_and_column(module):
    data = (SOURCES / JSON_FILES[module]).read_bytes()
    with pytest.raises(ParseError, match="not JSON") as error:
        parse_inline(module, data[: len(data) // 2])
    assert error.value.place.startswith("line ") and ", column " in error.value.place


@pytest.mark.parametrize("module", JSON_MODULES, ids=lambda m: m.FORMAT)
def test_a_json_document_of_the_wrong_shape_fails_at_byte_0(module):
    with pytest.raises(ParseError) as error:
        parse_inline(module, '"just a string"')
    assert error.value.place == "byte 0" and error.value.message


@pytest.mark.parametrize("module, document, place", [
    (biorxiv, {"collection": [{"doi": "10.1101/1", "title": "Fine"}, {"doi": "10.1101/2", "title": " "}]},
     "collection item 2"),
    (openreview, {"notes": [{"id": "n1", "forum": "n1", "content": {"title": {"value": ""}}}]}, "note 1"),
    (dblp, {"result": {"hits": {"hit": [{"info": {"key": "a/b", "title": ""}}]}}}, "hit 1"),
    (crossref, {"message-type": "work-list", "message": {"items": [{"DOI": "10.1234/x"}]}}, "work 1"),
    (semantic_scholar, [{"paperId": "p", "title": "ok"}, {"paperId": "q", "title": None}], "paper 2"),
    (csl_json, [{"id": "a", "type": "book"}], "item 1"),
], ids=lambda value: getattr(value, "FORMAT", None) or "")
def test_a_missing_title_names_the_record(module, document, place):
    with pytest.raises(ParseError, match="title") as error:
        parse_inline(module, json.dumps(document))
    assert error.value.place == place


@pytest.mark.parametrize("module, document, place", [
    (biorxiv, {"collection": [7]}, "collection item 1"),
    (openreview, {"notes": [{"id": "n", "content": "text"}]}, "note 1"),
    (crossref, {"message": {"items": [{"DOI": "10.1234/x", "title": ["T"], "relation": {"has-preprint": 5},
                                       "author": [{"family": 5}]}, None]}}, "work 2"),
    (semantic_scholar, {"data": [[]]}, "paper 1"),
], ids=lambda value: getattr(value, "FORMAT", None) or "")
def test_a_record_of_the_wrong_shape_names_the_record(module, document, place):
    with pytest.raises(ParseError) as error:
        parse_inline(module, json.dumps(document))
    assert error.value.place == place


def test_broken_xml_formats_name_the_place():
    with pytest.raises(ParseError, match="malformed XML") as error:
        parse_inline(mods, (SOURCES / "acl_anthology_mods.xml").read_bytes()[:900], "acl.xml")
    assert error.value.place.startswith("line ")
    with pytest.raises(ParseError, match="no titleInfo/title") as error:
        parse_inline(mods, '<modsCollection xmlns="http://www.loc.gov/mods/v3"><mods ID="a"/></modsCollection>')
    assert error.value.place == "<mods> 1"
    with pytest.raises(ParseError, match="no title") as error:
        parse_inline(dblp, '<dblp><article key="a/b" mdate="2020-01-01"><year>2020</year></article></dblp>')
    assert error.value.place == "<article> 1"
    # The full dblp.xml dump names its DTD's entities: refused like every DTD, with the place.
    with pytest.raises(ParseError) as error:
        parse_inline(dblp, '<?xml version="1.0"?>\n<!DOCTYPE dblp SYSTEM "dblp.dtd">\n<dblp><article key="a" '
                           'mdate="2020-01-01"><title>M&uuml;ller</title></article></dblp>')
    assert error.value.place


@pytest.mark.parametrize("text, message, place", [
    ("TY  - JOUR\nTI  - Cut short\n", r"no end \(ER\)", "line 2"),
    ("TI  - No type\nER  - \n", "outside a record", "line 1"),
    ("TY  - JOUR\nAU  - Someone\nER  - \n", "no title", "record 1 (line 1)"),
    ("TY  - JOUR\nTI  - One\nTY  - JOUR\nTI  - Two\nER  - \n", "before the last one ended", "line 3"),
    ("just some text\n", "not an RIS line", "line 1"),
])
def test_broken_ris_names_the_line(text, message, place):
    with pytest.raises(ParseError, match=message) as error:
        parse_inline(ris, text, "library.ris")
    assert error.value.place == place


def test_a_broken_zotero_database_is_a_parse_error(zotero_library):
    data = zotero_library.read_bytes()
    with pytest.raises(ParseError) as error:
        parse_inline(zotero, data[:1500], "zotero.sqlite")
    assert error.value.place == "database"
    with pytest.raises(ParseError, match="not an SQLite database") as error:
        parse_inline(zotero, b"PK\x03\x04 not sqlite", "zotero.sqlite")
    assert error.value.place == "byte 0"
    connection = sqlite3.connect(zotero_library)
    connection.execute("DROP TABLE itemDataValues")
    connection.commit()
    connection.close()
    with pytest.raises(ParseError, match="not a Zotero library: no table itemDataValues"):
        parse_inline(zotero, zotero_library.read_bytes(), "zotero.sqlite")


def test_bibtex_unchanged_for_entries_without_an_anthology_url():
    (entry,) = list(parse_bibtex(b"@article{k, title={T}, url={https://example.org/x}}", ParseContext("a.bib")))
    assert "anthology_id" not in entry.extra


@pytest.mark.parametrize("name", sorted(FILES))
def test_a_stored_record_parses_alone_to_the_same_abstract(name):
    # Splitting and merging items reads abstracts back from each source record's raw text.
    from paperfeed.prepare import stored_abstract

    for record in parse_file(name):
        assert stored_abstract(record.format, record.raw) == record.abstract, record.record_id


def test_zotero_text_that_is_not_utf8_is_kept_with_replacement_characters(zotero_library):
    # Found by the long fuzz run: a damaged library's text raised UnicodeDecodeError out of sqlite3.
    connection = sqlite3.connect(zotero_library)
    with connection:
        title_id = connection.execute(
            "SELECT d.valueID FROM itemData d JOIN fields f USING (fieldID) WHERE f.fieldName = 'title' "
            "ORDER BY d.itemID LIMIT 1").fetchone()[0]
        connection.execute("UPDATE itemDataValues SET value = CAST(X'4174F36E' AS TEXT) WHERE valueID = ?",
                           (title_id,))
    connection.close()
    records = list(zotero.parse(zotero_library.read_bytes(), ParseContext("zotero.sqlite")))
    assert len(records) == 3 and "At\ufffdn" in [record.title for record in records]
