"""Author identities: normalized names, conservative merges, author pages and a topic's collaborating authors."""

from __future__ import annotations

import os
import subprocess
import sys

from collections import Counter

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from datafiles import DATA
from paperfeed.authors import (AuthorEvidence, DecisionError, NameCommonness, SlotEvidence, collaborating_authors,
                               compatible, decide_identities, decide_people, find_author, identities_from_graph,
                               merge_people, name_parts, normalized_name, people_named, person_profile,
                               refresh_identities, split_person)
from paperfeed.cli import cli
from paperfeed.ingest import Ingester
from paperfeed.storage import TagResult, TopicRow

AUTHORS = DATA / "topics" / "authors.jsonl"


@pytest.mark.parametrize("first, second", [
    ("José García", "Jose GARCIA"), ("García, José", "José García"), ("Jean-Pierre Dupont", "Jean Pierre Dupont"),
])
def test_variants_share_one_normalized_name(first, second):
    assert normalized_name(first) == normalized_name(second)


_NAME_PIECES = ["José", "Jose", "GARCÍA", "García,", "J.", "J.-P.", "Jean-Pierre", "van", "der", "Jr.", "III", "Wei",
                "Wang", "王", "{\\'e}mile", "O'Brien", "Smith,", "A.B.", "", ",", "  ", "Müller", "ß", "İ"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_NAME_PIECES) | st.text(max_size=6), max_size=5).map(" ".join),
                max_size=12))
def test_name_commonness_counts_each_comparison_form_once(names):
    # NameCommonness counts the parts of each distinct comparison form; it reads them off each name directly,
    # which is right only if a form parses back to the same parts (checked here against the forms themselves).
    forms = {normalized_name(name) for name in names} - {""}
    commonness = NameCommonness(names)
    assert commonness.total == max(len(forms), 1)
    surnames = Counter(name_parts(form)[1] for form in forms)
    given = Counter(name_parts(form)[0][0] for form in forms if name_parts(form)[0])
    assert commonness.surnames == surnames and commonness.given == given
    assert all(name_parts(form) == name_parts(name) for name in names
               for form in [normalized_name(name)] if form)


@pytest.mark.parametrize("first, second, expected", [
    ("J. García", "José García", True),
    ("J.-P. Dupont", "Jean-Pierre Dupont", True),
    ("John Smith", "John A. Smith", True),   # a missing middle name
    ("John B. Smith", "John A. Smith", False),
    ("Jane Smith", "John Smith", False),
    ("J. Smith", "J. Smyth", False),
])
def test_compatible_names(first, second, expected):
    assert compatible(first, second) is expected
    assert compatible(second, first) is expected


def _evidence(author_id, name, coauthors=(), topics=(), items=()):
    return AuthorEvidence(author_id, name, set(coauthors), set(topics), set(items) or {1000 + author_id})


def test_same_name_merges_with_a_shared_coauthor_or_topic_only():
    block = [_evidence(1, "José García", coauthors={"perez|a"}, items={1, 2}),
             _evidence(2, "Jose Garcia", coauthors={"perez|a"}),
             _evidence(3, "JOSE GARCIA", topics={7}),
             _evidence(4, "José García", coauthors={"other|x"}, topics={8})]
    block[0].topics = {7}
    identities = decide_identities(block)
    assert identities[1] == identities[2] == identities[3] == 1  # the one with most papers stands for them
    assert identities[4] == 4


def test_initials_merge_only_with_a_coauthor_and_one_candidate():
    garcia = [_evidence(1, "José García", coauthors={"perez|a"}), _evidence(2, "J. García", coauthors={"perez|a"})]
    assert decide_identities(garcia) == {1: 1, 2: 1}
    topic_only = [_evidence(1, "José García", topics={3}), _evidence(2, "J. García", topics={3})]
    assert decide_identities(topic_only) == {1: 1, 2: 2}  # a topic is not enough for an initial
    smiths = [_evidence(1, "John Smith", coauthors={"major|m"}), _evidence(2, "Jane Smith", coauthors={"major|m"}),
              _evidence(3, "J. Smith", coauthors={"major|m"})]
    assert decide_identities(smiths) == {1: 1, 2: 2, 3: 3}


def test_names_on_one_paper_are_two_people():
    block = [_evidence(1, "Wang Li", coauthors={"pan|p"}, items={5}),
             _evidence(2, "Wang LI", coauthors={"pan|p"}, items={5})]
    assert decide_identities(block) == {1: 1, 2: 2}


@pytest.fixture
def authored(store):
    Ingester(store).ingest_paths([AUTHORS])
    refresh_identities(store)
    return store


def _one_person(store, name):
    [ref] = people_named(store, name)
    return person_profile(store, ref["id"])


