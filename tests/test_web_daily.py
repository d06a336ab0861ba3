"""The Daily Papers cards and the item page's links, labels and BibTeX keys, over HTTP on both backends.

The store holds two real arXiv listing days and the two Hugging Face Daily Papers days of the same dates
(tests/data/daily), whose Hugging Face fields (submitter, organisation, GitHub repository and stars, AI keywords,
comment counts) are what the cards must show; expected values are read from those files, not written here.
"""

from __future__ import annotations

import html
import json
import re

import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.daily import TrendingWeights, explain
from paperfeed.ingest import Ingester
from paperfeed.library.citation import base_key, unique_keys
from paperfeed.sources import format_names
from paperfeed.sources.labels import FORMAT_LABELS, source_label
from paperfeed.storage import open_store
from paperfeed.web import create_app

from datafiles import DATA

DAILY = DATA / "daily"
DAY = "2026-02-27"
HF_FILE = DAILY / "hf_2026-02-27.json"
# Two papers of one first author, year and first title word: their citation keys must differ.
NAMESAKES = [
    {"id": "2602.99101", "categories": ["cs.LG"], "authors": ["Zoë Ångström", "B. Other"],
     "title": "Graph transformers for the rest of us", "summary": "One.", "published": "2026-02-27"},
    {"id": "2602.99102", "categories": ["cs.LG"], "authors": ["Zoë Ångström"],
     "title": "Graph sparsifiers, revisited", "summary": "Two.", "published": "2026-02-27"},
]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request, tmp_path_factory):
    directory = tmp_path_factory.mktemp("webdaily")
    db = str(directory / "store.db")
    if request.param == "postgres":
        db = request.getfixturevalue("pg_server").create_database(f"paperfeed_{directory.name}")
    namesakes = directory / "namesakes.jsonl"
    namesakes.write_text("".join(json.dumps(record) + "\n" for record in NAMESAKES), encoding="utf-8")
    with open_store(db) as store:
        report = Ingester(store).ingest_paths([DAILY / "2026-02-26.jsonl", DAILY / "2026-02-27.jsonl",
                                               DAILY / "hf_2026-02-26.json", HF_FILE, namesakes])
        assert not report.failed, [(f.origin, f.error) for f in report.failed]
    return Settings.load(db=db, embedder="none", secret_key="test-secret-key")


@pytest.fixture(scope="module")
def client(settings):
    with TestClient(create_app(settings), base_url="https://testserver") as test_client:
        yield test_client


@pytest.fixture(scope="module")
def day(client):
    return client.get("/api/v1/daily", params={"date": DAY, "limit": 500}).json()


def hf_papers(path=HF_FILE) -> dict[str, dict]:
    """The Hugging Face file's items by arXiv id, those picked only on that day (one record each)."""
    other = {item["paper"]["id"] for item in json.loads((DAILY / "hf_2026-02-26.json").read_text())}
    return {item["paper"]["id"]: item for item in json.loads(path.read_text()) if item["paper"]["id"] not in other}


def card_html(page: str, item_id: int) -> str:
    match = re.search(rf'<li class="card" id="paper-{item_id}" data-card>(.*?)</li>\s*(?:<li class="card"|</ol>)',
                      page, re.S)
    assert match, f"no card for item {item_id}"
    return match.group(1)


# -- the cards carry what Hugging Face gave -------------------------------------------------------

