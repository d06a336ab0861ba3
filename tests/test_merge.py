import html

import pytest

from paperfeed import merge
from paperfeed.records import Record


def summary(title, authors=(), year=None, arxiv_id=None, doi=None, item_id=1):
    return merge.summarize(item_id, title, authors, year, arxiv_id, doi)


def test_identifiers_prefer_arxiv_then_doi_and_scope_file_local_ids():
    paper = Record("jsonl", "2401.01234", "T", "{}", arxiv_id="2401.01234", doi="10.1/x")
    assert merge.identifiers(paper) == [("arxiv", "2401.01234"), ("doi", "10.1/x")]
    row = Record("csv", "174639", "T", "{}")
    assert merge.identifiers(row, "ACM.csv") == [("source", "csv:ACM.csv:174639")]
    capture = Record("capture", "capture:abc", "T", "")
    assert merge.identifiers(capture, "anything") == [("source", "capture:capture:abc")]


def test_block_keys_survive_one_changed_word_at_either_end():
    a = merge.block_keys("Efficient Query Processing for Large Spatial Databases in Main Memory")
    b = merge.block_keys("Fast Query Processing for Large Spatial Databases in Main Memory")
    c = merge.block_keys("Efficient Query Processing for Large Spatial Databases in Main Storage")
    assert set(a) & set(b) and set(a) & set(c)
    assert len(merge.block_keys("The Editorial")) == 1
    assert merge.block_keys("The Editorial") == merge.block_keys("Editorial.")


def test_near_duplicate_titles_confirmed_by_authors_merge():
    dblp = summary("Efficient Query Processing in Large Spatial Databases", ["Viswanath Poosala", "Y. Ioannidis"], 1996)
    acm = summary("Efficient query processing in large spatial databases.", ["V. Poosala", "Yannis E. Ioannidis"], 1996)
    assert merge.match_score(acm, "ACM.csv", dblp) > 0


def test_different_arxiv_ids_or_dois_never_merge():
    a = summary("Attention Is All You Need", arxiv_id="1706.03762")
    b = summary("Attention Is All You Need", arxiv_id="2501.00001")
    assert merge.match_score(a, "x", b) == 0
    c = summary("Attention Is All You Need", doi="10.1/a")
    d = summary("Attention Is All You Need", doi="10.1/b")
    assert merge.match_score(c, "x", d) == 0


def test_conflicting_years_or_authors_block_a_merge():
    a = summary("Data Integration: A Theoretical Perspective", ["Maurizio Lenzerini"], 2002)
    assert merge.match_score(summary("Data Integration: A Theoretical Perspective", ["M. Lenzerini"], 2009), "x", a) == 0
    assert merge.match_score(summary("Data Integration: A Theoretical Perspective", ["Alon Halevy"], 2002), "x", a) == 0


def test_short_titles_need_authors_and_an_exact_match():
    a = summary("Editorial", ["Jane Doe"], 2001)
    assert merge.match_score(summary("Editorial", [], 2001), "x", a) == 0
    assert merge.match_score(summary("Editorial", ["J. Doe"], 2001), "x", a) > 0


def test_an_item_never_takes_two_records_of_one_file():
    a = summary("Scaling Laws for Neural Language Models")
    a.origins.add("day.jsonl")
    assert merge.match_score(summary("Scaling Laws for Neural Language Models"), "day.jsonl", a) == 0
    assert merge.match_score(summary("Scaling Laws for Neural Language Models"), "other.txt", a) > 0


