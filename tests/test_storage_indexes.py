"""Deleting an item never scans a table: every table that refers to items can find its rows by item.

Joining two items (a record that bridges them, a person's merge) deletes one, and the delete cascades to every
table with a foreign key to items; neither SQLite nor PostgreSQL indexes a foreign key by itself. A table whose
item column leads no index is read whole on every such delete (every item's vectors, after a whole-arXiv load).
"""

from __future__ import annotations

from paperfeed.storage import open_store


def _sqlite_unindexed(store) -> list[tuple[str, str]]:
    db = store.db
    missing = []
    for (table,) in db.rows("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"):
        keys = [row for row in db.rows(f"SELECT * FROM pragma_foreign_key_list('{table}')") if row[2] == "items"]
        if not keys:
            continue
        leading = {db.value(f"SELECT name FROM pragma_index_info('{index}') WHERE seqno = 0")
                   for (index,) in db.rows(f"SELECT name FROM pragma_index_list('{table}')")}
        leading |= {name for name, position in db.rows(f"SELECT name, pk FROM pragma_table_info('{table}')")
                    if position == 1}
        missing += [(table, row[3]) for row in keys if row[3] not in leading]
    return missing


def _postgres_unindexed(store) -> list[tuple[str, str]]:
    return [tuple(row) for row in store.db.rows(
        "SELECT c.conrelid::regclass::text, a.attname FROM pg_constraint c "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
        "WHERE c.contype = 'f' AND c.confrelid = 'items'::regclass AND NOT EXISTS ("
        "SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1])")]


def test_every_table_that_refers_to_items_is_indexed_by_item(backend_url):
    with open_store(backend_url) as store:
        unindexed = (_postgres_unindexed(store) if backend_url.startswith("postgres") else _sqlite_unindexed(store))
        checked = store.db.value("SELECT count(*) FROM items")  # the store opened and migrated
    assert checked == 0
    assert unindexed == [], f"deleting an item scans: {unindexed}"