def test_cards_show_hugging_face_fields_in_the_page_and_the_api(client, day):
    page = client.get(f"/papers/{DAY}").text
    entries = {entry["arxiv_id"]: entry for entry in day["entries"]}
    checked = {"repo": 0, "org": 0, "keywords": 0}
    for arxiv, item in hf_papers().items():
        paper, entry = item["paper"], entries[arxiv]
        assert entry["hf_upvotes"] == paper["upvotes"]
        assert entry["hf_comments"] == item["numComments"]
        assert entry["submitted_by"] == item["submittedBy"]["name"]
        assert entry["keywords"] == paper.get("ai_keywords", [])
        assert entry["teaser"] and paper["summary"].split()[0] in entry["teaser"] and len(entry["teaser"]) <= 301
        card = card_html(page, entry["id"])
        assert f'href="https://huggingface.co/papers/{arxiv}"' in card
        assert f'href="https://arxiv.org/abs/{arxiv}"' in card and f'href="https://arxiv.org/pdf/{arxiv}"' in card
        assert f'Submitted by <span class="card-submitter">{html.escape(item["submittedBy"]["name"])}</span>' in card
        assert f'▲</span> {paper["upvotes"]}' in card and "Hugging Face</span>" in card and ">here</span>" in card
        assert f"{item['numComments']} comment" in card
        if paper.get("githubRepo"):
            assert entry["github_repo"] == paper["githubRepo"] and entry["github_stars"] == paper["githubStars"]
            assert f'href="{html.escape(paper["githubRepo"])}"' in card and f"★ {paper['githubStars']}" in card
            checked["repo"] += 1
        if item.get("organization"):
            assert entry["organization"] == item["organization"]["name"]
            assert f'<span class="card-org">{html.escape(item["organization"]["name"])}</span>' in card
            checked["org"] += 1
        for keyword in paper.get("ai_keywords", [])[:6]:
            assert f"<li>{html.escape(keyword)}</li>" in card
            checked["keywords"] += 1
    assert all(checked.values()), checked  # the file has each kind of field, so each was checked


def test_a_listing_only_paper_has_no_hugging_face_parts(client, day):
    page = client.get(f"/papers/{DAY}").text
    plain = next(e for e in day["entries"] if e["sources"] == ["arXiv listing"])
    assert plain["hf_upvotes"] == 0 and plain["submitted_by"] is None and plain["hf_comments"] is None
    card = card_html(page, plain["id"])
    assert "huggingface.co" not in card and "Submitted by" not in card and "on Hugging Face" not in card
    assert [link["label"] for link in plain["links"]][:2] == ["arXiv", "PDF"]


def test_sources_are_labels_in_words_never_format_names(client, day, settings):
    assert set(FORMAT_LABELS) == set(format_names())  # every format has its words
    assert source_label("jsonl", None) == "arXiv listing" and source_label("bibtex", "mine.bib") == "BibTeX library"
    assert source_label("feed", "The Guardian") == "The Guardian" and source_label("capture", "hf-daily") == \
        "Page capture"
    labels = {label for entry in day["entries"] for label in entry["sources"]}
    assert labels == {"arXiv listing", "Hugging Face Daily Papers"}
    picked = next(e for e in day["entries"] if e["hf_upvotes"])
    pages = [client.get(f"/papers/{DAY}").text, client.get(f"/papers/{DAY}?span=week").text,
             client.get(f"/items/{picked['id']}").text]
    for text in pages:
        for name in format_names():
            assert f">{name}<" not in text and f" {name}<" not in text, name
        assert "hf-daily" not in text and "jsonl" not in text
    assert "From arXiv listing, Hugging Face Daily Papers" in pages[0]
    assert 'data-label="Source">Hugging Face Daily Papers' in pages[2]
    assert 'data-label="Source">arXiv listing' in pages[2]


# -- day, week and month with working previous and next ----------------------------------------------

def test_previous_and_next_walk_between_days_with_papers(client):
    today = client.get(f"/papers/{DAY}").text
    previous = re.search(r'<a rel="prev" class="date-step" href="([^"]+)">', today).group(1)
    assert previous == "/papers/2026-02-26" and "Thu 26 Feb 2026" in today and "No later papers" in today
    before = client.get(previous).text
    assert before.count("data-card>") > 0 and "Thu 26 Feb 2026</time>" in before
    assert re.search(r'<a rel="next" class="date-step" href="([^"]+)">', before).group(1) == f"/papers/{DAY}"
    assert "No earlier papers" in before
    # A weekend day with no papers still points to the days around it.
    saturday = client.get("/papers/2026-02-28").text
    assert f'href="/papers/{DAY}"' in saturday and "Saturday" in saturday