def test_resolve_item_rule():
    capture = {"format": "capture", "title": "Scaling laws", "authors": [],
               "kind": "paper", "topics": [["Large Language Model", 1.0]], "label": "arXiv.org Machine Learning"}
    listing = {"format": "jsonl", "title": "Scaling Laws for Neural Language Models",
               "authors": ["Jared Kaplan"], "arxiv_id": "2001.08361", "categories": ["cs.LG", "stat.ML"],
               "published": "2020-01-24", "kind": "paper"}
    hf_a = {"format": "hf-daily", "title": "Scaling Laws", "authors": ["J. Kaplan", "Sam McCandlish"],
            "categories": ["cs.CL"], "published": "2020-01-23", "label": "HF", "extra": {"upvotes": 5}, "kind": "paper"}
    hf_b = dict(hf_a, extra={"upvotes": 9})
    fields = merge.resolve_item([capture, listing, hf_a, hf_b], ["We study scal", "We study scaling", "We study"])
    assert fields.title == "Scaling Laws for Neural Language Models"  # the listing outranks HF and captures
    assert fields.authors == ["Jared Kaplan"]
    assert fields.abstract == "We study scaling"  # the longest
    assert fields.published == "2020-01-23" and fields.year == 2020  # the earliest
    assert fields.categories == ["cs.LG", "stat.ML", "cs.CL"]
    assert fields.topics == {"Large Language Model": 1.0}
    assert fields.upvotes == 9  # highest per source label, summed over labels
    assert fields.url == "https://arxiv.org/abs/2001.08361"
    assert fields.kind == "paper" and not fields.withdrawn


def test_news_only_items_are_news_and_tombstones_withdraw():
    news = {"format": "feed", "title": "AI news", "kind": "news"}
    assert merge.resolve_item([news]).kind == "news"
    tomb = {"format": "arxiv-oai", "title": "", "deleted": True}
    paper = {"format": "jsonl", "title": "A paper", "kind": "paper"}
    assert merge.resolve_item([tomb]).withdrawn
    assert not merge.resolve_item([paper, tomb]).withdrawn
    assert merge.resolve_item([paper, tomb]).title == "A paper"


# Blocking: one changed, added, dropped or reordered word still meets (DBLP / ACM titles).
@pytest.mark.parametrize("a, b", [
    ("A Database Interface for File Updates", "A database interface for file update"),  # plural
    ("The Montage Extensible DataBlade Achitecture", "The Montage extensible DataBlade architecture"),  # typo
    ("i3: Intelligent, Interactive Investigaton of OLAP data cubes",
     "i3: intelligent, interactive investigation of OLAP data cubes"),  # typo in both 4-word ends
    ("Indexing Multimedia Databases (Tutorial)", "Indexing multimedia databases"),  # bracketed remark
    ("Online Query Processing", "Online query processing: a tutorial"),  # subtitle added
    ("Information Warfare and Security - Book Review", "Information warfare and security"),  # main part
    ("An Open Storage System for Abstract Objects", "An open abstract-object storage system"),  # reordered
    ("Constraints for Semi-structured Data and XML", "Constraints for semistructured data and XML"),
])
def test_block_keys_meet_across_small_title_changes(a, b):
    assert set(merge.block_keys(a)) & set(merge.block_keys(b))


def test_block_keys_keep_unrelated_titles_apart():
    assert not set(merge.block_keys("Efficient Query Processing in Large Spatial Databases")) & set(
        merge.block_keys("Learning Deep Representations for Graph Clustering"))
    assert merge.block_keys("") == []


def test_significant_words_drop_stopwords_plurals_and_prefix_hyphens():
    assert merge.significant_words("Updates of Semi-Structured Data in E-Commerce Processes") == [
        "update", "semistructured", "data", "ecommerce", "processe"]
    assert merge.significant_words("Vision-Language Models") == ["vision", "language", "model"]
    assert merge.significant_words("R2E-Gym: Open-Weights Agents") == ["r2e", "gym", "open", "weight", "agent"]


# Surnames: DBLP2.csv lost accents to U+FFFD ("Sch\ufffdning"); ACM has typos and short double surnames.
@pytest.mark.parametrize("a, b", [
    ("Harald Sch\ufffdning", "Harald Schöning"),
    ("Werner Kie\ufffdling", "Werner Kießling"),
    ("Roland Mayer-F\ufffdll", "Roland Mayer-Föll"),
    ("Fernando Berzal Galiano", "Fernando Berzal"),
    ("Hans-Peter Kriegel", "Hans-Peter Kriegal"),
    ("Bill Rosneblatt", "Bill Rosenblatt"),
])
def test_surnames_tolerate_lost_accents_typos_and_double_surnames(a, b):
    assert merge._shared_authors(summary("T", [a]), summary("T", [b])) == 1


