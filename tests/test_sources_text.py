"""The text and JSON source parsers: Hugging Face daily papers, JSON Lines, CSV, BibTeX and page captures.

Inputs under tests/data/{hf,jsonl,csv,captures} are real files copied from /work/shared/data (see
tests/data/README_text_sources.md). Two were built by hand because no real file of that shape exists:
tests/data/bibtex/library.bib (real papers' metadata; its first comment says so) and
tests/data/captures/topic-page_shape3_fixture.txt, built from the documented third capture shape
(topic line, then title / ``Last, First`` author line / abstract blocks) out of items of the two real captures.
Small malformed inputs are written inline in the tests that need them.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import pytest

from golden import assert_golden
from paperfeed.prepare import prepare
from paperfeed.records import ParseContext, ParseError
from paperfeed.sources import bibtex, capture, csv_table, detect_format, hf_daily, jsonl

DATA = Path(__file__).parent / "data"
HF = DATA / "hf"
JSONL = DATA / "jsonl"
CSV = DATA / "csv"
CAPTURES = DATA / "captures"
BIB = DATA / "bibtex" / "library.bib"

KAGGLE = JSONL / "arxiv-metadata-oai-snapshot.head200.json"
LISTING = JSONL / "2026-02-27.jsonl"
TOPIC_PAGE = CAPTURES / "topic-page_large-language-model.txt"
DAILY_PAGE = CAPTURES / "daily-papers-page.txt"
SHAPE3 = CAPTURES / "topic-page_shape3_fixture.txt"
SHAPE3_NO_BLANKS = CAPTURES / "topic-page_shape3_no-blank-lines.txt"


def parse(module, path: Path, **context) -> list:
    """Parse one file with one module and return all its records."""
    return list(module.parse(path.read_bytes(), ParseContext(str(path), **context)))


def parse_bytes(module, data: bytes, name: str, **context) -> list:
    """Parse inline bytes as if they came from a file called ``name``."""
    return list(module.parse(data, ParseContext(name, **context)))


def by_id(records) -> dict:
    """Records keyed by record_id."""
    return {record.record_id: record for record in records}


# --- golden files: written with PAPERFEED_UPDATE_GOLDEN=1 and read by eye against the input -----------

def _dblp_sample(records):
    """The first rows, plus rows with U+FFFD (lost accents upstream) in names and title."""
    keep = {"conf/vldb/ZhouS03", "journals/sigmod/Jonsson03"}
    return records[:12] + [r for r in records[12:] if r.record_id in keep]


def _acm_sample(records):
    """The first rows, plus rows with HTML entities and a mangled ``&;``."""
    keep = {"191844", "637418", "673320", "767145"}
    return records[:12] + [r for r in records[12:] if r.record_id in keep]


GOLDEN_CASES = [
    (hf_daily, HF / "2024-05-27.json", "hf_daily_2024-05-27", None),
    (hf_daily, HF / "2024-12-11.json", "hf_daily_2024-12-11_repr_strings", lambda rs: rs[:8]),
    (hf_daily, HF / "2025-01-10.json", "hf_daily_2025-01-10_wrapper", None),
    (jsonl, KAGGLE, "jsonl_kaggle_head", lambda rs: rs[:25]),
    (jsonl, LISTING, "jsonl_listing_2026-02-27", lambda rs: rs[:20]),
    (csv_table, CSV / "DBLP2.csv", "csv_dblp", _dblp_sample),
    (csv_table, CSV / "ACM.csv", "csv_acm", _acm_sample),
    (bibtex, BIB, "bibtex_library", None),
    (capture, TOPIC_PAGE, "capture_topic_page", None),
    (capture, DAILY_PAGE, "capture_daily_page", lambda rs: rs[:12]),
    (capture, SHAPE3, "capture_shape3_fixture", None),
    (capture, SHAPE3_NO_BLANKS, "capture_shape3_no_blank_lines", None),
]


@pytest.mark.parametrize("module, path, golden, sample", GOLDEN_CASES, ids=[case[2] for case in GOLDEN_CASES])
def test_golden(module, path, golden, sample):
    records = parse(module, path)
    assert_golden(sample(records) if sample else records, golden)


# --- sniffing: each real file is detected as its format, among all format modules -----------------

SNIFF_CASES = [
    (HF / "2024-05-27.json", "hf-daily"),
    (HF / "2024-12-11.json", "hf-daily"),
    (HF / "2025-01-10.json", "hf-daily"),
    (KAGGLE, "jsonl"),
    (LISTING, "jsonl"),
    (CSV / "DBLP2.csv", "csv"),
    (CSV / "ACM.csv", "csv"),
    (BIB, "bibtex"),
    (TOPIC_PAGE, "capture"),
    (DAILY_PAGE, "capture"),
    (SHAPE3, "capture"),
    (SHAPE3_NO_BLANKS, "capture"),
]


@pytest.mark.parametrize("path, expected", SNIFF_CASES, ids=[case[0].name for case in SNIFF_CASES])
def test_detect_format(path, expected):
    assert detect_format(path.read_bytes(), path.name).FORMAT == expected


def test_sniff_by_content_without_telling_names():
    assert jsonl.sniff(KAGGLE.read_bytes()[:8192], "snapshot.json")
    assert hf_daily.sniff((HF / "2025-01-10.json").read_bytes()[:8192], "response")
    assert not hf_daily.sniff(LISTING.read_bytes()[:8192], "listing")
    assert not jsonl.sniff((HF / "2024-05-27.json").read_bytes()[:8192], "day.json")
    assert csv_table.sniff((CSV / "ACM.csv").read_bytes()[:8192], "export")
    assert bibtex.sniff(BIB.read_bytes()[:8192], "library")
    assert not capture.sniff(TOPIC_PAGE.read_bytes()[:8192], "page.html")  # .txt names only


# --- Hugging Face daily papers ------------------------------------------------------------------

def test_hf_counts_and_fields():
    records = parse(hf_daily, HF / "2024-05-27.json")
    assert len(records) == 13
    first = records[0]
    assert first.record_id == first.arxiv_id == "2405.15738"
    assert first.title == "ConvLLaVA: Hierarchical Backbones as Visual Encoder for Large Multimodal Models"
    assert first.authors[:2] == ["Chunjiang Ge", "Sijie Cheng"]
    assert first.url == "https://huggingface.co/papers/2405.15738"
    assert first.label == "Hugging Face Daily Papers"
    assert first.extra["upvotes"] == 32
    assert first.extra["num_comments"] == 3
    # Items of 2024 have no submittedOnDailyAt: the picked date comes from the file name.
    assert {r.extra["picked_date"] for r in records} == {"2024-05-27"}
    assert all(isinstance(r.extra["upvotes"], int) for r in records)


def test_hf_title_keeps_paper_title_without_arxiv_line_breaks():
    records = by_id(parse(hf_daily, HF / "2024-05-27.json"))
    # paper.title has "with\n  AIEV-Instruct"; the item title has \textsc{...}: the paper title wins, cleaned.
    autocoder = next(r for r in records.values() if r.title.startswith("AutoCoder"))
    assert autocoder.title == "AutoCoder: Enhancing Code Large Language Model with AIEV-Instruct"


def test_hf_repr_string_day():
    path = HF / "2024-12-11.json"
    records = parse(hf_daily, path)
    assert len(records) == 26  # of the 291 repr-string items in 21 files (README), this day has 26
    raw_elements = __import__("json").loads(path.read_bytes())
    assert records[0].raw == raw_elements[0]  # the string itself, as received
    assert records[0].raw.startswith("{'paper': {'id': '2412.07730'")
    assert records[0].record_id == "2412.07730"
    assert records[0].authors[:2] == ["Zongyu Lin", "Wei Liu"]


def test_hf_wrapper_day():
    records = parse(hf_daily, HF / "2025-01-10.json")
    assert len(records) == 9  # "count": 9
    assert records[0].record_id == "2501.05441"
    assert {r.extra["picked_date"] for r in records} == {"2025-01-10"}


def test_hf_label_override_and_date_hint():
    records = parse(hf_daily, HF / "2024-05-27.json", label="HF picks")
    assert {r.label for r in records} == {"HF picks"}
    renamed = parse_bytes(hf_daily, (HF / "2024-05-27.json").read_bytes(), "day.json", date_hint="2024-05-28")
    assert {r.extra["picked_date"] for r in renamed} == {"2024-05-28"}


def test_hf_newer_schema_fields():
    item = {
        "paper": {"id": "2602.23152", "title": "The Trinity of Consistency", "summary": "S.",
                  "authors": [{"name": "Jingxuan Wei"}, {"name": " "}, {"_id": "x"}],
                  "publishedAt": "2026-02-26T16:15:55.000Z", "submittedOnDailyAt": "2026-02-27T00:24:05.560Z",
                  "upvotes": 66, "githubRepo": "https://github.com/openraiser/awesome-world-model-evolution",
                  "githubStars": 10, "ai_keywords": ["World Models"], "projectPage": "https://example.org/p"},
        "numComments": 2, "submittedBy": {"name": "chengtan9907", "fullname": "Cheng Tan"},
        "organization": {"name": "opendatalab", "fullname": "OpenDataLab"},
    }
    [record] = parse_bytes(hf_daily, __import__("json").dumps([item]).encode(), "2026-02-27.json")
    assert record.authors == ["Jingxuan Wei"]  # nameless authors skipped
    assert record.published == "2026-02-26"
    assert record.extra == {
        "upvotes": 66, "picked_date": "2026-02-27", "ai_keywords": ["World Models"],
        "github_repo": "https://github.com/openraiser/awesome-world-model-evolution", "github_stars": 10,
        "project_page": "https://example.org/p", "num_comments": 2, "submitted_by": "chengtan9907",
        "organization": "opendatalab",
    }


def test_hf_item_without_paper_id_fails_with_its_place():
    good = {"paper": {"id": "2405.15738", "title": "T"}}
    bad = {"paper": {"title": "No id here"}}
    data = __import__("json").dumps([good, bad]).encode()
    with pytest.raises(ParseError) as caught:
        parse_bytes(hf_daily, data, "2024-05-27.json")
    assert caught.value.place == "item 2"
    assert "paper id" in caught.value.message


def test_hf_not_json():
    with pytest.raises(ParseError) as caught:
        parse_bytes(hf_daily, b'[{"paper": {"id": "1"}, ', "2024-05-27.json")
    assert caught.value.place.startswith("line 1")


# --- JSON Lines -----------------------------------------------------------------------------------

def test_kaggle_snapshot():
    records = parse(jsonl, KAGGLE)
    assert len(records) == 200
    assert records[0].record_id == "0704.0001" and records[-1].record_id == "0704.0200"
    first = records[0]
    assert first.authors == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan"]  # Bal\'azs decoded
    assert first.published == "2007-04-02"  # first version, RFC 822 "Mon, 2 Apr 2007 19:18:42 GMT"
    assert first.updated == "2008-11-26"
    assert first.doi == "10.1103/physrevd.76.013009"
    assert first.extra["journal_ref"] == "Phys.Rev.D76:013009,2007"
    assert first.label == "arXiv metadata snapshot"
    assert first.title == "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    # README: 78 with more than one category, 117 with a DOI, 109 with a journal-ref.
    assert sum(len(r.categories) > 1 for r in records) == 78
    assert sum(r.doi is not None for r in records) == 117
    assert sum("journal_ref" in r.extra for r in records) == 109
    assert by_id(records)["0704.0002"].categories == ["math.CO", "cs.CG"]
    assert first.raw == KAGGLE.read_text(encoding="utf-8").split("\n")[0]


def test_kaggle_latex_accents_and_suffixes_in_parsed_names():
    records = by_id(parse(jsonl, KAGGLE))
    assert records["0704.0163"].authors == ["Peter Brommer", "Franz Gähler"]  # G\"ahler in "authors"
    assert records["0704.0009"].authors[-2] == "Neal J. Evans II"
    assert records["0704.0155"].authors[0] == "Floris van der Tak"


def test_kaggle_parsed_names_with_latex_left_in_them():
    line = ('{"id":"0704.9999","title":"T","authors":"K. G\\\\\\"odel","abstract":"",'
            '"versions":[{"version":"v1","created":"Mon, 2 Apr 2007 19:18:42 GMT"}],"update_date":"2007-04-03",'
            '"authors_parsed":[["G\\\\\\"odel","K.",""]],"categories":"math.LO"}\n')
    [record] = parse_bytes(jsonl, line.encode(), "snapshot.json")
    assert record.authors == ["K. Gödel"]


@pytest.mark.parametrize("created", [
    "Mon, 2 Apr 2007 19:18:42 GMT", "Sat, 29 Feb 2020 23:59:59 GMT", "Tue, 01 Jan 1991 00:00:00 GMT",
    # Not arXiv's shape, or no real moment: each goes to the general parser, whatever that says of it.
    "Mon, 30 Feb 2007 10:00:00 GMT", "Mon, 2 Apr 2007 24:00:00 GMT", "Mon, 2 Apr 2007 23:59:60 GMT",
    "mon, 2 apr 2007 10:00:00 GMT", "Mon, 2 Apr 2007 22:30:00 -0500", "Mon, 2 Apr 0000 10:00:00 GMT",
    "Mon, 2 Apr 2007 10:00:00 GMT\n", "2007-04-02T23:30:00-02:00", "", None, 20070402])
def test_kaggle_version_dates_read_directly_equal_the_general_parser(created):
    from paperfeed.normalize import to_utc_date

    expected = to_utc_date(created) if isinstance(created, str) or created is None else None
    line = json.dumps({"id": "0704.9999", "title": "T", "authors": "A. B", "abstract": "", "update_date": "2007-04-03",
                       "versions": [{"version": "v1", "created": created}], "categories": "math.LO"})
    if not isinstance(created, (str, type(None))):
        with pytest.raises(ParseError):  # a number is no date: the general parser's complaint, with the line
            parse_bytes(jsonl, line.encode(), "snapshot.json")
        return
    [record] = parse_bytes(jsonl, line.encode(), "snapshot.json")
    assert record.published == expected


def test_kaggle_version_dates_of_the_real_head_equal_the_general_parser():
    from paperfeed.normalize import to_utc_date

    lines = KAGGLE.read_text(encoding="utf-8").splitlines()
    records = parse(jsonl, KAGGLE)
    assert [r.published for r in records] == [to_utc_date(json.loads(line)["versions"][0]["created"])
                                               for line in lines]
    assert len({r.published for r in records}) > 1


def test_listing_file():
    records = parse(jsonl, LISTING)
    assert len(records) == 300  # the first 300 of the day's 327 lines
    first = records[0]
    assert first.record_id == first.arxiv_id == "2602.22639"
    assert first.categories == ["cs.CV", "math.NA", "math.OC"]  # primary first, as listed
    assert first.published == first.extra["listing_date"] == "2026-02-27"  # from the file name
    assert first.label == "arXiv listing"
    assert first.url == "https://arxiv.org/abs/2602.22639"
    assert first.extra["comment"] == "30 pages, accepted to CVPR 2026"
    assert "\n" not in records[1].abstract
    assert all(r.categories and "." in r.categories[0] for r in records)


def test_listing_date_hint_wins_over_name_and_no_date_without_either():
    data = LISTING.read_bytes()[:20000].rsplit(b"\n", 1)[0]
    hinted = parse_bytes(jsonl, data, "dump.jsonl", date_hint="2026-03-02")
    assert {r.published for r in hinted} == {"2026-03-02"}
    undated = parse_bytes(jsonl, data, "dump.jsonl")
    assert {r.published for r in undated} == {None}
    assert all("listing_date" not in r.extra for r in undated)


def test_listing_acm_and_msc_classes_are_not_categories():
    line = ('{"id": "2506.00001", "categories": ["cs.CL", "I.2.7", "cs.AI", "68T50"], "pdf": "p", '
            '"abs": "https://arxiv.org/abs/2506.00001", "authors": ["A B"], "title": "T", "comment": null, '
            '"summary": "S"}\n')
    [record] = parse_bytes(jsonl, line.encode(), "2025-06-02.jsonl")
    assert record.categories == ["cs.CL", "cs.AI"]
    assert record.extra["classes"] == ["I.2.7", "68T50"]


def test_a_repeated_listing_line_is_the_same_record_and_a_changed_one_is_parsed_again():
    """A listing names a cross-listed paper again with the same line: it is not built twice, and prepares the same
    (its fingerprint makes it "unchanged" at ingest). A line with the same id but other text is a record of its own;
    a generic producer's records are never reused (one without an id is named by its line number)."""
    lines = LISTING.read_bytes().split(b"\n")[:5]
    changed = lines[1].replace(b'"summary": "', b'"summary": "Revised. ', 1)
    assert changed != lines[1]
    data = b"\n".join([*lines, lines[1], changed, lines[3]])
    records = parse_bytes(jsonl, data, "2026-02-27.jsonl")
    assert len(records) == 8
    assert records[5] is records[1] and records[7] is records[3]
    assert records[6].record_id == records[1].record_id and records[6].abstract.startswith("Revised. ")
    prepared = list(prepare(iter(records), "2026-02-27.jsonl"))
    assert prepared[5].fingerprint == prepared[1].fingerprint != prepared[6].fingerprint
    fresh = parse_bytes(jsonl, b"\n".join(lines[:2]), "2026-02-27.jsonl")  # no earlier line to reuse
    assert fresh[1] is not records[1] and fresh[1] == records[5]
    generic = parse_bytes(jsonl, b'{"id": "", "title": "T"}\n{"id": "", "title": "T"}', "mine.jsonl")
    assert [r.record_id for r in generic] == ["line 1", "line 2"]


