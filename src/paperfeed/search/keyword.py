"""Keyword search: BM25 over a tantivy index kept beside the store.

Why tantivy and not SQLite FTS5: a common query ("large language models") at 1,000,000 items took 782 ms
in FTS5 and about 20 ms in tantivy (both measured on this 2-core machine, see docs/benchmarks.md). Both
score every match: tantivy-py collects each search through a MultiCollector, which keeps tantivy from its
block-max pruning (taken only by a TopDocs collector alone), but tantivy scores a match in nanoseconds.
Field weights are applied by repetition in one combined field (title x3, authors x2, abstract x1), which
keeps every query term one posting list: BM25's saturating term frequency then weighs a title hit above an
abstract hit, and conjunctions stay fast. The slowest kind, two words that each occur in a large share of the
documents ("language models"), takes the first pass the writer kept for that pair (``search.pairs``).

Proximity: a query of several words also scores, beside its bag of words, the words as typed in order as a
phrase (``KeywordRanking.phrase_boost``) and the words near each other (``near_boost``, within
``near_slop`` positions). Neither is required, so recall is the bag of words'; they re-rank its best
``RERANK_DEPTH`` matches, which is what a remembered fragment of an abstract or a multi-word concept
("diffusion model") needs. Their weights were chosen on a development split of real queries
(bench/search.py --relevance).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import tantivy

from ..storage import SearchDocument
from . import pairs
from .analysis import Texts, indexed_text_analyzer, label_analyzer, name_analyzer, text_analyzer
from .query import ParsedQuery

TITLE_WEIGHT, AUTHORS_WEIGHT = 3, 2
_EPOCH = dt.date(1970, 1, 1)
SCHEMA_VERSION = 1


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("id", stored=True, indexed=True, fast=True)
    builder.add_text_field("text", tokenizer_name="pf_text")
    builder.add_text_field("author", tokenizer_name="pf_name")
    builder.add_text_field("source", tokenizer_name="pf_name")
    builder.add_text_field("category", tokenizer_name="pf_label", index_option="basic")
    builder.add_text_field("topic", tokenizer_name="pf_label", index_option="basic")
    builder.add_text_field("kind", tokenizer_name="pf_label", index_option="basic")
    builder.add_integer_field("day", indexed=True, fast=True)
    return builder.build()


def _register_tokenizers(index: tantivy.Index, text: tantivy.TextAnalyzer) -> None:
    """The schema's tokenizers, by the names it holds; ``text``: the text field's, the chain itself or, for text
    that arrives analysed (``analysis.IndexedText``), ``analysis.indexed_text_analyzer``."""
    index.register_tokenizer("pf_text", text)
    index.register_tokenizer("pf_name", name_analyzer())
    index.register_tokenizer("pf_label", label_analyzer())


def document_texts(doc: SearchDocument) -> Texts:
    """The texts of ``doc`` the text field holds, before analysis: title, authors, abstract."""
    return doc.title, ", ".join(doc.authors), doc.abstract


def day_number(iso_date: str | None) -> int | None:
    """Days since 1970-01-01 of an ISO date (None when there is none)."""
    if not iso_date:
        return None
    try:
        return (dt.date.fromisoformat(iso_date[:10]) - _EPOCH).days
    except ValueError:
        return None


def topic_slug(value: str) -> str:
    """Accept a topic name or slug: ``Large Language Model`` -> ``large-language-model``."""
    return re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")


@dataclass(frozen=True, slots=True)
class KeywordRanking:
    """How a query of several words is scored beyond BM25 over its bag of words (0 turns a part off)."""

    phrase_boost: float = 1.0
    near_boost: float = 0.0
    near_slop: int = 4


RERANK_DEPTH = 500
"""The proximity clauses re-rank this many of the bag of words' best (see ``KeywordIndex._run``). On the
development split (bench/search.py's objective, phrase 4 / near 2) 200 / 500 / 1,000 scored 0.556 / 0.565 /
0.567 for about
1.5 / 2.5 / 3.5 ms more CPU on a common query at 52,000 items: 500 keeps most of the gain at a bounded cost."""
TIE_MARGIN = 16
"""A search without proximity fetches this many more than asked, to order equal scores by item id."""
ID_GROUP = 25
"""Id terms per group of the candidates' union (see ``KeywordIndex._only``): 10, 25 and 50 measured alike."""
RANKING = KeywordRanking(phrase_boost=2.0, near_boost=1.0, near_slop=2)
PLAIN_BM25 = KeywordRanking(phrase_boost=0.0, near_boost=0.0)
"""The ranking before proximity (kept to measure against in bench/search.py)."""


class _Opened:
    """One index directory opened by this process: its tantivy index and latest searcher, shared by every
    ``KeywordIndex`` of the directory (a web server keeps a search service per pooled connection, 16 per process;
    each opening its own index mapped the same files again, up to 16 times over in the resident set)."""

    _all: "weakref.WeakValueDictionary[tuple[str, int, int], _Opened]" = weakref.WeakValueDictionary()
    _all_lock = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = path
        self.schema = _schema()
        self.index = tantivy.Index(self.schema, path=str(path), reuse=True)
        _register_tokenizers(self.index, text_analyzer())
        self._current: tuple[tantivy.Searcher, pairs.PairLists | None] | None = None
        self._stamp: tuple[int, int, int] | None = None
        self._lock = threading.Lock()

    @classmethod
    def of(cls, path: Path) -> "_Opened":
        # Keyed by the directory itself, not only its name: a rebuild deletes it and makes a new one.
        found = os.stat(path)
        key = (str(path.resolve()), found.st_dev, found.st_ino)
        with cls._all_lock:
            opened = cls._all.get(key)
            # A directory without meta.json is new: a rebuild removed the old one, and the new one may be given
            # the same inode number (then the key matches an index whose files are gone). Opening it writes its
            # first meta.json; a kept one would fail its first reload (an intermittent test failure showed it).
            if opened is None or not (path / "meta.json").exists():
                opened = cls._all[key] = cls(path)
            return opened

    def searcher(self) -> tantivy.Searcher:
        """A searcher of the latest commit, kept while there is no newer one.

        Every commit (by this process or another) replaces the index's meta.json, so its identity says whether
        the kept searcher is current; a reload per search cost a read and parse of that file each time.
        """
        stamp = self._meta_stamp()
        current = self._current
        if current is None or stamp != self._stamp:
            with self._lock:
                meta = self._meta()
                self.index.reload()
                searcher = self.index.searcher()
                # The kept pair lists of these segments, if any: only when meta.json did not change around the
                # reload, so that the searcher is the one that file describes.
                kept = pairs.load(self.path, meta) if meta and meta == self._meta() else None
                current = self._current = (searcher, kept)
                self._stamp = stamp
        return current[0]

    def kept_pairs(self, searcher: tantivy.Searcher) -> "pairs.PairLists | None":
        """The pair lists kept for ``searcher``'s segments (see ``search.pairs``), or None."""
        current = self._current
        return current[1] if current is not None and current[0] is searcher else None

    def _meta(self) -> bytes:
        try:
            return (self.path / "meta.json").read_bytes()
        except FileNotFoundError:
            return b""

    def _meta_stamp(self) -> tuple[int, int, int] | None:
        try:
            found = os.stat(self.path / "meta.json")
        except FileNotFoundError:
            return None
        return found.st_ino, found.st_mtime_ns, found.st_size


@dataclass(slots=True)
class KeywordHit:
    item_id: int
    score: float


class KeywordIndex:
    """A tantivy index of items: one writer process at a time, any number of readers."""

    def __init__(self, path: Path, ranking: KeywordRanking = RANKING) -> None:
        self.path = path
        self.ranking = ranking
        path.mkdir(parents=True, exist_ok=True)
        self._opened = _Opened.of(path)
        self.schema = self._opened.schema
        self.index = self._opened.index
        self._text = text_analyzer()
        self._names = name_analyzer()
        self._labels = label_analyzer()
        self._writes_analysed = False  # whether the writer takes analysed text (``writer``)
        self._writer: tantivy.IndexWriter | None = None
        self._counted: tuple[tantivy.Searcher, str, bool, int] | None = None
        """(searcher, query, all words required, matches) of the last search, which counted its matches as it
        scored them."""

    @staticmethod
    def remove(path: Path) -> None:
        """Delete an index directory and its kept pair lists (for a rebuild)."""
        shutil.rmtree(path, ignore_errors=True)
        shutil.rmtree(pairs.pairs_directory(path), ignore_errors=True)

    # -- writing ---------------------------------------------------------------------------

    def _document(self, doc: SearchDocument, texts: Texts) -> tantivy.Document:
        """The document of ``doc`` with its ``texts`` (``document_texts``, analysed or not: see ``writer``)."""
        title, authors, abstract = texts
        document = tantivy.Document(
            id=doc.id,
            text=[title] * TITLE_WEIGHT + [authors] * AUTHORS_WEIGHT + [abstract],
            author=doc.authors or [""],
            source=doc.sources or [""],
            category=[c.lower() for c in doc.categories] or [""],
            topic=doc.topics or [""],
            kind=doc.kind,
        )
        day = day_number(doc.published)
        if day is not None:
            document.add_integer("day", day)
        return document

    def writer(self, analysed: bool = False) -> tantivy.IndexWriter:
        """The index's writer, taking the text as it is (tantivy's threads analyse it) or, with ``analysed``,
        analysed already (``analysis.IndexedText``, a large build's second process). Either writes the same index;
        the writer taking analysed text is made from an index object of its own, whose text field's tokenizer only
        splits the terms (this process's readers of the directory share ``self.index``)."""
        if self._writer is None:
            index = self.index
            if analysed:
                index = tantivy.Index(self.schema, path=str(self.path), reuse=True)
                _register_tokenizers(index, indexed_text_analyzer())
            self._writer = index.writer(heap_size=256_000_000, num_threads=2)
            self._writes_analysed = analysed
        elif analysed != self._writes_analysed:
            raise ValueError("one writer takes either analysed text or text as it is")
        return self._writer

    def update(self, documents: list[SearchDocument], deleted: list[int], replace: list[int],
               analysed: list[Texts] | None = None) -> None:
        """Add ``documents``; first delete the old documents of ``replace`` and of ``deleted`` items.
        ``analysed``: the documents' texts analysed already (``analysis.AnalysisAhead``); every update of one
        writer gives them or none does."""
        writer = self.writer(analysed is not None)
        for item_id in deleted + replace:
            writer.delete_documents_by_term("id", item_id)
        texts = analysed if analysed is not None else [document_texts(doc) for doc in documents]
        for doc, document_text in zip(documents, texts, strict=True):
            writer.add_document(self._document(doc, document_text))

    def commit(self) -> None:
        if self._writer is not None:
            self._writer.commit()

    def resume_lists(self) -> None:
        """Take the writer when the index is large enough for kept pair lists and has none for its segments as they
        are, so that ``close`` makes them (and finishes the merges): a run stopped after its last commit and before
        its ``close`` had kept them (Ctrl-C in those 20 seconds of a bootstrap), or their files were lost. Left to
        another indexer that holds the writer: it keeps them as it closes."""
        if self._writer is not None:
            return
        meta = self._opened._meta()
        if not meta or self.document_count() < pairs.PAIR_MIN_DOCS or pairs.load(self.path, meta) is not None:
            return
        try:
            self.writer()
        except ValueError:  # tantivy's held lock
            pass

    def close(self, committed: Callable[[], None] | None = None) -> dict | None:
        """Commit, let the merges finish, and keep the first passes of the commonest word pairs for the segments
        as they now are (``search.pairs``; what was kept is returned, None when nothing was written).

        ``committed`` is called once the commit is made, before the merges: searches see every document from then
        on (the indexer records there how far it got), only the commonest pairs answer more slowly until the
        lists are kept (19.5 s at 2,700,000 documents; docs/benchmarks.md, "Bootstrap", session 14)."""
        if self._writer is None:
            return None
        self._writer.commit()
        if committed is not None:
            committed()
        self._writer.wait_merging_threads()
        try:
            return pairs.keep(self.path, self.index, self.schema, RERANK_DEPTH)
        except (OSError, ValueError) as error:  # (a full disk, say: searches run without the lists, as they can)
            return {"kept": 0, "why": str(error)}
        finally:
            self._writer = None  # (held until now: no other writer commits while the lists are made)

    # -- reading ---------------------------------------------------------------------------

    def searcher(self) -> tantivy.Searcher:
        """A searcher of the latest commit (see ``_Opened.searcher``)."""
        return self._opened.searcher()

    def document_count(self) -> int:
        return self.searcher().num_docs

    def tokens(self, text: str) -> list[str]:
        """The index terms of ``text`` (lowercased, folded, stemmed, stop words dropped)."""
        return self._text.analyze(text)

    def _phrase(self, field: str, text: str, analyzer: tantivy.TextAnalyzer, slop: int = 0) -> tantivy.Query | None:
        # Analyse word by word so that a dropped stop word leaves its gap, as it does in the index.
        words: list[tuple[int, str]] = []
        position = 0
        for word in text.split():
            tokens = analyzer.analyze(word)
            for token in tokens:
                words.append((position, token))
                position += 1
            if not tokens:
                position += 1
        if not words:
            return None
        if len(words) == 1:
            return tantivy.Query.term_query(self.schema, field, words[0][1])
        return tantivy.Query.phrase_query(self.schema, field, words, slop)

    def _proximity(self, parsed: ParsedQuery) -> list[tantivy.Query]:
        """Optional clauses rewarding the query's words in their typed order (see the module docstring), each with
        its weight: the words near each other, then as typed; a match's proximity score is their sum."""
        ranking = self.ranking
        # Hyphens split index terms as they split the typed words (``vision-language`` is two positions).
        text = " ".join(parsed.terms).replace("-", " ")
        if len(self._text.analyze(text)) < 2:
            return []
        clauses = []
        if ranking.near_boost > 0 and ranking.near_slop > 0:
            near = self._phrase("text", text, self._text, ranking.near_slop)
            if near is not None:
                clauses.append(tantivy.Query.boost_query(near, ranking.near_boost))
        if ranking.phrase_boost > 0:
            phrase = self._phrase("text", text, self._text)
            if phrase is not None:
                clauses.append(tantivy.Query.boost_query(phrase, ranking.phrase_boost))
        return clauses

    def _term(self, text: str) -> tantivy.Query | None:
        tokens = self._text.analyze(text)
        if len(tokens) > 1:
            # ``vision-language`` is one typed word but two index terms: keep them together.
            return self._phrase("text", text.replace("-", " "), self._text)
        return tantivy.Query.term_query(self.schema, "text", tokens[0]) if tokens else None

    def _prefix(self, text: str) -> tantivy.Query | None:
        folded = self._names.analyze(text)
        if not folded:
            return None
        stem = self._text.analyze(folded[-1]) or [folded[-1]]
        # The index holds stems: "learning*" must find "learn", so match from the shorter of the two.
        start = min(stem[0], folded[-1], key=len)
        if len(start) < 2:
            return None
        return tantivy.Query.regex_query(self.schema, "text", re.escape(start) + ".*")

    def _filters(self, parsed: ParsedQuery) -> list[tantivy.Query]:
        filters = []
        for name, values in parsed.filters.items():
            alternatives = []
            for value in values:
                if name in ("author", "source"):
                    query = self._phrase(name, value, self._names)
                elif name == "topic":
                    query = tantivy.Query.term_query(self.schema, "topic", topic_slug(value))
                else:
                    query = tantivy.Query.term_query(self.schema, name, value.lower())
                # A filter value with nothing searchable in it matches nothing rather than everything.
                alternatives.append(query or tantivy.Query.empty_query())
            # Repeating a filter means "any of": category:cs.LG category:cs.CL.
            combined = alternatives[0] if len(alternatives) == 1 else tantivy.Query.boolean_query(
                [(tantivy.Occur.Should, query) for query in alternatives])
            filters.append(tantivy.Query.const_score_query(combined, 0.0))
        if parsed.after or parsed.before:
            filters.append(tantivy.Query.range_query(
                self.schema, "day", tantivy.FieldType.Integer, day_number(parsed.after), day_number(parsed.before)))
        return filters

    def build_query(self, parsed: ParsedQuery, conjunction: bool = True) -> tantivy.Query | None:
        """The tantivy query for ``parsed``; None when it can match nothing (no usable text, no filter)."""
        text_parts = [self._term(term) for term in parsed.terms]
        text_parts += [self._phrase("text", phrase, self._text) for phrase in parsed.phrases]
        text_parts += [self._prefix(prefix) for prefix in parsed.prefixes]
        text_parts = [part for part in text_parts if part is not None]
        filters = self._filters(parsed)
        excluded = [part for part in (self._term(word) for word in parsed.excluded) if part is not None]
        if not text_parts and not filters:
            return None
        occur = tantivy.Occur.Must if conjunction else tantivy.Occur.Should
        clauses = [(occur, part) for part in text_parts]
        if not conjunction and len(text_parts) > 1:
            clauses = [(tantivy.Occur.Must, tantivy.Query.boolean_query(clauses))]
        clauses += [(tantivy.Occur.Must, part) for part in filters]
        clauses += [(tantivy.Occur.MustNot, part) for part in excluded]
        if not text_parts:
            clauses.insert(0, (tantivy.Occur.Must, tantivy.Query.all_query()))
        return tantivy.Query.boolean_query(clauses)

    def search(self, parsed: ParsedQuery, limit: int = 10, offset: int = 0, any_word: bool = False,
               searcher: tantivy.Searcher | None = None, proximity: bool = True) -> list[KeywordHit]:
        """Best ``limit`` items after ``offset``: BM25 when there is text, newest first for filters only.

        All words must match (unless ``any_word``); when that finds nothing, any word may. Without
        ``proximity`` the bag of words alone ranks (no re-rank of its best ``RERANK_DEPTH``; see ``_run``), equal
        scores by item id; such a search is a first page (``offset`` 0: similar items' title query).
        """
        searcher = searcher or self.searcher()
        hits = self._run(searcher, parsed, limit, offset, conjunction=not any_word, proximity=proximity)
        if not hits and offset == 0 and len(parsed.terms) + len(parsed.phrases) + len(parsed.prefixes) > 1:
            hits = self._run(searcher, parsed, limit, offset, conjunction=False, proximity=proximity)
        return hits

    def count(self, parsed: ParsedQuery) -> int:
        """How many items ``search`` draws from in all: those with every word, else (none) with any word."""
        searcher = self.searcher()
        total = self._count(searcher, parsed, conjunction=True)
        if not total and len(parsed.terms) + len(parsed.phrases) + len(parsed.prefixes) > 1:
            total = self._count(searcher, parsed, conjunction=False)
        return total

    def _count(self, searcher: tantivy.Searcher, parsed: ParsedQuery, conjunction: bool) -> int:
        counted = self._counted
        if counted is not None and counted[0] is searcher and counted[1:3] == (repr(parsed), conjunction):
            return counted[3]
        query = self.build_query(parsed, conjunction)
        if query is None:
            return 0
        # Under a constant score: counting visits every match, and a BM25 score for each would be wasted.
        return searcher.search(tantivy.Query.const_score_query(query, 0.0), 1, count=True).count

    def _run(self, searcher: tantivy.Searcher, parsed: ParsedQuery, limit: int, offset: int,
             conjunction: bool, proximity: bool = True) -> list[KeywordHit]:
        query = self.build_query(parsed, conjunction)
        if query is None or limit <= 0:
            return []
        # tantivy-py collects every search through a MultiCollector, so tantivy visits (and scores) every match of
        # any query: its block-max pruning is only taken by a TopDocs collector alone. Counting the matches in that
        # pass costs little, where ``count`` would visit them all again (at 1,000,000 items, 7 ms at p99; 4 ms
        # for the single word `model`, 13 ms for `Large-Scale`).
        counted = (parsed, conjunction)
        if not parsed.has_text:
            return self._hits(searcher, self._scored(searcher, query, limit, offset, counted, order_by_day=True),
                              scored=False)
        if not proximity and offset == 0:
            # Equal scores go by item id, as after the re-rank: tantivy orders them by document address, which
            # differs between two indexes of the same items. ``TIE_MARGIN`` more are fetched so that a tie across
            # the page's end is settled by id too (every match is scored either way; a few more kept cost little).
            hits = self._hits(searcher, self._scored(searcher, query, limit + TIE_MARGIN, 0, counted))
            return sorted(hits, key=lambda hit: (-hit.score, hit.item_id))[:limit]
        clauses = self._proximity(parsed) if proximity else []
        if not clauses or offset >= RERANK_DEPTH:
            return self._hits(searcher, self._scored(searcher, query, limit, offset, counted))
        # Proximity re-ranks the bag of words' best RERANK_DEPTH: scored in the same query, the phrase clauses
        # would read the positions of every match (34 ms instead of 1 ms for "large language models" at 52,000
        # items), where the bag of words reads none. Deeper pages continue in bag-of-words order, so no item is
        # shown twice or skipped across the boundary.
        kept = self._kept_pass(searcher, parsed, conjunction)
        if kept is not None:
            item_ids, bag_scores, places = kept.item_ids, kept.scores, kept.places
            self._counted = (searcher, repr(parsed), conjunction, kept.count)
        else:
            found = self._scored(searcher, query, RERANK_DEPTH, 0, counted).hits
            addresses = [address for _, address in found]
            item_ids = searcher.fast_field_values("id", addresses)
            bag_scores = [score for score, _ in found]
            places = [(address.segment_ord, address.doc) for address in addresses]
        if not item_ids:
            return []
        only_candidates = self._only(item_ids, places)
        # Each proximity clause is searched on its own, required beside the candidates: an intersection led by the
        # 500 ids checks the words' positions in those documents only. As an optional clause of one query (as
        # before) it was sought candidate by candidate, and a phrase scorer sought to a document without the
        # phrase walks on to its next match: for words seldom adjacent ("interactive generative models"), every
        # match of the bag of words between two candidates, 10-12 ms at 1,000,000 items. (Both clauses as one
        # union beside the candidates walk too: 16-64 ms at 1,000,000 items.)
        # The sum as tantivy computed it when these were optional clauses of the bag-of-words query: single
        # precision, bag of words + (near + phrase); adding a zero changes no float, so the scores (and their
        # ties) are exactly those of one query.
        index_of = {place: index for index, place in enumerate(places)}
        extra = np.zeros(len(item_ids), dtype=np.float32)
        for clause in clauses:
            matched = searcher.search(tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, only_candidates), (tantivy.Occur.Must, clause)]), len(item_ids), count=False)
            if not matched.hits:
                continue
            clause_scores = np.zeros(len(item_ids), dtype=np.float32)
            for score, address in matched.hits:
                index = index_of.get((address.segment_ord, address.doc))
                if index is not None:  # (the ids are unique among live documents; nothing else can match)
                    clause_scores[index] = score
            extra += clause_scores
        totals = np.array(bag_scores, dtype=np.float32) + extra
        # Every candidate is rescored and equal scores go by item id: tantivy breaks ties by document address,
        # which differs between two indexes of the same items (a copy, a rebuild), and so would the page.
        order = np.lexsort((np.array(item_ids), -totals))[offset:offset + limit].tolist()
        hits = [KeywordHit(item_ids[index], float(totals[index])) for index in order]
        if offset + limit > RERANK_DEPTH and len(item_ids) == RERANK_DEPTH:
            hits += self._hits(searcher, searcher.search(query, offset + limit - RERANK_DEPTH, count=False,
                                                         offset=RERANK_DEPTH))
        return hits

    def _kept_pass(self, searcher: tantivy.Searcher, parsed: ParsedQuery, conjunction: bool) -> "pairs.KeptPass | None":
        """The kept first pass (``search.pairs``) when the query is exactly two common words, all required (the
        query ``build_query`` makes of it is then the one the lists were made with), else None."""
        if (not conjunction or parsed.phrases or parsed.prefixes or parsed.excluded or parsed.filters
                or parsed.after or parsed.before or len(parsed.terms) < 2):
            return None
        kept = self._opened.kept_pairs(searcher)
        if kept is None or kept.depth < RERANK_DEPTH:
            return None
        words = []
        for term in parsed.terms:
            tokens = self._text.analyze(term)
            if len(tokens) > 1:  # a phrase (``vision-language``)
                return None
            words += tokens
        if len(words) != 2 or words[0] == words[1]:
            return None
        return kept.get(words[0], words[1], RERANK_DEPTH)

    def _only(self, item_ids: list[int], places: list[tuple[int, int]]) -> tantivy.Query:
        """A query matching exactly the documents of ``item_ids`` (at ``places``, their (segment, document)
        addresses), scoring 0.

        A union of one id term query each, not ``term_set_query``: the set query intersects its automaton with the
        whole id term dictionary, 4.2-4.5 ms for 500 ids at 1,000,000 items against 1.7-2.0 ms for the union (same
        matches). The terms are grouped ``ID_GROUP`` at a time in document order, a union of unions: a union
        refills its buffer of the next 4,096 documents by asking every clause, so 500 single-document clauses
        spread over the index were asked about 200 times each; a group spans a few of those windows (0.5 against
        0.8-1.3 ms for 500 ids at 1,000,000 items; measured 2026-12-05, docs/benchmarks.md "Search at 1M").
        """
        order = sorted(range(len(item_ids)), key=places.__getitem__)
        term, should = tantivy.Query.term_query, tantivy.Occur.Should
        groups = [tantivy.Query.boolean_query([(should, term(self.schema, "id", item_ids[index]))
                                               for index in order[start:start + ID_GROUP]])
                  for start in range(0, len(order), ID_GROUP)]
        union = groups[0] if len(groups) == 1 else tantivy.Query.boolean_query([(should, group) for group in groups])
        return tantivy.Query.const_score_query(union, 0.0)

    def _scored(self, searcher: tantivy.Searcher, query: tantivy.Query, limit: int, offset: int,
                counted: tuple[ParsedQuery, bool], order_by_day: bool = False):
        """The best ``limit`` after ``offset`` (newest first with ``order_by_day``); the matches of the query
        (``counted``: the parsed query, whether all words are required) are counted too and kept for ``count``."""
        result = searcher.search(query, limit, count=True, offset=offset, order_by_field="day" if order_by_day else None)
        self._counted = (searcher, repr(counted[0]), counted[1], result.count)
        return result

    @staticmethod
    def _hits(searcher: tantivy.Searcher, result, scored: bool = True) -> list[KeywordHit]:
        # Item ids from the id column (a fast field), not from each hit's stored document: 200 stored-document
        # reads cost about 15 ms.
        ids = searcher.fast_field_values("id", [address for _, address in result.hits])
        return [KeywordHit(item_id, float(order_key) if scored else 0.0)
                for item_id, (order_key, _) in zip(ids, result.hits)]
