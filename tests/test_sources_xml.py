"""The XML source parsers: arXiv API Atom, arXiv OAI-PMH, arXiv RSS and news feeds.

Inputs under tests/data/arxiv_api, tests/data/oai and tests/data/news are real responses copied from
/work/shared/data (see the README beside them). Files named *_fixture.* were built by hand from the
documented formats, because no real file of that shape was available; their first comment says so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from golden import assert_golden
from paperfeed.records import ParseContext, ParseError
from paperfeed.sources import arxiv_atom, arxiv_oai, arxiv_rss, news_feed

DATA = Path(__file__).parent / "data"
API = DATA / "arxiv_api"
OAI = DATA / "oai"
RSS = DATA / "arxiv_rss"
NEWS = DATA / "news"
# What the OAI fixtures' root declares, and a record's raw therefore carries in its start tag.
ROOT_DECLARATIONS = (' xmlns="http://www.openarchives.org/OAI/2.0/"'
                     ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"')

# The order paperfeed.sources sniffs these four in: specific before generic.
MY_MODULES = (arxiv_atom, arxiv_oai, arxiv_rss, news_feed)


def parse(module, path: Path, label: str | None = None) -> list:
    """Parse one file with one module and return all its records."""
    return list(module.parse(path.read_bytes(), ParseContext(str(path), label=label)))


def by_id(records) -> dict:
    """Records keyed by record_id."""
    return {record.record_id: record for record in records}


# --- golden files: the full parse of every fixture, checked by eye when written -----------------

GOLDEN_CASES = [
    (arxiv_atom, API / "idlist_0808.05394_1707.08567.xml", "arxiv_atom_idlist_1707.08567"),
    (arxiv_atom, API / "idlist_astro-ph_0601001.xml", "arxiv_atom_idlist_astro-ph_0601001"),
    (arxiv_atom, API / "query_all-testing_start0_max100.xml", "arxiv_atom_query_testing"),
    (arxiv_oai, OAI / "listrecords_arXivRaw_2015-01-06.xml", "arxiv_oai_listrecords_arXivRaw"),
    (arxiv_oai, OAI / "listrecords_arXiv_2015-01-01_2015-01-03.xml", "arxiv_oai_listrecords_arXiv"),
    (arxiv_oai, OAI / "getrecord_arXivRaw.xml", "arxiv_oai_getrecord_arXivRaw"),
    (arxiv_oai, OAI / "getrecord_arXiv_1412.8544.xml", "arxiv_oai_getrecord_arXiv"),
    (arxiv_oai, OAI / "listrecords_oai_dc_fixture.xml", "arxiv_oai_listrecords_oai_dc_fixture"),
    (arxiv_oai, OAI / "listrecords_deleted_fixture.xml", "arxiv_oai_listrecords_deleted_fixture"),
    (arxiv_rss, RSS / "cs.LG_fixture.rss", "arxiv_rss_cs.LG_fixture"),
    (news_feed, NEWS / "guardian_us_2018-01-31.rss", "feed_guardian"),
    (news_feed, NEWS / "heise_developer_2016-02-01.atom", "feed_heise"),
    (news_feed, NEWS / "techcrunch_2011-11-02.xml", "feed_techcrunch"),
]


@pytest.mark.parametrize("module, path, golden", GOLDEN_CASES, ids=[case[2] for case in GOLDEN_CASES])
def test_golden(module, path, golden):
    assert_golden(parse(module, path), golden)


# --- arXiv API Atom ------------------------------------------------------------------------------


def test_arxiv_api_query_has_100_entries_with_dois_and_categories():
    records = parse(arxiv_atom, API / "query_all-testing_start0_max100.xml")
    assert len(records) == 100
    # The README counts 32 entries with arxiv:doi, 18 with journal_ref and 46 with several categories.
    assert sum(1 for r in records if r.doi) == 32
    assert sum(1 for r in records if "journal_ref" in r.extra) == 18
    assert sum(1 for r in records if len(r.categories) > 1) == 46
    first = records[0]
    assert first.record_id == "2202.12139v1"
    assert first.arxiv_id == "2202.12139"
    assert first.doi == "10.1109/icstw55395.2022.00035"
    assert first.url == "https://arxiv.org/abs/2202.12139"
    assert first.categories == ["cs.SE", "cs.LG"]
    assert first.published == "2022-02-24" and first.year == 2022
    assert first.extra["pdf_url"] == "https://arxiv.org/pdf/2202.12139v1"
    assert first.extra["version"] == 1
    assert first.label == "arXiv API"
    assert all(r.format == "arxiv-atom" and r.kind == "paper" for r in records)


def test_arxiv_api_repairs_double_encoded_utf8_author_names():
    # The recorded responses carry UTF-8 decoded as Latin-1 ("RamÃ\xadrez"); the parser undoes it.
    records = by_id(parse(arxiv_atom, API / "query_all-testing_start0_max100.xml"))
    assert records["2405.13786v1"].authors[:3] == ["Aurora Ramírez", "Mario Berrios", "José Raúl Romero"]
    assert not any("Ã" in name for r in records.values() for name in r.authors)
    (proceedings,) = parse(arxiv_atom, API / "idlist_0808.05394_1707.08567.xml")
    assert "Dirk Wübben" in proceedings.authors
    assert arxiv_atom.fix_double_utf8("café, naïve, Ã alone") == "café, naïve, Ã alone"


def test_arxiv_api_old_style_id_and_affiliations():
    (record,) = parse(arxiv_atom, API / "idlist_astro-ph_0601001.xml")
    assert record.record_id == "astro-ph/0601001v1"
    assert record.arxiv_id == "astro-ph/0601001"
    assert record.url == "https://arxiv.org/abs/astro-ph/0601001"
    assert record.categories == ["astro-ph"]
    assert record.extra["journal_ref"] == "ActaAstron.56:1-50,2006"
    assert record.extra["affiliations"]["B. Scott Gaudi"] == ["CfA"]
    assert record.authors == ["Andrew Gould", "Susan Dorsher", "B. Scott Gaudi", "Andrzej Udalski"]


def test_arxiv_api_empty_feed_yields_nothing():
    assert parse(arxiv_atom, API / "idlist_0000.0000_empty.xml") == []


def test_arxiv_api_invalid_id_in_id_list_is_simply_absent():
    # id_list=0808.05394,1707.08567: arXiv answers with the valid one only.
    assert [r.record_id for r in parse(arxiv_atom, API / "idlist_0808.05394_1707.08567.xml")] == ["1707.08567v1"]


def test_label_given_by_the_user_wins():
    (record,) = parse(arxiv_atom, API / "idlist_astro-ph_0601001.xml", label="My arXiv")
    assert record.label == "My arXiv"


ARXIV_ERROR_FEED = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">
  <link href="http://arxiv.org/api/query?search_query=&amp;id_list=1234.12345" rel="self" type="application/atom+xml"/>
  <title>ArXiv Query: search_query=&amp;id_list=1234.12345</title>
  <id>http://arxiv.org/api/kvuntZ8c9a4Eq5CF7KY03nMug+Q</id>
  <updated>2007-10-12T00:00:00-04:00</updated>
  <opensearch:totalResults>1</opensearch:totalResults>
  <entry>
    <id>http://arxiv.org/api/errors#incorrect_id_format_for_1234.12345</id>
    <title>Error</title>
    <summary>incorrect id format for 1234.12345</summary>
    <updated>2007-10-12T00:00:00-04:00</updated>
    <author><name>arXiv api core</name></author>
  </entry>
</feed>
"""


