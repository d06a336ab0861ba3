"""Computing and storing TL;DRs: the extractive one for what changed, the model's for what is due.

``extractive_step`` runs in ``pipeline.after_ingest`` on every ingest (well under a millisecond a paper): each
changed item whose stored TL;DR was not made from its current abstract gets the extractive one. ``llm_step``
runs after it when ``tldr_url`` is set, for at most ``tldr_max_items`` papers whose TL;DR is not yet the
configured model's (the changed ones first), and stops asking at the first sign that the endpoint is down.
Neither raises for a paper or an endpoint: what failed is in the ``TldrReport``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from ..config import Settings
from ..progress import Progress, quiet
from ..storage import Store, TldrInput, abstract_hash
from .extractive import EXTRACTIVE, extractive_tldr
from .llm import ChatSummarizer, LLMError

log = logging.getLogger("paperfeed.summaries")

BATCH = 1000
"""Items read and written at once by the extractive step."""
FAILURES_IN_A_ROW = 3
"""Bad answers in a row after which a run stops asking the endpoint (one that is down stops it at once)."""


@dataclass(slots=True)
class TldrReport:
    """What one run did."""

    extractive: int = 0
    """Extractive TL;DRs written (new items, or a changed abstract)."""
    llm: int = 0
    """TL;DRs written by the model."""
    llm_failed: int = 0
    """Papers the model was asked about without a usable answer (their extractive TL;DR stays)."""
    llm_error: str | None = None
    """The last failure, in one line."""
    seconds: float = 0.0


def extractive_step(store: Store, item_ids: Iterable[int] | None = None, *, limit: int | None = None,
                    progress: Progress | None = None) -> int:
    """Give each of ``item_ids`` (None: every item) whose TL;DR is missing or stale the extractive one;
    return how many were written (at most ``limit``). ``progress`` counts the papers looked at."""
    item_ids = None if item_ids is None else sorted(set(item_ids))
    with (progress or quiet)("TL;DRs", None if item_ids is None else len(item_ids), unit="papers") as advance:
        return _extractive(store, item_ids, limit, advance)


def _extractive(store: Store, item_ids: list[int] | None, limit: int | None, advance: Callable[[int], None]) -> int:
    written = 0
    for batch in _batches(store, item_ids):
        advance(len(batch))
        due = [entry for entry in batch if not entry.current]
        if limit is not None:
            due = due[:max(0, limit - written)]
        rows, empty = [], []
        for entry in due:
            text = extractive_tldr(entry.title, entry.abstract)
            if text:
                rows.append((entry.item_id, text, EXTRACTIVE, abstract_hash(entry.abstract)))
            elif entry.stored_hash is not None:
                empty.append(entry.item_id)
        written += store.save_tldrs(rows)
        if empty:
            store.forget_tldrs(empty)
        if limit is not None and written >= limit:
            break
    return written


def _batches(store: Store, item_ids: list[int] | None):
    if item_ids is not None:
        ids = item_ids
        for start in range(0, len(ids), BATCH):
            yield store.tldr_inputs(ids[start:start + BATCH])
        return
    last = 0
    while True:
        ids = store.item_ids_after(last, BATCH)
        if not ids:
            return
        yield store.tldr_inputs(ids)
        last = ids[-1]


def llm_step(store: Store, settings: Settings, first: Iterable[int] = (), *, limit: int | None = None,
             only_first: bool = False, report: TldrReport | None = None) -> TldrReport:
    """Ask ``settings.tldr_url`` for the TL;DRs of up to ``limit`` (default ``tldr_max_items``) papers whose
    TL;DR is not the configured model's, ``first`` first (and no others with ``only_first``); each answer is
    stored as it comes."""
    report = report or TldrReport()
    if not settings.tldr_url:
        return report
    limit = settings.tldr_max_items if limit is None else limit
    with ChatSummarizer(settings.tldr_url, settings.tldr_model, timeout=settings.tldr_timeout,
                        max_response_bytes=settings.tldr_max_response_bytes,
                        api_key=settings.tldr_api_key) as summarizer:
        due: list[TldrInput] = store.tldrs_not_from(summarizer.origin, limit, first, only_first=only_first) \
            if limit > 0 else []
        failures_in_a_row = 0
        for entry in due:
            try:
                text = summarizer.summarize(entry.title, entry.abstract)
            except LLMError as error:
                report.llm_failed += 1
                report.llm_error = str(error)
                failures_in_a_row += 1
                if error.endpoint_down or failures_in_a_row >= FAILURES_IN_A_ROW:
                    break
                continue
            failures_in_a_row = 0
            report.llm += store.save_tldrs([(entry.item_id, text, summarizer.origin, abstract_hash(entry.abstract))])
    if report.llm_error:
        log.warning("TL;DR endpoint: %s (%d of %d papers failed; their extractive TL;DR stays)",
                    report.llm_error, report.llm_failed, report.llm_failed + report.llm)
    return report


def summarize(store: Store, settings: Settings, item_ids: Iterable[int] | None = None, *, llm: bool = False,
              limit: int | None = None) -> TldrReport:
    """The extractive TL;DR of ``item_ids`` (None: every item) where missing or stale, then, with ``llm``, the
    model's for up to ``limit`` papers (what ``paperfeed tldr`` runs)."""
    started = time.perf_counter()
    ids = None if item_ids is None else sorted(set(item_ids))
    report = TldrReport(extractive=extractive_step(store, ids, limit=limit))
    if llm:
        llm_step(store, settings, ids or (), limit=limit, only_first=ids is not None, report=report)
    report.seconds = time.perf_counter() - started
    return report