@pytest.mark.parametrize("a, b", [
    ("Zhiyuan Chen", "Zhiyuan Chan"),  # a one-letter change in a short surname is another name
    ("Anna Kriegel", "Hans Kriegal"),  # a typo needs the same initial
    ("Harald Sch\ufffdning", "Harald Schilling"),  # a lost letter stands for one to three, not any
])
def test_surnames_do_not_stretch_too_far(a, b):
    assert merge._shared_authors(summary("T", [a]), summary("T", [b])) == 0


def test_surnames_keep_the_lost_character_mark():
    assert merge.surnames(["Harald Sch\ufffdning", "Roberto J. Bayardo, Jr.", "?"]) == {"sch?ning", "bayardo"}


def test_bracketed_remarks_do_not_block_a_near_duplicate():
    dblp = summary("Data Warehousing and OLAP for Decision Support (Tutorial)", ["Surajit Chaudhuri", "Umeshwar Dayal"],
                   1997)
    acm = summary("Data warehousing and OLAP for decision support", ["Surajit Chaudhuri", "Umeshwar Dayal"], 1997)
    assert merge.match_score(acm, "ACM.csv", dblp) > 0


def test_numbers_in_titles_must_agree():
    authors = ["Dennis Shasha", "Philippe Bonnet"]
    part_1 = summary("Database tuning: principles, experiments, and troubleshooting techniques (part I)", authors, 2002)
    part_2 = summary("Database tuning: principles, experiments, and troubleshooting techniques (part II)", authors, 2002)
    assert merge.match_score(part_1, "x", part_2) == 0
    fifth = summary("Report on the 5th International Workshop on Knowledge Representation Meets Databases", authors)
    sixth = summary("Report on the 6th International Workshop on Knowledge Representation Meets Databases", authors)
    assert merge.match_score(fifth, "x", sixth) == 0
    # "4th" and "fourth" name the same number.
    dblp = summary("Report on NGITS'99: The 4th International Workshop on Next Generation Information Technologies "
                   "and Systems", ["Opher Etzion"], 1999)
    acm = summary("Report on NGITS'99: The fourth international workshop on next generation information technologies "
                  "and systems", ["Opher Etzion"], 1999)
    assert merge.match_score(acm, "x", dblp) > 0
    # A year only one title names is left out of the comparison.
    dblp = summary("Response to the March 1994 ODMG-93 Commentary Written by Dr. Won Kim of UniSQL, Inc",
                   ["Object Database Management Group"], 1994)
    acm = summary("Response to the ODMG-93 commentary written by Dr. Won Kim of UniSQL, Inc",
                  ["Object Database Management Group"], 1994)
    assert merge.match_score(acm, "x", dblp) > 0


def test_a_title_may_be_the_start_of_the_other_when_authors_confirm():
    dblp = summary("Information Warfare and Security - Book Review", ["H. V. Jagadish"], 2001)
    acm = summary("Information warfare and security", ["H. V. Jagadish"], 2001)
    assert merge.match_score(acm, "ACM.csv", dblp) > 0
    dblp = summary("Unix RDBMS: The Next Generation", ["Bill Rosneblatt"], 1994)
    acm = summary("Unix RDBMS: the next generation what are the Unix relational-database vendors doing to survive in "
                  "the next generation of client/server environments", ["Bill Rosenblatt"], 1994)
    assert merge.match_score(acm, "ACM.csv", dblp) > 0
    # Without authors in common, or with too few words, containment says nothing.
    assert merge.match_score(summary("Information warfare and security", [], 2001), "x", dblp) == 0
    assert merge.match_score(summary("Information warfare and security", ["Jane Doe"], 2001), "x",
                             summary("Information Warfare and Security - Book Review", ["H. V. Jagadish"], 2001)) == 0
    guest = summary("Guest Editorial: Databases and the Web", ["Alberto O. Mendelzon", "Paolo Atzeni"], 2000)
    assert merge.match_score(summary("Guest editorial", ["Paolo Atzeni", "Alberto O. Mendelzon"], 2000), "x", guest) == 0