def test_arxiv_api_error_feed_raises_with_its_message():
    # The error feed as the arXiv API user manual documents it (section 3.4), not a recording.
    assert arxiv_atom.sniff(ARXIV_ERROR_FEED, "query.xml")
    with pytest.raises(ParseError) as caught:
        list(arxiv_atom.parse(ARXIV_ERROR_FEED, ParseContext("query.xml")))
    assert caught.value.place == "<entry> 1"
    assert "incorrect id format for 1234.12345" in caught.value.message


# --- arXiv OAI-PMH -------------------------------------------------------------------------------


def test_oai_arxivraw_listrecords_six_records_with_version_history():
    records = parse(arxiv_oai, OAI / "listrecords_arXivRaw_2015-01-06.xml")
    assert [r.record_id for r in records] == [
        "0704.0471", "0704.0716", "0704.0874", "0704.1109", "0704.1114", "0704.1586"]
    limit = by_id(records)["0704.0716"]
    assert (limit.published, limit.updated) == ("2007-04-05", "2008-11-14")  # v1 and v4 dates
    assert limit.extra["version"] == 4
    assert limit.extra["msc_class"] == "05A15, 05A16"
    assert limit.extra["submitter"] == "Christoph Richard"
    assert limit.categories == ["math-ph", "math.MP"]
    symmetry = by_id(records)["0704.0471"]
    assert symmetry.authors == ["D. V. Shetty", "S. J. Yennello", "G. A. Souliotis"]
    assert symmetry.doi == "10.1103/physrevc.76.024606"
    assert symmetry.extra["dois"] == ["10.1103/physrevc.76.024606", "10.1103/physrevc.76.039902"]
    assert symmetry.extra["sets"] == ["physics:nucl-ex", "physics:nucl-th"]
    assert all(not r.deleted and r.url == f"https://arxiv.org/abs/{r.arxiv_id}" for r in records)


def test_oai_arxiv_format_structured_authors_and_old_style_id():
    records = by_id(parse(arxiv_oai, OAI / "listrecords_arXiv_2015-01-01_2015-01-03.xml"))
    assert set(records) == {"1412.8544", "hep-th/9504118"}
    ks = records["1412.8544"]
    assert ks.authors == ["Sander Uijlen", "Bas Westerbaan"]
    assert ks.extra["affiliations"] == {"Sander Uijlen": ["Radboud Universiteit"],
                                        "Bas Westerbaan": ["Radboud Universiteit"]}
    assert ks.doi == "10.4204/eptcs.172.11"
    assert ks.published == "2014-12-29"
    assert records["hep-th/9504118"].arxiv_id == "hep-th/9504118"
    assert records["hep-th/9504118"].extra["report_no"] == "GOET-TP 101/95"


