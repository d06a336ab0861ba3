"""How text becomes keyword index terms, and a large build's text analysed in a second process, each distinct piece
of text once.

Queries and the index share one chain (``text_analyzer``): tantivy's simple tokenizer (runs of alphanumeric
characters), then per word: words of 40 bytes or more dropped, lowercased, folded to ASCII, English stop words
dropped, Snowball-stemmed. Every filter maps one word to one term or to none, so the terms of a text are the terms of
its words, one by one. A large build uses that: tantivy's threads spent about half their CPU on the stemmer (283 µs
a document at 400,000 items on the 2-core machine), and the same words recur across millions of abstracts (and each
title three times, see ``keyword``). ``IndexedText`` splits a text at whitespace, looks each piece up in a table
filled by the chain itself, and hands tantivy the terms separated by spaces, with ``GAP`` where the chain drops a
word; the writer of such a build (``KeywordIndex.writer(analysed=True)``) has the text field's tokenizer split at
the spaces and drop the gaps. The index gets the very same terms at the very same positions (a dropped word leaves
its position empty either way, which phrase queries rely on) and the same field lengths (BM25's norms), so it is the
same index whichever way it was written: tests/test_search_analysis.py compares both term by term and score by score.

In Python that work costs about as much CPU as it saves tantivy, so it pays only off the thread that reads the store
(session 18 measured 68.5 -> 84.8 s for 400,000 items on that thread) and once the table is warm: a second
interpreter (``AnalysisAhead``) analyses the next batch of a large build while this one reads the store and tantivy
indexes (400,000 items: 72.3 -> 64.5 s, 19 % less CPU; docs/benchmarks.md, "Keyword index build"). A small update
hands tantivy the text as it is, as before.
"""

from __future__ import annotations

import logging
import queue
import subprocess
import threading
from collections import deque
from multiprocessing.connection import Connection

import tantivy

from ..children import can_start, start_python_piped

log = logging.getLogger(__name__)

GAP = "_"
"""Stands for a word the chain drops. Never a term: a word is a run of alphanumeric characters, and none lowercases,
folds or stems to an underscore or to whitespace (tests/test_search_analysis.py)."""

PIECES_KEPT = 500_000
"""Distinct pieces of text (and words) whose terms ``IndexedText`` keeps (about 100 MB); a table is emptied when it
would outgrow this. 50,000 arXiv abstracts hold about 230,000 distinct pieces and 160,000 distinct words (case
kept), mostly the same common ones."""

Texts = tuple[str, str, str]
"""A document's analysed fields: title, authors (joined by commas), abstract."""


def text_analyzer() -> tantivy.TextAnalyzer:
    """The chain from text to terms (queries, and the words of indexed text)."""
    return (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            .filter(tantivy.Filter.remove_long(40)).filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.ascii_fold()).filter(tantivy.Filter.stopword("english"))
            .filter(tantivy.Filter.stemmer("english")).build())


def indexed_text_analyzer() -> tantivy.TextAnalyzer:
    """The text field's tokenizer: ``IndexedText``'s output is terms already, one a position."""
    return (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace())
            .filter(tantivy.Filter.custom_stopword([GAP])).build())


def name_analyzer() -> tantivy.TextAnalyzer:
    return (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            .filter(tantivy.Filter.lowercase()).filter(tantivy.Filter.ascii_fold()).build())


def label_analyzer() -> tantivy.TextAnalyzer:
    return tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw()).filter(tantivy.Filter.lowercase()).build()


