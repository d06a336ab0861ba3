"""PostgreSQL side of ``SearchStorage``: a mixin of ``PostgresStore`` sharing its connection ``self._conn``.

The search change log (kept by triggers), documents, vectors, and the keyword index itself: PostgreSQL full
text (a weighted ``tsvector`` per item under a GIN index), brought up to date from the change log by the
indexer, its progress kept in the database so every app server sees the same index. Vectors are stored here
too; their HNSW graph stays a local file, as on SQLite. Mirrors ``sqlite_search.py``.

Commit order: a sequence hands out numbers in the order transactions ask, not the order they commit, so an
indexer reading "changes after N" could pass a number a slower transaction commits later and never see it.
So the log is written by deferred constraint triggers, which run while their transaction commits, under a
transaction-scoped advisory lock: a transaction numbers its changes only once the previous one holding the
lock has committed (the lock is released after the commit is visible), so numbers are in commit order and
a reader that sees number N sees every number below it that will ever exist. Only the commit tails of
writers are serialised (writing their log rows), not whole transactions.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from .search_base import FullTextBatch, FullTextQuery, FullTextStorage, SearchDocument, SearchStorage

from .migrations.postgres import LOG_LOCK as _LOG_LOCK
_FULLTEXT_LOCK = 0x70666674  # "pfft": held while the full-text rows and their progress are brought up to date


# Title 3 : authors 2 : abstract 1, as the tantivy index weighs them (search/keyword.py); ts_rank_cd takes
# {D, C, B, A} and wants each at most 1. D is unused.
_WEIGHTS = [0.1, 1 / 3, 2 / 3, 1.0]
# ts_rank_cd normalisation: divide by 1 + log(document length), so a long abstract repeating a word does
# not bury a short item that has it in its title (BM25 does the same with its length normalisation).
_NORMALIZATION = 1
# At most this many matches of a query are ranked. Ranking reads and decompresses each match's document
# (about 4 us each): ranking every match of a word in 20,000 of 50,000 items took 80-130 ms. Past the cap,
# the matches ranked are those with the query in their title, then the newest: choosing them reads only
# the small title and day columns of each match, and the title weight ranks title matches first anyway.
# Below the cap every match is ranked, as tantivy ranks.
RANK_CANDIDATES = 2_000

# Everything the index needs of an item, from the live tables: the same fields SQLite's tantivy index holds.
# Set-based (one aggregate per table over the whole batch), not a lateral subquery per item: with stale
# statistics after a bulk ingest the planner ran the per-item author join as a scan of every author,
# 48 ms per item (222 s for the 47,919-item listings; 30 s this way).
_UPSERT = """
WITH names AS (
    SELECT ia.item_id, string_agg(au.name, ', ' ORDER BY ia.position) AS names
    FROM item_authors ia JOIN authors au ON au.id = ia.author_id
    WHERE ia.item_id = ANY(%(ids)s) GROUP BY ia.item_id),
labels AS (
    SELECT r.item_id, string_agg(DISTINCT v, ', ') AS sources
    FROM source_records r, LATERAL (VALUES (r.format), (r.label)) labels (v)
    WHERE r.item_id = ANY(%(ids)s) AND v IS NOT NULL GROUP BY r.item_id),
categories AS (
    SELECT ic.item_id, array_agg(lower(ic.category) ORDER BY ic.position) AS categories
    FROM item_categories ic WHERE ic.item_id = ANY(%(ids)s) GROUP BY ic.item_id),
topics AS (
    SELECT it.item_id, array_agg(DISTINCT tp.slug) AS topics
    FROM item_topics it JOIN topics tp ON tp.id = it.topic_id WHERE it.item_id = ANY(%(ids)s) GROUP BY it.item_id)
INSERT INTO item_fulltext AS f (item_id, document, title, names, sources, categories, topics, kind, day)
SELECT i.id,
       setweight(to_tsvector('english', search_fold(i.title)), 'A')
           || setweight(to_tsvector('english', search_fold(coalesce(a.names, ''))), 'B')
           || setweight(to_tsvector('english', search_fold(i.abstract)), 'C'),
       to_tsvector('english', search_fold(i.title)),
       to_tsvector('simple', search_fold(coalesce(a.names, ''))),
       to_tsvector('simple', search_fold(coalesce(s.sources, ''))),
       coalesce(c.categories, '{}'), coalesce(t.topics, '{}'), i.kind,
       CASE WHEN i.published ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}' THEN left(i.published, 10) END
