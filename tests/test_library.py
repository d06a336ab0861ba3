"""Accounts, sessions, a library with tags and BibTeX import, and per-tag recommendations, on a real store."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from paperfeed.cli import cli
from paperfeed.ingest import Ingester
from paperfeed.library import (AccountError, Accounts, LibraryError, import_bibtex, mark_not_relevant, save_item,
                               vote)
from paperfeed.library.community import CommunityError, submit_paper
from paperfeed.library.recommend import recommend_for_tag
from paperfeed.search.embed import WordLlamaEmbedder

from datafiles import DATA

DAILY = DATA / "daily"
PASSWORD = "correct horse battery"


@pytest.fixture
def daily_store(store):
    Ingester(store).ingest_paths([DAILY / "2026-02-26.jsonl", DAILY / "2026-02-27.jsonl",
                                  DAILY / "hf_2026-02-26.json", DAILY / "hf_2026-02-27.json"])
    return store


def test_passwords_are_stored_as_argon2id_hashes_and_sessions_as_token_hashes(store):
    accounts = Accounts(store, session_days=1)
    user_id = accounts.create("Ada@Example.org", PASSWORD)
    row = store.user_by_email("ada@example.org")  # addresses compare case-insensitively
    assert row.id == user_id and row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash
    token = accounts.sign_in("ada@example.org", PASSWORD)
    assert accounts.session_user(token).id == user_id
    store.set_user_role(user_id, "admin")  # the session's account is read with it, as it is now
    assert accounts.session_user(token) == store.user_by_id(user_id) and accounts.session_user(token).role == "admin"
    assert token not in json.dumps(store.read_rows("SELECT * FROM sessions"))
    later = datetime.now(timezone.utc) + timedelta(days=2)
    assert accounts.session_user(token, now=later) is None  # expired
    assert accounts.sign_out(token) and accounts.session_user(token) is None and not accounts.sign_out(token)


@pytest.mark.parametrize("email, password, message", [
    ("ada@example.org", PASSWORD, "exists already"),
    ("not-an-address", PASSWORD, "not a valid e-mail address"),
    ("eve@example.org\r\nBcc: all@example.org", PASSWORD, "line break"),
    ("bob@example.org", "short", "at least 8"),
])
def test_bad_accounts_are_refused_with_a_clear_reason(store, email, password, message):
    Accounts(store).create("ada@example.org", PASSWORD)
    with pytest.raises(AccountError, match=message):
        Accounts(store).create(email, password)


def test_wrong_password_and_unknown_user_get_the_same_answer(store):
    Accounts(store).create("ada@example.org", PASSWORD)
    for email, password in (("ada@example.org", "wrong password"), ("nobody@example.org", PASSWORD)):
        with pytest.raises(AccountError, match="wrong e-mail address or password"):
            Accounts(store).sign_in(email, password)


def test_save_tag_not_relevant_and_votes_undo(daily_store):
    user = Accounts(daily_store).create("ada@example.org", PASSWORD)
    item = save_item(daily_store, user, "2602.22897", ["Agents", "to read"])
    save_item(daily_store, user, "2602.22897", ["agents"])  # saving again adds nothing twice
    assert daily_store.library_tags(user) == {"agents": 1, "to read": 1}
    mark_not_relevant(daily_store, user, "2602.22897")
    entries = daily_store.library_entries(user)
    assert [(e.item_id, e.state, e.tags) for e in entries] == [(item, "not_relevant", [])]
    with pytest.raises(LibraryError, match="not allowed"):
        save_item(daily_store, user, "2602.22897", ["bad\ntag"])
    with pytest.raises(LibraryError, match="no paper '9999.99999'"):
        save_item(daily_store, user, "9999.99999")
    assert vote(daily_store, user, "2602.22897") == (item, True)
    assert vote(daily_store, user, "2602.22897") == (item, False)
    assert daily_store.local_upvotes([item]) == {item: 1}
    assert vote(daily_store, user, "2602.22897", up=False) == (item, True)
    assert daily_store.local_upvotes([item]) == {}


def test_submitting_an_unknown_paper_without_fetching_is_refused(daily_store):
    with pytest.raises(CommunityError, match="not in the store"):
        submit_paper(daily_store, None, "https://arxiv.org/abs/2401.00001", date(2026, 2, 27))
    with pytest.raises(CommunityError, match="not an arXiv id"):
        submit_paper(daily_store, None, "hello world", date(2026, 2, 27))


def test_bibtex_import_matches_stored_papers_and_ingests_unknown_ones(daily_store):
    user = Accounts(daily_store).create("ada@example.org", PASSWORD)
    items_before = daily_store.item_count()
    report = import_bibtex(daily_store, user, DAILY / "library.bib", ["imported"])
    assert (report.entries, report.matched, report.ingested) == (3, 2, 1)
    assert daily_store.item_count() == items_before + 1
    assert report.item_ids[:2] == [daily_store.find_item("2602.22897"), daily_store.find_item("2602.22675")]
    assert daily_store.find_item("1706.03762") == report.item_ids[2]
    assert daily_store.library_tags(user) == {"agents": 2, "imported": 3, "search": 1}
    again = import_bibtex(daily_store, user, DAILY / "library.bib")  # re-importing changes nothing
    assert (again.matched, again.ingested) == (0, 0) and daily_store.item_count() == items_before + 1


def test_bad_bibtex_fails_with_file_and_line(daily_store, tmp_path):
    user = Accounts(daily_store).create("ada@example.org", PASSWORD)
    bad = tmp_path / "bad.bib"
    bad.write_text("@article{ok, title={Fine}}\n\n@article{broken, title = {Unclosed\n")
    with pytest.raises(LibraryError, match=r"bad\.bib.*line 3"):
        import_bibtex(daily_store, user, bad)


def test_recommendations_follow_the_tag_exclude_the_library_and_give_reasons(daily_store):
    user = Accounts(daily_store).create("ada@example.org", PASSWORD)
    agent_papers = ["2602.22897", "2602.23258", "2602.22675", "2602.23008"]
    for reference in agent_papers:
        save_item(daily_store, user, reference, ["agents"])
    day_ids = daily_store.recent_item_ids("2026-02-27", "2026-02-27")
    results = recommend_for_tag(daily_store, user, "agents", WordLlamaEmbedder(), candidate_ids=day_ids, limit=5)
    saved = {daily_store.find_item(r) for r in agent_papers}
    assert len(results) == 5 and not saved & {r.item_id for r in results}
    documents = daily_store.item_documents([r.item_id for r in results])
    # 11 of the day's 76 papers say "agent" in their title; the tag's model puts them on top.
    assert sum("agent" in documents[r.item_id].title.lower() for r in results) >= 3
    assert all(r.terms and r.because and r.because[0] in saved for r in results)
    assert results[0].reason.startswith("matches your 'agents' papers on ")
    # reasons are words: no model token (author:…, category:…) reaches a reader
    assert not [r.reason for r in results if "category:" in r.reason or "author:" in r.reason or "_" in r.reason]
    assert recommend_for_tag(daily_store, user, "no such tag", None, candidate_ids=day_ids) == []


def test_cli_users_library_vote_and_recommend(daily_store, backend_url, tmp_path):
    db = backend_url
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(cli, ["--db", db, *args], input=input)

    assert run("users", "add", "ada@example.org", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    result = run("users", "add", "ada@example.org", "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 1 and result.output.strip() == "paperfeed: an account for ada@example.org exists already"
    token = run("users", "login", "ada@example.org", "--password-stdin", input=PASSWORD + "\n").output.strip()
    assert len(token) > 30
    assert run("users", "logout", token).exit_code == 0
    result = run("library", "import", str(DAILY / "library.bib"), "--user", "ada@example.org")
    assert result.exit_code == 0 and "2 matched to stored items, 1 new items" in result.output
    result = run("library", "import", str(tmp_path / "missing.bib"), "--user", "ada@example.org")
    assert result.exit_code == 1 and "missing.bib" in result.output and "Traceback" not in result.output
    assert "vote counted; 1 local upvote" in run("vote", "2602.23152", "--user", "ada@example.org").output
    assert "vote withdrawn" in run("vote", "2602.23152", "--user", "ada@example.org", "--undo").output
    result = run("vote", "2602.23152", "--user", "nobody@example.org")
    assert result.exit_code == 1 and "no account for nobody@example.org" in result.output
    result = runner.invoke(cli, ["--db", db, "recommend", "--user", "ada@example.org", "--tag", "agents",
                                 "--date", "2026-02-27", "--days", "2", "--json"], env={"PAPERFEED_EMBEDDER": "none"})
    assert result.exit_code == 0, result.output
    recommendations = json.loads(result.output)["agents"]
    assert len(recommendations) == 5 and all(r["reason"] and r["title"] for r in recommendations)


def test_reasons_name_categories_and_authors_in_words():
    from paperfeed.library.reasons import category_words, reason_in_words

    assert category_words("cs.cl") == "Computation and Language (cs.CL)"
    assert category_words("hep-th") == "the arXiv category hep-th"
    reason = reason_in_words("nlp", ["category:cs.cl", "parsing", "author:yann_lecun", "syntax"], "A Parser")
    assert reason == ("matches your 'nlp' papers on the words “parsing” and “syntax”; papers by Yann Lecun, "
                      "whose work you saved there; papers in Computation and Language (cs.CL), which you save "
                      "often. Closest saved paper: A Parser")
    assert reason_in_words("nlp", []) == "like your 'nlp' papers"


def test_an_items_marks_are_one_users_whatever_else_the_library_holds(daily_store):
    ada, bob = (Accounts(daily_store).create(f"{name}@example.org", PASSWORD) for name in ("ada", "bob"))
    first = save_item(daily_store, ada, "2602.22897", ["to read", "agents"])
    second = save_item(daily_store, ada, "2602.22639", ["agents"])
    vote(daily_store, ada, str(first))
    vote(daily_store, bob, str(first))

    def from_the_library(user: int, item: int) -> tuple:  # the marks as the whole library and votes give them
        entry = next((e for e in daily_store.library_entries(user) if e.item_id == item), None)
        return (entry.state if entry else None, entry.tags if entry else [], item in daily_store.user_votes(user),
                daily_store.local_upvotes([item]).get(item, 0))

    assert daily_store.item_marks(ada, first) == ("saved", ["agents", "to read"], True, 2)
    assert daily_store.item_marks(bob, first) == (None, [], True, 2)
    assert daily_store.item_marks(ada, second) == ("saved", ["agents"], False, 0)
    mark_not_relevant(daily_store, ada, str(first))
    for user in (ada, bob):
        for item in (first, second):
            assert daily_store.item_marks(user, item) == from_the_library(user, item)


def test_session_tokens_never_start_with_a_dash_which_the_command_line_would_read_as_an_option():
    from paperfeed.library.accounts import new_session_token

    tokens = [new_session_token() for _ in range(2_000)]  # a plain token_urlsafe starts with "-" 1 time in 64
    assert not [token for token in tokens if token.startswith("-")]
    assert len(set(tokens)) == 2_000 and all(len(token) == 43 for token in tokens)