def test_the_store_merges_variants_and_keeps_the_rest_apart(authored):
    garcia = find_author(authored, "Garcia, Jose")
    assert len(garcia) == 1
    profile = _one_person(authored, "Garcia, Jose")
    assert sorted(profile["variants"]) == ["J. García", "Jose Garcia", "José García"]
    assert profile["papers_count"] == 4
    collaborators = {c["name"]: c["count"] for c in profile["collaborators"]}
    assert collaborators["Ana Pérez"] == 3  # "Ana Perez" merged into her too (shared co-author José García)
    assert len(find_author(authored, "J. Smith")) == 1
    assert len(find_author(authored, "Smith, John")) == 1
    assert len(set(find_author(authored, "Kim Lee"))) == 2  # same name, nothing shared: two people


def test_authors_show_prints_json_and_a_clear_error(authored, tmp_path):
    url = authored.url
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", url, "authors", "show", "José García", "--json"])
    assert result.exit_code == 0, result.output
    [profile] = orjson.loads(result.output)
    assert profile["papers_count"] == 4 and profile["papers"][0]["title"]
    result = runner.invoke(cli, ["--db", url, "authors", "show", "Nobody Here"])
    assert result.exit_code == 1 and "no author named 'Nobody Here'" in result.output


def test_collaborating_authors_rank_by_activity_and_link_coauthors(authored):
    ids = authored.save_topics([TopicRow(name="Graphs", phrases=["graph"], origin="user")])
    items = [item for item in authored.iter_items() if item["arxiv_id"] in {"2501.00001", "2501.00002", "2501.00004"}]
    authored.write_tags("v", [TagResult(item["id"], "x", topics=[(ids["Graphs"], 0.9)]) for item in items])
    people = collaborating_authors(authored, ids["Graphs"], limit=3)
    top = people["authors"]
    # José García (three spellings) and Ana Pérez (two) are on all three items; Li Wei on one.
    assert {person["name"] for person in top[:2]} == {"José García", "Ana Pérez"}
    assert [person["papers"] for person in top] == [3, 3, 1]
    assert top[0]["activity"] == pytest.approx(2.7) and top[2]["activity"] == pytest.approx(0.9)
    by_id = {person["key"]: person["name"] for person in top}
    edges = {frozenset((by_id[e["source"]], by_id[e["target"]])): e["papers"] for e in people["edges"]}
    assert edges[frozenset(("José García", "Ana Pérez"))] == 3
    assert edges[frozenset(("José García", "Li Wei"))] == 1


def test_a_scoped_refresh_decides_only_the_touched_blocks_and_keeps_the_rest(authored):
    graph = authored.author_graph()
    everything = identities_from_graph(graph)
    garcia = identities_from_graph(graph, {"garcia|j"})
    assert garcia and garcia == {a: i for a, i in everything.items() if graph.authors[a][1] == "garcia|j"}
    item = next(i["id"] for i in authored.iter_items() if i["arxiv_id"] == "2501.00004")  # J. García, Ana Pérez
    merged_before = refresh_identities(authored)
    assert refresh_identities(authored, [item]) == 3  # J. García + Jose Garcia -> José García; Ana Perez -> Ana Pérez
    assert merged_before == 3
    assert len(_one_person(authored, "Jose Garcia")["variants"]) == 3


def test_a_scoped_refresh_decides_the_people_of_the_names_its_papers_give_not_of_their_whole_blocks(authored):
    # "Kim Lee" (2501.00009) and "Kím Lee" (2501.00010) share the block lee|k but no identity (nothing in common).
    # A day's papers touch the commonest blocks (hundreds of names each at 400,000 papers): a refresh scoped to
    # one paper decides its block's identities, but people only for the names its papers give.
    store = authored
    item = {i["arxiv_id"]: i["id"] for i in store.iter_items()}
    kim, kim_accent = (store.db.value("SELECT id FROM authors WHERE name = $1", (name,)) for name in ("Kim Lee",
                                                                                                         "Kím Lee"))
    assert store.identities_of([kim, kim_accent]) == {kim: kim, kim_accent: kim_accent}
    decided = _who_is_who(store)
    slot_query = "SELECT author_id FROM item_people WHERE item_id = $1 AND position = 0"
    with store.db.transaction():  # the accented name's slot undecided, as if never decided
        store.db.run("DELETE FROM item_people WHERE author_id = $1", (kim_accent,))
        store.db.run("DELETE FROM people WHERE author_id = $1", (kim_accent,))
    refresh_identities(store, [item["2501.00009"]])
    assert store.db.value(slot_query, (item["2501.00009"],)) == kim
    assert store.db.value(slot_query, (item["2501.00010"],)) is None  # its name was not decided again
    refresh_identities(store, [item["2501.00010"]])
    assert store.db.value(slot_query, (item["2501.00010"],)) == kim_accent
    assert _who_is_who(store) == decided