def test_a_title_that_ends_another_is_not_contained():
    # Real arXiv pair: a method named after a technique is not the technique's paper.
    a = summary("TTRL: Test-Time Reinforcement Learning", ["Yuxin Zuo", "Kaiyan Zhang"], 2025)
    b = summary("OR-R1: Automating Modeling and Solving of Operations Research Optimization Problem via Test-Time "
                "Reinforcement Learning", ["Yuxin Zuo", "Kaiyan Zhang"], 2025)
    assert merge.match_score(a, "x", b) == 0


def test_close_titles_need_the_year_and_nearly_all_authors():
    authors = ["Nick Roussopoulos", "Yannis Kotidis", "Mema Roussopoulos"]
    dblp = summary("Cubetree: Organization of and Bulk Updates on the Data Cube", authors, 1997)
    acm = summary("Cubetree: organization of and bulk incremental updates on the data cube", authors, 1997)
    assert merge.match_score(acm, "x", dblp) > 0
    assert merge.match_score(summary(acm.title, authors, 1998), "x", dblp) == 0  # not the same year
    assert merge.match_score(summary(acm.title, authors[:2], 1997), "x", dblp) == 0  # not the same authors
    assert merge.match_score(summary(acm.title, [], 1997), "x", dblp) == 0


def test_short_titles_need_an_exact_match_whichever_side_is_short():
    qwen3 = summary("Qwen3 Technical Report", ["An Yang", "Baosong Yang"], 2025)
    qwen3_vl = summary("Qwen3-VL Technical Report", ["An Yang", "Baosong Yang"], 2025)
    assert merge.match_score(qwen3, "x", qwen3_vl) == 0
    assert merge.match_score(qwen3_vl, "x", qwen3) == 0


def test_the_same_year_wins_between_a_conference_and_a_journal_version():
    authors = ["Kaushik Chakrabarti", "Minos N. Garofalakis", "Rajeev Rastogi", "Kyuseok Shim"]
    conference = summary("Approximate Query Processing Using Wavelets", authors, 2000, item_id=1)
    journal = summary("Approximate query processing using wavelets", authors, 2001, item_id=2)
    acm_journal = summary("Approximate query processing using wavelets", authors, 2001)
    assert merge.best_match(acm_journal, "ACM.csv", [conference, journal]) is journal
    assert merge.best_match(acm_journal, "ACM.csv", [journal, conference]) is journal


def test_a_record_that_fits_two_items_equally_merges_with_neither():
    first = summary("Editorial", ["Richard T. Snodgrass"], 2001, item_id=1)
    second = summary("Editorial", ["Richard T. Snodgrass"], 2001, item_id=2)
    record = summary("Editorial", ["Richard Snodgrass"], 2001)
    assert merge.best_match(record, "ACM.csv", [first, second]) is None
    assert merge.best_match(record, "ACM.csv", [first]) is first


# -- records scraped from the web: garbled titles, initials, mojibake, missing fields (issue 14) -----------------

CLEAN = ("Efficient Filtering of XML Documents with XPath Expressions",
         ["Chee Yong Chan", "Pascal Felber", "Minos N. Garofalakis", "Rajeev Rastogi"], 2002)


@pytest.mark.parametrize("title", [
    "[PDF] Efficient filtering of XML documents with XPath expressions",       # a tag before
    "Chapter 10 Efficient filtering of XML documents with XPath expressions",  # words before
    "Chan: Efficient filtering of XML documents with XPath expressions",       # an author's name glued on
    "Efficient filtering of XML documents with XPath expressions - ACM Digital Library",  # site text after
    "Efficient filtering of XML documents with XPath expressions In: VLDB Journal",        # venue text after
    "Efficient filtering of XML documents with XP\u2026",                       # cut short mid-word
    "efficient filtering of xml documents &hellip;",                             # cut short, an entity
    "Session 4: Efficient filtering of XML documents wi\u2026 - portal.acm.org",  # all at once
])
def test_garbled_titles_match_the_clean_one(title):
    clean = summary(*CLEAN)
    scraped = summary(html.unescape(title), ["CY Chan", "P Felber"], None, item_id=2)
    assert merge.match_score(scraped, "scholar.csv", clean) > 0
    assert set(merge.block_keys(html.unescape(title))) & set(merge.block_keys(CLEAN[0]))


