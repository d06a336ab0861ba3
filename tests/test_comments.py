"""Comments on items: Markdown made safe, own edits and deletes, admin hiding, limits, CSRF, counts (item JSON,
Atom), and a merge carrying the thread along, through the library, the JSON API and the item page's forms, on
both backends."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.ingest import Ingester
from paperfeed.library import Accounts
from paperfeed.library.comments import (ALLOWED_TAGS, CommentError, CommentLimits, delete_comment, edit_comment,
                                        hide_comment, post_comment, render_markdown, thread)
from paperfeed.search import open_indexer
from paperfeed.library.curation import merge as merge_items, split as split_records
from paperfeed.storage import open_store
from paperfeed.web import create_app
from paperfeed.web.security import CSRF_COOKIE, csrf_token

SECRET = "test-secret-key"
PASSWORD = "correct horse"
FORM_TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')
TITLES = ["Sparse attention for very large graphs", "Gradient boosting of oblique decision trees"]

# -- Markdown made safe ------------------------------------------------------------------------------------------

ATTACKS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click]( javascript:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<img src=x onerror=alert(1)>",
    "![x](https://evil.example/pixel.png)",
    "![x](javascript:alert(1))",
    "<div onclick=\"alert(1)\">hi</div>",
    "<iframe src=\"https://evil.example\"></iframe>",
    "<svg onload=alert(1)>",
    "<style>body{display:none}</style>",
    "[x](https://ok.example \"t\\\" onmouseover=\\\"alert(1)\")",
    "<details open ontoggle=alert(1)>",
    "`<script>` in code and ```\n<script>alert(1)</script>\n```",
    "<!-- <script>alert(1)</script> -->",
    "[a]: javascript:alert(1)\n\n[a]",
    "<https://ok.example/\" onmouseover=\"alert(1)>",
    "<form action=https://evil.example><input name=x></form>",
    "<javascript:alert(1)>",
    "[x](java\tscript:alert(1))",
    "<p style=\"background:url(javascript:alert(1))\">styled</p>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _parsed(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


@pytest.mark.parametrize("attack", ATTACKS)
def test_markdown_attacks_come_out_inert(attack):
    html = render_markdown(attack)
    for tag, attributes in _parsed(html):
        assert tag in ALLOWED_TAGS and tag not in ("img", "script", "iframe", "svg", "style", "form", "input"), html
        assert set(attributes) <= {"href", "title", "rel", "start"}, html
        if tag == "a":
            assert attributes["href"].startswith(("http://", "https://", "mailto:")), html
            assert attributes["rel"] == "nofollow noopener ugc"
    assert "<script" not in html.lower() and "<img" not in html.lower() and "<iframe" not in html.lower()


def test_markdown_keeps_what_people_write():
    html = render_markdown("**Nice** result, see [the paper](https://arxiv.org/abs/2401.00001) and `x = 1`.\n\n"
                           "- one\n- two\n\n> quoted\n\n```\ncode <b>\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    assert "<strong>Nice</strong>" in html and "<code>x = 1</code>" in html
    assert '<a href="https://arxiv.org/abs/2401.00001" rel="nofollow noopener ugc">the paper</a>' in html
    assert "<li>one</li>" in html and "<blockquote>" in html and "code &lt;b&gt;" in html and "<td>1</td>" in html
    image = render_markdown("![chart](https://example.org/c.png)")
    assert "<img" not in image and 'href="https://example.org/c.png"' in image  # an image is a link, not a fetch


# -- a store with two papers and three people ----------------------------------------------------------------------

def _seed(store, directory: Path) -> dict:
    path = directory / "papers.jsonl"
    path.write_text("".join(json.dumps({"id": f"2401.0000{n}", "arxiv_id": f"2401.0000{n}", "title": title,
                                        "authors": ["Ada Lovelace"], "abstract": f"About {title.lower()}.",
                                        "published": "2024-03-01"}) + "\n" for n, title in enumerate(TITLES, 1)),
                    encoding="utf-8")
    report = Ingester(store).ingest_paths([path])
    assert not report.failed
    accounts = Accounts(store)
    people = {name: accounts.create(f"{name}@example.org", PASSWORD) for name in ("alice", "bob", "root")}
    store.set_user_role(people["root"], "admin")
    return {"items": [store.find_item(f"2401.0000{n}") for n in (1, 2)],
            "users": {name: store.user_by_id(user_id) for name, user_id in people.items()}}


@pytest.fixture
def seeded(store, tmp_path):
    return store, _seed(store, tmp_path)


def test_post_edit_delete_hide_and_count_in_the_library(seeded):
    store, seed = seeded
    first, second = seed["items"]
    alice, bob, root = (seed["users"][name] for name in ("alice", "bob", "root"))
    one = post_comment(store, alice, first, "  First **take**.  ")
    two = post_comment(store, bob, first, "Second.")
    post_comment(store, bob, second, "Elsewhere.")
    assert one["body"] == "First **take**." and one["html"] == "<p>First <strong>take</strong>.</p>"
    assert one["author"] == "alice" and one["mine"] and one["can_edit"] and not one["can_hide"]
    assert store.comment_counts([first, second, 999_999]) == {first: 2, second: 1, 999_999: 0}

    edited = edit_comment(store, alice, one["id"], "First *take*, revised.")
    assert edited["html"] == "<p>First <em>take</em>, revised.</p>" and edited["edited_at"]
    with pytest.raises(CommentError) as refused:
        edit_comment(store, bob, one["id"], "Hijacked.")
    assert refused.value.kind == "forbidden"
    with pytest.raises(CommentError) as refused:
        delete_comment(store, bob, one["id"])
    assert refused.value.kind == "forbidden"
    with pytest.raises(CommentError) as refused:
        hide_comment(store, bob, one["id"])
    assert refused.value.kind == "forbidden"

    hidden = hide_comment(store, root, two["id"])
    assert hidden["hidden"]
    assert [c["id"] for c in thread(store, first, alice)] == [one["id"]]  # readers no longer see it
    assert [(c["id"], c["hidden"]) for c in thread(store, first, root)] == [(one["id"], False), (two["id"], True)]
    assert store.comment_counts([first]) == {first: 1}
    hide_comment(store, root, two["id"], hidden=False)
    assert store.comment_counts([first]) == {first: 2}

    assert delete_comment(store, alice, one["id"]) == first
    assert [c["id"] for c in thread(store, first, None)] == [two["id"]]
    assert store.comment(one["id"]).body == "" and store.comment(one["id"]).deleted_at  # soft: the row stays
    assert store.comment_counts([first]) == {first: 1}
    with pytest.raises(CommentError) as refused:
        edit_comment(store, alice, one["id"], "Back from the dead.")
    assert refused.value.kind == "not_found"


def test_empty_and_oversize_comments_are_refused(seeded):
    store, seed = seeded
    alice = seed["users"]["alice"]
    with pytest.raises(CommentError) as refused:
        post_comment(store, alice, seed["items"][0], " \n\t ")
    assert refused.value.kind == "invalid" and "empty" in str(refused.value)
    with pytest.raises(CommentError) as refused:
        post_comment(store, alice, seed["items"][0], "x" * 101, CommentLimits(max_chars=100))
    assert refused.value.kind == "too_long" and "101 characters" in str(refused.value)
    with pytest.raises(CommentError) as refused:
        post_comment(store, alice, 987_654_321, "Nowhere.")
    assert refused.value.kind == "not_found"
    assert store.comment_counts(seed["items"]) == dict.fromkeys(seed["items"], 0)


def test_a_merge_moves_the_thread_and_a_split_leaves_it(seeded):
    store, seed = seeded
    first, second = seed["items"]
    alice, bob = seed["users"]["alice"], seed["users"]["bob"]
    post_comment(store, alice, first, "On the first.")
    post_comment(store, bob, second, "On the second.")
    settings = Settings.load(db=store.url, embedder="none")
    merge_items(store, settings, str(first), str(second), "test")
    assert store.comment_counts([first, second]) == {first: 2, second: 0}
    assert [c["body"] for c in thread(store, first, None)] == ["On the first.", "On the second."]
    record = store.item(first)["sources"][1]["record_id"]
    done, _ = split_records(store, settings, str(first), [record], "test")
    assert store.comment_counts([first, done.other_id]) == {first: 2, done.other_id: 0}


# -- the web: JSON API, forms, CSRF, limits, counts -----------------------------------------------------------------

@pytest.fixture
def site(backend_url, tmp_path):
    settings = Settings.load(db=backend_url, embedder="none", secret_key=SECRET, comment_max_chars="300",
                             comment_rate_limit="4")
    with open_store(backend_url) as store:
        seed = _seed(store, tmp_path)
        open_indexer(store, settings, vectors=False).update()
    app = create_app(settings)  # one app for every client: one process, one page cache, as one worker
    yield app, seed
    app.state.pool.close()


@contextmanager
def _client(app, email: str | None) -> Iterator[TestClient]:
    """A visitor (signed in as ``email`` when given) of the shared app; the app's lifespan is the fixture's."""
    client = TestClient(app, base_url="https://testserver")
    client.get("/")
    if email:
        token = csrf_token(SECRET.encode(), client.cookies[CSRF_COOKIE])
        response = client.post("/login", data={"csrf_token": token, "email": email, "password": PASSWORD},
                               follow_redirects=False)
        assert response.status_code == 303
    yield client


def _headers(client: TestClient) -> dict[str, str]:
    return {"X-CSRF-Token": client.get("/api/v1/me").json()["csrf_token"]}


def test_the_api_posts_edits_deletes_and_hides(site):
    app, seed = site
    first, second = seed["items"]
    with _client(app, "alice@example.org") as alice, _client(app, "bob@example.org") as bob, \
            _client(app, "root@example.org") as root, _client(app, None) as anonymous:
        posted = alice.post(f"/api/v1/items/{first}/comments", json={"text": "Great *paper*."}, headers=_headers(alice))
        assert posted.status_code == 201, posted.text
        comment = posted.json()
        assert comment["html"] == "<p>Great <em>paper</em>.</p>" and comment["author"] == "alice"
        listed = anonymous.get(f"/api/v1/items/{first}/comments").json()
        assert [c["id"] for c in listed] == [comment["id"]] and not listed[0]["mine"]
        assert anonymous.get(f"/api/v1/items/{first}").json()["comment_count"] == 1
        assert anonymous.get(f"/api/v1/items/{second}").json()["comment_count"] == 0

        refused = bob.patch(f"/api/v1/comments/{comment['id']}", json={"text": "Mine now."}, headers=_headers(bob))
        assert refused.status_code == 403 and "not yours" in refused.json()["error"]
        assert bob.delete(f"/api/v1/comments/{comment['id']}", headers=_headers(bob)).status_code == 403
        assert bob.post(f"/api/v1/comments/{comment['id']}/hide", headers=_headers(bob)).status_code == 403
        edited = alice.patch(f"/api/v1/comments/{comment['id']}", json={"text": "Great paper, really."},
                             headers=_headers(alice))
        assert edited.status_code == 200 and edited.json()["body"] == "Great paper, really."

        hidden = root.post(f"/api/v1/comments/{comment['id']}/hide", json={"hidden": True}, headers=_headers(root))
        assert hidden.status_code == 200 and hidden.json()["hidden"]
        assert anonymous.get(f"/api/v1/items/{first}/comments").json() == []
        assert anonymous.get(f"/api/v1/items/{first}").json()["comment_count"] == 0
        assert [c["hidden"] for c in root.get(f"/api/v1/items/{first}/comments").json()] == [True]
        root.post(f"/api/v1/comments/{comment['id']}/hide", json={"hidden": False}, headers=_headers(root))

        assert alice.delete(f"/api/v1/comments/{comment['id']}", headers=_headers(alice)).status_code == 204
        assert anonymous.get(f"/api/v1/items/{first}/comments").json() == []
        assert alice.delete(f"/api/v1/comments/{comment['id']}", headers=_headers(alice)).status_code == 404
        assert alice.post("/api/v1/items/987654321/comments", json={"text": "x"},
                          headers=_headers(alice)).status_code == 404
        assert anonymous.post(f"/api/v1/items/{first}/comments", json={"text": "x"},
                              headers={"X-CSRF-Token": csrf_token(SECRET.encode(), anonymous.cookies[CSRF_COOKIE])}
                              ).status_code == 401


def test_csrf_is_required_for_every_change(site):
    app, seed = site
    first = seed["items"][0]
    with _client(app, "alice@example.org") as alice:
        assert alice.post(f"/api/v1/items/{first}/comments", json={"text": "No token."}).status_code == 403
        assert alice.post(f"/api/v1/items/{first}/comments", json={"text": "Bad token."},
                          headers={"X-CSRF-Token": "0" * 64}).status_code == 403
        assert alice.post(f"/items/{first}/comments", data={"text": "No token."}).status_code == 403
        comment = alice.post(f"/api/v1/items/{first}/comments", json={"text": "Real."}, headers=_headers(alice)).json()
        assert alice.patch(f"/api/v1/comments/{comment['id']}", json={"text": "x"}).status_code == 403
        assert alice.delete(f"/api/v1/comments/{comment['id']}").status_code == 403
        assert alice.post(f"/comments/{comment['id']}/delete").status_code == 403
        assert [c["body"] for c in alice.get(f"/api/v1/items/{first}/comments").json()] == ["Real."]


def test_oversize_and_empty_comments_are_refused_and_the_form_keeps_the_text(site):
    app, seed = site
    first = seed["items"][0]
    with _client(app, "alice@example.org") as alice:
        long = "word " * 70  # 350 characters against comment_max_chars=300
        refused = alice.post(f"/api/v1/items/{first}/comments", json={"text": long}, headers=_headers(alice))
        assert refused.status_code == 413 and "at most 300" in refused.json()["error"]
        assert alice.post(f"/api/v1/items/{first}/comments", json={"text": "   "},
                          headers=_headers(alice)).status_code == 400
        page = alice.get(f"/items/{first}")
        token = FORM_TOKEN.search(page.text).group(1)
        refused = alice.post(f"/items/{first}/comments", data={"csrf_token": token, "text": long + "<tail>"})
        assert refused.status_code == 413 and "at most 300" in refused.text
        assert "&lt;tail&gt;</textarea>" in refused.text  # the text is kept (escaped) for the writer to shorten
        assert alice.get(f"/api/v1/items/{first}/comments").json() == []


def test_the_rate_limit_answers_429_with_a_clear_text(site):
    app, seed = site
    first = seed["items"][0]
    with _client(app, "alice@example.org") as alice, _client(app, "bob@example.org") as bob:
        headers = _headers(alice)
        ids = [alice.post(f"/api/v1/items/{first}/comments", json={"text": f"Comment {n}."},
                          headers=headers).json()["id"] for n in range(3)]
        assert alice.patch(f"/api/v1/comments/{ids[0]}", json={"text": "Edited."}, headers=headers).status_code == 200
        refused = alice.post(f"/api/v1/items/{first}/comments", json={"text": "One too many."}, headers=headers)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert "4 comments in the last hour" in refused.json()["error"] and "try again in" in refused.json()["error"]
        page = alice.get(f"/items/{first}")
        form = alice.post(f"/items/{first}/comments", data={"csrf_token": FORM_TOKEN.search(page.text).group(1),
                                                             "text": "Still typing."})
        assert form.status_code == 429 and "Still typing.</textarea>" in form.text and "try again in" in form.text
        assert bob.post(f"/api/v1/items/{first}/comments", json={"text": "Bob is fine."},
                        headers=_headers(bob)).status_code == 201  # the limit is per user
        assert len(alice.get(f"/api/v1/items/{first}/comments").json()) == 4


def test_the_item_page_thread_and_forms(site):
    app, seed = site
    first = seed["items"][0]
    with _client(app, "alice@example.org") as alice, _client(app, "bob@example.org") as bob, \
            _client(app, None) as anonymous:
        page = alice.get(f"/items/{first}")
        assert 'action="/items/%d/comments"' % first in page.text and "No comments yet." in page.text
        posted = alice.post(f"/items/{first}/comments", follow_redirects=False,
                            data={"csrf_token": FORM_TOKEN.search(page.text).group(1),
                                  "text": "Nice <script>window.__x=1</script> [x](javascript:alert(1)) **bold**"})
        assert posted.status_code == 303 and posted.headers["location"].startswith(f"/items/{first}#comment-")
        comment_id = int(posted.headers["location"].rsplit("-", 1)[1])

        seen = anonymous.get(f"/items/{first}")
        assert "Sign in to comment" in seen.text and 'class="comment-form"' not in seen.text
        assert "<strong>bold</strong>" in seen.text and "&lt;script&gt;" in seen.text
        assert "<script>window" not in seen.text
        assert 'href="javascript' not in seen.text and f'/comments/{comment_id}/edit' not in seen.text

        own = alice.get(f"/items/{first}").text
        assert f'action="/comments/{comment_id}/edit"' in own and f'action="/comments/{comment_id}/delete"' in own
        other = bob.get(f"/items/{first}").text
        assert f'/comments/{comment_id}/edit' not in other
        refused = bob.post(f"/comments/{comment_id}/edit", data={"csrf_token": FORM_TOKEN.search(other).group(1),
                                                                 "text": "Hijacked."})
        assert refused.status_code == 403
        edited = alice.post(f"/comments/{comment_id}/edit", follow_redirects=False,
                            data={"csrf_token": FORM_TOKEN.search(own).group(1), "text": "Plainer now."})
        assert edited.status_code == 303
        assert "Plainer now." in anonymous.get(f"/items/{first}").text  # the page cache was dropped
        deleted = alice.post(f"/comments/{comment_id}/delete", follow_redirects=False,
                             data={"csrf_token": FORM_TOKEN.search(own).group(1)})
        assert deleted.status_code == 303 and "Plainer now." not in anonymous.get(f"/items/{first}").text


def test_atom_entries_carry_their_comment_counts(site):
    app, seed = site
    first, second = seed["items"]
    with _client(app, "alice@example.org") as alice:
        headers = _headers(alice)
        for text in ("One.", "Two."):
            alice.post(f"/api/v1/items/{first}/comments", json={"text": text}, headers=headers)
        feed = alice.get("/search.atom", params={"q": "lovelace"})
        assert feed.status_code == 200
    root = ET.fromstring(feed.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    counts = {}
    for entry in root.findall("a:entry", ns):
        item_id = int(entry.find("a:id", ns).text.rsplit("/", 1)[1])
        (replies,) = [link for link in entry.findall("a:link", ns) if link.get("rel") == "replies"]
        counts[item_id] = int(replies.get("{http://purl.org/syndication/thread/1.0}count"))
        assert replies.get("href").endswith(f"/items/{item_id}#comments")
    assert counts == {first: 2, second: 0}


def test_daily_cards_count_the_comments_here(site):
    app, seed = site
    first, second = seed["items"]
    with _client(app, "alice@example.org") as alice, _client(app, None) as anonymous:
        for text in ("First.", "Second."):
            assert alice.post(f"/api/v1/items/{first}/comments", json={"text": text},
                              headers=_headers(alice)).status_code == 201
        cards = {card["id"]: card for card in anonymous.get("/api/v1/daily?date=2024-03-01").json()["entries"]}
        assert (cards[first]["comments"], cards[second]["comments"]) == (2, 0)
        page = anonymous.get("/papers/2024-03-01").text
        assert f'<a href="/items/{first}#comments">2 comments here</a>' in page
        assert f'/items/{second}#comments' not in page