class IndexedText:
    """Text as the keyword index's text field takes it: each word's term (or ``GAP``), separated by spaces.

    Kept by whitespace-separated piece of text ("models,", "(LLMs)"), not by word: splitting at whitespace and
    joining the pieces' terms is Python's cheapest way through a text (53 µs an arXiv abstract against 97 word by
    word; docs/benchmarks.md, "Keyword index build"). No whitespace character is alphanumeric, so a piece holds
    whole words and the pieces' words in order are the text's."""

    def __init__(self, pieces_kept: int = PIECES_KEPT) -> None:
        self._words = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).build()
        self._chain = text_analyzer()
        self._pieces: dict[str, str] = {}
        self._terms: dict[str, str] = {}  # word -> term (a new piece is mostly known words)
        self._kept = pieces_kept

    def __call__(self, text: str) -> str:
        pieces = text.split()
        try:
            return " ".join(map(self._pieces.__getitem__, pieces))  # one C loop when every piece is known
        except KeyError:
            self._learn(pieces)
            return " ".join(map(self._pieces.__getitem__, pieces))

    def all(self, texts: list[Texts]) -> list[Texts]:
        return [(self(title), self(authors), self(abstract)) for title, authors, abstract in texts]

    def _learn(self, pieces: list[str]) -> None:
        known, terms = self._pieces, self._terms
        if len(known) + len(pieces) > self._kept:
            known.clear()
        if len(terms) > self._kept:
            terms.clear()
        for piece in pieces:
            if piece not in known:
                known[piece] = " ".join([terms.get(word) or self._term(word) for word in self._words.analyze(piece)])

    def _term(self, word: str) -> str:
        found = self._chain.analyze(word)
        self._terms[word] = term = found[0] if found else GAP
        return term


class AnalysisAhead:
    """A second interpreter analysing batches of texts (``submit``), given back in the same order (``take``).

    Started with ``children.start_python_piped`` (not ``multiprocessing``: its spawn would run the command's main
    module again). Should it stop or fail, what it has not given back is analysed in this process: the build goes on,
    only slower."""

    def __init__(self) -> None:
        self._process, jobs_write, results_read = start_python_piped("paperfeed.search.analysis.serve")
        self._jobs = Connection(jobs_write, readable=False)
        self._results = Connection(results_read, writable=False)
        self._waiting: deque[list[Texts]] = deque()  # submitted, not taken, oldest first (the worker has them all
        # unless it is broken: a failed send breaks it)
        self._here: IndexedText | None = None  # made once the worker is gone
        self.broken = False

    @classmethod
    def start(cls) -> "AnalysisAhead | None":
        """A started worker, or None where this process cannot start one (the caller analyses here)."""
        if not can_start():
            return None
        try:
            return cls()
        except OSError as error:
            log.info("analysing in this process: no worker (%s)", error)
            return None

    def submit(self, texts: list[Texts]) -> None:
        self._waiting.append(texts)
        if not self.broken:
            try:
                self._jobs.send(texts)
            except (OSError, ValueError):
                self._stopped()

    def take(self) -> list[Texts]:
        """The analysis of the oldest batch submitted and not yet taken."""
        texts = self._waiting.popleft()
        if not self.broken:
            try:
                return self._results.recv()
            except (EOFError, OSError):
                self._stopped()
        if self._here is None:
            self._here = IndexedText()
        return self._here.all(texts)

    def _stopped(self) -> None:
        log.warning("the process analysing keyword text stopped; analysing it in this one")
        self.broken = True

    def close(self) -> None:
        """End the worker (at the end of a build, or on an error or Ctrl-C part-way)."""
        for connection in (self._jobs, self._results):
            connection.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def serve(jobs: int, results: int) -> None:
    """The worker's loop: batches of texts in, their analysis out, until the other end closes.

    A thread reads the batches as they come: the other process hands over several before it takes the first back,
    and with both pipes full each side would wait for the other."""
    reader, writer = Connection(jobs, writable=False), Connection(results, readable=False)
    received: queue.SimpleQueue[list[Texts] | None] = queue.SimpleQueue()

    def receive() -> None:
        while True:
            try:
                received.put(reader.recv())
            except (EOFError, OSError):
                received.put(None)
                return

    threading.Thread(target=receive, daemon=True).start()
    indexed = IndexedText()
    while (texts := received.get()) is not None:
        try:
            writer.send(indexed.all(texts))
        except (OSError, ValueError):
            return