FROM items i
LEFT JOIN names a ON a.item_id = i.id
LEFT JOIN labels s ON s.item_id = i.id
LEFT JOIN categories c ON c.item_id = i.id
LEFT JOIN topics t ON t.item_id = i.id
WHERE i.id = ANY(%(ids)s)
ON CONFLICT (item_id) DO UPDATE SET document = EXCLUDED.document, title = EXCLUDED.title, names = EXCLUDED.names,
    sources = EXCLUDED.sources, categories = EXCLUDED.categories, topics = EXCLUDED.topics,
    kind = EXCLUDED.kind, day = EXCLUDED.day
"""

# Each piece of a query becomes a tsquery by PostgreSQL's own parser and stemmer (phraseto_tsquery keeps
# word order and leaves gaps for stop words: <->, <2>); its canonical text is then combined with && || !!
# as a parameter cast back to tsquery. No user text is ever read as tsquery syntax.
_PIECES = """
SELECT array(SELECT phraseto_tsquery('english', search_fold(p))::text
             FROM unnest(%s::text[]) WITH ORDINALITY u (p, n) ORDER BY n),
       array(SELECT phraseto_tsquery('simple', search_fold(p))::text
             FROM unnest(%s::text[]) WITH ORDINALITY u (p, n) ORDER BY n),
       array(SELECT coalesce((ts_lexize('english_stem', search_fold(lower(p))))[1], '')
             FROM unnest(%s::text[]) WITH ORDINALITY u (p, n) ORDER BY n),
       array(SELECT search_fold(lower(p)) FROM unnest(%s::text[]) WITH ORDINALITY u (p, n) ORDER BY n)
