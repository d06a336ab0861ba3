"""What follows every change of a store's items, in one place: tag, index, author identities, calendar.

Every path that adds or changes items (``ingest``, ``sync`` and the scheduler of ``serve``, ``library import``,
``submit``) and ``topics tag`` call ``after_ingest`` once they have stored; the CLI and the web app print or
log what it reports. Steps run in order, each on what the one before left:

1. tag the new and changed items with the topic and category models (only when a tagger has been trained:
   the first training is ``paperfeed topics tag``, minutes on a large store);
2. bring the keyword index up to date (so that a search finds the new items and ``topic:`` filters see the
   new topics): keyword search is complete from here on;
3. decide the identities of the changed items' authors again (the tagger does it for what it tagged; without
   a tagger, for ``changed_item_ids``);
4. add the new source records' days to the Daily Papers calendar;
5. give the changed items their extractive TL;DR (offline, well under a millisecond a paper), then, when a
   TL;DR endpoint is configured (``tldr_url``) and the caller does not answer a person waiting on a page
   (``llm_tldr``), ask it for up to ``tldr_max_items`` TL;DRs (``summaries``);
6. embed the changed items into the vector index, unless told not to: last, because after a large load (the
   whole arXiv snapshot) it takes longest and nothing else waits on it (search says how far it has got).

After a large load (``beside.BESIDE_MIN_ITEMS`` changed items) steps 6 and then 5 run in a second process from the
start of step 3, beside it (``pipeline.beside``): on two cores semantic search catches up while the identities are
decided, instead of after them and the TL;DRs.

A step that cannot run (no tagger trained is no error; a topics file that does not parse, an index held by
another indexer, an embedder that cannot load) is reported in the result, never raised: the items stay stored
and ``paperfeed topics tag`` / ``paperfeed index`` catch up later.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable

from ..config import Settings
from ..progress import Progress, quiet
from ..storage import Store

if TYPE_CHECKING:  # imported when used: search and the tagger load numpy, tantivy and the embedder
    from ..search import IndexReport
    from ..summaries.service import TldrReport
    from ..topics.tagger import TagReport
    from .beside import StepsBeside

log = logging.getLogger("paperfeed.pipeline")


@dataclass(slots=True)
class PipelineReport:
    """What ``after_ingest`` did, step by step."""

    tagging: "TagReport | None" = None
    """The tagger's report; None when no tagger is trained (or tagging was not asked for, or failed)."""
    identities_merged: int | None = None
    """Author names merged into another identity by the pipeline's own refresh (None: not run here; the
    tagger's refresh is in ``tagging.identities_merged``)."""
    index: "IndexReport | None" = None
    """The search indexes' report; None when not asked for, or failed."""
    daily_dates: int = 0
    tldr: "TldrReport | None" = None
    """What the TL;DR steps wrote; None when not run or failed (a model's failures are in it, not errors)."""
    errors: dict[str, str] = field(default_factory=dict)
    """Per step that failed ("tag", "authors", "index", "daily", "tldr"): why, in one line."""

    @property
    def ok(self) -> bool:
        return not self.errors


def after_ingest(store: Store, settings: Settings, changed_item_ids: Iterable[int] | None = None, *,
                 tag: bool = True, index: bool = True, vectors: bool = True, rebuild: bool = False,
                 llm_tldr: bool = True, progress: Progress | None = None,
                 on_keyword_ready: Callable[["IndexReport"], None] | None = None) -> PipelineReport:
    """Tag, index, refresh author identities, date and embed what was just stored (see the module's docstring).

    ``changed_item_ids``: the items added or changed (None: not known; the tagger still finds what is due,
    but without a tagger no identities are refreshed); an empty list skips tagging and identities.
    ``tag=False`` when the caller has just tagged (``topics tag``); ``index=False`` leaves the indexes for a
    later ``paperfeed index``; ``vectors=False`` updates the keyword index only; ``rebuild`` rebuilds them.
    ``llm_tldr=False`` leaves the model's TL;DRs to a later run (a web request must not wait on a model), and
    with them the store-wide catch-up of an identity refresh that stopped part-way. ``on_keyword_ready`` is told
    what the keyword pass did as soon as keyword search answers for the new items, before the steps after it
    (after a whole-arXiv bootstrap those take longer than the ingest: the command says search works meanwhile).
    """
    progress = progress or quiet
    changed = None if changed_item_ids is None else sorted(set(changed_item_ids))
    report = PipelineReport()
    tagger_refreshed = False
    if tag and changed != []:
        tagger_refreshed = _tag(store, settings, report)
    if index:  # keyword search sees the new items first: nothing below changes what it indexes
        _index(store, settings, report, vectors=False, rebuild=rebuild, progress=progress)
        if on_keyword_ready is not None and report.index is not None:  # set by the keyword pass if it succeeded
            on_keyword_ready(report.index)
    beside = _steps_beside(store, settings, changed, report, index=index and vectors, progress=progress)
    try:
        if changed and llm_tldr and store.identities_interrupted():
            # A refresh stopped part-way (Ctrl-C after a bootstrap) left authors undecided: catch up store-wide
            # here, never in a web request (llm_tldr=False: a person is waiting; the next ingest or sync does it).
            _refresh_identities(store, None, report, progress)
        elif changed and not tagger_refreshed:
            _refresh_identities(store, changed, report, progress)
        try:
            report.daily_dates = store.refresh_daily_dates()
        except Exception as error:  # the calendar catches up on its next read
            log.exception("daily calendar not updated")
            report.errors["daily"] = str(error)
        done = beside.wait() if beside is not None else None
        embedded = done is not None and "vectors" in beside.steps
        if done is not None:
            if done.index is not None:
                report.index = done.index if report.index is None else _combined(report.index, done.index)
            report.errors.update(done.errors)
        if changed != []:
            _tldr(store, settings, changed, report, llm=llm_tldr, progress=progress,
                  extractive=done.tldr if done is not None else None,
                  started=beside.started if beside is not None else None)
    except BaseException:
        if beside is not None:  # Ctrl-C or an error above: the child stops with this process
            beside.close(interrupted=True)
        raise
    if index and vectors and "index" not in report.errors and not embedded:
        # Embeddings last: after a large load (all of arXiv) they take longest, and nothing else waits on them.
        _index(store, settings, report, vectors=True, rebuild=False, progress=progress)
    return report