def test_oai_dc_fixture():
    # Built from the documented oai_dc format (tests/data/oai/listrecords_oai_dc_fixture.xml says so):
    # no recorded arXiv oai_dc response was available.
    first, old = parse(arxiv_oai, OAI / "listrecords_oai_dc_fixture.xml")
    assert first.record_id == "2401.01234"
    assert first.authors == ["Zoë Müller", "José García-Pérez", "Wei Chen"]
    assert first.doi == "10.48550/arxiv.2401.01234"
    assert (first.published, first.updated) == ("2024-01-03", "2024-01-15")
    assert first.extra["comment"].startswith("12 pages")
    assert first.extra["journal_ref"] == "Proc. ICML 2024, pp. 1-12"
    assert first.extra["subjects"] == ["Computer Science - Machine Learning", "Statistics - Machine Learning"]
    assert first.categories == []  # subject names are not category codes
    assert old.record_id == "cs/0112017" and old.authors == ["Naomi Dushay"]


def test_oai_deleted_records_become_tombstones():
    # A hand-built fixture (OAI-PMH spec: header status="deleted", no metadata).
    records = parse(arxiv_oai, OAI / "listrecords_deleted_fixture.xml")
    assert [(r.record_id, r.deleted) for r in records] == [
        ("2401.00999", True), ("2401.01234", False), ("hep-th/9901001", True)]
    tombstone = records[0]
    assert tombstone.arxiv_id == "2401.00999" and tombstone.title == "" and tombstone.authors == []
    assert "status=\"deleted\"" in tombstone.raw
    live = records[1]
    # arXivRaw author line with LaTeX accents and parenthesised affiliations (one holding a comma).
    assert live.authors == ["Zoë Müller", "José García-Pérez", "Wei Chen"]
    assert live.extra["submitter"] == "Zoë Müller"


def test_oai_deleted_header_in_list_identifiers_is_a_tombstone():
    # The real ListIdentifiers response with its first header marked deleted.
    data = (OAI / "listidentifiers_arXiv.xml").read_bytes().replace(
        b"<header>\n <identifier>oai:arXiv.org:0705.4175",
        b"<header status=\"deleted\">\n <identifier>oai:arXiv.org:0705.4175")
    records = list(arxiv_oai.parse(data, ParseContext("ids.xml")))
    assert [(r.record_id, r.deleted) for r in records] == [("0705.4175", True)]
    # Its raw is the header's own bytes, with the root's namespace declarations written in.
    assert records[0].raw.startswith(f'<header{ROOT_DECLARATIONS} status="deleted">\n'
                                     ' <identifier>oai:arXiv.org:0705.4175')
    assert records[0].raw.replace(ROOT_DECLARATIONS, "", 1).encode() in data


@pytest.mark.parametrize("name", ["listidentifiers_arXiv.xml", "identify_arxiv.xml", "listsets_arxiv.xml"])
def test_oai_responses_without_records_yield_nothing(name):
    assert parse(arxiv_oai, OAI / name) == []


def test_oai_no_records_match_is_an_empty_result():
    # A real arXiv error response (mikesaelim/arXivOAIHarvester, MIT; see tests/data/oai/README.md).
    assert parse(arxiv_oai, OAI / "error_noRecordsMatch.xml") == []


def test_oai_error_response_raises_naming_the_code():
    with pytest.raises(ParseError) as caught:
        parse(arxiv_oai, OAI / "error_badResumptionToken.xml")
    assert caught.value.place == "<error>"
    assert "badResumptionToken" in caught.value.message


def test_resumption_token():
    assert arxiv_oai.resumption_token((OAI / "listrecords_arXivRaw_2015-01-06.xml").read_bytes()) == "726959|1001"
    # An empty token marks the last page; no token at all is a single-page answer.
    assert arxiv_oai.resumption_token((OAI / "listrecords_deleted_fixture.xml").read_bytes()) is None
    assert arxiv_oai.resumption_token((OAI / "getrecord_arXivRaw.xml").read_bytes()) is None


def _same_tree(a, b) -> bool:
    """Equal tag, attributes, text and children (the tail of the compared roots aside)."""
    return (a.tag == b.tag and a.attrib == b.attrib and (a.text or "") == (b.text or "") and len(a) == len(b)
            and all(_same_tree(x, y) and (x.tail or "") == (y.tail or "") for x, y in zip(a, b)))


@pytest.mark.parametrize("name", ["listrecords_arXivRaw_2015-01-06.xml", "listrecords_arXiv_2015-01-01_2015-01-03.xml",
                                  "listrecords_deleted_fixture.xml", "getrecord_arXivRaw.xml"])
