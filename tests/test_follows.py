"""Saved searches and follows: checked follows, private revocable feed tokens, Atom and JSON feeds per follow and
per library tag, OPML, public JSON Feeds, the JSON API, and digest sections through a real SMTP server."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import date

import pytest
from fastapi.testclient import TestClient

from paperfeed.authors import refresh_identities
from paperfeed.digest import confirm, send_digests, subscribe
from paperfeed.digest import send as send_module
from paperfeed.ingest import Ingester
from paperfeed.library import Accounts, save_item
from paperfeed.library.follows import FollowError, add_follow, feed_token, feed_token_user
from paperfeed.search import open_indexer
from paperfeed.storage import open_store
from paperfeed.web import create_app
from paperfeed.web.security import CSRF_COOKIE, csrf_token

from datafiles import DATA
from smtp_server import SMTPServer
from web_data import build_store

SECRET = b"test-secret-key"
ATOM = "{http://www.w3.org/2005/Atom}"
TOPIC = "large-language-model"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request, tmp_path_factory):
    directory = tmp_path_factory.mktemp("follows")
    db = request.getfixturevalue("pg_server").create_database(f"paperfeed_{directory.name}") \
        if request.param == "postgres" else None
    settings = build_store(directory, db)
    with open_store(settings.db) as store:
        refresh_identities(store)  # people, so that a person can be followed
    return settings


@pytest.fixture
def member(settings):
    """A signed-in client with a fresh account; yields (client, user id)."""
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        email = f"reader{id(client)}@example.org"
        with open_store(settings.db) as store:
            user_id = Accounts(store).create(email, "correct horse")
        client.get("/")
        token = csrf_token(SECRET, client.cookies[CSRF_COOKIE])
        assert client.post("/login", data={"csrf_token": token, "email": email, "password": "correct horse"},
                           follow_redirects=False).status_code == 303
        yield client, user_id


def form_token(client) -> str:
    return csrf_token(SECRET, client.cookies[CSRF_COOKIE], client.cookies["pf_session"])


def a_person(store) -> int:
    return store.db.value("SELECT min(person_id) FROM item_people")


def entry_titles(feed: bytes) -> list[str]:
    return [entry.findtext(f"{ATOM}title") for entry in ET.fromstring(feed).iter(f"{ATOM}entry")]


def test_follows_are_checked_named_and_kept_once(settings):
    with open_store(settings.db) as store:
        user_id = Accounts(store).create("checker@example.org", "correct horse")
        topic = add_follow(store, user_id, "topic", TOPIC.upper())
        assert (topic.target, topic.label) == (TOPIC, "Topic: Large Language Model")
        again = add_follow(store, user_id, "topic", TOPIC, in_digest=True)
        assert again.id == topic.id and again.in_digest and len(store.follows(user_id)) == 1
        person = a_person(store)
        assert add_follow(store, user_id, "person", str(person)).label.startswith("Person: ")
        assert add_follow(store, user_id, "keyword", "  Reinforcement   Learning ").target == "reinforcement learning"
        for kind, target, message in [("topic", "no-such-topic", "no topic"), ("person", "99999999", "no person"),
                                      ("person", "Wei Wang", "by id"), ("colour", "x", "unknown kind"),
                                      ("search", "x" * 501, "at most 500"), ("keyword", "", "say what"),
                                      ("keyword", "a\x00b", "control characters")]:
            with pytest.raises(FollowError, match=message):
                add_follow(store, user_id, kind, target)
        assert [f.kind for f in store.follows(user_id)] == ["topic", "person", "keyword"]


def test_feed_tokens_are_signed_per_user_and_revocable(settings):
    with open_store(settings.db) as store:
        user_id = Accounts(store).create("tokens@example.org", "correct horse")
        token = feed_token(store, user_id)
        assert feed_token_user(store, token) == user_id
        forged = token[:-1] + ("0" if token[-1] != "0" else "1")
        other = f"{user_id + 1}-0-{token.split('-')[2]}"
        for bad in (forged, other, "", "1-0", "x-y-z", token + "-1"):
            assert feed_token_user(store, bad) is None
        store.revoke_feed_key(user_id)
        assert feed_token_user(store, token) is None  # the old address stops working
        assert feed_token_user(store, feed_token(store, user_id)) == user_id


def test_follow_from_the_pages_then_read_every_feed_privately(settings, member):
    client, user_id = member
    assert 'action="/follows"' in client.get(f"/topics/{TOPIC}").text  # the Follow button
    for kind, target in (("topic", TOPIC), ("search", "language model"), ("keyword", "agents")):
        response = client.post("/follows", data={"csrf_token": form_token(client), "kind": kind, "target": target},
                               follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/follows"
    with open_store(client.app.state.settings.db) as store:
        save_item(store, user_id, "2602.22897", ["to read"])
    page = client.get("/follows")
    assert page.status_code == 200
    for label in ("Topic: Large Language Model", "Search: language model", "Keyword: agents"):
        assert label in page.text
    feeds = client.get("/api/v1/follows").json()
    assert [row["kind"] for row in feeds["follows"]] == ["topic", "search", "keyword"]
    assert [row["tag"] for row in feeds["tags"]] == ["to read"]

    with TestClient(create_app(settings), base_url="https://testserver") as reader:  # a feed reader: no cookie
        topic_feed, search_feed = feeds["follows"][0], feeds["follows"][1]
        atom = reader.get(topic_feed["atom"])
        assert atom.status_code == 200 and atom.headers["content-type"].startswith("application/atom+xml")
        assert atom.headers["cache-control"] == "private, no-store" and atom.headers["x-robots-tag"] == "noindex"
        public = reader.get(f"/topics/{TOPIC}.atom").content
        assert entry_titles(atom.content) == entry_titles(public) and entry_titles(public)
        as_json = reader.get(search_feed["json"])
        assert as_json.headers["content-type"].startswith("application/feed+json")
        document = as_json.json()
        assert document["version"] == "https://jsonfeed.org/version/1.1" and document["items"]
        assert all("language" in (item["title"] + item.get("content_text", "")).lower() for item in document["items"])
        tag = reader.get(feeds["tags"][0]["atom"])
        assert tag.status_code == 200 and len(entry_titles(tag.content)) == 1
        opml = ET.fromstring(reader.get(feeds["opml"]).content)
        assert [o.get("xmlUrl") for o in opml.iter("outline")] == [f["atom"] for f in feeds["follows"]] + \
            [feeds["tags"][0]["atom"]]

        # Another user's follow under this token, a made-up token, and a revoked one: all 404.
        token = topic_feed["atom"].split("/feeds/")[1].split("/")[0]
        assert reader.get(f"/feeds/{token}/follows/999999.atom").status_code == 404
        assert reader.get(topic_feed["atom"].replace(token, token[:-4] + "abcd")).status_code == 404
        assert client.post("/follows/revoke", data={"csrf_token": form_token(client)},
                           follow_redirects=False).status_code == 303
        assert reader.get(topic_feed["atom"]).status_code == 404
        fresh = client.get("/api/v1/follows").json()["follows"][0]["atom"]
        assert fresh != topic_feed["atom"] and reader.get(fresh).status_code == 200


def test_follows_api_and_forms_need_a_session_and_refuse_bad_follows(settings, member):
    client, _ = member
    with TestClient(create_app(settings), base_url="https://testserver") as anonymous:
        assert anonymous.get("/api/v1/follows").status_code == 401
        assert anonymous.get("/follows", follow_redirects=False).headers["location"] == "/login?next=/follows"
    api_token = client.get("/api/v1/me").json()["csrf_token"]
    made = client.post("/api/v1/follows", json={"kind": "topic", "target": TOPIC, "in_digest": True},
                       headers={"X-CSRF-Token": api_token})
    assert made.status_code == 200 and made.json()["in_digest"] is True
    refused = client.post("/api/v1/follows", json={"kind": "topic", "target": "nope"},
                          headers={"X-CSRF-Token": api_token})
    assert refused.status_code == 400 and "no topic" in refused.json()["error"]
    assert client.post("/api/v1/follows", json={"kind": "topic", "target": TOPIC}).status_code == 403  # no CSRF
    follow_id = made.json()["id"]
    assert client.delete(f"/api/v1/follows/{follow_id}", headers={"X-CSRF-Token": api_token}).status_code == 204
    assert client.delete(f"/api/v1/follows/{follow_id}", headers={"X-CSRF-Token": api_token}).status_code == 404
    bad_form = client.post("/follows", data={"csrf_token": form_token(client), "kind": "person", "target": "x"})
    assert bad_form.status_code == 400 and "by id" in bad_form.text


def test_public_json_feeds_sit_beside_the_atom_ones(settings):
    with TestClient(create_app(settings), base_url="https://testserver") as client, open_store(settings.db) as store:
        person = a_person(store)
        for path in (f"/topics/{TOPIC}", "/search", f"/people/{person}"):
            query = "?q=model" if path == "/search" else ""
            atom = client.get(f"{path}.atom{query}")
            feed = client.get(f"{path}.json{query}")
            assert atom.status_code == feed.status_code == 200, path
            assert entry_titles(atom.content) == [item["title"] for item in feed.json()["items"]], path
            assert all(item["_paperfeed"]["comments"] == 0 for item in feed.json()["items"])  # the count, as Atom's
        assert client.get("/people/99999999.json").status_code == 404
        assert client.get(f"/topics/{TOPIC}.xml").status_code in (400, 404, 422)


def test_a_digest_has_a_section_per_followed_thing(tmp_path, backend_url, monkeypatch):
    smtp = SMTPServer().start()
    try:
        with open_store(backend_url) as store:
            Ingester(store).ingest_paths([DATA / "daily" / "2026-02-27.jsonl"])
            base = build_store.__globals__["Settings"].load(db=str(backend_url), embedder="none",
                                                            secret_key="test-secret-key")
            settings = replace(base, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_security="none",
                               digest_from="digest@paperfeed.example.org", base_url="http://127.0.0.1:9",
                               index_dir=str(tmp_path / "index"))
            open_indexer(store, settings, vectors=False).update()
            user_id = Accounts(store).create("ada@example.org", "correct horse")
            add_follow(store, user_id, "keyword", "reinforcement learning", in_digest=True)
            add_follow(store, user_id, "search", "zzqqxx", in_digest=True)  # matches no paper of the day
            add_follow(store, user_id, "keyword", "agents")  # not in the digest
            for email in ("ada@example.org", "bob@example.org"):
                if email != "ada@example.org":
                    other = Accounts(store).create(email, "correct horse")
                    add_follow(store, other, "keyword", "agents", in_digest=True)
                subscribe(store, settings, email, email)
                token = re.search(r"token=([\w.%=-]+)", smtp.handler.to(email)[-1]
                                  .get_body(("plain",)).get_content()).group(1)
                confirm(store, settings, token)
            opened = []
            keyword_search = send_module._keyword_search
            monkeypatch.setattr(send_module, "_keyword_search",
                                lambda *args: opened.append(1) or keyword_search(*args))
            report = send_digests(store, settings, date(2026, 2, 27))
            assert sorted(report.sent) == ["ada@example.org", "bob@example.org"]
            assert len(opened) == 1  # the keyword index is opened once for the run, not once per subscriber
        text = smtp.handler.to("ada@example.org")[-1].get_body(("plain",)).get_content()
        section = text.replace("\r\n", "\n").split("New for Keyword: reinforcement learning:\n", 1)[1]
        titles = [line[2:] for line in section.split("\n\n")[0].splitlines() if line.startswith("- ")]
        assert 1 <= len(titles) <= 5
        assert "zzqqxx" not in text and "Keyword: agents" not in text
    finally:
        smtp.stop()


def test_the_owner_switches_their_digest_between_daily_and_weekly(settings, member):
    client, user_id = member
    assert "You get no digest mail" in client.get("/follows").text
    with open_store(settings.db) as store:
        email = store.user_by_id(user_id).email
        subscriber = store.add_subscriber(email, user_id)
        store.set_subscriber_status(subscriber.id, "active")
    assert "gets the digest <strong>daily</strong>" in client.get("/follows").text
    switched = client.post("/follows/digest-frequency", data={"csrf_token": form_token(client), "frequency": "weekly"},
                           follow_redirects=False)
    assert switched.status_code == 303
    with open_store(settings.db) as store:
        assert store.subscriber(subscriber.id).frequency == "weekly"
    assert client.post("/follows/digest-frequency", data={"csrf_token": form_token(client),
                                                          "frequency": "hourly"}).status_code == 400