"""


# A tsquery is a tree the server walks recursively: thousands of words in one query or one phrase exceed
# its stack. No real query comes near these; longer ones are cut rather than refused.
MAX_PIECES = 64
MAX_PHRASE_WORDS = 32
MAX_PIECE_CHARS = 512


def _pieces(texts: list[str], hyphens: bool = False) -> list[str]:
    """Query pieces as sent: without NUL (PostgreSQL text cannot hold it), repeats or excess length."""
    kept: list[str] = []
    for text in texts:
        text = text.replace("\x00", " ")
        if hyphens:  # ``vision-language`` matches "vision language" too, as the tantivy index splits it
            text = text.replace("-", " ")
        text = " ".join(text.split()[:MAX_PHRASE_WORDS])[:MAX_PIECE_CHARS]
        if text not in kept:
            kept.append(text)
    return kept[:MAX_PIECES]


def _prefix_query(stem: str, folded: str) -> str | None:
    """``'lexeme':*`` for a prefix: from the shorter of its stem and itself (the index holds stems)."""
    start = min((value for value in (stem, folded) if value), key=len, default="")
    if len(start) < 2:
        return None
    return "'" + start.replace("\\", "\\\\").replace("'", "''") + "':*"


def _any(column: str, queries: list[str], params: list) -> str:
    """``column`` matches any of ``queries``; a filter whose values have nothing searchable matches nothing."""
    queries = [query for query in queries if query]
    if not queries:
        return "FALSE"
    params.extend(queries)
    return f"{column} @@ (" + " || ".join(["%s::tsquery"] * len(queries)) + ")"


class PostgresSearchStorage(SearchStorage, FullTextStorage):
    """The search change log (triggers), documents, vectors and full text (tsvector + GIN) in PostgreSQL."""

    # -- change log -------------------------------------------------------------------------

    def search_changes(self, after: int, limit: int) -> list[tuple[int, int]]:
        return [tuple(row) for row in self._conn.execute(
            "SELECT seq, item_id FROM search_changes WHERE seq > %s ORDER BY seq LIMIT %s", (after, limit))]

    def last_search_change(self) -> int:
        return self._conn.execute("SELECT coalesce(max(seq), 0) FROM search_changes").fetchone()[0]

    def pending_search_changes(self, after: int) -> int:
        return self._conn.execute("SELECT count(*) FROM search_changes WHERE seq > %s", (after,)).fetchone()[0]

    # -- documents and vectors ----------------------------------------------------------------

    def search_documents(self, item_ids: list[int]) -> dict[int, SearchDocument]:
        db = self._conn
        documents = {
            row[0]: SearchDocument(id=row[0], kind=row[1], title=row[2], abstract=row[3], published=row[4],
                                   arxiv_id=row[5], url=row[6])
            for row in db.execute(
                "SELECT id, kind, title, abstract, published, arxiv_id, url FROM items WHERE id = ANY(%s)",
                (item_ids,))
        }
        if not documents:
            return documents
        ids = list(documents)
        for item_id, name in db.execute(
            "SELECT ia.item_id, a.name FROM item_authors ia JOIN authors a ON a.id = ia.author_id "
            "WHERE ia.item_id = ANY(%s) ORDER BY ia.item_id, ia.position", (ids,)
        ):
            documents[item_id].authors.append(name)
        for item_id, category in db.execute(
            "SELECT item_id, category FROM item_categories WHERE item_id = ANY(%s) ORDER BY item_id, position",
            (ids,),
        ):
            documents[item_id].categories.append(category)
        for item_id, slug in db.execute(
            "SELECT DISTINCT it.item_id, t.slug FROM item_topics it JOIN topics t ON t.id = it.topic_id "
            "WHERE it.item_id = ANY(%s)", (ids,)
        ):
            documents[item_id].topics.append(slug)
        for item_id, source_format, label in db.execute(
            "SELECT DISTINCT item_id, format, label FROM source_records WHERE item_id = ANY(%s)", (ids,)
        ):
            sources = documents[item_id].sources
            for value in (source_format, label):
                if value and value not in sources:
                    sources.append(value)
        return documents

    def item_vectors(self, model: str, item_ids: list[int]) -> dict[int, tuple[str, bytes]]:
        return {
            item_id: (text_hash, bytes(vector))
            for item_id, text_hash, vector in self._conn.execute(
                "SELECT item_id, text_hash, vector FROM item_vectors WHERE model = %s AND item_id = ANY(%s)",
                (model, item_ids),
            )
        }

    def iter_item_vectors(self, model: str, batch_size: int = 10000) -> Iterator[list[tuple[int, bytes]]]:
        last = 0
        while True:
            rows = [(item_id, bytes(vector)) for item_id, vector in self._conn.execute(
                "SELECT item_id, vector FROM item_vectors WHERE model = %s AND item_id > %s "
                "ORDER BY item_id LIMIT %s", (model, last, batch_size))]
            if not rows:
                return
            yield rows
            last = rows[-1][0]

    def save_item_vectors(self, model: str, rows: list[tuple[int, str, bytes]]) -> None:
        if not rows:
            return
        ids = [row[0] for row in rows]
        with self._conn.transaction():
            # Lock the items first: one deleted meanwhile is skipped (it has no row to hang a vector on),
            # and none can be deleted between this check and the insert's foreign key check.
            present = {row[0] for row in self._conn.execute(
                "SELECT id FROM items WHERE id = ANY(%s) FOR KEY SHARE", (ids,))}
            kept = [row for row in rows if row[0] in present]
            self._conn.execute(
                "INSERT INTO item_vectors (item_id, model, text_hash, vector) "
                "SELECT v.item_id, %s, v.text_hash, v.vector "
                "FROM unnest(%s::bigint[], %s::text[], %s::bytea[]) AS v (item_id, text_hash, vector) "
                "ON CONFLICT (model, item_id) DO UPDATE SET text_hash = EXCLUDED.text_hash, vector = EXCLUDED.vector",
                (model, [row[0] for row in kept], [row[1] for row in kept], [row[2] for row in kept]),
            )

    def default_index_directory(self) -> Path:
        # The vector graph is local to each machine; one directory per database it indexes.
        from platformdirs import user_data_dir

        info = self._conn.info
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{info.host}-{info.port}-{info.dbname}").strip("_.")
        return Path(user_data_dir("paperfeed")) / "index" / name

    # -- full text ------------------------------------------------------------------------------

    def fulltext_progress(self) -> int:
        return self._conn.execute("SELECT seq FROM search_index_progress WHERE name = 'fulltext'").fetchone()[0]

    def fulltext_count(self) -> int:
        return self._conn.execute("SELECT count(*) FROM item_fulltext").fetchone()[0]

    def reset_fulltext(self) -> None:
        # Rows stay searchable while they are rebuilt: every item is in the change log, so replaying it from
        # the start rewrites each one (and drops any whose item is gone).
        with self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_FULLTEXT_LOCK,))
            self._conn.execute("UPDATE search_index_progress SET seq = 0 WHERE name = 'fulltext'")

    def apply_fulltext_changes(self, limit: int) -> FullTextBatch:
        db = self._conn
        with db.transaction():
            # Appliers run one at a time, each from a snapshot taken after the previous one committed: rows are
            # always rewritten from data at least as new as what they hold, and progress only moves forward.
            db.execute("SELECT pg_advisory_xact_lock(%s)", (_FULLTEXT_LOCK,))
            after = self.fulltext_progress()
            changes = self.search_changes(after, limit)
            if not changes:
                return FullTextBatch(0, 0, 0, after)
            ids = [item_id for _, item_id in changes]
            # Locked so that none is deleted between being read and the foreign key check of its row.
            present = [row[0] for row in db.execute("SELECT id FROM items WHERE id = ANY(%s) FOR KEY SHARE", (ids,))]
            gone = sorted(set(ids) - set(present))
            if gone:  # already removed by the cascade, unless the item's row was never indexed
                db.execute("DELETE FROM item_fulltext WHERE item_id = ANY(%s)", (gone,))
            if present:
                db.execute(_UPSERT, {"ids": present})
            seq = changes[-1][0]
            db.execute("UPDATE search_index_progress SET seq = %s WHERE name = 'fulltext'", (seq,))
        return FullTextBatch(len(changes), len(present), len(gone), seq)

    def fulltext_search(self, query: FullTextQuery, limit: int, offset: int = 0) -> list[tuple[int, float]]:
        if limit <= 0:
            return []
        words, excluded = _pieces(query.words, hyphens=True), _pieces(query.excluded, hyphens=True)
        authors, sources, prefixes = _pieces(query.authors), _pieces(query.sources), _pieces(query.prefixes)
        english, simple, stems, folded = self._conn.execute(
            _PIECES, (words + excluded, authors + sources, prefixes, prefixes)).fetchone()
        text = [piece for piece in english[:len(words)] if piece]
        text += [piece for piece in map(_prefix_query, stems, folded) if piece]
        blocked = [piece for piece in english[len(words):] if piece]

        if not text and not query.has_filters:
            return []  # nothing searchable and nothing to filter by
        conditions: list[str] = []
        params: list = []
        match = "(" + (" || " if query.any_word else " && ").join(["%s::tsquery"] * len(text)) + ")"
        unwanted = "(" + " || ".join(["%s::tsquery"] * len(blocked)) + ")"
        if text and blocked:
            # One tsquery: the GIN index answers "a & !b" itself, without reading each match's document.
            conditions.append(f"document @@ ({match} && !!{unwanted})")
            params += text + blocked
        elif text:
            conditions.append(f"document @@ {match}")
            params += text
        elif blocked:
            conditions.append(f"NOT (document @@ {unwanted})")
            params += blocked
        if query.authors:
            conditions.append(_any("names", simple[:len(authors)], params))
        if query.sources:
            conditions.append(_any("sources", simple[len(authors):], params))
        for column, values in (("categories", query.categories), ("topics", query.topics)):
            if values:
                conditions.append(f"{column} && %s::text[]")
                params.append(values)
        if query.kinds:
            conditions.append("kind = ANY(%s::text[])")
            params.append(query.kinds)
        if query.after:
            conditions.append("day >= %s")
            params.append(query.after)
        if query.before:
            conditions.append("day <= %s")
            params.append(query.before)
        where = " AND ".join(conditions) or "TRUE"
        if not text:
            # Filters only: newest first (the index on day serves it).
            rows = self._conn.execute(
                f"SELECT item_id, 0.0 FROM item_fulltext WHERE {where} "
                "ORDER BY day DESC NULLS LAST, item_id DESC LIMIT %s OFFSET %s", (*params, limit, offset))
            return [(item_id, float(score)) for item_id, score in rows]
        # Candidates are chosen by row address (no document carried through the sort), then their documents
        # fetched by address (one statement, one snapshot: the same row versions) and ranked. The sort key
        # matches no index, so the plan is always the GIN bitmap scan, however common the words.
        rows = self._conn.execute(
            f"SELECT item_id, ts_rank_cd(%s::float4[], document, {match}, {_NORMALIZATION}) AS score "
            "FROM item_fulltext WHERE ctid = ANY(ARRAY("
            f"    SELECT ctid FROM item_fulltext WHERE {where} "
            f"    ORDER BY title @@ {match} DESC, day DESC NULLS LAST, item_id DESC LIMIT {RANK_CANDIDATES})) "
            "ORDER BY score DESC, item_id LIMIT %s OFFSET %s",
            (_WEIGHTS, *text, *params, *text, limit, offset))
        return [(item_id, float(score)) for item_id, score in rows]