def _steps_beside(store: Store, settings: Settings, changed: list[int] | None, report: PipelineReport, *,
                  index: bool, progress: Progress) -> "StepsBeside | None":
    """After a large load, the embeddings (when asked for, and the keyword index was built) and the extractive
    TL;DRs start in a second process at once, beside the identity refresh (``pipeline.beside``); None: they are
    done in order, in this process."""
    from .beside import BESIDE_MIN_ITEMS, StepsBeside

    if not changed or len(changed) < BESIDE_MIN_ITEMS:
        return None
    steps = ("vectors", "tldr") if index and "index" not in report.errors else ("tldr",)
    return StepsBeside.start(store, settings, changed, steps, progress)


def _tldr(store: Store, settings: Settings, changed: list[int] | None, report: PipelineReport, *,
          llm: bool, progress: Progress, extractive: int | None = None, started: float | None = None) -> None:
    """The TL;DRs of ``changed``: the extractive ones (unless a second process wrote ``extractive`` of them), then
    the model's where one is configured."""
    from ..summaries.service import TldrReport, extractive_step, llm_step

    started = time.perf_counter() if started is None else started
    try:
        # Without a second process (none started, or it failed) this one does them: only what it left is done again.
        written = extractive if extractive is not None else extractive_step(store, changed, progress=progress)
        report.tldr = TldrReport(extractive=written)
        if llm and settings.tldr_url:
            llm_step(store, settings, changed or (), report=report.tldr)
    except Exception as error:  # a TL;DR is a convenience: the items stay stored, `paperfeed tldr` catches up
        log.exception("TL;DRs not updated")
        report.errors["tldr"] = str(error)
        return
    report.tldr.seconds = time.perf_counter() - started


def _tag(store: Store, settings: Settings, report: PipelineReport) -> bool:
    """Tag what is due when a tagger is trained; return whether the tagger refreshed author identities."""
    from ..topics.tagger import TaggerError, tag_new_items
    from ..topics.taxonomy import TaxonomyError

    try:
        report.tagging = tag_new_items(store, alpha=settings.topic_alpha, topics_file=settings.topics_file or None)
    except (TaggerError, TaxonomyError) as error:
        report.errors["tag"] = str(error)
        return False
    tagging = report.tagging
    return tagging is not None and bool(tagging.tagged or tagging.trained)


def _refresh_identities(store: Store, changed: list[int] | None, report: PipelineReport,
                        progress: Progress) -> None:
    from ..authors import refresh_identities

    report.identities_merged = refresh_identities(store, changed, progress=progress)


def _combined(keyword: "IndexReport", vectors: "IndexReport") -> "IndexReport":
    """One report of the keyword pass and the embeddings pass that followed it."""
    keyword.indexed += vectors.indexed
    keyword.deleted = max(keyword.deleted, vectors.deleted)
    keyword.embedded, keyword.reused_vectors = vectors.embedded, vectors.reused_vectors
    keyword.seconds += vectors.seconds
    keyword.embed_seconds = vectors.embed_seconds
    keyword.notes += vectors.notes
    return keyword


def _index(store: Store, settings: Settings, report: PipelineReport, *, vectors: bool, rebuild: bool,
           progress: Progress) -> None:
    from ..search import EmbedderError, SearchIndexError, open_indexer

    try:
        indexer = open_indexer(store, settings, vectors=vectors)
        # A bar (with an ETA) for each index.
        done = indexer.rebuild(progress=progress) if rebuild else indexer.update(progress=progress)
        report.index = done if report.index is None else _combined(report.index, done)
    except (EmbedderError, SearchIndexError) as error:
        report.errors["index"] = str(error)
    except ValueError as error:
        # tantivy reports a held writer lock (another indexer running) as a ValueError.
        report.errors["index"] = str(error)
