"""The signed-in JSON API (/api/v1/me, /library, item marks) and the CSRF cookie's rotation at sign-in and out."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from paperfeed.storage import open_store
from paperfeed.web import create_app
from paperfeed.web.security import CSRF_COOKIE, csrf_token

from web_data import KNOWN_ARXIV, build_store

SECRET = b"test-secret-key"
FORM_TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("api-account"))


@pytest.fixture(scope="module")
def known(settings) -> int:
    with open_store(settings.db) as store:
        return store.find_item(KNOWN_ARXIV)


def sign_up(client: TestClient, settings, email: str) -> None:
    """Make an account (in the store: registering on the web goes through a mail) and sign in on the web."""
    from paperfeed.library import Accounts

    with open_store(settings.db) as store:
        Accounts(store).create(email, "correct horse")
    client.get("/")
    token = csrf_token(SECRET, client.cookies[CSRF_COOKIE])
    response = client.post("/login", data={"csrf_token": token, "email": email, "password": "correct horse"},
                           follow_redirects=False)
    assert response.status_code == 303


def session_token(client: TestClient) -> str:
    """The token of the signed-in client's page forms: bound to its CSRF cookie and its session."""
    return csrf_token(SECRET, client.cookies[CSRF_COOKIE], client.cookies["pf_session"])


@pytest.fixture
def member(settings):
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        sign_up(client, settings, f"member{id(client)}@example.org")
        yield client


def api_token(client: TestClient) -> str:
    return client.get("/api/v1/me").json()["csrf_token"]


def test_the_account_api_needs_a_session(settings, known):
    with TestClient(create_app(settings), base_url="https://testserver") as anonymous:
        for path in ("/api/v1/me", "/api/v1/library", f"/api/v1/items/{known}/mine"):
            response = anonymous.get(path)
            assert response.status_code == 401 and "Sign in" in response.json()["error"]
        anonymous.get("/")
        token = csrf_token(SECRET, anonymous.cookies[CSRF_COOKIE])
        response = anonymous.post(f"/api/v1/items/{known}/save", json={"tags": ["x"]},
                                  headers={"X-CSRF-Token": token})
        assert response.status_code == 401


def test_me_hands_out_the_token_that_matches_the_csrf_cookie_and_session(member):
    me = member.get("/api/v1/me").json()
    assert me["email"].startswith("member") and me["id"] > 0
    assert me["csrf_token"] == session_token(member)
    assert me["csrf_token"] != csrf_token(SECRET, member.cookies[CSRF_COOKIE])  # not the cookie's alone


def test_save_tag_vote_and_read_the_library_through_the_api(member, known):
    headers = {"X-CSRF-Token": api_token(member)}
    saved = member.post(f"/api/v1/items/{known}/save", json={"tags": ["geometry", "tensors"]}, headers=headers)
    assert saved.status_code == 200
    assert saved.json() == {"item_id": known, "state": "saved", "tags": ["geometry", "tensors"], "voted": False,
                            "upvotes": 0}
    voted = member.post(f"/api/v1/items/{known}/vote", json={"up": True}, headers=headers).json()
    assert voted["voted"] is True and voted["upvotes"] == 1
    assert member.post(f"/api/v1/items/{known}/vote", json={"up": True}, headers=headers).json()["upvotes"] == 1

    library = member.get("/api/v1/library", params={"recommend": "false"}).json()
    assert [tag["tag"] for tag in library["tags"]] == ["geometry", "tensors"]
    assert [item["id"] for item in library["tags"][0]["items"]] == [known]
    assert member.get(f"/api/v1/items/{known}/mine").json()["tags"] == ["geometry", "tensors"]

    rejected = member.post(f"/api/v1/items/{known}/not-relevant", headers=headers).json()
    assert rejected["state"] == "not_relevant"
    removed = member.post(f"/api/v1/items/{known}/remove", headers=headers).json()
    assert removed["state"] is None and removed["tags"] == []
    assert member.get("/api/v1/library").json()["tags"] == []


def test_api_changes_need_the_csrf_header_and_name_bad_input(member, known):
    refused = member.post(f"/api/v1/items/{known}/save", json={"tags": ["a"]})
    assert refused.status_code == 403
    forged = member.post(f"/api/v1/items/{known}/save", json={"tags": ["a"]}, headers={"X-CSRF-Token": "0" * 64})
    assert forged.status_code == 403
    headers = {"X-CSRF-Token": api_token(member)}
    missing = member.post("/api/v1/items/99999999/save", json={"tags": []}, headers=headers)
    assert missing.status_code == 404 and "error" in missing.json()
    bad = member.post(f"/api/v1/items/{known}/save", json={"tags": "not a list"}, headers=headers)
    assert bad.status_code == 422 and "tags" in bad.json()["error"]
    assert member.get(f"/api/v1/items/{known}/mine").json()["state"] is None  # nothing was saved


def test_the_csrf_cookie_is_renewed_at_sign_in_and_sign_out(settings):
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        client.get("/")
        before = client.cookies[CSRF_COOKIE]
        old_token = csrf_token(SECRET, before)
        sign_up(client, settings, "rotate@example.org")
        after = client.cookies[CSRF_COOKIE]
        assert after != before
        # The token from before sign-in no longer passes; the new cookie's, bound to the session, does.
        assert client.post("/logout", data={"csrf_token": old_token}, follow_redirects=False).status_code == 403
        token = session_token(client)
        assert client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
        assert client.cookies[CSRF_COOKIE] not in (before, after)


def test_the_account_api_is_in_the_openapi_document(settings):
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/me", "/api/v1/library", "/api/v1/items/{item_id}/save", "/api/v1/items/{item_id}/vote"} <= set(paths)


def test_workers_without_a_configured_key_share_the_one_kept_in_the_store(backend_url):
    """Two app processes (workers, or hosts) on one store: a token one of them issued passes the other."""
    import dataclasses

    from paperfeed.config import Settings

    settings = Settings.load(db=backend_url, embedder="none", secret_key="")
    first, second = create_app(settings), create_app(dataclasses.replace(settings))
    with TestClient(first, base_url="https://testserver") as one, \
            TestClient(second, base_url="https://testserver") as two:
        one.get("/")
        cookie = one.cookies[CSRF_COOKIE]
        token = FORM_TOKEN.search(one.get("/login").text).group(1)
        two.cookies.set(CSRF_COOKIE, cookie)
        response = two.post("/login", data={"csrf_token": token, "email": "a@example.org", "password": "wrong one"},
                            follow_redirects=False)
        assert response.status_code == 400, response.text  # the wrong password, not a CSRF refusal (403)
        assert csrf_token(SECRET, cookie) != token  # the key is the store's own, not the test key