def test_generic_jsonl_producer():
    lines = [
        '{"title": "Attention Is All You Need", "abstract": "The dominant...", '
        '"authors": ["Ashish Vaswani", "Noam Shazeer"], "arxiv_id": "1706.03762v5", "date": "2017-06-12"}',
        "",
        '{"title": "BERT", "summary": "x", "authors": "Devlin, Jacob and Chang, Ming-Wei", '
        '"doi": "https://doi.org/10.18653/v1/N19-1423", "year": 2019}',
    ]
    first, second = parse_bytes(jsonl, "\r\n".join(lines).encode(), "mine.jsonl")
    assert first.record_id == "1706.03762v5" and first.arxiv_id == "1706.03762"
    assert first.published == "2017-06-12" and first.year == 2017
    assert first.raw == lines[0]  # the line as is, without its CRLF
    assert second.record_id == "line 3"
    assert second.authors == ["Jacob Devlin", "Ming-Wei Chang"]
    assert second.doi == "10.18653/v1/n19-1423"
    assert second.year == 2019 and second.published is None


def test_jsonl_broken_line_3():
    data = LISTING.read_bytes().split(b"\n")
    data[2] = data[2][:50]  # cut line 3 short
    with pytest.raises(ParseError) as caught:
        parse_bytes(jsonl, b"\n".join(data[:5]), "2026-02-27.jsonl")
    assert caught.value.place == "line 3"
    assert "not JSON" in caught.value.message