def test_a_refresh_of_every_item_tracks_no_touched_names(authored, monkeypatch):
    # After a first load the pipeline refreshes every item: every name is touched, and a set of them all (millions
    # of names in a whole-arXiv store) would only cost memory. Fewer items than the store holds are tracked.
    import paperfeed.authors as authors

    store, seen = authored, []
    decide = authors.people_from_graph
    monkeypatch.setattr(authors, "people_from_graph", lambda *args: seen.append(args[-1]) or decide(*args))
    monkeypatch.setattr(authors, "_EVERY_ITEM_FROM", 1)
    every = [item["id"] for item in store.iter_items()]
    decided = _who_is_who(store)
    refresh_identities(store, every)
    assert seen and all(touched is None for touched in seen)
    seen.clear()
    refresh_identities(store, every[:-1])
    assert seen and all(isinstance(touched, set) for touched in seen)
    assert _who_is_who(store) == decided


def test_a_scoped_refresh_that_merges_a_name_decides_both_of_its_groups_as_a_full_refresh_does(store, tmp_path):
    # "J. García" shares no co-author with José García at first: a name of its own. A new paper gives him Ana
    # Pérez, a co-author of José García: the names merge, and both groups (the initial's and José García's) must
    # come out as a refresh of everything decides them.
    records = [orjson.loads(line) for line in AUTHORS.read_bytes().splitlines()]
    for record in records:
        if record["id"] == "2501.00004":
            record["authors"] = ["J. García", "Zed Zulu"]
    first = tmp_path / "first.jsonl"
    first.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in records))
    Ingester(store).ingest_paths([first])
    refresh_identities(store)
    initial = store.db.value("SELECT id FROM authors WHERE name = 'J. García'")
    assert store.identities_of([initial])[initial] == initial
    day = tmp_path / "day.jsonl"
    day.write_bytes(orjson.dumps({**records[3], "id": "2501.00011", "title": "Message passing, again",
                                  "authors": ["J. García", "Ana Pérez"]}) + b"\n")
    changed = Ingester(store).ingest_paths([day]).changed_item_ids
    refresh_identities(store, changed)
    assert store.identities_of([initial])[initial] != initial
    decided = _who_is_who(store)  # before the store is decided again from nothing
    assert _decided_from_nothing(store) == decided


def test_a_scoped_refresh_that_splits_a_name_off_decides_the_group_it_left_as_a_full_refresh_does(authored):
    # "Jose Garcia" (2501.00002, with Ana Perez) is one with José García by their shared co-author. A new version
    # of the paper names Zed Zulu instead: nothing is shared any more, the names part, and the group he left,
    # whose names are not on the paper, must be decided again too (its person held his slot).
    store = authored
    item = next(i["id"] for i in store.iter_items() if i["arxiv_id"] == "2501.00002")
    jose = store.db.value("SELECT id FROM authors WHERE name = 'Jose Garcia'")
    assert store.identities_of([jose])[jose] != jose
    zulu = store.db.value("INSERT INTO authors (name, key) VALUES ('Zed Zulu', 'zulu|z') RETURNING id")
    _new_version_names(store, item, [jose, zulu])
    refresh_identities(store, [item])
    assert store.identities_of([jose])[jose] == jose
    decided = _who_is_who(store)  # before the store is decided again from nothing
    assert _decided_from_nothing(store) == decided


@pytest.mark.postgres
def test_author_pages_are_the_same_on_both_backends(tmp_path, pg_url):
    """`authors show` on both backends, compared by names: author ids are each backend's own (SQLite inserts a
    batch's new names in set order, PostgreSQL sorted), and so is which spelling names a merged author on a tie."""
    from paperfeed.storage import open_store

    def pages(url: str) -> dict:
        with open_store(url) as store:
            Ingester(store).ingest_paths([AUTHORS])
            merged = refresh_identities(store)
            names = sorted({name for item in store.iter_items() for name in item["authors"]})

            def spellings(identity: int) -> list[str]:
                members = store.identity_members([identity])[identity]
                return sorted(store.author_names(members).values())

            shown = {}
            for name in names:
                result = CliRunner().invoke(cli, ["--db", url, "authors", "show", name, "--json"])
                assert result.exit_code == 0, result.output
                shown[name] = sorted(({
                    **profile, "id": None, "name": None, "variants": sorted(profile["variants"]),
                    "papers": [(p["title"], p["published"]) for p in profile["papers"]],
                    "author_id": None,
                    "collaborators": sorted((spellings(c["author_id"]), c["count"]) for c in profile["collaborators"]),
                } for profile in orjson.loads(result.output)), key=orjson.dumps)
            return {"merged": merged, "shown": shown}

    on_sqlite, on_postgres = pages(str(tmp_path / "store.db")), pages(pg_url)
    assert on_sqlite["merged"] == 3 and len(on_sqlite["shown"]) > 8
    assert on_postgres == on_sqlite


# -- people: one name string may be several people ------------------------------------------------------

def _slot(item, coauthors=(), vector=None, year=2025):
    return SlotEvidence(item, set(coauthors), set(), dict(vector or {}), year)


