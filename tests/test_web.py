"""The web app over HTTP (FastAPI's TestClient on a real store): every route, headers, cookies, CSRF, errors, JSON."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from fastapi.testclient import TestClient

from paperfeed.web import create_app
from paperfeed.library.citation import bibtex_entry
from paperfeed.web.queries import build_query, safe_url
from paperfeed.web.security import CSRF_COOKIE, RateLimiter, csrf_token, is_loopback

from web_data import KNOWN_ARXIV, KNOWN_TITLE, TOPIC_SLUG, XSS_ARXIV, build_store

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request, tmp_path_factory):
    """The web store on each backend in turn (as conftest's ``backend_url``, once per module: building it is slow)."""
    directory = tmp_path_factory.mktemp("web")
    db = None
    if request.param == "postgres":
        db = request.getfixturevalue("pg_server").create_database(f"paperfeed_{directory.name}")
    return build_store(directory, db)


@pytest.fixture(scope="module")
def client(settings):
    # https: the session cookies are Secure, and httpx (like a browser) keeps those only for HTTPS or loopback.
    with TestClient(create_app(settings), base_url="https://testserver") as test_client:
        yield test_client


@pytest.fixture(scope="module")
def ids(client, settings):
    from paperfeed.storage import open_store

    with open_store(settings.db) as store:
        return {"known": store.find_item(KNOWN_ARXIV), "xss": store.find_item(XSS_ARXIV)}


def token(client) -> str:
    """The visitor's form token: bound to the CSRF cookie and, when signed in, to the session."""
    client.get("/")
    return csrf_token(b"test-secret-key", client.cookies[CSRF_COOKIE], client.cookies.get("pf_session", ""))


PAGES = ["/", "/papers/2024-05-27", "/papers/2024-05-27?span=week", "/papers/2026-02-01?span=month", "/topics", f"/topics/{TOPIC_SLUG}", "/search", "/search?q=transformer", "/authors", "/docs"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_answer_with_security_headers(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert '<main id="main"' in response.text and 'lang="en"' in response.text


def test_csrf_cookie_is_httponly_samesite_and_secure(settings):
    with TestClient(create_app(settings), base_url="https://testserver") as fresh:
        cookie = fresh.get("/").headers["set-cookie"]
    assert cookie.startswith(f"{CSRF_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie and "Path=/" in cookie


def test_cookie_is_not_secure_over_plain_http_to_a_lan_host(settings):
    # A LAN install on http://192.168.x.y could never get a Secure cookie back; loopback and HTTPS always do.
    with TestClient(create_app(settings), base_url="http://192.168.1.20:8000") as lan:
        assert "Secure" not in lan.get("/").headers["set-cookie"]
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000") as local:
        assert "Secure" in local.get("/").headers["set-cookie"]


def test_the_cookie_is_issued_once(client):
    client.get("/")
    assert "set-cookie" not in client.get("/topics").headers


def test_post_without_csrf_token_is_refused(client):
    client.get("/")
    response = client.post("/logout", data={"q": "x"})
    assert response.status_code == 403 and "CSRF" in response.text
    assert "content-security-policy" in response.headers


def test_post_with_a_forged_token_is_refused(client):
    client.get("/")
    forged = csrf_token(b"another-key", client.cookies[CSRF_COOKIE])
    assert client.post("/logout", data={"csrf_token": forged}).status_code == 403
    assert client.post("/api/v1/items/1/vote", headers={"X-CSRF-Token": forged}).status_code == 403


def test_post_without_the_cookie_is_refused(settings):
    with TestClient(create_app(settings), base_url="https://testserver") as fresh:
        response = fresh.post("/logout", data={"csrf_token": "0" * 64})
    assert response.status_code == 403


def test_post_with_a_valid_token_passes_the_guard_and_get_only_routes_say_405(client):
    good = token(client)
    assert client.post("/search", data={"csrf_token": good, "q": "x"}).status_code == 405
    assert client.post(f"/api/v1/topics", headers={"X-CSRF-Token": good}).status_code == 405
    response = client.post("/api/v1/topics", headers={"X-CSRF-Token": good, "Accept": "application/json"})
    assert response.json() == {"error": "This address does not accept that method.", "status": 405}


@pytest.mark.parametrize("method", ["TRACE", "PUT", "DELETE", "PATCH", "POST", "QUERY"])
def test_a_method_no_route_takes_is_a_405_with_allow_before_the_csrf_check(settings, method):
    # Nothing can change when no route at the address takes the method: 405 says so, with or without a token.
    with TestClient(create_app(settings), base_url="https://testserver") as fresh:
        for path in ("/api/v1/topics", "/search", f"/topics/{TOPIC_SLUG}.atom"):
            response = fresh.request(method, path)
            assert response.status_code == 405 and response.headers["allow"] == "GET", (method, path)
            assert "content-security-policy" in response.headers
        assert fresh.request(method, "/api/v1/topics").json()["status"] == 405
        if method != "POST":
            assert fresh.request(method, "/register").headers["allow"] == "GET, POST"
        else:  # a method the address takes goes on to the CSRF check
            assert fresh.request(method, "/register").status_code == 403
        assert fresh.request(method, "/no/such/page").status_code in (403, 404)  # no route: as before


def test_a_multipart_post_without_header_token_is_refused(client):
    client.get("/")
    assert client.post("/logout", files={"f": ("a.txt", b"x")}).status_code == 403


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "There is no page at this address." in response.text and "Traceback" not in response.text


def test_unknown_item_topic_and_author(client):
    for path in ("/items/999999", "/items/not-an-id", f"/topics/no-such-topic", "/authors/99999999"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "<h1>Not found</h1>" in response.text


def test_bad_parameters_are_400_pages_and_422_json(client):
    page = client.get("/search?q=x&page=0")
    assert page.status_code == 400 and "page" in page.text and "Traceback" not in page.text
    assert client.get("/authors/abc").status_code == 400
    api = client.get("/api/v1/search?q=x&limit=1000")
    assert api.status_code == 422 and api.json()["status"] == 422 and "limit" in api.json()["error"]
    assert client.get("/api/v1/search?q=x&mode=psychic").status_code == 422


def test_the_search_api_reads_its_parameters_as_fastapi_documents_them(client):
    """Valid parameters are read in one pydantic call (QuickSearchRoute); the answers are FastAPI's own: a repeated
    name takes its last value, an unknown name is ignored, and a bad value is the declared parameters' 422."""
    def body(query: str) -> dict:
        response = client.get(f"/api/v1/search?{query}")
        assert response.status_code == 200, (query, response.text)
        return {key: value for key, value in response.json().items() if key != "milliseconds"}

    assert body("q=learning&mode=keyword&limit=2&limit=3") == body("q=learning&mode=keyword&limit=3")
    assert body("q=learning&mode=keyword&unknown=1") == body("q=learning&mode=keyword")
    assert len(body("q=learning&mode=keyword&limit=3")["hits"]) == 3
    for query, error in (("q=x&limit=0", "limit: Input should be greater than or equal to 1"),
                         ("q=x&limit=", "limit: Input should be a valid integer"),
                         ("mode=keyword", "q: Field required"),
                         ("q=x&mode=", "mode: Input should be 'keyword', 'semantic' or 'hybrid'")):
        response = client.get(f"/api/v1/search?{query}")
        assert response.status_code == 422 and response.json()["error"].startswith(error), (query, response.text)
    assert client.head("/api/v1/search?q=x").status_code == 405
    parameters = {parameter["name"] for parameter in client.get("/openapi.json").json()["paths"]["/api/v1/search"]
                  ["get"]["parameters"]}
    assert parameters == {"q", "mode", "limit", "offset", "kind", "topic", "author", "after", "before"}


HUGE = "99999999999999999999"  # past a 64-bit integer: SQLite and PostgreSQL cannot even bind it


def test_numbers_too_large_for_the_database_are_404_or_422_never_500(client):
    for path in (f"/authors/{HUGE}", f"/api/v1/items/{HUGE}", f"/items/{HUGE}", f"/authors/-{HUGE}", "/authors/0"):
        response = client.get(path)
        assert response.status_code == 404, path
    for path in (f"/api/v1/authors/{HUGE}", f"/api/v1/authors/-{HUGE}", "/api/v1/authors/0",
                 f"/api/v1/items/{HUGE}/mine"):  # the API documents its ids as positive 64-bit integers
        response = client.get(path)
        assert response.status_code == 422 and response.json()["error"].startswith(("author_id", "item_id")), path
    for offset in (HUGE, "1000001"):
        api = client.get(f"/api/v1/topics/{TOPIC_SLUG}", params={"offset": offset})
        assert api.status_code == 422 and "offset" in api.json()["error"]
    assert client.get(f"/api/v1/topics/{TOPIC_SLUG}", params={"offset": "1000000"}).json()["items"] == []


def test_the_last_week_of_the_calendar_is_cut_short_not_a_500(client):
    assert client.get("/papers/9999-12-31?span=week").status_code == 200
    page = client.get("/api/v1/daily", params={"date": "9999-12-31", "span": "week"}).json()
    assert (page["start"], page["end"], page["entries"]) == ("9999-12-27", "9999-12-31", [])
    assert client.get("/papers/9999-12-31?span=month").status_code == 200
    assert client.get("/papers/0001-01-01?span=week").status_code == 200


def test_an_id_of_non_ascii_digits_is_not_found_not_a_python_error(client):
    for reference in ("%C2%B23", "%D9%A3"):  # "²3" (int() refuses it), Arabic-Indic three (int() reads 3)
        response = client.get(f"/api/v1/items/{reference}")
        assert response.status_code == 404 and "int()" not in response.text


def test_item_page_shows_provenance_links_topics_and_bibtex(client, ids):
    response = client.get(f"/items/{ids['known']}")
    assert response.status_code == 200
    html = response.text
    assert KNOWN_TITLE in html
    assert f'href="https://arxiv.org/abs/{KNOWN_ARXIV}"' in html and f'href="https://arxiv.org/pdf/{KNOWN_ARXIV}"' in html
    assert "Daniel Miao" in html and re.search(r'href="/authors/\d+">Daniel Miao</a>', html)
    assert "<h2 id=\"sources-h\">Sources</h2>" in html and 'data-label="Source">arXiv listing' in html and "jsonl" not in html
    assert f"eprint = {{{KNOWN_ARXIV}}}" in html
    assert f'href="/items/{ids["known"]}.bib"' in html


def test_item_by_arxiv_id_redirects_to_its_one_address(client, ids):
    response = client.get(f"/items/{KNOWN_ARXIV}", follow_redirects=False)
    assert response.status_code == 301 and response.headers["location"] == f"/items/{ids['known']}"


def test_ingested_markup_is_rendered_as_text(client, ids):
    html = client.get(f"/items/{ids['xss']}").text
    assert "<script>window.__xss" not in html and "<img src=x" not in html and "<iframe" not in html
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;Adversarial" in html
    assert "Mallory &lt;b&gt;Hacker&lt;/b&gt;" in html
    assert 'href="javascript:' not in html
    # and in search results, where snippets are the one place HTML (<mark>) is let through
    results = client.get("/search", params={"q": "adversarial titles transformer attention"}).text
    assert "&lt;script&gt;" in results and "<script>window" not in results and "<mark>" in results
    scripts = re.findall(r"<script[^>]*>", results)
    assert scripts == ['<script src="/static/vendor/katex/katex.min.js" defer>', '<script src="/static/app.js" defer>']


def test_safe_url_keeps_only_http_links():
    assert safe_url("https://github.com/a/b") == "https://github.com/a/b"
    for bad in ("javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,x", "//evil.example", "", None, "http:"):
        assert safe_url(bad) is None


def test_bibtex_export(client, ids):
    response = client.get(f"/items/{ids['known']}.bib")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/x-bibtex")
    text = response.text
    assert text.startswith("@article{miao2026") and "author = {Daniel Miao and Gilad Lerman and Joe Kileel}" in text
    assert text.count("{") == text.count("}")
    assert client.get(f"/items/{KNOWN_ARXIV}.bib").text == text
    assert client.get("/items/999999.bib").status_code == 404


def test_bibtex_escapes_braces_so_an_entry_cannot_be_broken_out_of():
    entry = bibtex_entry({"id": 7, "kind": "paper", "title": "Evil} , note = {pwned", "authors": ["A B"], "year": 2024},
                         "b2024evil")
    assert "title = {Evil\\} , note = \\{pwned}" in entry
    assert "\nnote" not in entry and "  note =" not in entry


def test_search_page_with_filters(client):
    html = client.get("/search", params={"q": "", "kind": "news", "after": "2018-01-01"}).text
    assert "Guardian" in html or "<li class=\"item\">" in html
    assert 'value="news" selected' in html
    news_only = client.get("/api/v1/search", params={"q": "trump", "kind": "news", "mode": "keyword"}).json()
    assert news_only["hits"] and all(hit["kind"] == "news" for hit in news_only["hits"])


def test_build_query_quotes_multiword_filters():
    assert build_query("llm", {"author": "Jane Doe", "kind": "paper", "topic": ""}) == 'llm kind:paper author:"Jane Doe"'
    assert build_query("", {"author": 'x" -y'}) == 'author:"x -y"'


def test_search_pagination(client):
    first = client.get("/search", params={"q": "learning", "mode": "keyword"}).text
    assert 'rel="next"' in first
    second = client.get("/search", params={"q": "learning", "mode": "keyword", "page": 2}).text
    assert 'rel="prev"' in second and '<ol class="items" start="21">' in second
    total = client.get("/api/v1/search", params={"q": "learning", "mode": "keyword", "limit": 100}).json()["total"]
    assert total > 20 and f'<p class="total" role="status">{total:,} results, 21–40 shown</p>' in second


def test_search_atom_feed(client):
    response = client.get("/search.atom", params={"q": "adversarial titles"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.content)
    titles = [entry.findtext(f"{ATOM}title") for entry in feed.findall(f"{ATOM}entry")]
    assert any(title.startswith("<script>window.__xss") for title in titles)  # escaped in XML, text when parsed
    assert b"<script>" not in response.content
    assert client.get("/search.atom").status_code == 400


def test_topic_page_sources_authors_and_trend(client):
    html = client.get(f"/topics/{TOPIC_SLUG}").text
    assert "<h1>Large Language Model</h1>" in html
    assert "arXiv.org Machine Learning" in html and "The Atlantic - Technology" in html
    assert "Collaborating Authors" in html and re.search(r'href="/authors/\d+">', html)
    # The trend chart is drawn into the page (no image to fetch) and is also an SVG document of its own.
    inline = re.search(r"<svg .*?</svg>", html, re.S).group(0)
    assert 'class="trend-chart"' in inline and "viewBox" not in inline
    assert f'href="/topics/{TOPIC_SLUG}/trend.svg"' in html
    svg = client.get(f"/topics/{TOPIC_SLUG}/trend.svg")
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
    assert svg.headers["content-security-policy"] == "default-src 'none'; style-src 'unsafe-inline'"
    chart = ET.fromstring(svg.content)
    assert chart.find("{http://www.w3.org/2000/svg}title").text == "Large Language Model: items per week"
    # Items carry their source in words (never a format name) and a teaser of their abstract.
    assert 'class="teaser"' in html and "jsonl" not in html and "hf-daily" not in html


def test_topic_atom_feed(client):
    response = client.get(f"/topics/{TOPIC_SLUG}.atom")
    assert response.status_code == 200
    feed = ET.fromstring(response.content)
    assert feed.findtext(f"{ATOM}title") == "paperfeed — Large Language Model"
    assert len(feed.findall(f"{ATOM}entry")) == 12
    assert client.get("/topics/nope.atom").status_code == 404


def test_author_page_and_lookup(client, ids):
    item = client.get(f"/api/v1/items/{ids['known']}").json()
    author = item["author_links"][0]
    # This store's people are not decided yet (no refresh): the link is the name's page, all its papers.
    assert author["id"] is None and author["url"] == f"/authors/{author['author_id']}"
    html = client.get(author["url"]).text
    assert f"<h1>{author['name']}</h1>" in html and KNOWN_TITLE in html
    assert "Gilad Lerman" in html  # a collaborator
    found = client.get("/authors", params={"name": "Daniel Miao"}, follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"] == author["url"]
    assert "No author named" in client.get("/authors", params={"name": "Nobody Atall"}).text


def test_api_item_shape(client, ids):
    data = client.get(f"/api/v1/items/{KNOWN_ARXIV}").json()
    for key in ("id", "kind", "title", "abstract", "authors", "arxiv_id", "doi", "url", "published", "categories",
                "topics", "sources", "links", "bibtex", "similar", "author_links"):
        assert key in data
    assert data["id"] == ids["known"] and data["arxiv_id"] == KNOWN_ARXIV
    assert {"format", "label", "record_id", "origin", "seen_at"} <= set(data["sources"][0])
    assert data["sources"][0]["record_id"] == KNOWN_ARXIV
    assert {link["label"] for link in data["links"]} >= {"arXiv", "PDF"}
    assert isinstance(data["similar"], list) and all(hit["id"] != ids["known"] for hit in data["similar"])
    assert client.get("/api/v1/items/999999").json() == {"error": "no item '999999'", "status": 404}


def test_api_search_topics_and_authors(client, ids):
    result = client.get("/api/v1/search", params={"q": "quadrifocal tensor", "mode": "keyword"}).json()
    assert set(result) >= {"query", "mode", "hits", "behind", "note", "milliseconds", "offset", "limit"}
    assert result["hits"][0]["id"] == ids["known"] and "<mark>" in result["hits"][0]["snippet_html"]
    topics = client.get("/api/v1/topics").json()
    assert topics[0] == {"name": "Large Language Model", "slug": TOPIC_SLUG, "description": "", "origin": "source",
                         "cutoff": None, "cutoff_precision": None, "items": 12}  # no tagger here: no cut-off
    topic = client.get(f"/api/v1/topics/{TOPIC_SLUG}", params={"limit": 5}).json()
    assert len(topic["items"]) == 5 and topic["has_more"] and topic["collaborating_authors"]["authors"]
    assert all({"id", "title", "sources", "confidence"} <= set(item) for item in topic["items"])
    people = client.get("/api/v1/authors", params={"name": "Gilad Lerman"}).json()
    assert people and people[0]["name"] == "Gilad Lerman"
    profile = client.get(f"/api/v1{people[0]['url']}").json()
    assert profile["papers_count"] >= 1 and any(p["id"] == ids["known"] for p in profile["papers"])
    similar = client.get(f"/api/v1/items/{ids['known']}/similar", params={"limit": 3}).json()
    assert len(similar) <= 3


def test_openapi_and_docs_page(client):
    schema = client.get("/openapi.json").json()
    assert {"/api/v1/items/{reference}", "/api/v1/search", "/api/v1/topics", "/api/v1/topics/{slug}",
            "/api/v1/authors/{author_id}", "/api/v1/people/{person_id}", "/search.{kind}", "/topics/{slug}.{kind}", "/people/{person_id}.{kind}",
            "/items/{reference}.bib"} <= set(
        schema["paths"])
    html = client.get("/docs").text
    assert "<code>/api/v1/search</code>" in html and "cdn" not in html.lower()


def test_static_files_are_served_locally(client):
    assert client.get("/static/style.css").status_code == 200
    assert "addEventListener" in client.get("/static/app.js").text
    # the favicon at the address browsers and feed readers ask, and the vendored KaTeX the pages link
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml" and b"<svg" in icon.content
    page = client.get("/").text
    for asset in re.findall(r'(?:href|src)="(/static/[^"]+)"', page):
        assert client.get(asset).status_code == 200, asset
    css = client.get("/static/vendor/katex/katex.min.css").text
    fonts = set(re.findall(r"url\((fonts/[^)]+\.woff2)\)", css))
    assert len(fonts) == 20 and all(client.get(f"/static/vendor/katex/{font}").status_code == 200 for font in fonts)


def test_rate_limiter_allows_a_burst_then_waits(tmp_path):
    from paperfeed.storage import open_store

    with open_store(tmp_path / "limits.db") as store:
        limiter = RateLimiter("test", limit=3, window=60)
        assert [limiter.hit(store, "a", now=t) for t in (0, 1, 2)] == [0, 0, 0]
        # Four hits (the refused one counts) fill the window; in the next, 4 × (1 - x/60) + 1 <= 3 at x = 30.
        assert limiter.hit(store, "a", now=3) == pytest.approx(87)
        assert limiter.hit(store, "b", now=3) == 0
        assert limiter.hit(store, "a", now=61) == pytest.approx(29)  # the old window still counts almost whole
        assert limiter.hit(store, "a", now=115) == 0  # 4 × 5/60 + 2 hits: it has slid out far enough


def test_loopback_hosts():
    assert all(map(is_loopback, ["localhost", "127.0.0.1:8000", "[::1]:8000", "localhost:80"]))
    assert not any(map(is_loopback, ["example.org", "192.168.1.2:8000", "[2001:db8::1]:80"]))


def test_daily_page_is_the_front_page(client):
    html = client.get("/").text
    assert "<h1>Daily Papers</h1>" in html and '<time datetime="2026-02-27">' in html
    assert html.count('data-card>') == 50 and 'rel="next"' not in html.split("pager")[0]
    assert 'href="/papers/2024-05-27"' in html  # date navigation: the nearest earlier day with papers


def test_daily_week_month_and_weekend(client):
    day = client.get("/papers/2024-05-27").text
    assert "▲" in day and "Hugging Face" in day
    week = client.get("/papers/2024-05-27?span=week").text
    assert "Week of 27 May 2024: <time datetime=\"2024-05-27\">" in week and "2024-06-02" in week
    weekend = client.get("/papers/2024-05-25")
    assert weekend.status_code == 200 and "a Saturday: arXiv announces none on weekends" in weekend.text


def test_daily_bad_dates_and_spans(client):
    assert client.get("/papers/2024-13-45").status_code == 400
    assert "not a date" in client.get("/papers/yesterday").text
    assert client.get("/papers/2024-05-27?span=year").status_code == 400
    assert client.get("/api/v1/daily?date=bad").json()["status"] == 422  # the API's date is typed: format date
    assert client.get("/api/v1/daily?date=2024-13-45").json()["status"] == 422
    assert client.get("/api/v1/daily?span=year").status_code == 422


def test_api_daily_shape(client):
    data = client.get("/api/v1/daily", params={"date": "2024-05-27", "limit": 5}).json()
    assert data["day"] == "2024-05-27" and data["span"] == "day" and len(data["entries"]) == 5
    first = data["entries"][0]
    assert {"rank", "id", "score", "title", "authors", "hf_upvotes", "local_upvotes", "sources"} <= set(first)
    scores = [entry["score"] for entry in data["entries"]]
    assert scores == sorted(scores, reverse=True)


def test_cached_page_parts_are_dropped_when_the_store_changes(tmp_path):
    from paperfeed.config import Settings
    from paperfeed.ingest import Ingester
    from paperfeed.storage import open_store
    from paperfeed.web.context import ContextPool
    from paperfeed.web.queries import cached

    from datafiles import HF_DAY, LISTING

    settings = Settings.load(db=str(tmp_path / "cache.db"), embedder="none")
    with open_store(settings.db) as store:
        Ingester(store).ingest_paths([LISTING])
    pool = ContextPool(settings, size=1)
    calls = []
    with pool.borrow() as context:
        for _ in range(3):
            cached(context, ("probe", settings.db), lambda: calls.append(1) or len(calls))
        assert len(calls) == 1
        Ingester(context.store).ingest_paths([HF_DAY])  # new items move the change log: the next read recomputes
        assert cached(context, ("probe", settings.db), lambda: calls.append(1) or len(calls)) == 2
    pool.close()


# -- accounts, library, votes, digest subscriptions ------------------------------------------------

def _form(client, path: str, **fields) -> "httpx.Response":
    """POST a form with a valid CSRF token, not following the redirect."""
    return client.post(path, data={"csrf_token": token(client), **fields}, follow_redirects=False)


def _account(settings, email: str, password: str) -> None:
    """Make an account in the store (registering on the web goes through a mail: tests/test_accounts_security.py)."""
    from paperfeed.library import Accounts
    from paperfeed.storage import open_store

    with open_store(settings.db) as store:
        Accounts(store).create(email, password)


@pytest.fixture(scope="module")
def member(settings):
    """A client signed in as a fresh account (its own cookie jar)."""
    _account(settings, "reader@example.org", "correct horse")
    with TestClient(create_app(settings), base_url="https://testserver") as signed:
        response = _form(signed, "/login", email="reader@example.org", password="correct horse")
        assert response.status_code == 303 and response.headers["location"] == "/library"
        yield signed


def test_login_sets_a_secure_httponly_session_cookie(settings):
    _account(settings, "cookie@example.org", "longenough")
    with TestClient(create_app(settings), base_url="https://testserver") as fresh:
        response = _form(fresh, "/login", email="cookie@example.org", password="longenough", next="/topics")
        assert response.status_code == 303 and response.headers["location"] == "/topics"
        cookie = [c for c in response.headers.get_list("set-cookie") if c.startswith("pf_session=")][0]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie and "Max-Age=" in cookie
        assert "cookie@example.org" in fresh.get("/library").text
        # Log out: the cookie is dropped and the session is gone from the store.
        session = fresh.cookies["pf_session"]
        out = _form(fresh, "/logout")
        assert out.status_code == 303 and "pf_session=;" in out.headers["set-cookie"]
        assert "Max-Age=0" in out.headers["set-cookie"]
        assert fresh.get("/library", follow_redirects=False).headers["location"].startswith("/login")
        # The sign-in page it lands on says why; a made-up reason in the URL is not echoed.
        landed = fresh.get("/library")
        assert landed.url.path == "/login" and "Your library (saved papers" in landed.text
        assert "made up" not in fresh.get("/login?why=made+up").text
        assert "account-hint" not in fresh.get("/login").text
    from paperfeed.library import Accounts
    from paperfeed.storage import open_store

    with open_store(settings.db) as store:
        assert Accounts(store).session_user(session) is None  # ended in the store, not only in the browser


def test_account_forms_need_csrf_and_get_changes_nothing(client, settings):
    client.get("/register")
    assert client.post("/register", data={"email": "csrf@example.org", "password": "longenough"}).status_code == 403
    assert client.post("/login", data={"email": "csrf@example.org", "password": "longenough"}).status_code == 403
    assert client.post("/logout").status_code == 403
    assert client.get("/logout").status_code == 405
    assert client.get("/register?email=csrf@example.org&password=longenough").status_code == 200
    from paperfeed.storage import open_store

    with open_store(settings.db) as store:
        assert store.user_by_email("csrf@example.org") is None


def test_wrong_password_unknown_address_and_no_open_redirect(client, member):
    bad = _form(client, "/register", email="not an address")
    assert bad.status_code in (400, 503) and "Traceback" not in bad.text
    wrong = _form(client, "/login", email="reader@example.org", password="wrong horse")
    assert wrong.status_code == 400 and "Wrong e-mail address or password." in wrong.text
    assert "pf_session" not in wrong.headers.get("set-cookie", "")
    unknown = _form(client, "/login", email="nobody@example.org", password="wrong horse")
    assert "Wrong e-mail address or password." in unknown.text
    good = _form(client, "/login", email="reader@example.org", password="correct horse", next="//evil.example/")
    assert good.status_code == 303 and good.headers["location"] == "/library"  # no open redirect
    assert _form(client, "/logout").status_code == 303  # the shared client is signed out again
    assert "pf_session" not in client.cookies


def test_login_and_register_are_rate_limited(settings):
    from dataclasses import replace

    from paperfeed.web.security import RateLimiter

    app = create_app(replace(settings, login_pair_limit=2))
    app.state.limiters["register"] = RateLimiter("register-test", 1, 60)
    with TestClient(app, base_url="https://testserver") as fresh:
        codes = [_form(fresh, "/login", email="x@example.org", password="whatever1").status_code for _ in range(3)]
        assert codes == [400, 400, 429]
        limited = _form(fresh, "/login", email="x@example.org", password="whatever1")
        assert int(limited.headers["retry-after"]) > 0 and "Too many attempts" in limited.text
        assert _form(fresh, "/register", email="rl@example.org").status_code == 503  # no mail configured here
        assert _form(fresh, "/register", email="rl@example.org").status_code == 429


def test_save_tag_not_relevant_and_library_with_recommendations(member, client, ids):
    known = ids["known"]
    page = member.get(f"/items/{known}").text
    assert f'action="/items/{known}/save"' in page and "Not in your library." in page
    assert "Log in</a> or" in client.get(f"/items/{known}").text  # signed out: a link, no forms
    assert _form(client, f"/items/{known}/save", tags="x").headers["location"].startswith("/login")
    assert member.post(f"/items/{known}/save", data={"tags": "geometry"}).status_code == 403  # no CSRF token
    assert member.get(f"/items/{known}/save").status_code == 405
    response = _form(member, f"/items/{known}/save", tags="Geometry, tensors")
    assert response.status_code == 303 and response.headers["location"] == f"/items/{known}"
    assert "Saved with tags: geometry, tensors." in member.get(f"/items/{known}").text
    assert _form(member, f"/items/{known}/save", tags="bad\x01tag").status_code == 400
    assert _form(member, f"/items/{ids['xss']}/not-relevant").status_code == 303
    library = member.get("/library").text
    assert '<h2 id="tag-1">geometry' in library and '<h2 id="tag-2">tensors' in library
    assert KNOWN_TITLE in library
    assert library.count('<p class="reason">Why: matches your') >= 1  # recommendations come with reasons
    assert "Not relevant" in library and "&lt;script&gt;" in library  # the hostile title, escaped
    assert _form(member, f"/items/{ids['xss']}/remove").status_code == 303
    assert "Not relevant</h2>" not in member.get("/library").text


def test_upvote_once_per_user_and_undo(member, ids, settings):
    from paperfeed.storage import open_store

    known = ids["known"]
    for _ in range(2):
        assert _form(member, f"/items/{known}/vote", up="1").status_code == 303
    with open_store(settings.db) as store:
        assert store.local_upvotes([known]) == {known: 1}
    assert "Withdraw upvote" in member.get(f"/items/{known}").text
    assert _form(member, f"/items/{known}/vote", up="0").status_code == 303
    with open_store(settings.db) as store:
        assert store.local_upvotes([known]) == {}


@pytest.fixture
def mail_app(settings):
    from dataclasses import replace

    from smtp_server import SMTPServer

    smtp = SMTPServer().start()
    configured = replace(settings, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_security="none",
                         digest_from="digest@paperfeed.example.org", base_url="https://testserver")
    with TestClient(create_app(configured), base_url="https://testserver") as mail_client:
        yield mail_client, smtp.handler
    smtp.stop()


def test_subscribe_confirm_and_one_click_unsubscribe(mail_app, settings):
    from paperfeed.storage import open_store
    from paperfeed.digest import tokens

    web, smtp = mail_app
    assert 'action="/digest/subscribe"' in web.get("/").text
    assert web.post("/digest/subscribe", data={"email": "sub@example.org"}).status_code == 403
    bad = _form(web, "/digest/subscribe", email="not an address")
    assert bad.status_code == 400 and "not a valid e-mail address" in bad.text
    done = _form(web, "/digest/subscribe", email="sub@example.org")
    assert done.status_code == 200 and "confirmation link is on its way" in done.text
    [mail] = smtp.to("sub@example.org")
    link = re.search(r"https://testserver(/digest/confirm\?token=\S+)", mail.get_body(("plain",)).get_content())
    # GET shows a button and changes nothing; the POST (with its CSRF token) confirms.
    shown = web.get(link.group(1))
    assert shown.status_code == 200 and "Press the button to confirm." in shown.text
    with open_store(settings.db) as store:
        [subscriber] = [s for s in store.subscribers() if s.email == "sub@example.org"]
        assert subscriber.status == "pending"
    token_value = link.group(1).split("token=")[1]
    from urllib.parse import unquote

    token_value = unquote(token_value)
    assert web.post("/digest/confirm", data={"token": token_value}).status_code == 403  # no CSRF token
    confirmed = _form(web, "/digest/confirm", token=token_value)
    assert confirmed.status_code == 200 and "Subscribed: sub@example.org" in confirmed.text
    assert _form(web, "/digest/confirm", token=token_value + "x").status_code == 400
    # RFC 8058: a mail client posts List-Unsubscribe=One-Click with no cookie and no CSRF token.
    with open_store(settings.db) as store:
        secret = store.app_secret("digest", tokens.new_secret) if not settings.secret_key else settings.secret_key
    unsubscribe = tokens.make_token(secret, tokens.UNSUBSCRIBE, subscriber.id, subscriber.email)
    with TestClient(web.app, base_url="https://testserver") as mail_client:
        assert "Press the button" in mail_client.get(f"/digest/unsubscribe?token={unsubscribe}").text
        refused = mail_client.post(f"/digest/unsubscribe?token={unsubscribe}", data={"other": "x"})
        assert refused.status_code == 403  # only the exact one-click body is exempt
        one_click = mail_client.post(f"/digest/unsubscribe?token={unsubscribe}",
                                     content=b"List-Unsubscribe=One-Click",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert one_click.status_code == 200 and "Unsubscribed" in one_click.text
        forged = mail_client.post("/digest/unsubscribe?token=abc.def", content=b"List-Unsubscribe=One-Click",
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert forged.status_code == 400
    with open_store(settings.db) as store:
        assert store.subscriber(subscriber.id).status == "unsubscribed"


def test_subscribe_is_rate_limited_and_smtp_failure_is_a_page(settings):
    from paperfeed.web.security import RateLimiter

    app = create_app(settings)  # smtp_host is localhost with nothing listening: the mail cannot go
    app.state.limiters["subscribe"] = RateLimiter("subscribe-test", 1, 60)
    with TestClient(app, base_url="https://testserver") as fresh:
        failed = _form(fresh, "/digest/subscribe", email="down@example.org")
        assert failed.status_code == 503 and "could not be sent" in failed.text and "SMTP" not in failed.text
        assert _form(fresh, "/digest/subscribe", email="down@example.org").status_code == 429


# -- topic pages on a store of their own ------------------------------------------------------------


@pytest.fixture
def topic_store(backend_url, tmp_path):
    """The real topic capture alone, one of its items also tagged with its topic at 78%, and an empty topic."""
    from paperfeed.config import Settings
    from paperfeed.ingest import Ingester
    from paperfeed.storage import TagResult, TopicRow, open_store

    from datafiles import TOPIC_PAGE

    with open_store(backend_url) as store:
        assert not Ingester(store).ingest_paths([TOPIC_PAGE]).failed
        topic_id = {row.name: row.id for row in store.topics()}["Large Language Model"]
        first, updated = store.read_rows("SELECT id, updated_at FROM items ORDER BY id LIMIT 1")[0]
        store.write_tags("test-tagger", [TagResult(first, updated, topics=[(topic_id, 0.78)])])
        store.save_topics([TopicRow(name="Quantum Gravity", description="Nothing here yet.", origin="user")])
    settings = Settings.load(db=backend_url, embedder="none", secret_key="test-secret-key")
    with TestClient(create_app(settings), base_url="https://testserver") as fresh:
        yield fresh, first


def test_a_topic_assigned_twice_is_shown_once_with_its_best_confidence(topic_store):
    client, item_id = topic_store
    data = client.get(f"/api/v1/items/{item_id}").json()
    assert [(t["name"], t["confidence"], t["assigned_by"]) for t in data["topics"]] == [
        ("Large Language Model", 1.0, "source")]
    html = client.get(f"/items/{item_id}").text
    assert html.count(f'href="/topics/{TOPIC_SLUG}"') == 1
    topic = client.get(f"/api/v1/topics/{TOPIC_SLUG}").json()
    assert [item["id"] for item in topic["items"]].count(item_id) == 1
    assert next(item for item in topic["items"] if item["id"] == item_id)["confidence"] == 1.0


def test_topics_page_hides_topics_with_no_items(topic_store):
    client, _ = topic_store
    html = client.get("/topics").text
    assert "Large Language Model" in html and "Quantum Gravity" not in html
    assert client.get("/topics/quantum-gravity").status_code == 200  # its own page still answers


def test_a_captured_topic_page_lists_in_page_order_with_labels_and_teasers(topic_store):
    import html as html_text

    from datafiles import TOPIC_PAGE
    from paperfeed.records import ParseContext
    from paperfeed.sources import capture

    client, _ = topic_store
    records = list(capture.parse(TOPIC_PAGE.read_bytes(), ParseContext(str(TOPIC_PAGE))))
    page = client.get(f"/topics/{TOPIC_SLUG}").text
    items = re.findall(r'<li class="item">(.*?)</li>', page, re.S)
    titles = [html_text.unescape(re.search(r'<a href="/items/\d+">([^<]+)</a>', item).group(1)) for item in items]
    assert titles == [record.title for record in records]  # undated items: the capture's order
    for item, record in zip(items, records):
        assert f"{record.label}</p>" in html_text.unescape(item)  # the source in words
        teaser = html_text.unescape(re.search(r'<p class="teaser">(.*?)</p>', item, re.S).group(1))
        assert record.abstract.startswith(teaser.rstrip("…")) and len(teaser) <= 321


def test_trend_chart_text_is_never_scaled_and_never_small():
    from paperfeed.topics.chart import LABEL_SIZE, weekly_svg
    from paperfeed.topics.trends import weekly_counts

    series = weekly_counts([("2025-03-03", 4), ("2025-05-20", 37), ("2025-08-29", 9)])
    svg = ET.fromstring(weekly_svg("A <b>topic</b> & a name far too long to be a title line of a phone chart",
                                   series))
    assert "viewBox" not in svg.attrib and svg.get("width") == "100%"
    sizes = [float(text.get("font-size")) for text in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert sizes and min(sizes) >= 12 and LABEL_SIZE >= 12
    texts = [text.text for text in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert texts[0].startswith("A <b>topic</b> & a name far too") and texts[0].endswith("… · items per week")
    assert {"50", "25", "3 Mar 2025", "25 Aug 2025"} <= set(texts)  # grid counts (a round top), first/last weeks
    assert len(list(svg.iter("{http://www.w3.org/2000/svg}rect"))) == len(series) == 26
    empty = ET.fromstring(weekly_svg("Empty", []))
    assert "no dated items yet" in [text.text for text in empty.iter("{http://www.w3.org/2000/svg}text")]