def test_oai_raw_is_the_record_bytes_standing_alone(name):
    from paperfeed.sources.common import parse_xml

    data = (OAI / name).read_bytes()
    page = parse_xml(data)
    kept = list(page.iter(f"{arxiv_oai._O}record"))
    records = parse(arxiv_oai, OAI / name)
    assert records and len(records) == len(kept)
    text = data.decode("utf-8")
    for record, element in zip(records, kept):
        # Well-formed and namespace-complete on its own: it parses to the very element of the page.
        assert _same_tree(parse_xml(record.raw.encode("utf-8")), element)
        # And it is the source's own bytes: only the root's xmlns declarations were written into its start tag.
        start_tag = record.raw[:record.raw.index(">") + 1]
        assert ROOT_DECLARATIONS in start_tag
        assert record.raw.replace(ROOT_DECLARATIONS, "", 1) in text


def test_oai_raw_keeps_prefixes_redeclarations_and_cdata():
    data = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
            b'<oai:OAI-PMH xmlns:oai="http://www.openarchives.org/OAI/2.0/" xmlns:x="urn:outer">'
            b'<oai:ListRecords><oai:record xmlns:x="urn:inner">'
            b'<oai:header><oai:identifier>oai:arXiv.org:2401.00001</oai:identifier></oai:header>'
            b'<oai:metadata><arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/"><id>2401.00001</id>'
            b'<title>Caf\xc3\xa9 &amp; bar</title><abstract><![CDATA[a </oai:record> in CDATA]]></abstract>'
            b'</arXivRaw></oai:metadata></oai:record>\n'
            b'<oai:resumptionToken cursor="0">next|1</oai:resumptionToken></oai:ListRecords></oai:OAI-PMH>\n')
    (record,) = arxiv_oai.parse(data, ParseContext("inline.xml"))
    # The outer x is redeclared by the record itself, so only oai is written in; the rest is byte for byte.
    assert record.raw.startswith('<oai:record xmlns:oai="http://www.openarchives.org/OAI/2.0/" xmlns:x="urn:inner">')
    assert record.raw.endswith("]]></abstract></arXivRaw></oai:metadata></oai:record>")
    assert "Café &amp; bar" in record.raw and record.title == "Café & bar"
    assert record.abstract == "a </oai:record> in CDATA"
    assert arxiv_oai.resumption_token(data) == "next|1"


@pytest.mark.parametrize("before, after", [(b"\xef\xbb\xbf", b"\n"), (b"\n  ", b"\n"), (b"", b"\r\n")],
                         ids=["byte order mark", "leading blank", "CRLF"])
def test_oai_raw_offsets_hold_with_a_bom_leading_space_or_crlf(before, after):
    data = before + (OAI / "getrecord_arXivRaw.xml").read_bytes().replace(b"\n", after)
    (record,) = arxiv_oai.parse(data, ParseContext("variant.xml"))
    assert record.raw.startswith("<record xmlns=") and record.raw.endswith(f"</metadata>{after.decode()}</record>")
    assert record.raw.replace(ROOT_DECLARATIONS, "", 1).encode() in data


def test_oai_raw_of_a_document_not_in_utf8_is_serialized():
    data = (b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
            b'<GetRecord><record><header><identifier>oai:arXiv.org:2401.00002</identifier></header><metadata>'
            b'<arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/"><id>2401.00002</id><title>Caf\xe9</title></arXivRaw>'
            b'</metadata></record></GetRecord></OAI-PMH>')
    (record,) = arxiv_oai.parse(data, ParseContext("latin1.xml"))
    # Its bytes are not UTF-8: the raw is the re-serialized element, still a faithful, well-formed copy.
    assert record.title == "Café" and "Café" in record.raw
    from paperfeed.sources.common import parse_xml

    assert parse_xml(record.raw.encode("utf-8")).find(".//{http://arxiv.org/OAI/arXivRaw/}title").text == "Café"


@pytest.mark.parametrize("tail, token", [
    (b'<resumptionToken cursor="0" completeListSize="9">726959|1001</resumptionToken>\n</ListRecords>\n'
     b'</OAI-PMH>\n', "726959|1001"),
    (b'<resumptionToken cursor="9" completeListSize="9"/></ListRecords></OAI-PMH>', None),
    (b'<resumptionToken cursor="9" completeListSize="9"></resumptionToken></ListRecords></OAI-PMH>', None),
    (b'<resumptionToken>a&amp;b</resumptionToken></ListRecords></OAI-PMH>', "a&b"),  # full parse
    (b'<resumptionToken>x|2</resumptionToken></ListRecords><!-- served by a mirror --></OAI-PMH>', "x|2"),
    (b'</ListRecords></OAI-PMH>', None),
])
def test_oai_resumption_token_from_the_tail_agrees_with_a_full_parse(tail, token):
    head = (b'<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
            b'<ListRecords><record><header><identifier>oai:arXiv.org:1</identifier></header>'
            b'<metadata><dc>&lt;resumptionToken&gt;fake&lt;/resumptionToken&gt;</dc></metadata></record>')
    assert arxiv_oai.resumption_token(head + tail) == token