def test_decide_people_splits_on_evidence_only_for_common_names():
    cv, speech = {"c:cs.CV": 1.0}, {"c:cs.SD": 1.0, "c:cs.CL": 0.5}
    slots = [_slot(1, {"a"}, cv), _slot(2, {"a"}, cv), _slot(3, {"b"}, speech), _slot(4, {"c"}, speech),
             _slot(5, {"d"}, {})]
    # A common name: co-authors join 1-2, profiles join 3-4; a slot with no profile joins the biggest person.
    assert decide_people(slots, ambiguous=True) == [[0, 1, 4], [2, 3]]
    assert decide_people(slots, ambiguous=False) == [[0, 1, 2, 3, 4]]  # a rare name stays one person
    # Two slots on one paper are two people, even with everything else in common.
    assert decide_people([_slot(1, {"a"}, cv), _slot(1, {"a"}, cv)], ambiguous=False) == [[0], [1]]
    # Decades apart with no co-author in common: not joined on profile alone.
    assert decide_people([_slot(1, (), cv, 1990), _slot(2, (), cv, 2025)], ambiguous=True) == [[0], [1]]


def test_decide_people_keeps_remembered_splits_and_merges():
    cv, speech = {"c:cs.CV": 1.0}, {"c:cs.SD": 1.0}
    slots = [_slot(1, {"a"}, cv), _slot(2, {"a"}, cv), _slot(3, {"b"}, speech), _slot(4, {"c"}, cv)]
    # A split: slot 1 is apart from 0 and 3 even though a co-author joins it to 0; it takes no one else.
    assert decide_people(slots, True, together=[{1}], apart=[({1}, {0, 3})], alone={1}) == [[0, 3], [1], [2]]
    # A merge joins what the evidence keeps apart.
    assert decide_people(slots, True, together=[{0, 2}]) == [[0, 1, 2, 3]]


NAMESAKES = {"Pengfei Wan": "Jun Wang", "Shinji Watanabe": "Jun Wang", "Raj Dabre": "Lei Chen"}
"""Real authors of the June 2025 listings under names no one there has: Pengfei Wan (video generation, cs.CV)
and Shinji Watanabe (speech, cs.SD/cs.CL) share no co-author and no category, so "Jun Wang" must be two
people again; Raj Dabre's four cs.CL papers have four different sets of co-authors, and "Lei Chen" (as
common a name) must stay one person."""


@pytest.fixture
def namesakes(store, tmp_path):
    import json
    import tarfile

    folder = tmp_path / "listings"
    folder.mkdir()
    papers: dict[str, set[str]] = {}
    with tarfile.open(DATA / "topics" / "listings-2025-06-02_to_06.tar.gz") as tar:
        for member in tar:
            lines = []
            for line in tar.extractfile(member):
                record = json.loads(line)
                ours = [name for name in record["authors"] if name in NAMESAKES]
                for name in ours:
                    papers.setdefault(name, set()).add(record["id"])
                if ours or member.name == "2025-06-02.jsonl":  # their papers, and one day's as the background
                    record["authors"] = [NAMESAKES.get(name, name) for name in record["authors"]]
                    lines.append(json.dumps(record) + "\n")
            (folder / member.name).write_text("".join(lines), encoding="utf-8")
    Ingester(store).ingest_paths([folder])
    refresh_identities(store)
    return store, papers


def _people_papers(store, name):
    found = {}
    for ref in people_named(store, name):
        profile = person_profile(store, ref["id"], paper_limit=1000)
        found[ref["id"]] = {store.item(paper["id"])["arxiv_id"] for paper in profile["papers"]}
    return found


def test_one_name_two_people_and_one_person_many_coauthors(namesakes):
    store, papers = namesakes
    assert len(papers["Pengfei Wan"]) == 5 and len(papers["Shinji Watanabe"]) == 5 and len(papers["Raj Dabre"]) == 4
    assert len(find_author(store, "Jun Wang")) == 1  # one name identity, as name merging had it ...
    jun_wang = _people_papers(store, "Jun Wang")
    assert sorted(jun_wang.values(), key=sorted) == sorted([papers["Pengfei Wan"], papers["Shinji Watanabe"]],
                                                            key=sorted)  # ... and two people
    assert list(_people_papers(store, "Lei Chen").values()) == [papers["Raj Dabre"]]
    # A scoped refresh (a paper of someone else in the block) keeps the people and their ids.
    before = _people_papers(store, "Jun Wang")
    some_item = next(item["id"] for item in store.iter_items() if "Jun Wang" in item["authors"])
    refresh_identities(store, [some_item])
    assert _people_papers(store, "Jun Wang") == before