def test_week_and_month_keep_their_span_in_navigation(client, day):
    week = client.get(f"/papers/{DAY}?span=week")
    assert week.status_code == 200
    text = week.text
    assert "Week of 23 Feb 2026" in text and '<strong aria-current="page">Week</strong>' in text
    data = client.get("/api/v1/daily", params={"date": DAY, "span": "week", "limit": 500}).json()
    days = [client.get("/api/v1/daily", params={"date": d, "limit": 500}).json() for d in ("2026-02-26", DAY)]
    assert data["total"] == len({e["id"] for page in days for e in page["entries"]})
    later = client.get("/papers/2026-03-02?span=week").text  # the week after: nothing, and a way back
    assert 'href="/papers/2026-02-27?span=week"' in later and "Week of 23 Feb 2026" in later
    month = client.get("/papers/2026-03-15?span=month").text
    assert "March 2026" in month and 'href="/papers/2026-02-27?span=month">' in month and "February 2026" in month


# -- why here: the ranking's own computation -------------------------------------------------------

def test_why_here_is_the_score_that_ranked_the_page(client, day, settings):
    scores = [entry["score"] for entry in day["entries"]]
    assert scores == sorted(scores, reverse=True)
    for entry in day["entries"]:
        why = entry["why"]
        assert why["score"] == entry["score"]
        assert (1 + sum(term["points"] for term in why["terms"])) * why["decay"] == pytest.approx(entry["score"])
        upvotes = next(term for term in why["terms"] if term["name"] == "Hugging Face upvotes")
        assert upvotes["count"] == entry["hf_upvotes"]
    page = client.get(f"/papers/{DAY}").text
    top = day["entries"][0]
    card = card_html(page, top["id"])
    assert f"Why here: score {top['score']:.2f}" in card
    assert f"{top['hf_upvotes']} Hugging Face upvotes</th><td>+{top['why']['terms'][0]['points']:.2f}" in card


def test_a_late_pick_counts_its_age_from_the_pick_and_says_so(client, day):
    late = next(e for e in day["entries"] if e["arxiv_id"] == "2602.21760")  # announced 02-26, picked 02-27
    assert late["first_day"] == "2026-02-26" and late["why"]["age_days"] == 0 and late["why"]["decay"] == 1
    assert "picked by Hugging Face on 2026-02-27" in late["why"]["age_note"]
    card = card_html(client.get(f"/papers/{DAY}").text, late["id"])
    assert "First seen 2026-02-26, picked by Hugging Face on 2026-02-27" in card
    # Upvotes order the picks: no pick sits below one with fewer upvotes and no more sources.
    picks = [e for e in day["entries"] if e["hf_upvotes"]]
    for higher, lower in zip(picks, picks[1:]):
        assert higher["hf_upvotes"] >= lower["hf_upvotes"] or higher["source_count"] > lower["source_count"]


def test_the_breakdown_is_explain_of_the_stored_signals(settings, day):
    with open_store(settings.db) as store:
        signals = {s.item_id: s for s in store.daily_signals(DAY, DAY)}
    weights = TrendingWeights.from_settings(settings)
    for entry in day["entries"][:20]:
        assert explain(signals[entry["id"]], weights).to_dict() == entry["why"]


# -- the item page: every link, the Hugging Face one included -----------------------------------------

