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
