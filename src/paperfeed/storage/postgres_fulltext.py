"""PostgreSQL full text: the keyword index a PostgreSQL store keeps itself; a mixin of ``PostgresStore``.

A weighted ``tsvector`` per item under a GIN index, brought up to date from the search change log
(``search.py``) by the indexer, its progress kept in the database so every app server sees the same index.
Vectors are stored by ``SearchStorage`` as on SQLite; their HNSW graph stays a local file. Written on
``self.db`` with ``$n`` placeholders like the shared areas, but only PostgreSQL has any of it: on SQLite the
keyword index is a tantivy directory beside the store (``search/keyword.py``).
"""

from __future__ import annotations

from typing import Callable

from .search import FullTextBatch, FullTextQuery, FullTextStorage
from .sql import Database

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
# Below the cap every match is ranked, as tantivy ranks. When the title matches alone fill the cap they are
# found through the title's own GIN index (migration 0016), without visiting the other matches: the same
# candidates, as a title match is always a match of the whole document (its first part).
RANK_CANDIDATES = 2_000

# Everything the index needs of an item, from the live tables: the same fields SQLite's tantivy index holds.
# Set-based (one aggregate per table over the whole batch), not a lateral subquery per item: with stale
# statistics after a bulk ingest the planner ran the per-item author join as a scan of every author,
# 48 ms per item (222 s for the 47,919-item listings; 30 s this way). $1: the item ids.
# Topics: what is filed under each (gold, or tagged at its cut-off), as topic pages list (storage/topics.py).
_UPSERT = """
WITH names AS (
    SELECT ia.item_id, string_agg(au.name, ', ' ORDER BY ia.position) AS names
    FROM item_authors ia JOIN authors au ON au.id = ia.author_id
    WHERE ia.item_id = ANY($1) GROUP BY ia.item_id),
labels AS (
    SELECT r.item_id, string_agg(DISTINCT v, ', ') AS sources
    FROM source_records r, LATERAL (VALUES (r.format), (r.label)) labels (v)
    WHERE r.item_id = ANY($1) AND v IS NOT NULL GROUP BY r.item_id),
categories AS (
    SELECT ic.item_id, array_agg(lower(ic.category) ORDER BY ic.position) AS categories
    FROM item_categories ic WHERE ic.item_id = ANY($1) GROUP BY ic.item_id),
topics AS (
    SELECT it.item_id, array_agg(DISTINCT tp.slug) AS topics
    FROM item_topics it JOIN topics tp ON tp.id = it.topic_id WHERE it.item_id = ANY($1)
    AND (it.assigned_by <> 'tagger' OR it.confidence >= coalesce(tp.cutoff, 0)) GROUP BY it.item_id)
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
WHERE i.id = ANY($1)
ON CONFLICT (item_id) DO UPDATE SET document = EXCLUDED.document, title = EXCLUDED.title, names = EXCLUDED.names,
    sources = EXCLUDED.sources, categories = EXCLUDED.categories, topics = EXCLUDED.topics,
    kind = EXCLUDED.kind, day = EXCLUDED.day
"""

# Each piece of a query becomes a tsquery by PostgreSQL's own parser and stemmer (phraseto_tsquery keeps
# word order and leaves gaps for stop words: <->, <2>); its canonical text is then combined with && || !!
# as a parameter cast back to tsquery. No user text is ever read as tsquery syntax.
_PIECES = """
SELECT array(SELECT phraseto_tsquery('english', search_fold(p))::text
             FROM unnest($1::text[]) WITH ORDINALITY u (p, n) ORDER BY n),
       array(SELECT phraseto_tsquery('simple', search_fold(p))::text
             FROM unnest($2::text[]) WITH ORDINALITY u (p, n) ORDER BY n),
       array(SELECT coalesce((ts_lexize('english_stem', search_fold(lower(p))))[1], '')
             FROM unnest($3::text[]) WITH ORDINALITY u (p, n) ORDER BY n),
       array(SELECT search_fold(lower(p)) FROM unnest($3::text[]) WITH ORDINALITY u (p, n) ORDER BY n)
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


class _Params(list):
    """A statement's parameters as it is built: ``add`` appends one and returns its ``$n``."""

    def add(self, value: object, cast: str = "") -> str:
        self.append(value)
        return f"${len(self)}{cast}"