def test_item_page_links_to_hugging_face_when_hugging_face_carried_it(client, day):
    arxiv, item = next((a, i) for a, i in hf_papers().items() if i["paper"].get("githubRepo"))
    entry = next(e for e in day["entries"] if e["arxiv_id"] == arxiv)
    api = client.get(f"/api/v1/items/{entry['id']}").json()
    links = {link["label"]: link["url"] for link in api["links"]}
    assert links["Hugging Face"] == f"https://huggingface.co/papers/{arxiv}"
    assert links["GitHub"] == item["paper"]["githubRepo"] and links["arXiv"] == f"https://arxiv.org/abs/{arxiv}"
    if item["paper"].get("projectPage"):
        assert links["Project page"] == item["paper"]["projectPage"]
    assert api["hugging_face"]["github_stars"] == item["paper"]["githubStars"]
    assert api["hugging_face"]["submitted_by"] == item["submittedBy"]["name"]
    text = client.get(f"/items/{entry['id']}").text
    assert f'href="https://huggingface.co/papers/{arxiv}"' in text
    assert f"▲</span> {item['paper']['upvotes']} Hugging Face upvote" in text
    assert f"GitHub ★ {item['paper']['githubStars']}" in text
    plain = next(e for e in day["entries"] if e["sources"] == ["arXiv listing"])
    plain_item = client.get(f"/api/v1/items/{plain['id']}").json()
    assert "Hugging Face" not in {link["label"] for link in plain_item["links"]} and plain_item["hugging_face"] is None


def test_item_sources_read_as_versions_and_reasons(client, day):
    picked = next(e for e in day["entries"] if e["source_count"] == 2)
    text = client.get(f"/items/{picked['id']}").text
    sources = text[text.index('<table class="sources">'):text.index("</table>")]
    assert 'data-label="Version">Preprint' in sources
    assert "shares the arXiv id" in sources and "started the item" in sources


# -- BibTeX keys --------------------------------------------------------------------------------------

def test_bibtex_keys_are_lastname_year_word_ascii_folded():
    assert base_key({"id": 1, "authors": ["Ashish Vaswani", "Noam Shazeer"], "title": "Attention Is All You Need",
                     "year": 2017}) == "vaswani2017attention"
    assert base_key({"id": 2, "authors": ["Łukasz Kaiser"], "title": "On the Ørsted effect",
                     "arxiv_id": "2512.01234"}) == "kaiser2025orsted"
    assert base_key({"id": 3, "authors": ["José Müller-Pérez, Jr."], "title": "Über die Möglichkeit",
                     "published": "2020-05-01"}) == "mullerperez2020uber"
    # No authors and no year: neither "anon" nor "nd", but the title's first significant words.
    assert base_key({"id": 4, "authors": [], "title": "Offline Planning and Online Learning under Recovering "
                     "Rewards"}) == "offlineplanning"
    assert base_key({"id": 5, "authors": [], "title": "!!!"}) == "item5"
    same = [{"id": 9, "authors": ["A Smith"], "title": "Graphs", "year": 2024},
            {"id": 4, "authors": ["A Smith"], "title": "Graphs again", "year": 2024},
            {"id": 6, "authors": ["B Jones"], "title": "Graphs", "year": 2024}]
    assert unique_keys(same) == {4: "smith2024graphs", 9: "smith2024graphsb", 6: "jones2024graphs"}
    assert unique_keys(list(reversed(same))) == unique_keys(same)  # stable: by id, not by order given


def test_bibtex_keys_in_the_export_are_unique_and_stable(client, settings):
    with open_store(settings.db) as store:
        first, second = (store.find_item(record["id"]) for record in NAMESAKES)
    assert first < second
    keys = []
    for item_id in (first, second):
        bib = client.get(f"/items/{item_id}.bib").text
        keys.append(re.match(r"@article\{([^,]+),", bib).group(1))
        assert client.get(f"/items/{item_id}.bib").text == bib  # stable between requests
        assert f"<pre class=\"bibtex\" id=\"bibtex\">{html.escape(bib, quote=False)}" in client.get(
            f"/items/{item_id}").text
    assert keys == ["angstrom2026graph", "angstrom2026graphb"]
    for entry in client.get("/api/v1/daily", params={"date": DAY, "limit": 30}).json()["entries"]:
        key = re.match(r"@\w+\{([^,]+),", client.get(f"/items/{entry['id']}.bib").text).group(1)
        assert re.fullmatch(r"[a-z]+20[0-9]{2}[a-z0-9]+", key) and not key.startswith("anon"), key