def test_split_and_merge_are_remembered_through_refreshes(namesakes, tmp_path):
    store, papers = namesakes
    dabre = next(iter(_people_papers(store, "Lei Chen")))
    items = {store.item(p["id"])["arxiv_id"]: p["id"] for p in person_profile(store, dabre, 100)["papers"]}
    off = items[sorted(items)[0]]
    new_person = split_person(store, dabre, [off])
    assert new_person != dabre
    for scope in (None, [off], [items[sorted(items)[1]]]):  # full and scoped refreshes never undo it
        refresh_identities(store, scope)
        assert {len(p) for p in _people_papers(store, "Lei Chen").values()} == {1, 3}
    with pytest.raises(DecisionError, match="is not a paper of person"):
        split_person(store, dabre, [off])
    with pytest.raises(DecisionError, match="no person"):
        merge_people(store, [dabre, 99999999])

    jun_wang = sorted(_people_papers(store, "Jun Wang"))
    merged = merge_people(store, jun_wang)
    assert merged in jun_wang
    for scope in (None, [some for some in items.values()]):
        refresh_identities(store, scope)
        assert [len(p) for p in _people_papers(store, "Jun Wang").values()] == [10]
    # A merge that contradicts an earlier split undoes it.
    [lei_chen_off] = [person for person, found in _people_papers(store, "Lei Chen").items() if len(found) == 1]
    [lei_chen_rest] = [person for person, found in _people_papers(store, "Lei Chen").items() if len(found) == 3]
    merge_people(store, [lei_chen_rest, lei_chen_off])
    refresh_identities(store)
    assert [len(p) for p in _people_papers(store, "Lei Chen").values()] == [4]


def test_split_and_merge_from_the_command_line(namesakes):
    store, _ = namesakes
    url, runner = store.url, CliRunner()
    shown = runner.invoke(cli, ["--db", url, "authors", "show", "Jun Wang", "--json"])
    assert shown.exit_code == 0, shown.output
    first, second = orjson.loads(shown.output)
    result = runner.invoke(cli, ["--db", url, "authors", "merge", str(first["id"]), str(second["id"]), "--json"])
    assert result.exit_code == 0, result.output
    person = orjson.loads(result.output)["person"]
    result = runner.invoke(cli, ["--db", url, "authors", "split", str(person), "--papers",
                                 str(second["papers"][0]["id"])])
    assert result.exit_code == 0 and "now person" in result.output, result.output
    bad = runner.invoke(cli, ["--db", url, "authors", "split", str(person), "--papers", "x1"])
    assert bad.exit_code == 2 and "not an item id: 'x1' (--papers)" in bad.output
    bad = runner.invoke(cli, ["--db", url, "authors", "merge", str(person)])
    assert bad.exit_code == 1 and "a merge needs two people or more" in bad.output
    shown = runner.invoke(cli, ["--db", url, "authors", "show", f"person:{person}", "--json"])
    assert shown.exit_code == 0 and orjson.loads(shown.output)[0]["papers_count"] == 9


def test_old_author_addresses_lead_to_people(namesakes, tmp_path):
    from fastapi.testclient import TestClient

    from paperfeed.config import Settings
    from paperfeed.web.app import create_app

    store, _ = namesakes
    settings = Settings.load(db=store.url, embedder="none", secret_key="test-secret-key",
                             index_dir=str(tmp_path / "index"))
    [jun_wang] = find_author(store, "Jun Wang")
    [lei_chen] = find_author(store, "Lei Chen")
    [person] = people_named(store, "Lei Chen")
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        moved = client.get(f"/authors/{lei_chen}", follow_redirects=False)
        assert moved.status_code == 301 and moved.headers["location"] == f"/people/{person['id']}"
        page = client.get(f"/people/{person['id']}").text
        assert "<h1>Lei Chen</h1>" in page and "IndicRAGSuite" in page
        several = client.get(f"/authors/{jun_wang}")
        assert several.status_code == 200 and "is more than one person here" in several.text
        links = {f"/people/{ref['id']}" for ref in people_named(store, "Jun Wang")}
        assert len(links) == 2 and all(f'href="{link}"' in several.text for link in links)
        assert client.get("/people/99999999").status_code == 404
        api = client.get(f"/api/v1/authors/{jun_wang}")
        assert api.status_code == 300 and {ref["url"] for ref in api.json()} == links
        assert client.get(f"/api/v1/authors/{lei_chen}").json()["id"] == person["id"]
        assert client.get(f"/api/v1/people/{person['id']}").json()["papers_count"] == 4


def _decided_from_nothing(store) -> tuple[list, set]:
    """Who is who after the store's identities and people are forgotten and decided again by a full refresh."""
    with store.db.transaction():
        for table in ("item_people", "people", "author_identities"):
            store.db.run(f"DELETE FROM {table}")
    refresh_identities(store)
    return _who_is_who(store)


def _new_version_names(store, item: int, author_ids: list[int]) -> None:
    """Give an item this author list, as a new version's ingest writes it."""
    with store.db.transaction():
        store.db.run("DELETE FROM item_authors WHERE item_id = $1", (item,))
        store.db.run_many("INSERT INTO item_authors (item_id, position, author_id) VALUES ($1, $2, $3)",
                          [(item, position, author) for position, author in enumerate(author_ids)])