def test_jsonl_line_without_title():
    data = b'{"id": "1", "title": "A"}\n{"id": "2", "title": "  "}\n'
    with pytest.raises(ParseError) as caught:
        parse_bytes(jsonl, data, "x.jsonl")
    assert caught.value.place == "line 2" and caught.value.message == "no title"


def test_jsonl_latin1_bytes_name_the_byte():
    data = '{"title": "Caf\u00e9"}\n'.encode("latin-1")
    with pytest.raises(ParseError) as caught:
        parse_bytes(jsonl, data, "x.jsonl")
    assert caught.value.place == "byte 14"
    assert "0xe9" in caught.value.message


def test_jsonl_wrong_field_shape_is_a_parse_error():
    data = b'{"id": "1", "categories": ["cs.AI"], "abs": "a", "summary": "s", "title": "T", "authors": 5}\n'
    with pytest.raises(ParseError) as caught:
        parse_bytes(jsonl, data, "x.jsonl")
    assert caught.value.place == "line 1"



# Found by tests/test_parsers_fuzz.py: an "id" that is not text reached the fingerprint (AttributeError in
# prepare, a traceback); a listing's "authors" or "categories" string was read letter by letter.
@pytest.mark.parametrize("source", [LISTING, KAGGLE], ids=["listing", "kaggle"])
@pytest.mark.parametrize("value", [None, {}, [], "", " ", True, {"a": 1}, ["2401.01234"]])
def test_jsonl_an_id_that_is_not_text_fails_its_line(source, value):
    lines = source.read_bytes().split(b"\n")
    record = json.loads(lines[1])
    record["id"] = value
    data = b"\n".join([lines[0], json.dumps(record).encode(), lines[2]])
    with pytest.raises(ParseError) as caught:
        list(prepare(jsonl.parse(data, ParseContext(source.name)), source.name))
    assert caught.value.place == "line 2" and '"id" field' in caught.value.message