def test_oai_resumption_token_of_a_malformed_tail_page_is_an_error():
    with pytest.raises(ParseError):
        arxiv_oai.resumption_token(b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords>'
                                   b'<resumptionToken>a&b</resumptionToken></ListRecords></OAI-PMH>')


# --- arXiv RSS -----------------------------------------------------------------------------------


def test_arxiv_rss_fixture():
    # Built from the documented rss.arxiv.org format (the fixture's first comment says so); not recorded.
    records = parse(arxiv_rss, RSS / "cs.LG_fixture.rss")
    assert [(r.record_id, r.extra["announce_type"]) for r in records] == [
        ("2401.01234v1", "new"), ("2401.05678v1", "cross"),
        ("2312.09876v2", "replace"), ("2311.04321v3", "replace-cross")]
    first = records[0]
    assert first.title == "Schrödinger Bridge Matching for k-Sparse Generative Models"  # LaTeX converted
    assert first.authors == ["Zoë Müller", "José García-Pérez", "Wei Chen"]
    assert first.abstract.startswith("We cast sparse generation")
    assert "$k < d$" in first.abstract and "Announce Type" not in first.abstract
    assert first.published == "2024-01-15"
    assert first.categories == ["cs.LG", "stat.ML"]
    assert first.label == "cs.LG updates on arXiv.org"
    assert first.url == "https://arxiv.org/abs/2401.01234"
    assert records[1].categories[0] == "stat.ML"  # a cross-list keeps its own primary first
    # A replacement's announcement date is the new version's, not the paper's publication date.
    replaced = records[2]
    assert (replaced.published, replaced.updated, replaced.extra["announced"]) == (None, "2024-01-15", "2024-01-15")
    assert replaced.extra["version"] == 2


ARXIV_ATOM_LISTING = b"""<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom"
      xmlns:dc="http://purl.org/dc/elements/1.1/">
  <id>http://rss.arxiv.org/atom/cs.CL</id>
  <title>cs.CL updates on arXiv.org</title>
  <updated>2024-01-15T05:00:00Z</updated>
  <link href="http://rss.arxiv.org/atom/cs.CL" rel="self" type="application/atom+xml"/>
  <entry>
    <id>oai:arXiv.org:2401.07777v1</id>
    <title>Token Merging for Long Contexts</title>
    <updated>2024-01-15T00:00:00-05:00</updated>
    <link href="https://arxiv.org/abs/2401.07777" rel="alternate" type="text/html"/>
    <summary>arXiv:2401.07777v1 Announce Type: new
Abstract: We merge tokens.</summary>
    <category term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>
    <published>2024-01-15T00:00:00-05:00</published>
    <arxiv:announce_type>new</arxiv:announce_type>
    <dc:creator>Ada Lovelace, Alan Turing</dc:creator>
  </entry>
</feed>
"""


def test_arxiv_announcements_as_atom_are_read_by_arxiv_rss_not_arxiv_atom():
    assert not arxiv_atom.sniff(ARXIV_ATOM_LISTING, "cs.CL")
    assert arxiv_rss.sniff(ARXIV_ATOM_LISTING, "cs.CL")
    (record,) = arxiv_rss.parse(ARXIV_ATOM_LISTING, ParseContext("cs.CL"))
    assert record.record_id == "2401.07777v1"
    assert record.authors == ["Ada Lovelace", "Alan Turing"]
    assert record.abstract == "We merge tokens."
    assert record.extra["announce_type"] == "new"


# --- news feeds ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name, count, label", [
    ("guardian_us_2018-01-31.rss", 55, "The Guardian"),
    ("heise_developer_2016-02-01.atom", 15, "heise developer neueste Meldungen"),
    ("techcrunch_2011-11-02.xml", 20, "TechCrunch"),
])
def test_news_feed_counts_kind_and_label(name, count, label):
    records = parse(news_feed, NEWS / name)
    assert len(records) == count
    assert all(r.kind == "news" and r.format == "feed" and r.label == label for r in records)
    assert all(r.categories == [] and r.arxiv_id is None for r in records)
    assert all(r.title and r.url and r.published for r in records)
    assert len({r.record_id for r in records}) == count
    assert all("<" not in r.abstract for r in records)  # HTML is gone


def test_news_guardian_item():
    first = parse(news_feed, NEWS / "guardian_us_2018-01-31.rss")[0]
    assert first.record_id == first.url == (
        "https://www.theguardian.com/us-news/2018/jan/31/donald-trump-state-of-the-union-address-unity-discord")
    assert first.authors == ["David Smith"]  # byline "David Smith in Washington"
    assert first.published == "2018-01-31"
    assert first.abstract.startswith("The president’s ‘new American moment’ speech stirred")
    assert first.extra["tags"][:2] == ["Donald Trump", "State of the Union address"]
    assert first.raw.lstrip().startswith("<item")


