"""Identity when records are placed into items: the invariants (two arXiv ids or two DOIs are never one item),
bridges between items, preprint and published versions, every placement's reason, and a person's split and
merge (remembered through re-ingest), through ``Ingester``, the library, the CLI and the API, on both backends."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.ingest import Ingester
from paperfeed.library import Accounts
from paperfeed.library.curation import merge as merge_items, split as split_records, why
from paperfeed.storage import open_store
from paperfeed.storage.copy_tables import table_access
from paperfeed.storage.ingest_session import ITEM_TABLES

DOI_A, DOI_B = "10.1145/3000001", "10.1145/3000002"
GRAPHS = "Sparse attention for very large graphs"
TREES = "Gradient boosting of oblique decision trees"
RANK = "Learning to rank scholarly records with weak labels"


def jsonl(path: Path, *records: dict) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def paper(arxiv: str | None, title: str, doi: str | None = None, **more) -> dict:
    record = {"id": arxiv or more.pop("key"), "title": title, "authors": ["Ada Lovelace", "Alan Turing"],
              "abstract": more.pop("abstract", f"About {title.lower()}."), "published": "2024-03-01", **more}
    if arxiv:
        record["arxiv_id"] = arxiv
    if doi:
        record["doi"] = doi
    return record


def bibtex(path: Path, key: str, title: str, doi: str | None, venue: str, year: int = 2024) -> Path:
    doi_line = f"  doi = {{{doi}}},\n" if doi else ""
    path.write_text(f"@article{{{key},\n  title = {{{title}}},\n  author = {{Lovelace, Ada and Turing, Alan}},\n"
                    f"  journal = {{{venue}}},\n  year = {{{year}}},\n{doi_line}}}\n", encoding="utf-8")
    return path


def ingest(store, *paths: Path):
    report = Ingester(store, record_outcomes=True).ingest_paths(paths)
    assert not report.failed, [(f.origin, f.error) for f in report.failed]
    return report


def items_of(store) -> dict[int, dict]:
    return {item["id"]: item for item in store.iter_items()}


def settings_for(store) -> Settings:
    return Settings.load(db=store.url, embedder="none", secret_key="test-secret-key")


# -- the invariants --------------------------------------------------------------------------------------------


def test_two_arxiv_ids_sharing_a_doi_stay_two_items_and_the_file_reports_the_conflict(store, tmp_path):
    # Before: Ingester filed the second record under the first item (the DOI was already there), even in one file.
    report = ingest(store, jsonl(tmp_path / "a.jsonl", paper("2401.00001", GRAPHS, DOI_A),
                                 paper("2401.00002", TREES, DOI_A)))
    result = report.files[0]
    assert (result.new, result.merged) == (2, 0)
    assert len(result.conflicts) == 1 and report.total("conflicts") == 1
    conflict = result.conflicts[0]
    first, second = (outcome.item_id for outcome in result.outcomes)
    assert first != second
    assert (conflict.index, conflict.record_id, conflict.item_id) == (1, "2401.00002", first)
    assert "different arXiv ids" in conflict.why and "2401.00001" in conflict.why
    items = items_of(store)
    assert items[first]["arxiv_id"] == "2401.00001" and items[second]["arxiv_id"] == "2401.00002"
    assert items[second]["sources"][0]["reason"]["by"] == "conflict"
    assert store.find_item(DOI_A) == first  # the DOI stays with the item that had it first

    # Across files too, and a later file with the same arXiv id but another DOI is kept out as well.
    again = ingest(store, jsonl(tmp_path / "b.jsonl", paper("2401.00002", TREES + " (v2)", DOI_A),
                                paper("2401.00001", GRAPHS + " revised", DOI_B)))
    assert len(again.files[0].conflicts) == 2
    assert all(len({s.get("doi") for s in item["sources"]} - {None}) <= 1 for item in store.iter_items())
    assert all(len({s.get("arxiv_id") for s in item["sources"]} - {None}) <= 1 for item in store.iter_items())


def test_a_record_with_the_items_own_ids_merges_without_conflict(store, tmp_path):
    ingest(store, jsonl(tmp_path / "a.jsonl", paper("2401.00001", GRAPHS, DOI_A)))
    report = ingest(store, jsonl(tmp_path / "b.jsonl", paper("2401.00001", GRAPHS + " (v2)", DOI_A),
                                 paper("2401.00001", GRAPHS, "10.48550/arXiv.2401.00001", key="x")))
    assert report.files[0].conflicts == [] and report.files[0].merged == 2
    (item,) = store.iter_items()
    assert [source["reason"] for source in item["sources"]][1] == {"by": "identifier", "scheme": "arxiv",
                                                                   "value": "2401.00001"}


# -- bridges, versions and reasons -----------------------------------------------------------------------------


def test_a_record_carrying_the_arxiv_id_of_one_item_and_the_doi_of_another_joins_them(store, tmp_path):
    ingest(store, jsonl(tmp_path / "preprint.jsonl", paper("2401.00001", GRAPHS)))
    # The published version under another title: the title matcher cannot tell, only the DOI can.
    ingest(store, bibtex(tmp_path / "journal.bib", "lovelace24", "Attention that scales to huge graphs", DOI_A,
                         "Journal of Graph Learning"))
    preprint, published = store.find_item("2401.00001"), store.find_item(DOI_A)
    assert preprint != published
    with store.db.transaction():
        user = store.create_user("reader@example.org", "x")
        store.create_user("other@example.org", "x")
    from paperfeed.library import save_item
    save_item(store, user, str(published), ["graphs"])
    store.db.run("INSERT INTO votes (item_id, user_id, voted_at) VALUES ($1, $2, '2024-01-01')", (published, user))
    store.db.run("INSERT INTO submissions (item_id, day, user_id, submitted_at) VALUES ($1, '2024-03-01', $2, "
                 "'2024-03-01')", (published, user))

    report = ingest(store, jsonl(tmp_path / "bridge.jsonl", paper("2401.00001", GRAPHS + " (v2)", DOI_A)))
    result = report.files[0]
    assert result.conflicts == [] and result.joined == [published] and result.changed_item_ids == [preprint]
    assert store.item(published) is None and store.find_item(DOI_A) == preprint
    item = store.item(preprint)
    assert [source["format"] for source in item["sources"]] == ["jsonl", "bibtex", "jsonl"]
    assert item["doi"] == DOI_A and item["venue"] == "Journal of Graph Learning"
    # The versions: the preprint, the journal's record, an arXiv record naming its published DOI.
    assert [(s["version"], s["doi"]) for s in item["sources"]] == [("preprint", None), ("published", DOI_A),
                                                                   ("published", DOI_A)]
    bridge = item["sources"][2]["reason"]
    assert bridge["by"] == "bridge" and bridge["joined"] == sorted([preprint, published])
    moved = item["sources"][1]["reason"]
    assert moved["by"] == "bridge" and moved["from"] == published and moved["before"] == {"by": "new"}
    # Everything of the joined item followed: library entry with tags, vote, submission, identifiers, keys.
    assert [(e.item_id, e.tags) for e in store.library_entries(user)] == [(preprint, ["graphs"])]
    assert store.db.column("SELECT item_id FROM votes") == [preprint]
    assert store.db.column("SELECT item_id FROM submissions") == [preprint]
    assert set(store.db.column("SELECT DISTINCT item_id FROM block_keys")) == {preprint}
    assert set(store.db.column("SELECT DISTINCT item_id FROM identifiers")) == {preprint}


def test_a_bridge_that_would_join_two_arxiv_ids_is_a_conflict(store, tmp_path):
    ingest(store, jsonl(tmp_path / "a.jsonl", paper("2401.00001", GRAPHS), paper("2401.00002", TREES, DOI_A)))
    first, second = store.find_item("2401.00001"), store.find_item("2401.00002")
    report = ingest(store, jsonl(tmp_path / "b.jsonl", paper("2401.00001", GRAPHS + " v2", DOI_A)))
    (conflict,) = report.files[0].conflicts
    assert conflict.item_id == second and "different arXiv ids" in conflict.why
    assert {item["id"] for item in store.iter_items()} == {first, second}
    assert len(store.item(first)["sources"]) == 2  # the record still joins the item of its arXiv id


def test_a_title_match_keeps_its_score_and_evidence(store, tmp_path):
    ingest(store, jsonl(tmp_path / "preprint.jsonl", paper("2401.00001", GRAPHS)))
    ingest(store, bibtex(tmp_path / "journal.bib", "lovelace24", GRAPHS, DOI_A, "Journal of Graph Learning"))
    (item,) = store.iter_items()
    reason = item["sources"][1]["reason"]
    assert reason["by"] == "title" and reason["item"] == item["id"]
    assert reason["score"] > 90 and reason["title_similarity"] == 100.0
    assert reason["shared_authors"] == 2 and reason["years"] == [2024, 2024]
    assert item["venue"] == "Journal of Graph Learning" and item["arxiv_id"] == "2401.00001"
    assert [source["version"] for source in item["sources"]] == ["preprint", "published"]
    lines = [source["why"] for source in why(store, str(item["id"]))["sources"]]
    assert lines[0].startswith("started the item") and lines[1].startswith("title match, score")


def test_every_table_with_an_item_id_is_handled_when_items_are_joined(store):
    tables = {name for name, table in table_access(store).tables().items()
              if any(column.name == "item_id" for column in table.columns)}
    assert tables - set(ITEM_TABLES) == set()


# -- a person's split and merge -------------------------------------------------------------------------------


def _comparable(item: dict) -> dict:
    # The TL;DR is the pipeline's, which the first ingest of these tests does not run (the split and merge do).
    return {**{k: v for k, v in item.items() if k != "tldr"},
            "sources": [{k: v for k, v in s.items() if k != "reason"} for s in item["sources"]]}


def _two_works_in_one_item(store, tmp_path) -> int:
    """An item the title matcher made of two works (a conference and a journal paper of one name)."""
    ingest(store, jsonl(tmp_path / "conf.jsonl", paper(None, GRAPHS, key="conf-1", abstract="Short.")))
    ingest(store, jsonl(tmp_path / "journal.jsonl", paper(None, GRAPHS, DOI_B, key="jour-1",
                                                          abstract="A much longer journal abstract.")))
    (item,) = store.iter_items()
    return item["id"]


def test_split_and_merge_back_give_the_original_item(store, tmp_path):
    item_id = _two_works_in_one_item(store, tmp_path)
    with store.db.transaction():
        user = store.create_user("reader@example.org", "x")
    from paperfeed.library import save_item
    save_item(store, user, str(item_id), ["graphs"])
    before = store.item(item_id)
    identifiers = sorted(store.db.rows("SELECT scheme, value FROM identifiers"))
    keys = sorted(store.db.column("SELECT key FROM block_keys"))
    settings = settings_for(store)

    done, after = split_records(store, settings, str(item_id), ["jour-1"], "test")
    assert after is not None and after.ok, after.errors
    new_id = done.other_id
    kept, split_off = store.item(item_id), store.item(new_id)
    assert [s["record_id"] for s in kept["sources"]] == ["conf-1"]
    assert [s["record_id"] for s in split_off["sources"]] == ["jour-1"]
    assert kept["doi"] is None and split_off["doi"] == DOI_B and store.find_item(DOI_B) == new_id
    assert kept["abstract"] == "Short." and split_off["abstract"] == "A much longer journal abstract."
    assert split_off["sources"][0]["reason"]["by"] == "split"
    assert [e.item_id for e in store.library_entries(user)] == [item_id]

    # Re-ingesting both files changes nothing; the title matcher does not join them again.
    again = ingest(store, tmp_path / "conf.jsonl", tmp_path / "journal.jsonl")
    assert again.total("unchanged") == 2 and {i["id"] for i in store.iter_items()} == {item_id, new_id}

    done, after = merge_items(store, settings, str(item_id), str(new_id), "test")
    assert after is not None and after.ok
    assert store.item(new_id) is None
    assert _comparable(store.item(item_id)) == _comparable(before)
    assert sorted(store.db.rows("SELECT scheme, value FROM identifiers")) == identifiers
    assert sorted(store.db.column("SELECT key FROM block_keys")) == keys
    assert [(e.item_id, e.tags) for e in store.library_entries(user)] == [(item_id, ["graphs"])]
    kinds = [d["kind"] for d in store.merge_decisions([item_id])]
    assert kinds == ["split", "merge"]


def test_a_split_keeps_a_bridging_record_from_joining_the_items_again(store, tmp_path):
    ingest(store, jsonl(tmp_path / "a.jsonl", paper("2401.00001", GRAPHS)))
    ingest(store, jsonl(tmp_path / "b.jsonl", paper(None, GRAPHS, DOI_A, key="j")))
    (item,) = store.iter_items()
    done, _ = split_records(store, settings_for(store), str(item["id"]), ["j"], "test", pipeline=False)
    report = ingest(store, jsonl(tmp_path / "bridge.jsonl", paper("2401.00001", GRAPHS + " v2", DOI_A)))
    (conflict,) = report.files[0].conflicts
    assert "split" in conflict.why and conflict.item_id == done.other_id
    assert {i["id"] for i in store.iter_items()} == {item["id"], done.other_id}
    # A new version of the split-off record (same id, new title) joins the new item: the pin, not the matcher.
    later = ingest(store, jsonl(tmp_path / "j2.jsonl", paper(None, GRAPHS + ".", key="j")))
    assert later.files[0].outcomes[0].item_id == done.other_id
    assert store.item(done.other_id)["sources"][-1]["reason"]["by"] == "decision"


def test_merged_items_stay_merged_through_reingest(store, tmp_path):
    paths = [jsonl(tmp_path / "a.jsonl", paper("2401.00001", GRAPHS)),
             jsonl(tmp_path / "b.jsonl", paper("2401.00009", "Something else entirely about trees"))]
    ingest(store, *paths)
    first, second = store.find_item("2401.00001"), store.find_item("2401.00009")
    merge_items(store, settings_for(store), str(first), str(second), "test", pipeline=False)
    ingest(store, *paths)
    ingest(store, jsonl(tmp_path / "c.jsonl", paper("2401.00009", "Something else entirely about trees v2")))
    assert [item["id"] for item in store.iter_items()] == [first]
    assert store.find_item("2401.00009") == first


def test_split_refuses_what_it_cannot_do(store, tmp_path):
    from paperfeed.library import CurationError

    item_id = _two_works_in_one_item(store, tmp_path)
    settings = settings_for(store)
    with pytest.raises(CurationError, match="no source record 'nope'"):
        split_records(store, settings, str(item_id), ["nope"], "test")
    with pytest.raises(CurationError, match="leaves it empty"):
        split_records(store, settings, str(item_id), ["conf-1", "jour-1"], "test")
    with pytest.raises(CurationError, match="no item '999'"):
        merge_items(store, settings, str(item_id), "999", "test")
    with pytest.raises(CurationError, match="itself"):
        merge_items(store, settings, str(item_id), str(item_id), "test")
    assert len(store.item(item_id)["sources"]) == 2


# -- the CLI --------------------------------------------------------------------------------------------------


def run_cli(*args, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "paperfeed", *map(str, args)], capture_output=True, text=True,
                          input=stdin, timeout=120, env={**__import__("os").environ, "CI": "true",
                                                         "PAPERFEED_EMBEDDER": "none"})


def test_the_cli_reports_conflicts_explains_splits_and_merges(backend_url, tmp_path):
    db = backend_url
    conflicting = jsonl(tmp_path / "a.jsonl", paper("2401.00001", GRAPHS, DOI_A), paper("2401.00002", TREES, DOI_A))
    done = run_cli("--db", db, "ingest", "--no-index", conflicting)
    assert done.returncode == 0, done.stderr
    assert "2 new, 0 merged, 0 unchanged, 1 conflicts" in done.stdout
    assert re.search(r"conflict in .*a\.jsonl: record 2 \(2401\.00002\) kept out of item 1: different arXiv ids",
                     done.stderr)
    assert "1 conflicts, 0 failed" in done.stdout

    for name, record in (("b.jsonl", paper(None, RANK, key="conf-1")),
                         ("c.jsonl", paper(None, RANK, DOI_B, key="jour-1"))):
        assert run_cli("--db", db, "ingest", "--no-index", jsonl(tmp_path / name, record)).returncode == 0
    item = json.loads(run_cli("--db", db, "show", DOI_B).stdout)
    assert [s["record_id"] for s in item["sources"]] == ["conf-1", "jour-1"]
    assert item["sources"][1]["reason"]["by"] == "title"
    shown = run_cli("--db", db, "show", str(item["id"]), "--why")
    assert shown.returncode == 0 and "jsonl jour-1" in shown.stdout and "title match, score" in shown.stdout

    bad = run_cli("--db", db, "split", str(item["id"]), "nope")
    assert bad.returncode == 1 and "no source record 'nope'" in bad.stderr and "Traceback" not in bad.stderr
    split = run_cli("--db", db, "split", str(item["id"]), "jour-1")
    assert split.returncode == 0, split.stderr
    new_id = int(re.search(r"off into item (\d+)", split.stdout).group(1))
    assert "split off item" in run_cli("--db", db, "show", str(new_id), "--why").stdout
    merged = run_cli("--db", db, "merge", str(item["id"]), str(new_id))
    assert merged.returncode == 0, merged.stderr
    assert f"merged item {new_id} into item {item['id']}" in merged.stdout
    why_text = run_cli("--db", db, "show", str(item["id"]), "--why").stdout
    assert "decision 1" in why_text and "decision 2" in why_text
    exported = [json.loads(line) for line in run_cli("--db", db, "export").stdout.splitlines()]
    assert all("reason" in source for line in exported for source in line["sources"])

    made = run_cli("--db", db, "users", "add", "boss@example.org", "--admin", "--password-stdin",
                   stdin="correct horse\n")
    assert made.returncode == 0 and "(admin)" in made.stdout
    assert run_cli("--db", db, "users", "add", "pleb@example.org", "--password-stdin",
                   stdin="correct horse\n").returncode == 0
    assert run_cli("--db", db, "users", "role", "pleb@example.org", "admin").returncode == 0
    with open_store(db) as store:
        assert Accounts(store).user("boss@example.org").role == "admin"
        assert Accounts(store).user("pleb@example.org").role == "admin"
    missing = run_cli("--db", db, "users", "role", "nobody@example.org", "admin")
    assert missing.returncode == 1 and "no account" in missing.stderr


# -- the API and the item page --------------------------------------------------------------------------------

SECRET = b"test-secret-key"


def _client_for(settings, email: str, admin: bool) -> TestClient:
    from paperfeed.web import create_app
    from paperfeed.web.security import CSRF_COOKIE, csrf_token

    with open_store(settings.db) as store:
        user_id = Accounts(store).create(email, "correct horse")
        if admin:
            store.set_user_role(user_id, "admin")
    client = TestClient(create_app(settings), base_url="https://testserver")
    client.__enter__()
    client.get("/")
    token = csrf_token(SECRET, client.cookies[CSRF_COOKIE])
    response = client.post("/login", data={"csrf_token": token, "email": email, "password": "correct horse"},
                           follow_redirects=False)
    assert response.status_code == 303
    return client


def test_admins_split_and_merge_through_the_api_and_the_item_page(backend_url, tmp_path):
    settings = Settings.load(db=backend_url, embedder="none", secret_key="test-secret-key")
    with open_store(backend_url) as store:
        item_id = _two_works_in_one_item(store, tmp_path)
    admin = _client_for(settings, "boss@example.org", admin=True)
    member = _client_for(settings, "pleb@example.org", admin=False)
    try:
        page = admin.get(f"/items/{item_id}").text
        assert 'action="/items/%d/split"' % item_id in page and "title match, score" in page
        assert "Split ticked records" in page
        member_page = member.get(f"/items/{item_id}").text
        assert "title match, score" in member_page and "/split" not in member_page

        token = member.get("/api/v1/me").json()["csrf_token"]
        refused = member.post(f"/api/v1/items/{item_id}/split", json={"records": ["jour-1"]},
                              headers={"X-CSRF-Token": token})
        assert refused.status_code == 403 and "admin" in refused.json()["error"]
        assert member.post(f"/items/{item_id}/merge", data={"csrf_token": re.search(
            r'name="csrf_token" value="([0-9a-f]{64})"', member_page).group(1), "other": "1"}).status_code == 403

        me = admin.get("/api/v1/me").json()
        assert me["role"] == "admin"
        headers = {"X-CSRF-Token": me["csrf_token"]}
        assert admin.post(f"/api/v1/items/{item_id}/split", json={"records": ["jour-1"]}).status_code == 403  # CSRF
        bad = admin.post(f"/api/v1/items/{item_id}/split", json={"records": ["nope"]}, headers=headers)
        assert bad.status_code == 400 and "nope" in bad.json()["error"]
        split = admin.post(f"/api/v1/items/{item_id}/split", json={"records": ["jour-1"]}, headers=headers)
        assert split.status_code == 200, split.text
        new_id = split.json()["other_id"]
        assert split.json()["kind"] == "split" and split.json()["records"] == ["jour-1"]
        item = admin.get(f"/api/v1/items/{new_id}").json()
        assert item["sources"][0]["reason"]["by"] == "split" and item["decisions"][0]["kind"] == "split"

        merged = admin.post(f"/api/v1/items/{item_id}/merge", json={"other": str(new_id)}, headers=headers)
        assert merged.status_code == 200 and merged.json()["other_id"] == new_id
        assert admin.get(f"/api/v1/items/{new_id}").status_code == 404

        # The page's buttons: a form post with the CSRF token.
        form_token = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', admin.get(f"/items/{item_id}").text)
        posted = admin.post(f"/items/{item_id}/split", data={"csrf_token": form_token.group(1), "records": "jour-1"},
                            follow_redirects=False)
        assert posted.status_code == 303
        new_id = int(posted.headers["location"].rsplit("/", 1)[1])
        posted = admin.post(f"/items/{item_id}/merge", data={"csrf_token": form_token.group(1), "other": str(new_id)},
                            follow_redirects=False)
        assert posted.status_code == 303 and posted.headers["location"] == f"/items/{item_id}"
        with open_store(backend_url) as store:
            assert [i["id"] for i in store.iter_items()] == [item_id]
            assert [d["kind"] for d in store.merge_decisions([item_id])] == ["split", "merge", "split", "merge"]
    finally:
        admin.__exit__(None, None, None)
        member.__exit__(None, None, None)


# -- versions named by the source: related ids and preprint servers' DOIs (pure) -------------------------------


def test_related_ids_of_another_version_are_identifiers_but_never_a_second_id_of_a_scheme():
    from paperfeed import merge
    from paperfeed.records import Record

    def record(**fields) -> Record:
        return Record(format="crossref", record_id="r", title="T", raw="{}", **fields)

    preprint = record(doi="10.1038/nn.1", extra={"preprint_doi": "10.1101/2023.03.20.533417",
                                                 "related_ids": [["is-preprint-of", "doi", "10.1038/nn.1"]]})
    assert merge.identifiers(preprint) == [("doi", "10.1038/nn.1"), ("doi", "10.1101/2023.03.20.533417")]
    journal = record(doi="10.1038/nn.1", extra={"related_ids": [
        ["has-preprint", "doi", "10.1101/2023.03.20.533417"], ["has-preprint", "doi", "10.2139/ssrn.9"],
        ["has-preprint", "arxiv", "2301.00001"], ["has-preprint", "arxiv", "2301.00002"],
        ["has-review", "doi", "10.1101/2023.09.09.999999"]]})
    # The preprint server's DOI and the first arXiv id; not a second journal-like DOI, nor a review's DOI.
    assert merge.identifiers(journal) == [("doi", "10.1038/nn.1"), ("doi", "10.1101/2023.03.20.533417"),
                                          ("arxiv", "2301.00001")]
    assert merge.identity_sets(merge.identifiers(journal)) == {"doi": {"10.1038/nn.1"}, "arxiv": {"2301.00001"}}
    data = merge.record_data(journal)
    assert merge.stored_identifiers(data, "r", None) == merge.identifiers(journal)


@pytest.mark.parametrize("doi, preprint", [("10.1101/2023.03.14.532608", True), ("10.1101/532608", True),
                                           ("10.48550/arxiv.2301.00001", True), ("10.1101/gad.1234", False),
                                           ("10.1016/j.devcel.2023.09.004", False)])
def test_preprint_servers_dois_are_no_second_doi_and_make_a_preprint_version(doi, preprint):
    from paperfeed import merge

    assert merge.is_preprint_doi(doi) is preprint
    assert merge.identity_sets([("doi", doi)]) == ({} if preprint else {"doi": {doi}})
    version = merge.version_of({"format": "biorxiv", "title": "T", "doi": doi})
    assert version["version"] == ("preprint" if preprint else "published")


def test_file_local_ids_of_reference_managers_are_scoped_by_their_label():
    from paperfeed import merge
    from paperfeed.records import Record

    for format_name in ("ris", "csl-json", "bibtex", "csv"):
        one = Record(format=format_name, record_id="1", title="T", raw="", label="a.ris")
        other = Record(format=format_name, record_id="1", title="T", raw="", label="b.ris")
        assert merge.identifiers(one, one.label) != merge.identifiers(other, other.label), format_name
    # An ACL Anthology id names the paper anywhere, whatever file it came in.
    one = Record(format="mods", record_id="2023.acl-long.901", title="T", raw="", label="a.xml")
    other = Record(format="mods", record_id="2023.acl-long.901", title="T", raw="", label="b.xml")
    assert merge.identifiers(one, one.label) == merge.identifiers(other, other.label)