def test_jsonl_a_numeric_id_is_written_out():
    record = json.loads(LISTING.read_bytes().split(b"\n")[0])
    record["id"] = 240101234
    (parsed,) = parse_bytes(jsonl, json.dumps(record).encode() + b"\n", "2026-02-27.jsonl")
    assert parsed.record_id == "240101234"


@pytest.mark.parametrize("field", ["authors", "categories"])
def test_jsonl_listing_authors_or_categories_as_one_string_fail_the_line(field):
    lines = LISTING.read_bytes().split(b"\n")
    record = json.loads(lines[1])
    record[field] = "Ann Lee and Bob Ray"
    data = b"\n".join([lines[0], json.dumps(record).encode()])
    with pytest.raises(ParseError) as caught:
        parse_bytes(jsonl, data, "2026-02-27.jsonl")
    assert caught.value.place == "line 2" and f'"{field}" field is not a list of strings' in caught.value.message



def test_bibtex_a_huge_field_of_latex_macros_parses_in_seconds():
    # Found by tests/test_parsers_fuzz.py: pylatexenc takes 10 to 50 µs a character, so one 1,200,000-character
    # title of accents took over ten seconds to parse (and a record that size is refused by max_title_chars
    # afterwards anyway). Text over normalize.LATEX_MAX_CHARS keeps its macros.
    macros = "\\'e " * 300_000
    data = f"@article{{huge,\n  title = {{{macros}}},\n  author = {{Lee, Ann}},\n  year = 2020\n}}\n".encode()
    started = time.perf_counter()
    (record,) = parse_bytes(bibtex, data, "library.bib")
    assert time.perf_counter() - started < 5
    assert record.title.startswith("\\'e \\'e") and record.authors == ["Ann Lee"]