def test_news_heise_atom_keeps_german_text_and_converts_to_utc():
    first = parse(news_feed, NEWS / "heise_developer_2016-02-01.atom")[0]
    assert first.record_id == "http://heise.de/-3088438"
    assert first.abstract.startswith("Die nun verfügbare Version 10")
    assert first.published == "2016-02-01"  # 17:22 +01:00 is 16:22 UTC


def test_news_techcrunch_leading_blank_line_dollar_titles_and_original_links():
    first = parse(news_feed, NEWS / "techcrunch_2011-11-02.xml")[0]
    # News titles are plain text: "$11 To $13" must not be read as LaTeX math.
    assert first.title == "Angie’s List Sets Price Range IPO At $11 To $13 Per Share; Valued At Over $600M"
    assert first.url.startswith("http://techcrunch.com/2011/11/02/")
    assert first.extra["feed_link"].startswith("http://feedproxy.google.com/")
    assert first.authors == ["Leena Rao"]


@pytest.mark.parametrize("byline, names", [
    ("Ashifa Kassam in Stanstead, Quebec", ["Ashifa Kassam"]),
    ("Sam Jones in Madrid and Stephen Burgen in Barcelona", ["Sam Jones", "Stephen Burgen"]),
    ("Nick Ames (now), Ed Aarons and Ben Fisher (earlier)", ["Nick Ames", "Ed Aarons", "Ben Fisher"]),
    ("Jon Henley in Paris, Kate Connolly in Berlin and Angela Giuffrida in Rome",
     ["Jon Henley", "Kate Connolly", "Angela Giuffrida"]),
    ("Julian Borger in Washington and agencies", ["Julian Borger"]),
    ("Laura Wides-Muñoz", ["Laura Wides-Muñoz"]),
])
def test_news_bylines_lose_places_and_notes(byline, names):
    # Guardian bylines from the real feed (and two of the same shape).
    assert news_feed.byline_names(byline) == names


def test_news_accented_author():
    records = parse(news_feed, NEWS / "guardian_us_2018-01-31.rss")
    assert any(r.authors == ["Laura Wides-Muñoz"] for r in records)
    assert [r.authors for r in records if r.title.startswith("Gun-smuggling")] == [["Ashifa Kassam"]]


def test_feed_label_given_by_the_user_wins():
    records = parse(news_feed, NEWS / "heise_developer_2016-02-01.atom", label="heise")
    assert {r.label for r in records} == {"heise"}


# --- bad input -----------------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE foo [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
"""

# Each hostile prolog is followed by a document of the module's own format that uses the entity.
HOSTILE_BODIES = {
    arxiv_atom: b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/abs/2401.01234v1</id>'
                b"<title>&ENTITY;</title></entry></feed>",
    arxiv_oai: b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords><record><header>'
               b"<identifier>&ENTITY;</identifier></header></record></ListRecords></OAI-PMH>",
    arxiv_rss: b'<rss version="2.0"><channel><title>&ENTITY;</title></channel></rss>',
    news_feed: b'<rss version="2.0"><channel><title>x</title><item><title>&ENTITY;</title></item></channel></rss>',
}


@pytest.mark.parametrize("module", MY_MODULES, ids=lambda m: m.FORMAT)
@pytest.mark.parametrize("prolog, entity", [(BILLION_LAUGHS, b"lol9"), (EXTERNAL_ENTITY, b"xxe")],
                         ids=["billion-laughs", "external-entity"])
def test_entity_declarations_are_refused_never_expanded(module, prolog, entity):
    data = prolog + HOSTILE_BODIES[module].replace(b"ENTITY", entity)
    with pytest.raises(ParseError) as caught:
        list(module.parse(data, ParseContext("hostile.xml")))
    assert "refused" in caught.value.message
    assert "root:" not in str(caught.value) and "lollol" not in str(caught.value)


TRUNCATION_CASES = [
    (arxiv_atom, API / "idlist_astro-ph_0601001.xml"),
    (arxiv_oai, OAI / "listrecords_arXivRaw_2015-01-06.xml"),
    (arxiv_rss, RSS / "cs.LG_fixture.rss"),
    (news_feed, NEWS / "guardian_us_2018-01-31.rss"),
    (news_feed, NEWS / "techcrunch_2011-11-02.xml"),
]


@pytest.mark.parametrize("module, path", TRUNCATION_CASES, ids=[p.name for _, p in TRUNCATION_CASES])
def test_truncated_file_names_line_and_column(module, path):
    data = path.read_bytes()
    with pytest.raises(ParseError) as caught:
        list(module.parse(data[: len(data) // 2], ParseContext(path.name)))
    assert caught.value.place.startswith("line ") and ", column " in caught.value.place
    assert "malformed XML" in caught.value.message


@pytest.mark.parametrize("module", MY_MODULES, ids=lambda m: m.FORMAT)
@pytest.mark.parametrize("data", [b"<feed><entry></feed>", b"not xml at all", b"", b"<rss><channel></rss>"])
def test_invalid_xml_raises(module, data):
    with pytest.raises(ParseError):
        list(module.parse(data, ParseContext("bad.xml")))


HTML_PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Not a feed</title></head>
<body><p>Oops, this is a web page.<br></p></body></html>
"""
XHTML_PAGE = b"""<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>Not a feed</title></head>
<body><p>A well-formed page is still not a feed.</p></body></html>
"""


