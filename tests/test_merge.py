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