# --- CSV ------------------------------------------------------------------------------------------

def test_dblp_and_acm_tables():
    dblp = parse(csv_table, CSV / "DBLP2.csv")
    acm = parse(csv_table, CSV / "ACM.csv")
    assert len(dblp) == 2616 and len(acm) == 2294
    first = dblp[0]
    assert first.record_id == "journals/sigmod/Mackay99"
    assert first.year == 1999 and first.published is None
    assert first.extra["venue"] == "SIGMOD Record"
    assert first.label == "DBLP2.csv"
    assert first.raw == ('"journals/sigmod/Mackay99","Semantic Integration of Environmental Models for Application to '
                         'Global Information Systems and Decision-Making","D. Scott Mackay","SIGMOD Record",1999')
    assert dblp[1].authors == ["Viswanath Poosala", "Yannis E. Ioannidis"]
    assert acm[0].record_id == "304586"


def test_csv_ids_match_the_gold_mapping():
    dblp_ids = {r.record_id for r in parse(csv_table, CSV / "DBLP2.csv")}
    acm_ids = {r.record_id for r in parse(csv_table, CSV / "ACM.csv")}
    with open(CSV / "DBLP-ACM_perfectMapping.csv", newline="", encoding="utf-8") as handle:
        pairs = list(csv.DictReader(handle))
    assert len(pairs) == 2224
    assert all(pair["idDBLP"] in dblp_ids and pair["idACM"] in acm_ids for pair in pairs)


def test_acm_html_entities_decoded():
    records = by_id(parse(csv_table, CSV / "ACM.csv"))
    assert records["191844"].authors == ["Daniel Barbará", "Tomasz Imieliński"]
    assert records["637418"].title.startswith("The ρ operator")
    assert records["673320"].title == "Effective & Efficient Document Ranking without using a Large Lexicon"
    assert records["767145"].extra["venue"] == (
        "The VLDB Journal — The International Journal on Very Large Data Bases")