def _any(column: str, queries: list[str], params: _Params) -> str:
    """``column`` matches any of ``queries``; a filter whose values have nothing searchable matches nothing."""
    queries = [query for query in queries if query]
    if not queries:
        return "FALSE"
    return f"{column} @@ (" + " || ".join(params.add(query, "::tsquery") for query in queries) + ")"


class PostgresFullText(FullTextStorage):
    """The full text (tsvector + GIN) of a PostgreSQL store, kept up to date from the search change log."""

    db: Database
    search_changes: Callable[[int, int], list[tuple[int, int]]]
    """``SearchStorage``'s, from the store's other bases."""

    def fulltext_progress(self) -> int:
        return self.db.value("SELECT seq FROM search_index_progress WHERE name = 'fulltext'")

    def fulltext_count(self) -> int:
        return self.db.value("SELECT count(*) FROM item_fulltext")

    def reset_fulltext(self) -> None:
        # Rows stay searchable while they are rebuilt: every item is in the change log, so replaying it from
        # the start rewrites each one (and drops any whose item is gone).
        with self.db.transaction():
            self.db.run("SELECT pg_advisory_xact_lock($1)", (_FULLTEXT_LOCK,))
            self.db.run("UPDATE search_index_progress SET seq = 0 WHERE name = 'fulltext'")

    def apply_fulltext_changes(self, limit: int) -> FullTextBatch:
        db = self.db
        with db.transaction():
            # Appliers run one at a time, each from a snapshot taken after the previous one committed: rows are
            # always rewritten from data at least as new as what they hold, and progress only moves forward.
            db.run("SELECT pg_advisory_xact_lock($1)", (_FULLTEXT_LOCK,))
            after = self.fulltext_progress()
            changes = self.search_changes(after, limit)
            if not changes:
                return FullTextBatch(0, 0, 0, after)
            ids = [item_id for _, item_id in changes]
            # Locked so that none is deleted between being read and the foreign key check of its row.
            present = db.column("SELECT id FROM items WHERE id = ANY($1) FOR KEY SHARE", (ids,))
            gone = sorted(set(ids) - set(present))
            if gone:  # already removed by the cascade, unless the item's row was never indexed
                db.run("DELETE FROM item_fulltext WHERE item_id = ANY($1)", (gone,))
            if present:
                db.run(_UPSERT, (present,))
            seq = changes[-1][0]
            db.run("UPDATE search_index_progress SET seq = $1 WHERE name = 'fulltext'", (seq,))
        return FullTextBatch(len(changes), len(present), len(gone), seq)

    def fulltext_search(self, query: FullTextQuery, limit: int, offset: int = 0) -> list[tuple[int, float]]:
        if limit <= 0:
            return []
        built = self._conditions(query)
        if built is None:
            return []
        text, match, where, titled, params = built
        if not text:
            # Filters only: newest first (the index on day serves it).
            rows = self.db.rows(
                f"SELECT item_id, 0.0 FROM item_fulltext WHERE {where} "
                f"ORDER BY day DESC NULLS LAST, item_id DESC LIMIT {params.add(limit)} OFFSET {params.add(offset)}",
                params)
            return [(item_id, float(score)) for item_id, score in rows]
        # Candidates are chosen by row address (no document carried through the sort), then their documents
        # fetched by address (one statement, one snapshot: the same row versions) and ranked. The title
        # matches are counted first (title GIN index, small rows); only when they fall short of the cap are
        # all matches visited. Each ARRAY subquery runs only if its CASE branch is taken.
        order = "day DESC NULLS LAST, item_id DESC"
        rows = self._index_scans(
            f"SELECT item_id, ts_rank_cd({params.add(_WEIGHTS, '::float4[]')}, document, {match}, {_NORMALIZATION}) "
            "AS score FROM item_fulltext WHERE ctid = ANY("
            f"  CASE WHEN (SELECT count(*) FROM (SELECT FROM item_fulltext WHERE {titled} "
            f"                                  LIMIT {RANK_CANDIDATES}) enough) >= {RANK_CANDIDATES}"
            f"  THEN ARRAY(SELECT ctid FROM item_fulltext WHERE {titled} ORDER BY {order} LIMIT {RANK_CANDIDATES})"
            f"  ELSE ARRAY(SELECT ctid FROM item_fulltext WHERE {where} "
            f"             ORDER BY title @@ {match} DESC, {order} LIMIT {RANK_CANDIDATES}) END) "
            f"ORDER BY score DESC, item_id LIMIT {params.add(limit)} OFFSET {params.add(offset)}",
            params)
        return [(item_id, float(score)) for item_id, score in rows]

    def fulltext_matches(self, query: FullTextQuery) -> int:
        built = self._conditions(query)
        if built is None:
            return 0
        _, _, where, _, params = built
        # Counted from the GIN bitmap: the heap is only visited for pages not yet all-visible (VACUUM).
        return self._index_scans(f"SELECT count(*) FROM item_fulltext WHERE {where}", params)[0][0]

    def _index_scans(self, sql: str, params: _Params) -> list[tuple]:
        """Rows of ``sql`` planned without sequential scans: a scan tests each row's document, decompressing
        all of them (200-450 ms at 48,000 items), but the planner, which does not count that, chose it for
        words in a fifth of the items. A bitmap of the GIN index reads only the matches' small columns."""
        if self.db.in_transaction:  # a caller's transaction: its settings are not ours to change
            return self.db.rows(sql, params)
        with self.db.transaction():
            self.db.run("SET LOCAL enable_seqscan = off")
            return self.db.rows(sql, params)

    def _conditions(self, query: FullTextQuery):
        """(text pieces, match expression, WHERE clause, WHERE clause of the matches with the text in their
        title, their parameters) of a query; None when it matches nothing."""
        words, excluded = _pieces(query.words, hyphens=True), _pieces(query.excluded, hyphens=True)
        authors, sources, prefixes = _pieces(query.authors), _pieces(query.sources), _pieces(query.prefixes)
        english, simple, stems, folded = self.db.row(_PIECES, (words + excluded, authors + sources, prefixes))
        text = [piece for piece in english[:len(words)] if piece]
        text += [piece for piece in map(_prefix_query, stems, folded) if piece]
        blocked = [piece for piece in english[len(words):] if piece]

        if not text and not query.has_filters:
            return None  # nothing searchable and nothing to filter by
        conditions: list[str] = []
        filters: list[str] = []
        params = _Params()
        # Each piece is one parameter, however often the statement reads it.
        match = "(" + (" || " if query.any_word else " && ").join(params.add(t, "::tsquery") for t in text) + ")"
        unwanted = "(" + " || ".join(params.add(b, "::tsquery") for b in blocked) + ")"
        if text and blocked:
            # One tsquery: the GIN index answers "a & !b" itself, without reading each match's document.
            conditions.append(f"document @@ ({match} && !!{unwanted})")
        elif text:
            conditions.append(f"document @@ {match}")
        elif blocked:
            conditions.append(f"NOT (document @@ {unwanted})")
        if query.authors:
            filters.append(_any("names", simple[:len(authors)], params))
        if query.sources:
            filters.append(_any("sources", simple[len(authors):], params))
        for column, values in (("categories", query.categories), ("topics", query.topics)):
            if values:
                filters.append(f"{column} && {params.add(values, '::text[]')}")
        if query.kinds:
            filters.append(f"kind = ANY({params.add(query.kinds, '::text[]')})")
        if query.after:
            filters.append(f"day >= {params.add(query.after)}")
        if query.before:
            filters.append(f"day <= {params.add(query.before)}")
        where = " AND ".join(conditions + filters) or "TRUE"
        # The title is the document's first part (same configuration, same positions): a title match is a
        # document match, so only excluded words need the document itself.
        titled = " AND ".join([f"title @@ {match}", *(conditions if blocked else []), *filters])
        return text, match, where, titled, params