@pytest.mark.parametrize("module", MY_MODULES, ids=lambda m: m.FORMAT)
@pytest.mark.parametrize("page", [HTML_PAGE, XHTML_PAGE], ids=["html", "xhtml"])
def test_html_page_is_an_error_not_zero_records(module, page):
    assert not module.sniff(page, "index.html")
    with pytest.raises(ParseError):
        list(module.parse(page, ParseContext("index.html")))


def test_oai_unknown_metadata_format_is_an_error():
    data = (b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><GetRecord><record><header>'
            b"<identifier>oai:arXiv.org:2401.01234</identifier></header><metadata>"
            b'<mods xmlns="http://www.loc.gov/mods/v3"/></metadata></record></GetRecord></OAI-PMH>')
    with pytest.raises(ParseError) as caught:
        list(arxiv_oai.parse(data, ParseContext("mods.xml")))
    assert caught.value.place == "<record> 1" and "mods" in caught.value.message


# --- sniffing ------------------------------------------------------------------------------------

SNIFF_CASES = [
    *[(path, "arxiv-atom") for path in sorted(API.glob("*.xml"))],
    *[(path, "arxiv-oai") for path in sorted(OAI.glob("*.xml"))],
    (RSS / "cs.LG_fixture.rss", "arxiv-rss"),
    *[(path, "feed") for path in sorted(NEWS.glob("*")) if path.suffix != ".md"],
]


def first_claim(data: bytes, name: str) -> str | None:
    """The format the first of these four modules to claim the file names, in sniffing order."""
    head = data[:8192]
    return next((module.FORMAT for module in MY_MODULES if module.sniff(head, name)), None)


@pytest.mark.parametrize("path, expected", SNIFF_CASES, ids=[case[0].name for case in SNIFF_CASES])
def test_sniff_picks_the_right_format(path, expected):
    assert first_claim(path.read_bytes(), path.name) == expected


@pytest.mark.parametrize("path", [NEWS / "guardian_us_2018-01-31.rss", NEWS / "heise_developer_2016-02-01.atom",
                                  NEWS / "techcrunch_2011-11-02.xml"], ids=lambda p: p.name)
def test_arxiv_sniffers_leave_news_feeds_alone(path):
    head = path.read_bytes()[:8192]
    assert not any(module.sniff(head, path.name) for module in (arxiv_atom, arxiv_oai, arxiv_rss))
    assert news_feed.sniff(head, path.name)


@pytest.mark.parametrize("head", [
    b'{"id": "2401.01234", "title": "A paper"}\n',
    b"id,title,authors,venue,year\n1,A paper,A. Author,VLDB,2001\n",
    b"@article{key, title={A paper <with> brackets}}\n",
    b"Daily Papers\n<by AK and the research community>\n",
    b"<?xml version='1.0'?><svg xmlns='http://www.w3.org/2000/svg'/>",
], ids=["json", "csv", "bibtex", "text", "svg"])
def test_xml_sniffers_leave_other_formats_alone(head):
    assert first_claim(head, "input") is None


RSS_1_0 = b"""<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
         xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://example.org/"><title>Example RDF News</title><link>https://example.org/</link>
    <description>RSS 1.0 keeps its items beside the channel.</description>
    <items><rdf:Seq><rdf:li rdf:resource="https://example.org/a"/></rdf:Seq></items>
  </channel>
  <item rdf:about="https://example.org/a"><title>Story A</title><link>https://example.org/a</link>
    <description>&lt;p&gt;Text of &lt;b&gt;A&lt;/b&gt;.&lt;/p&gt;</description>
    <dc:creator>Ann Author and Bob Writer</dc:creator><dc:date>2024-01-15T09:30:00+02:00</dc:date></item>
</rdf:RDF>
"""


def test_news_rss_1_0():
    # A minimal RSS 1.0 document after the RSS 1.0 specification, not a recorded feed.
    assert first_claim(RSS_1_0, "news.rdf") == "feed"
    (record,) = news_feed.parse(RSS_1_0, ParseContext("news.rdf"))
    assert (record.record_id, record.title, record.abstract) == ("https://example.org/a", "Story A", "Text of A.")
    assert record.authors == ["Ann Author", "Bob Writer"]
    assert record.published == "2024-01-15" and record.label == "Example RDF News"
    assert "Story A" in record.raw and "Story B" not in record.raw