def test_csv_without_title_column():
    with pytest.raises(ParseError) as caught:
        parse(csv_table, CSV / "DBLP-ACM_perfectMapping.csv")
    assert caught.value.place == "line 1"
    assert caught.value.message == "no title column; columns are: idDBLP, idACM"


def test_csv_ragged_row():
    data = b'"id","title","authors","venue","year"\r\n1,"A","B","V",2000\r\n2,"T","B",2001\r\n'
    with pytest.raises(ParseError) as caught:
        parse_bytes(csv_table, data, "t.csv")
    assert caught.value.place == "line 3"
    assert "4 fields" in caught.value.message


def test_csv_latin1_bytes_are_an_error_not_a_guess():
    data = 'id,title\n1,Caf\u00e9\n'.encode("latin-1")
    with pytest.raises(ParseError) as caught:
        parse_bytes(csv_table, data, "t.csv")
    assert caught.value.place == "byte 14" and "0xe9" in caught.value.message


def test_csv_without_id_column_numbers_rows():
    data = "Title,Author,Journal,Year,DOI\nA paper,\"Ada Lovelace, Charles Babbage\",Nature,1843,10.1000/XYZ123\n"
    [record] = parse_bytes(csv_table, data.encode(), "mine.csv")
    assert record.record_id == "row 1"
    assert record.authors == ["Ada Lovelace", "Charles Babbage"]
    assert record.extra == {"venue": "Nature"} and record.year == 1843 and record.doi == "10.1000/xyz123"


# --- BibTeX ---------------------------------------------------------------------------------------

def test_bibtex_library():
    records = by_id(parse(bibtex, BIB))
    assert list(records) == ["vaswani2017attention", "godel1931", "devlin2019bert", "brown2020language",
                             "he2015resnet", "maldacena1998", "openai2023gpt4"]
    attention = records["vaswani2017attention"]
    assert attention.title == "Attention Is All You Need"
    assert attention.arxiv_id == "1706.03762"  # from the arxiv.org URL
    assert attention.authors[-2:] == ["Łukasz Kaiser", "Illia Polosukhin"]
    assert attention.extra["venue"] == "Advances in Neural Information Processing Systems"  # @string resolved
    assert attention.extra["tags"] == ["Computer Science - Computation and Language",
                                       "Computer Science - Machine Learning", "transformers"]
    godel = records["godel1931"]
    assert godel.authors == ["Kurt Gödel"]
    assert godel.title.startswith("Über formal unentscheidbare Sätze")
    assert godel.doi == "10.1007/bf01700692" and godel.year == 1931
    assert godel.extra["tags"] == ["logic", "incompleteness"]
    assert records["devlin2019bert"].arxiv_id == "1810.04805"  # eprint + archivePrefix
    assert records["devlin2019bert"].extra["tags"] == ["nlp", "pretraining"]  # mendeley-tags
    assert records["brown2020language"].arxiv_id == "2005.14165"  # arXiv DOI
    assert records["brown2020language"].authors[-1] == "Melanie Subbiah"  # "and others" dropped
    assert records["he2015resnet"].published == "2015-12-10"
    assert records["he2015resnet"].arxiv_id == "1512.03385"
    assert records["maldacena1998"].arxiv_id == "hep-th/9711200"
    assert records["maldacena1998"].authors == ["Juan Martín Maldacena"]
    assert records["openai2023gpt4"].authors == ["OpenAI"]
    assert attention.raw.startswith("@inproceedings{vaswani2017attention,")


def test_bibtex_malformed_entry_names_its_line():
    data = b"@article{ok, title={Fine}, year=2020}\n\n@article{broken,\n  title = {Unclosed\n  year = 2021,\n}\n"
    with pytest.raises(ParseError) as caught:
        parse_bytes(bibtex, data, "lib.bib")
    assert caught.value.place == "line 3"
    assert caught.value.message.startswith("malformed BibTeX block")


def test_bibtex_duplicate_key_fails():
    data = b"@article{a, title={One}}\n@article{a, title={Two}}\n"
    with pytest.raises(ParseError) as caught:
        parse_bytes(bibtex, data, "lib.bib")
    assert caught.value.place == "line 2" and "Duplicate" in caught.value.message


# --- captures -------------------------------------------------------------------------------------

def test_topic_page():
    records = parse(capture, TOPIC_PAGE)
    assert len(records) == 10
    assert [r.kind for r in records].count("paper") == 8
    news = [r for r in records if r.kind == "news"]
    assert [r.label for r in news] == ["The Atlantic - Technology", "The Guardian"]
    assert {r.label for r in records if r.kind == "paper"} == {"arXiv.org Machine Learning"}
    assert all(r.topics == [("Large Language Model", 1.0)] for r in records)  # NBSP before the name removed
    assert all(r.record_id.startswith("capture:") and r.authors == [] and r.published is None for r in records)
    assert records[0].title == ("Scalable Variational Bayesian Fine-Tuning of LLMs via Orthogonalized "
                                "Low-Rank Adapters")
    title_line, blank, label_line = records[0].raw.split("\n")[:3]  # raw is the block as it stands in the file
    assert (title_line, blank, label_line) == (records[0].title, "", "arXiv.org Machine Learning")