@pytest.mark.parametrize("authors", [
    ["CY Chan", "P Felber", "MN Garofalakis", "R Rastogi"],  # initials
    ["Chee Yong Chan", "..."],                              # a truncated list
    [],                                                     # none
    ["C Chan", "P Felber", "M GarofalakisÃƒÂ©"],            # mojibake (twice over)
])
def test_author_lists_as_scraped_are_compatible(authors):
    clean = summary(*CLEAN)
    scraped = summary("Efficient filtering of XML documents with XPath exp\u2026", authors, 2002, item_id=2)
    assert merge.match_score(scraped, "scholar.csv", clean) > 0


def test_mojibake_and_lost_accents_in_names_still_match():
    assert merge.repair_mojibake("Bertram LudÃ¤scher") == "Bertram Ludäscher"
    assert merge.repair_mojibake("MÃƒÂ¼ller") == "Müller"
    assert merge.repair_mojibake("OÃ¢â?¬â?¢Neil") == "O?Neil"  # bytes lost: the run becomes one "?"
    assert merge.repair_mojibake("José Müller") == "José Müller"
    clean = summary("Ontology-based integration of heterogeneous XML sources", ["Marta Patiño-Martínez",
                                                                              "Ricardo Jiménez-Peris"], 2003)
    for names in (["M PatiÃ±o-MartÃ­nez", "R JimÃƒÂ©nez-Peris"], ["M Pati\ufffdo-Mart\ufffdnez"]):
        scraped = summary("Chapter 4 Ontology-based integration of heterogeneous XML &hellip;", names, None, item_id=2)
        assert merge.match_score(scraped, "scholar.csv", clean) > 0, names
    stranger = summary("Chapter 4 Ontology-based integration of heterogeneous XML &hellip;", ["J Smith"], None, 2)
    assert merge.match_score(stranger, "scholar.csv", clean) == 0


def test_years_may_be_two_apart_or_missing_but_not_more():
    clean = summary(*CLEAN)
    garbled = "Efficient filtering of XML documents with XPath e\u2026"
    for year in (2000, 2001, 2004, None):
        assert merge.match_score(summary(garbled, ["CY Chan"], year, item_id=2), "s.csv", clean) > 0, year
    for year in (1999, 2005):
        assert merge.match_score(summary(garbled, ["CY Chan"], year, item_id=2), "s.csv", clean) == 0, year


def test_a_garbled_title_alone_must_be_long_and_whole():
    clean = summary(*CLEAN)
    assert merge.match_score(summary("[PDF] efficient filtering of xml documents with xpath expressions", [], None,
                                     item_id=2), "s.csv", clean) > 0
    assert merge.match_score(summary("Efficient filtering of XML doc\u2026", [], None, item_id=2), "s.csv", clean) == 0
    # Different works that share a long stretch: neither starts where they agree.
    a = summary("Approximate query processing in wireless sensor networks", ["A Deshpande"], 2004)
    b = summary("Adaptive query processing in wireless sensor networks", ["A Deshpande"], 2004, item_id=2)
    assert merge.match_score(b, "s.csv", a) == 0


def test_garbled_titles_keep_the_numbers_and_the_identifier_vetoes():
    part_one = summary("Database tuning: principles, experiments, and troubleshooting techniques (part I)",
                       ["Dennis Shasha", "Philippe Bonnet"], 2002)
    part_two = summary("[PDF] Database tuning: principles, experiments, and troubleshooting techniques (part II)",
                       ["D Shasha", "P Bonnet"], None, item_id=2)
    assert merge.match_score(part_two, "s.csv", part_one) == 0
    scraped = "[PDF] Attention is all you need - arxiv.org"
    assert merge.match_score(summary(scraped, ["A Vaswani"], 2017, arxiv_id="2501.00001", item_id=2), "s",
                             summary("Attention Is All You Need", ["Ashish Vaswani"], 2017, arxiv_id="1706.03762")) == 0
    assert merge.match_score(summary(scraped, ["A Vaswani"], 2017, doi="10.1/b", item_id=2), "s",
                             summary("Attention Is All You Need", ["Ashish Vaswani"], 2017, doi="10.1/a")) == 0


