"""Author identities: normalized names, conservative merges, author pages and a topic's collaborating authors."""

from __future__ import annotations

import orjson
import pytest
from click.testing import CliRunner

from datafiles import DATA
from paperfeed.authors import (AuthorEvidence, author_profile, collaborating_authors, compatible, decide_identities,
                               find_author, identities_from_graph, normalized_name, refresh_identities)
from paperfeed.cli import cli
from paperfeed.ingest import Ingester
from paperfeed.storage import TagResult, TopicRow

AUTHORS = DATA / "topics" / "authors.jsonl"


@pytest.mark.parametrize("first, second", [
    ("José García", "Jose GARCIA"), ("García, José", "José García"), ("Jean-Pierre Dupont", "Jean Pierre Dupont"),
])
def test_variants_share_one_normalized_name(first, second):
    assert normalized_name(first) == normalized_name(second)


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


def test_the_store_merges_variants_and_keeps_the_rest_apart(authored):
    garcia = find_author(authored, "Garcia, Jose")
    assert len(garcia) == 1
    profile = author_profile(authored, garcia[0])
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
    by_id = {person["id"]: person["name"] for person in top}
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
    [identity] = find_author(authored, "Jose Garcia")
    assert len(author_profile(authored, identity)["variants"]) == 3


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
                    "collaborators": sorted((spellings(c["id"]), c["count"]) for c in profile["collaborators"]),
                } for profile in orjson.loads(result.output)), key=orjson.dumps)
            return {"merged": merged, "shown": shown}

    on_sqlite, on_postgres = pages(str(tmp_path / "store.db")), pages(pg_url)
    assert on_sqlite["merged"] == 3 and len(on_sqlite["shown"]) > 8
    assert on_postgres == on_sqlite