def test_daily_page_has_no_invented_year():
    context = ParseContext(str(DAILY_PAGE))  # no date in the name, no modification time: nothing tells the year
    records = list(capture.parse(DAILY_PAGE.read_bytes(), context))
    assert len(records) == 97
    assert all(r.kind == "paper" and r.label == "Daily Papers" for r in records)
    assert all(r.published is None and r.year is None for r in records)
    assert [r.extra for r in records[:2]] == [{"page_date": "Jul 30", "page_rank": 1}, {"page_date": "Jul 30", "page_rank": 2}]
    assert [r.extra["page_rank"] for r in records] == list(range(1, 98))  # the page's order is its ranking
    assert records[0].title == "Offline Planning and Online Learning under Recovering Rewards"
    assert len({r.record_id for r in records}) == 97
    (note,) = context.notes  # the ingest summary says so
    assert "'Jul 30' has no year" in note and "97 papers are stored without a day" in note


@pytest.mark.parametrize("context, day", [
    ({"date_hint": "2024-08-01"}, "2024-07-30"),  # the capture day in the name: that year's Jul 30
    ({"date_hint": "2024-07-30"}, "2024-07-30"),  # captured on the day itself
    ({"date_hint": "2025-07-01"}, "2024-07-30"),  # captured before this year's Jul 30: last year's
    ({"modified": "2026-12-04"}, "2026-07-30"),  # no date in the name: the file's modification day
    ({"modified": "2026-03-01"}, "2025-07-30"),
    ({"date_hint": "2025-08-02", "modified": "2026-12-04"}, "2025-07-30"),  # the name outranks a later copy
], ids=["hint", "same-day", "hint-before", "mtime", "mtime-before", "hint-over-mtime"])
def test_daily_page_day_is_the_latest_not_after_the_capture(context, day):
    records = parse_bytes(capture, DAILY_PAGE.read_bytes(), "daily-papers-page.txt", **context)
    assert {r.extra["picked_date"] for r in records} == {day}
    assert all(r.published is None for r in records)  # the list's day, not the papers' own dates


def test_daily_page_year_from_the_name_or_the_header():
    data = DAILY_PAGE.read_bytes()
    named = parse_bytes(capture, data, "daily-papers-2025.txt", modified="2026-12-04")
    assert {r.extra["picked_date"] for r in named} == {"2025-07-30"}
    header = data.replace(b"\nJul 30\n", b"\nJul 30, 2023\n", 1)
    dated = parse_bytes(capture, header, "daily-papers-page.txt", modified="2026-12-04")
    assert {r.extra["picked_date"] for r in dated} == {"2023-07-30"}
    leap = data.replace(b"\nJul 30\n", b"\nFeb 29\n", 1)
    assert {r.extra["picked_date"] for r in parse_bytes(capture, leap, "p.txt", modified="2026-12-04")} == {"2024-02-29"}


def test_shape3_capture_with_author_lines():
    records = parse(capture, SHAPE3)
    assert [len(r.authors) for r in records] == [3, 0, 8, 5, 0]
    assert records[0].authors == ["Haotian Xiang", "Bingcong Li", "Qin Lu"]  # the README's example line
    assert records[2].authors[1] == "Eyal Ben David"
    assert records[3].authors[:4] == ["Daniel D'souza", "Julia Kreutzer", "Adrien Morisot", "Ahmet Üstün"]
    assert [r.kind for r in records] == ["paper", "news", "paper", "paper", "news"]
    assert all(r.topics == [("Large Language Model", 1.0)] and r.label == "Large Language Model" for r in records)