def test_a_work_listed_twice_in_one_source_merges_on_stronger_evidence():
    # An item holding another source's record: a second listing of it in a scraped index joins it,
    # even a year apart (preprint and proceedings).
    item = summary(*CLEAN)
    item.origins.update({"dblp.csv", "scholar.csv"})
    second = summary("Efficient filtering of XML documents with XPath expressions", ["CY Chan", "R Rastogi"], 2003,
                     item_id=2)
    assert merge.match_score(second, "scholar.csv", item) > 0
    # ... on a title cut to a few words too, as it would join the item had it come before the other listing
    # (which copy of a scraped index comes first is chance) ...
    cut = summary("Efficient filtering of X\u2026", ["CY Chan"], 2002, item_id=2)
    assert merge.match_score(cut, "scholar.csv", item) > 0
    alone = summary(*CLEAN)
    alone.origins.add("dblp.csv")
    assert merge.match_score(cut, "scholar.csv", alone) > merge.match_score(cut, "scholar.csv", item)
    # ... but not with no author in common.
    assert merge.match_score(summary(CLEAN[0], ["J Smith"], 2002, item_id=2), "scholar.csv", item) == 0
    # Between records of one source alone: a conference paper and its journal version are two works,
    # and so are the columns a journal prints every issue.
    conference = summary("Approximate Query Processing Using Wavelets", ["Kaushik Chakrabarti", "Rajeev Rastogi"], 2000)
    conference.origins.add("dblp.csv")
    journal = summary("Approximate query processing using wavelets", ["Rajeev Rastogi", "Kaushik Chakrabarti"], 2001,
                      item_id=2)
    assert merge.match_score(journal, "dblp.csv", conference) == 0
    assert merge.match_score(journal, "acm.csv", conference) > 0  # across sources the years may differ
    notes = summary("Editor's Notes", ["Jennifer Widom"], 1996)
    notes.origins.add("dblp.csv")
    assert merge.match_score(summary("Editor's Notes", ["Jennifer Widom"], 1996, item_id=2), "dblp.csv", notes) == 0
    same = summary("Approximate query processing using wavelets", ["K Chakrabarti"], 2000, item_id=2)
    assert merge.match_score(same, "dblp.csv", conference) > 0


def test_window_keys_are_added_to_the_older_keys():
    # Stores written before window keys hold only the older keys: a new record's keys include them all.
    title = "Efficient Filtering of XML Documents with XPath Expressions"
    keys = set(merge.block_keys(title))
    words = merge.significant_words(title)
    older = {merge.keys._key_hash(" ".join(words[:4])), merge.keys._key_hash(" ".join(words[-4:]))}
    assert older <= keys
    windows = {merge.keys._key_hash("w:" + " ".join(words[i:i + merge.WINDOW_WORDS]))
               for i in range(merge.keys.WINDOW_STARTS)}
    assert windows <= keys and not windows & older


def _csv(path, rows):
    import csv
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "title", "authors", "venue", "year"])
        writer.writerows(rows)
    return path