@pytest.mark.parametrize("path, expected", SNIFF_CASES, ids=[case[0].name for case in SNIFF_CASES])
def test_detect_format_across_all_modules(path, expected):
    from paperfeed.sources import detect_format

    assert detect_format(path.read_bytes(), path.name).FORMAT == expected


# --- deep nesting (found by tests/test_parsers_fuzz.py) ------------------------------------------------------

DEEP_CASES = [(arxiv_atom, API / "idlist_0808.05394_1707.08567.xml", b"<entry>"),
              (arxiv_oai, OAI / "listrecords_arXivRaw_2015-01-06.xml", b"<record>"),
              (arxiv_rss, RSS / "cs.LG_fixture.rss", b"<item>\n"),
              (news_feed, NEWS / "heise_developer_2016-02-01.atom", b"<entry>")]


@pytest.mark.parametrize("module, path, inside", DEEP_CASES, ids=[case[0].FORMAT for case in DEEP_CASES])
def test_elements_nested_thousands_deep_are_a_parse_error_with_the_place(module, path, inside):
    # A real file with <a> elements 3,000 deep in its first record: ElementTree's serializer (a record's raw)
    # recursed past Python's limit on them (RecursionError, a traceback), so nesting is capped when parsing.
    data = path.read_bytes()
    at = data.index(inside) + len(inside)
    deep = data[:at] + b"<a>" * 3000 + b"</a>" * 3000 + data[at:]
    with pytest.raises(ParseError) as caught:
        list(module.parse(deep, ParseContext(path.name)))
    assert "nested more than 256 deep" in caught.value.message
    line = data[:at].count(b"\n") + 1
    assert caught.value.place.startswith(f"line {line}, column ")


@pytest.mark.parametrize("module, path, inside", DEEP_CASES, ids=[case[0].FORMAT for case in DEEP_CASES])
def test_elements_nested_within_the_limit_still_parse(module, path, inside):
    data = path.read_bytes()
    at = data.index(inside) + len(inside)
    nested = data[:at] + b"<a>" * 200 + b"</a>" * 200 + data[at:]
    assert len(list(module.parse(nested, ParseContext(path.name)))) == len(parse(module, path))


# --- dates with no UTC day (found by tests/test_parsers_fuzz.py) ---------------------------------------------

IMPOSSIBLE_DATES = ["Mon, 15 Jan 2024 00:00:00 -05050505050500", "0001-01-01T00:00:00+05:00",
                    "9999-12-31T23:59:59-05:00"]


@pytest.mark.parametrize("date", IMPOSSIBLE_DATES)
@pytest.mark.parametrize("module, path, tag", [
    (arxiv_rss, RSS / "cs.LG_fixture.rss", b"pubDate"),
    (arxiv_atom, API / "idlist_0808.05394_1707.08567.xml", b"published"),
    (news_feed, NEWS / "heise_developer_2016-02-01.atom", b"updated"),
], ids=["arxiv-rss", "arxiv-atom", "feed"])
def test_a_date_with_no_utc_day_is_no_date_not_a_crash(module, path, tag, date):
    # Python raises OverflowError on an offset no clock has and on a time whose UTC day is before year 1 or
    # after 9999; it escaped normalize.to_utc_datetime as a traceback. feedparser's own parse of such a date
    # has year 0, which became the day "0-12-31" and a ValueError in Record.
    data = path.read_bytes()
    start = data.index(b"<" + tag + b">", data.index(b"<item>\n") if module is arxiv_rss else data.index(b"<entry>"))
    end = data.index(b"</" + tag + b">", start)
    changed = data[:start + len(tag) + 2] + date.encode() + data[end:]
    records = list(module.parse(changed, ParseContext(path.name)))
    assert len(records) == len(parse(module, path))
    assert records[0].title == parse(module, path)[0].title


def test_a_feed_with_one_huge_attribute_parses_in_bounded_memory():
    """Found by the fuzz suite: feedparser's HTML sanitiser took about 250 MB for a 1.5 MB attribute inside an
    entry's content. The text is what is kept, so the content is never sanitised as HTML: a few times the input."""
    import tracemalloc

    data = (NEWS / "heise_developer_2016-02-01.atom").read_bytes()
    place = data.index(b'alt="Ungewisse Zukunft des MySQLDumper-Projekts"') + 48
    huge = data[:place] + b"a" * 1_450_000 + data[place:]
    tracemalloc.start()
    try:
        records = list(news_feed.parse(huge, ParseContext("huge.atom")))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(records) == 15
    assert peak < 20 * len(huge), f"{peak:,} bytes to parse {len(huge):,}"
    script = data.replace(b'<summary type="html">Die nun verf',
                          b'<summary type="html">&lt;script&gt;alert(1)&lt;/script&gt;Die nun verf', 1)
    abstract = list(news_feed.parse(script, ParseContext("x.atom")))[0].abstract
    assert abstract.startswith("Die nun verf") and "alert" not in abstract  # unsanitised, still only its text