def _who_is_who(store) -> tuple[list, set]:
    """The stored identities row for row, and the people without their ids: (name, author id, slots)."""
    identities = [tuple(row) for row in store.db.rows("SELECT author_id, identity_id FROM author_identities "
                                                      "ORDER BY author_id")]
    slots: dict[int, list] = {}
    for item, position, author, person in store.db.rows(
            "SELECT item_id, position, author_id, person_id FROM item_people ORDER BY item_id, position"):
        slots.setdefault(person, []).append((item, position, author))
    return identities, {(name, author, tuple(slots.get(person, ())))
                        for person, name, author in store.db.rows("SELECT id, name, author_id FROM people")}


def test_a_refresh_block_by_block_decides_what_one_pass_over_the_whole_graph_decides(namesakes):
    """refresh_identities loads a few name blocks at a time; with the smallest chunks (one block each) it must
    store exactly what the pure functions decide over the whole graph at once, remembered decisions across
    two blocks and topics included."""
    from paperfeed.authors import people_from_graph

    store, _ = namesakes
    topics = store.save_topics([TopicRow(name="Speech", phrases=["speech"], origin="user")])
    store.write_tags("v", [TagResult(item["id"], "x", topics=[(topics["Speech"], 0.9)])
                           for item in store.iter_items() if "speech" in (item["title"] or "").lower()])
    dabre = next(iter(_people_papers(store, "Lei Chen")))
    jun_wang = sorted(_people_papers(store, "Jun Wang"))
    merge_people(store, [dabre, jun_wang[0]])  # ties the blocks chen|l and wang|j
    rest = [p["id"] for p in person_profile(store, jun_wang[1], 100)["papers"]]
    split_person(store, jun_wang[1], rest[:1])

    graph = store.author_graph()
    identities = identities_from_graph(graph)
    people = people_from_graph(graph, identities, None, store.author_decisions(None))
    expected = (sorted((a, i) for a, i in identities.items() if a != i),
                {(p.name, p.author_id, tuple(sorted(p.slots))) for p in people})
    assert refresh_identities(store, chunk_slots=1) == len(expected[0])
    assert _who_is_who(store) == expected
    some = [item["id"] for item in store.iter_items() if "Jun Wang" in item["authors"]][:2]
    people_before = store.db.rows("SELECT id, name, author_id FROM people ORDER BY id")
    refresh_identities(store, some, chunk_slots=1)  # scoped, in chunks: nothing changes, ids included
    assert _who_is_who(store) == expected
    assert store.db.rows("SELECT id, name, author_id FROM people ORDER BY id") == people_before