def test_ingest_merges_scraped_listings_of_a_work_and_keeps_a_journals_columns_apart(store, tmp_path):
    from paperfeed.ingest import Ingester
    clean = _csv(tmp_path / "dblp.csv", [
        ("conf/x/1", CLEAN[0], ", ".join(CLEAN[1]), "VLDB J.", "2002"),
        ("conf/x/2", "Approximate Query Processing Using Wavelets", "Kaushik Chakrabarti, Rajeev Rastogi", "VLDB", "2000"),
        ("journals/x/2", "Approximate query processing using wavelets", "Rajeev Rastogi, Kaushik Chakrabarti",
         "VLDB J.", "2001"),
        ("journals/x/3", "Editor's Notes", "Jennifer Widom", "SIGMOD Record", "1996"),
        ("journals/x/4", "Editor's Notes", "Jennifer Widom", "SIGMOD Record", "1996"),
    ])
    scraped = _csv(tmp_path / "scholar.csv", [
        ("s1", "[PDF] Efficient filtering of XML documents with XPath expressions", "CY Chan, P Felber", "", ""),
        ("s2", "Efficient filtering of XML documents with XPath exp&hellip;", "C Chan, MN Garofalakis, ...", "", "2003"),
        ("s3", "Chapter 3 efficient filtering of xml documents with xpath expressions - ACM Digital Library", "",
         "Proc. VLDB", "2002"),
        ("s4", "A novel approach to garbage collection in object stores: a study", "J Smith", "", "1999"),
        ("s5", "A novel approach to garbage collection in object stores: a study", "J Smith", "", "1999"),
    ])
    report = Ingester(store).ingest_paths([clean, scraped])
    assert not report.failed
    item_of = {source["record_id"]: item["id"] for item in store.iter_items() for source in item["sources"]}
    assert item_of["s1"] == item_of["s2"] == item_of["s3"] == item_of["conf/x/1"]  # three listings of one work
    assert item_of["s4"] == item_of["s5"]  # listed twice in one file (one batch), no other source
    assert item_of["conf/x/2"] != item_of["journals/x/2"]  # a conference paper and its journal version
    assert item_of["journals/x/3"] != item_of["journals/x/4"]  # a column printed in every issue


def test_items_stored_with_the_older_keys_only_are_still_found(store, tmp_path):
    # A store written before window keys: its block_keys rows hold only the older keys.
    from paperfeed.ingest import Ingester
    Ingester(store).ingest_paths([_csv(tmp_path / "dblp.csv", [("conf/x/1", CLEAN[0], ", ".join(CLEAN[1]), "", "2002")])])
    words = merge.significant_words(CLEAN[0])
    windows = [merge.keys._key_hash("w:" + " ".join(words[i:i + merge.WINDOW_WORDS])) for i in range(4)]  # all
    for key in windows:
        store.db.run("DELETE FROM block_keys WHERE key = $1", (key,))
    report = Ingester(store).ingest_paths([_csv(tmp_path / "scholar.csv", [
        ("s1", "Efficient filtering of XML documents with XPath expressions", "CY Chan, R Rastogi", "", "2002")])])
    assert report.total("merged") == 1


def test_another_listing_of_an_item_that_holds_another_sources_record_is_judged_as_a_clean_record():
    # A scraped index lists "Sybase Replication Server" three times: the first listing joined the DBLP item,
    # the others are listings of that item too, on the same evidence (a short title, initials, the year).
    item = summary("Sybase Replication Server", ["Mark Deppe", "Yongdong Wang", "Alex Gorelik"], 1994)
    item.origins.update({"dblp.csv", "scholar.csv"})
    assert merge.match_score(summary("Sybase replication server", ["A Gorelik"], 1994, item_id=2),
                             "scholar.csv", item) > 0
    # ... but an item of that source alone keeps asking for more (a column printed every issue).
    alone = summary("Sybase Replication Server", ["Alex Gorelik"], 1994)
    alone.origins.add("scholar.csv")
    assert merge.match_score(summary("Sybase replication server", ["A Gorelik"], 1994, item_id=2),
                             "scholar.csv", alone) == 0


def test_an_item_without_a_record_of_the_source_wins_over_one_with():
    # A clean source listing a work twice ("TPC-D" and a typo'd "TCP-D") gives each listing its own item:
    # an item that holds a record of the source already loses to one that does not, however close.
    taken = summary("TPC-D: The Challenges, Issues and Results", ["Ramesh Bhashyam"], 1996, item_id=1)
    taken.origins.update({"dblp.csv", "acm.csv"})
    free = summary("TCP-D - The Challenges, Issues and Results", ["Ramesh Bhashyam"], 1996, item_id=2)
    free.origins.add("dblp.csv")
    record = summary("TPC-D: The Challenges, Issues and Results", ["Ramesh Bhashyam"], 1996, item_id=3)
    assert merge.match_score(record, "acm.csv", taken) > 0
    assert merge.best_match(record, "acm.csv", [taken, free]) is free