def test_a_join_finds_the_gone_items_blocking_keys_by_index(tmp_path):
    with open_store(tmp_path / "store.db") as store:
        connection = store.db.connection
        for statement in ("SELECT key FROM block_keys WHERE item_id = 7", "DELETE FROM block_keys WHERE item_id = 7",
                          "DELETE FROM item_vectors WHERE item_id = 7"):
            plan = " ".join(row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {statement}"))
            assert plan.startswith("SEARCH") and "(item_id=?)" in plan, (statement, plan)


def test_an_identity_refresh_reads_affiliations_by_their_partial_index(backend_url):
    """Each chunk of an author identity refresh reads its papers' affiliations. The records that give any (arXiv OAI
    and API metadata) are found through the partial index ``source_records_affiliated``, whose condition the
    statement repeats word for word (else SQLite's planner would read every record's JSON, as it did); the
    affiliations read are those the records give, whole store or block by block."""
    from paperfeed.ingest import Ingester
    from paperfeed.storage.people import AFFILIATED

    from datafiles import DATA, LISTING

    oai = DATA / "oai" / "listrecords_arXiv_2015-01-01_2015-01-03.xml"
    with open_store(backend_url) as store:
        Ingester(store).ingest_paths([LISTING, oai, DATA / "arxiv_api" / "idlist_astro-ph_0601001.xml"])
        whole = store.author_graph()
        by_name = {whole.authors[author][0]: (item, places) for (item, author), places in whole.affiliations.items()}
        assert by_name["Sander Uijlen"][1] == {"Radboud Universiteit"}
        assert by_name["B. Scott Gaudi"][1] == {"CfA"}
        expected = len([row for row in store.db.rows("SELECT data FROM source_records")
                        if '"affiliations"' in row[0]])
        assert store.db.value(f"SELECT count(*) FROM source_records WHERE {AFFILIATED}") == expected >= 2
        key = next(key for name, key in whole.authors.values() if name == "Sander Uijlen")
        block = store.author_graph(keys=[key])
        assert {(item, block.authors[author][0]): places for (item, author), places in block.affiliations.items()
                if block.authors[author][1] == key} == {(by_name["Sander Uijlen"][0], "Sander Uijlen"):
                                                        {"Radboud Universiteit"}}
        if backend_url.startswith("postgres"):
            definition = store.db.value("SELECT indexdef FROM pg_indexes WHERE indexname = 'source_records_affiliated'")
            assert "'%\"affiliations\"%'" in definition, definition
            return
        definition = store.db.value("SELECT sql FROM sqlite_master WHERE name = 'source_records_affiliated'")
        assert definition.endswith(f"WHERE {AFFILIATED}"), definition
        executed: list[str] = []  # the refresh's own statement, its parameters bound
        store.db.connection.set_trace_callback(executed.append)
        store.author_graph(keys=[key])
        store.db.connection.set_trace_callback(None)
        (statement,) = [sql for sql in executed if "affiliations" in sql]
        plan = " ".join(row[3] for row in store.db.connection.execute(f"EXPLAIN QUERY PLAN {statement}"))
        assert "USING INDEX source_records_affiliated" in plan, (statement, plan)


def test_a_refresh_finds_earlier_people_without_a_name_index_on_item_people(backend_url):
    """item_people keeps two indexes, its slot and its person (migration 0022 dropped the name index, whose random
    inserts were an eighth of a whole-arXiv identity refresh). A chunk finds its names' earlier people through
    item_authors' name index, then their rows by person: neither read scans item_people."""
    from datafiles import LISTING
    from paperfeed.authors import refresh_identities
    from paperfeed.ingest import Ingester

    with open_store(backend_url) as store:
        Ingester(store).ingest_paths([LISTING])
        refresh_identities(store)
        if backend_url.startswith("postgres"):
            indexes = store.db.column("SELECT indexdef FROM pg_indexes WHERE tablename = 'item_people' "
                                      "ORDER BY indexname")
            assert sorted(definition.split(" USING ")[1] for definition in indexes) == [
                "btree (item_id, \"position\")", "btree (person_id, item_id)"], indexes
            return
        assert store.db.column("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'item_people' "
                               "AND sql IS NOT NULL") == ["item_people_person"]
        executed: list[str] = []  # the refresh's own statements, their parameters bound
        store.db.connection.set_trace_callback(executed.append)
        item = store.db.value("SELECT min(item_id) FROM item_authors")
        refresh_identities(store, [item])
        store.db.connection.set_trace_callback(None)
        (statement,) = [sql for sql in executed if "FROM item_people WHERE person_id IN" in sql]
        plan = [row[3] for row in store.db.connection.execute(f"EXPLAIN QUERY PLAN {statement}")]
        assert any("USING COVERING INDEX item_authors_author" in step for step in plan), plan
        assert not any(step.split()[:2] in (["SCAN", "item_people"], ["SCAN", "ip"]) for step in plan), plan


def test_a_refresh_reads_paper_dates_through_their_narrow_index(backend_url):
    """Each chunk of an identity refresh reads the dates of its papers, spread over the whole store. SQLite reads them
    through ``items_dates`` (migration 0023), not a page of titles and abstracts a paper; the dates are the items'
    own, whole store or block by block."""
    from datafiles import LISTING
    from paperfeed.ingest import Ingester

    with open_store(backend_url) as store:
        Ingester(store).ingest_paths([LISTING])
        expected = {item: published or str(year) for item, published, year in store.db.rows(
            "SELECT id, published, year FROM items WHERE published IS NOT NULL OR year IS NOT NULL")}
        assert len(expected) == store.db.value("SELECT count(*) FROM items") > 100
        assert store.author_graph().item_dates == expected
        key = store.db.value("SELECT key FROM authors ORDER BY key LIMIT 1")
        executed: list[str] = []
        if not backend_url.startswith("postgres"):
            store.db.connection.set_trace_callback(executed.append)  # the refresh's own statement, bound
        block = store.author_graph(keys=[key])
        assert block.item_dates == {item: expected[item] for item in block.item_authors} != {}
        if backend_url.startswith("postgres"):
            return
        store.db.connection.set_trace_callback(None)
        (statement,) = [sql for sql in executed if "published" in sql]
        plan = " ".join(row[3] for row in store.db.connection.execute(f"EXPLAIN QUERY PLAN {statement}"))
        assert "USING COVERING INDEX items_dates" in plan, (statement, plan)