def test_shape3_without_blank_lines_reads_blocks_of_two_or_three_lines():
    records = parse(capture, SHAPE3_NO_BLANKS)
    topic_page = parse(capture, TOPIC_PAGE)
    assert SHAPE3_NO_BLANKS.read_text(encoding="utf-8").count("\n\n") == 0
    # Derived from the real topic page: the same titles and abstracts, in the page's order.
    order = {r.title: index for index, r in enumerate(topic_page)}
    assert [order[r.title] for r in records] == sorted(order[r.title] for r in records)
    assert [r.abstract for r in records] == [next(t.abstract for t in topic_page if t.title == r.title) for r in records]
    assert [r.kind for r in records] == ["paper", "news", "paper", "paper", "news", "paper"]
    assert [len(r.authors) for r in records] == [3, 0, 10, 1, 0, 6]
    assert records[0].authors == ["Haotian Xiang", "Bingcong Li", "Qin Lu"]
    assert records[5].authors[0] == "Jelena Markovic-Voronov"
    assert [r.extra["page_rank"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert all(r.topics == [("Large Language Model", 1.0)] for r in records)
    assert records[1].raw == "\n".join(SHAPE3_NO_BLANKS.read_text(encoding="utf-8").split("\n")[4:6])


def _no_blank_variant(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def test_shape3_without_blank_lines_variants():
    lines = SHAPE3_NO_BLANKS.read_text(encoding="utf-8").split("\n")[:-1]
    # Drop every author line: each item becomes a two-line block (and, with no authors, reads as news).
    bare = [lines[0]] + [line for line in lines[1:] if not capture._author_line(line)]
    records = parse_bytes(capture, _no_blank_variant(bare), "bare.txt")
    assert [r.title for r in records] == [r.title for r in parse(capture, SHAPE3_NO_BLANKS)]
    assert all(r.authors == [] and r.kind == "news" for r in records)
    # Windows line ends, no final newline, authors on only the first item.
    crlf = "\r\n".join([lines[0], *lines[1:4], *bare[3:]]).encode()
    records = parse_bytes(capture, crlf, "crlf.txt")
    assert [len(r.authors) for r in records] == [3, 0, 0, 0, 0, 0]
    assert [r.extra["page_rank"] for r in records] == list(range(1, 7))
    # The real topic page with its blank lines and header removed: source labels as the middle lines.
    real = [line.strip() for line in TOPIC_PAGE.read_text(encoding="utf-8").split("\n") if line.strip()][2:]
    records = parse_bytes(capture, _no_blank_variant(real), "labels.txt")
    assert [(r.title, r.label, r.kind) for r in records] == [(r.title, r.label, r.kind) for r in parse(capture, TOPIC_PAGE)]


def test_shape3_without_blank_lines_refuses_what_is_no_item():
    lines = SHAPE3_NO_BLANKS.read_text(encoding="utf-8").split("\n")[:-1]
    with pytest.raises(ParseError) as caught:
        parse_bytes(capture, _no_blank_variant(lines[:-1]), "cut.txt")  # the last abstract is missing
    assert caught.value.message.startswith("not a recognised capture")
    assert caught.value.place == f"line {len(lines) - 1}" and "author line with no abstract" in caught.value.message


def test_same_item_in_two_captures_has_one_record_id():
    topic = by_id(parse(capture, TOPIC_PAGE))
    shape3 = by_id(parse(capture, SHAPE3))
    daily = by_id(parse(capture, DAILY_PAGE))
    assert len(set(topic) & set(shape3)) == 3  # two arXiv items and one news item, with and without authors
    assert len(set(daily) & set(shape3)) == 2
    assert set(by_id(parse(capture, SHAPE3_NO_BLANKS))) <= set(topic)
    assert capture.capture_id("$VILA^2$: VILA Augmented VILA") == capture.capture_id("VILA^2: VILA Augmented VILA")



def test_capture_garbage_txt():
    garbage = b"shopping list\n\neggs\n\nmilk\n\nbread\n"
    with pytest.raises(ParseError) as caught:
        parse_bytes(capture, garbage, "notes.txt")
    assert caught.value.message.startswith("not a recognised capture")
    assert caught.value.place == "line 7"  # "bread" is no abstract
    header_then_garbage = "Goto\n\nCollaborating Authors\n\n\u00a0Topic\n\n\nA title\n\nshort\n".encode()
    with pytest.raises(ParseError) as caught:
        parse_bytes(capture, header_then_garbage, "page.txt")
    assert caught.value.place == "line 10"


def test_capture_daily_page_with_a_line_missing():
    lines = DAILY_PAGE.read_text(encoding="utf-8").split("\n")
    del lines[12]  # the first abstract: titles and abstracts no longer pair up
    with pytest.raises(ParseError) as caught:
        parse_bytes(capture, "\n".join(lines).encode(), "daily-papers-page.txt")
    assert caught.value.message.startswith("not a recognised capture")


def test_control_characters_are_dropped_from_every_text_at_parse_time():
    # A NUL or \x01 cannot be written into an Atom feed (nor NUL into PostgreSQL text): parsing drops them,
    # and the control characters that are whitespace to Python separate words like a space.
    data = (b'id,title,authors,abstract,venue\n'
            b'1,"Nul\x00 in \x01a title\x7f","Ada\x02 Lovelace","An\x0cabstract\x1f with \x08debris","V\x03"\n')
    (record,) = parse_bytes(csv_table, data, "t.csv")
    assert (record.title, record.authors, record.abstract) == (
        "Nul in a title", ["Ada Lovelace"], "An abstract with debris")
    assert record.extra == {"venue": "V"}
    line = '{"id": "2401.00001", "title": "JSON\\u0001 title\\u001b", "summary": "S\\u0000um", "authors": []}\n'
    (record,) = parse_bytes(jsonl, line.encode(), "t.jsonl")
    assert (record.title, record.abstract) == ("JSON title", "Sum")