def test_years_two_apart_need_a_near_duplicate_title_and_an_author_in_common():
    # A scraped year drifts by two (the preprint's, a reprint's): the title and an author still say it.
    item = summary("Implementing XQuery", ["Paul Cotton"], 2002)
    assert merge.match_score(summary("Implementing XQuery", ["P Cotton"], 2004, item_id=2), "s.csv", item) > 0
    assert merge.match_score(summary("Implementing XQuery", [], 2004, item_id=2), "s.csv", item) == 0
    assert merge.match_score(summary("Implementing XQuery", ["P Cotton"], 2005, item_id=2), "s.csv", item) == 0
    near = summary("Implementing XQuery", ["P Cotton"], 2003, item_id=2)
    far = summary("Implementing XQuery", ["P Cotton"], 2004, item_id=2)
    assert merge.match_score(near, "s.csv", item) > merge.match_score(far, "s.csv", item)
    # Close titles (a changed word) still need the same year.
    wavelets = summary("Approximate Query Processing Using Wavelets", ["Kaushik Chakrabarti", "Rajeev Rastogi"], 2000)
    changed = summary("Approximate query answering using wavelets", ["Kaushik Chakrabarti", "Rajeev Rastogi"], 2002,
                      item_id=2)
    assert merge.match_score(changed, "s.csv", wavelets) == 0


def test_window_keys_start_only_at_the_first_words_of_a_title():
    # A long title gets WINDOW_STARTS window keys, not one per word; a short prefix glued on still meets.
    title = ("Towards a unified framework for the efficient evaluation of declarative queries over "
             "distributed heterogeneous data sources in large scale scientific collaborations")
    words = merge.significant_words(title)
    windows = {merge.keys._key_hash("w:" + " ".join(words[i:i + merge.WINDOW_WORDS])) for i in range(len(words))}
    assert len(windows & set(merge.block_keys(title))) == merge.keys.WINDOW_STARTS
    for scraped in ("Invited talk: towards a unified framework for the efficient evaluation of decl\u2026",
                    "Chapter 12 towards a unified framework for the efficient \u2026 - ACM Digital Library",
                    "Smith: towards a unified framework for the efficient evaluation..."):
        assert set(merge.block_keys(scraped)) & set(merge.block_keys(title)), scraped


def test_an_item_of_one_record_has_the_fields_of_that_record_given_twice():
    """``resolve_item`` of one record takes a shortcut (no ranking, no merging); the general rule over the same
    record twice must give the same fields: checked on every record of the sample sources and on edge cases."""
    from pathlib import Path

    from paperfeed import prepare
    from paperfeed.records import ParseContext

    records = []
    for path in sorted((Path(__file__).parent / "data" / "sources").iterdir()):
        if path.suffix != ".md":
            _, prepared = prepare.parse(path.read_bytes(), ParseContext(str(path)), None)
            records += [(item.data, item.record.abstract) for item in prepared]
    assert len({data["format"] for data, _ in records}) >= 8
    edge_cases = [
        {"format": "biorxiv", "title": "T", "doi": "10.1101/2023.03.14.532608", "year": 2023},  # a preprint DOI
        {"format": "crossref", "title": "T", "doi": "10.1000/x", "published": "2021-05-01", "year": 2021},
        {"format": "hf-daily", "title": "T", "extra": {"upvotes": -3}, "label": "HF"},
        {"format": "hf-daily", "title": "T", "extra": {"upvotes": True}},
        {"format": "hf-daily", "title": "T", "extra": {"upvotes": "7"}},
        {"format": "feed", "title": "News", "kind": "news", "url": "https://example.org/a"},
        {"format": "capture", "title": "T", "topics": [["A", 0.5], ["A", 0.9], ["B", 0.2]],
         "categories": ["cs.LG", "cs.LG", "cs.AI"]},
        {"format": "arxiv-oai", "title": "", "deleted": True, "arxiv_id": "2101.00001"},
        {"format": "csv", "title": "T", "year": 0, "authors": []},
    ]
    records += [(data, "") for data in edge_cases]
    for data, abstract in records:
        assert merge.resolve_item([data], [abstract, abstract[:10]]) == \
            merge.resolve_item([data, data], [abstract, abstract[:10]]), data
    assert merge.resolve_item([edge_cases[3]]).upvotes == 1 and type(merge.resolve_item([edge_cases[3]]).upvotes) is int