def test_the_refresh_reads_the_store_a_range_of_items_at_a_time_with_the_same_answers(authored, monkeypatch):
    # Python answers Ctrl-C between statements only: one statement over every item of a whole-arXiv bootstrap held
    # it for 22 s. Read in ranges of items, the keys and counts must be those of one statement over everything.
    from paperfeed.storage import people as people_storage

    store = authored
    ids = store.item_ids_after(0, 1_000_000)
    whole = (store.authors_of_items(ids), store.author_feature_counts())
    statements: list[str] = []
    run = store.db.rows
    monkeypatch.setattr(store.db, "rows", lambda sql, params=(): statements.append(sql) or run(sql, params))
    monkeypatch.setattr(people_storage, "ITEMS_PER_READ", 3)
    assert len(ids) > 6
    assert (store.authors_of_items(ids), store.author_feature_counts()) == whole
    assert whole[0] and whole[1][0] > 0 and whole[1][1]
    ranges = -(-max(ids) // 3)
    assert sum("item_authors" in sql and "count(DISTINCT item_id)" in sql for sql in statements) == ranges
    assert sum("UNION SELECT author_id FROM item_people" in sql for sql in statements) == -(-len(ids) // 3)
    names = sorted(whole[0])
    statements.clear()
    assert store.author_keys_of(names) == dict(run("SELECT id, key FROM authors ORDER BY id")) and len(names) > 6
    assert sum("SELECT id, key FROM authors" in sql for sql in statements) == -(-len(names) // 3)


def test_people_rows_are_inserted_where_a_slot_holds_none_and_replace_the_row_it_holds(authored, monkeypatch):
    # Where an upsert goes a statement a row (PostgreSQL), a first refresh writes every slot as new: a plain insert,
    # many rows a statement, after one read of which slots hold a row. Where it goes many rows a statement (SQLite,
    # which stores people without enforcing foreign keys, whose check made an upsert cost three inserts), one upsert
    # writes them all, and nothing is read. A slot that holds a row gets the row written last, on both backends.
    store = authored
    query = "SELECT item_id, position, author_id, person_id FROM item_people ORDER BY item_id, position"
    before = [tuple(row) for row in store.db.rows(query)]
    (item_a, position_a, author_a, _), (item_b, position_b, author_b, person_b) = before[0], before[-1]
    other = store.db.value("INSERT INTO people (name, author_id) VALUES ('Someone Else', $1) RETURNING id",
                           (author_a,))
    written: list[str] = []
    read: list[str] = []
    run_many, rows = store.db.run_many, store.db.rows
    monkeypatch.setattr(store.db, "run_many", lambda sql, many: written.append(sql) or run_many(sql, many))
    monkeypatch.setattr(store.db, "rows", lambda sql, *params: read.append(sql) or rows(sql, *params))
    with store.db.transaction():
        store.db.run("DELETE FROM item_people WHERE item_id = $1 AND position = $2", (item_b, position_b))
        store._write_item_people([(item_b, position_b, author_b, person_b)])
    assert [tuple(row) for row in store.db.rows(query)] == before
    held = [sql for sql in read if "FROM item_people WHERE item_id" in sql]  # which slots hold a row
    if store.db.dialect.many_row_upserts:
        assert len(written) == 1 and "ON CONFLICT" in written[0] and not held
    else:
        assert written and not any("ON CONFLICT" in sql for sql in written) and len(held) == 1
    with store.db.transaction():  # one slot held (replaced), one new
        store.db.run("DELETE FROM item_people WHERE item_id = $1 AND position = $2", (item_b, position_b))
        store._write_item_people([(item_b, position_b, author_b, person_b), (item_a, position_a, author_a, other)])
    assert [tuple(row) for row in store.db.rows(query)] == [(item_a, position_a, author_a, other)] + before[1:]
    with store.db.transaction():  # a slot given twice: the later row holds
        store._write_item_people([(item_a, position_a, author_a, before[0][3]), (item_a, position_a, author_a, other)])
    assert [tuple(row) for row in store.db.rows(query)][0] == (item_a, position_a, author_a, other)


def test_a_person_whose_one_slot_was_renamed_keeps_its_id(authored):
    # item_people has no name index (migration 0022): a chunk finds its names' earlier people through item_authors'
    # name index, which misses a slot decided under a name the paper no longer gives. A person whose one slot that
    # was is found by the name it goes by: the slot's new name, in the same block, keeps the person's id, and no
    # person is left without a slot.
    store = authored
    item = store.db.value("SELECT min(item_id) FROM item_authors")

    def rename_first_slot(name: str) -> int:
        author = store.db.value("INSERT INTO authors (name, key) VALUES ($1, 'solo|k') RETURNING id", (name,))
        with store.db.transaction():
            store.db.run("UPDATE item_authors SET author_id = $1 WHERE item_id = $2 AND position = 0", (author, item))
        refresh_identities(store, [item])
        return author

    first = rename_first_slot("Kim Q. Solo")
    [(author, person)] = store.db.rows("SELECT author_id, person_id FROM item_people WHERE item_id = $1 "
                                       "AND position = 0", (item,))
    assert author == first
    assert store.db.value("SELECT count(*) FROM item_people WHERE person_id = $1", (person,)) == 1
    second = rename_first_slot("Kim Solo")
    assert [tuple(row) for row in store.db.rows("SELECT author_id, person_id FROM item_people WHERE item_id = $1 "
                                                "AND position = 0", (item,))] == [(second, person)]
    assert store.db.value("SELECT count(*) FROM people WHERE NOT EXISTS "
                          "(SELECT 1 FROM item_people ip WHERE ip.person_id = people.id)") == 0


def test_slots_of_an_item_joined_away_since_the_decision_are_not_stored(store):
    # An ingest in another process may join an item into another (deleting it) between a chunk's read and its
    # write. Its slots are not written (the joined item's refresh decides them), nor a new person who had only
    # them; the rest is stored, and no row refers to the gone item. (Before, SQLite's enforced foreign key failed
    # the whole refresh; now SQLite stores people without enforcing it, having read the items again.)
    from paperfeed.authors import BIG_PAPER, people_from_graph

    Ingester(store).ingest_paths([AUTHORS])
    graph = store.author_graph(coauthors_up_to=BIG_PAPER)
    people = people_from_graph(graph, identities_from_graph(graph))
    alone = [person for person in people if len(person.slots) == 1]
    gone = alone[0].slots[0][0]
    with store.db.transaction():
        store.db.run("DELETE FROM items WHERE id = $1", (gone,))
    ids = store.save_people(people)
    expected = {(item, position, author) for person in people for item, position, author in person.slots
                if item != gone}
    stored = store.db.rows("SELECT item_id, position, author_id, person_id FROM item_people")
    assert {(item, position, author) for item, position, author, _ in stored} == expected
    kept = [index for index, person in enumerate(people) if any(item != gone for item, _, _ in person.slots)]
    assert sorted(ids) == kept and len(kept) < len(people)
    assert {person for *_, person in stored} == set(ids.values())
    assert store.db.value("SELECT count(*) FROM people") == len(kept)
    assert store.db.value("SELECT count(*) FROM item_people ip WHERE NOT EXISTS "
                          "(SELECT 1 FROM items i WHERE i.id = ip.item_id)") == 0


def test_sqlite_stores_people_without_enforcing_foreign_keys_and_enforces_them_after(sqlite_store, monkeypatch):
    # Enforcing item_people's key to items read the item's table page (titles and abstracts) for every row: most of
    # what storing a chunk's people cost at 2.7 million papers. SQLite turns enforcement off for that transaction
    # only, and back on after it, whether it commits or fails.
    store, db = sqlite_store, sqlite_store.db
    Ingester(store).ingest_paths([AUTHORS])
    enforced: list[int] = []
    run_many = db.run_many

    def spied(sql, rows):
        if sql.startswith("INSERT INTO item_people"):
            enforced.append(db.value("PRAGMA foreign_keys"))
        return run_many(sql, rows)

    monkeypatch.setattr(db, "run_many", spied)
    refresh_identities(store)
    assert enforced and set(enforced) == {0}
    # What makes that safe: the rows it deletes that others refer to are people, whose slots' rows it deletes first;
    # a table that came to refer to people (or to item_people) would have to be deleted from by hand there too.
    referring = {(table, parent) for (table,) in db.rows("SELECT name FROM sqlite_master WHERE type = 'table'")
                 for _, _, parent, *_ in db.rows(f"SELECT * FROM pragma_foreign_key_list('{table}')")
                 if parent in ("people", "item_people")}
    assert referring == {("item_people", "people")}
    assert db.value("PRAGMA foreign_keys") == 1
    assert db.rows("PRAGMA foreign_key_check") == []
    with pytest.raises(RuntimeError):
        with db.transaction(references_checked=True):
            assert db.value("PRAGMA foreign_keys") == 0
            raise RuntimeError("a failed write")
    assert db.value("PRAGMA foreign_keys") == 1
    with db.transaction(), db.transaction(references_checked=True):  # inside another: as it was
        assert db.value("PRAGMA foreign_keys") == 1
    db.connection.execute("PRAGMA foreign_keys = OFF")  # as a load holding the store alone sets it
    with db.transaction(references_checked=True):
        pass
    assert db.value("PRAGMA foreign_keys") == 0


def test_a_refresh_writes_the_slots_that_change_and_no_others(authored, monkeypatch):
    # A day's papers decide whole name blocks again (half the slots of a 400,000-paper store for 1,000 papers),
    # yet nearly every slot keeps its person: only the rows that change are written, and what a refresh leaves
    # over earlier decisions is what it decides from nothing.
    store = authored
    query = "SELECT item_id, position, author_id, person_id FROM item_people ORDER BY item_id, position"
    before = [tuple(row) for row in store.db.rows(query)]
    written: list[tuple[str, list]] = []
    run_many = store.db.run_many

    def spied(sql, rows):
        rows = list(rows)
        written.append((sql, rows))
        return run_many(sql, rows)

    monkeypatch.setattr(store.db, "run_many", spied)
    every_item = [item["id"] for item in store.iter_items()]
    for scope in (None, every_item):
        refresh_identities(store, scope)
        assert [tuple(row) for row in store.db.rows(query)] == before
    assert written and not [rows for sql, rows in written if "item_people" in sql and rows]

    # A paper's author list changes as a new version's ingest writes it: its first name replaced by a new one,
    # its last name dropped. The new name's slot held the old name's row; the dropped slot must not stay.
    item = before[0][0]
    names = store.db.rows("SELECT position, author_id FROM item_authors WHERE item_id = $1 ORDER BY position",
                          (item,))
    assert len(names) >= 3
    newcomer = store.db.value("INSERT INTO authors (name, key) VALUES ('Kim Newcomer', 'newcomer|k') RETURNING id")
    _new_version_names(store, item, [newcomer] + [author for _, author in names[1:-1]])
    written.clear()
    refresh_identities(store, [item])
    slots = [tuple(row) for row in store.db.rows(
        "SELECT item_id, position, author_id FROM item_people WHERE item_id = $1 ORDER BY position", (item,))]
    assert slots == [(item, 0, newcomer)] + [(item, position, author) for position, author in names[1:-1]]
    assert any("ON CONFLICT" in sql and rows for sql, rows in written)  # the held slot, replaced
    refresh_identities(store)
    decided = _who_is_who(store)  # before the store is decided again from nothing
    assert _decided_from_nothing(store) == decided


def test_who_is_who_does_not_depend_on_the_order_a_set_of_names_iterates_in():
    # Slot 0 shares "x" with slot 1 and "y" with slot 2, which are on one paper: joining on "x" first makes {0, 1},
    # on "y" first {0, 2}. Python orders a set of strings differently in each process (hash randomization), so a
    # whole-arXiv refresh run twice gave other people; every process must decide the same.
    code = ("from paperfeed.authors.people import SlotEvidence, decide_people\n"
            "print(decide_people([SlotEvidence(1, coauthors={'xavier roe', 'yuki tan'}), "
            "SlotEvidence(2, coauthors={'xavier roe'}), SlotEvidence(2, coauthors={'yuki tan'})], True))")
    answers = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout for seed in range(12)}
    assert answers == {"[[0, 1], [2]]\n"}
