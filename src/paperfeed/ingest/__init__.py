"""Ingest: parse input files, decide merges, and hand each file's batch writes to the store.

One file (or archive member) is one transaction: a file that fails is rolled back whole
and the next file goes on. Records are processed in batches so that every store lookup
is one query per batch rather than one per record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .. import merge, prepare
from ..collector import fewer_collections
from ..config import Settings
from ..inputs import InputError, InputFile, InputLimits, iter_inputs
from ..normalize import utc_now
from ..prepare import FieldLimits, Prepared
from ..records import ParseContext, ParseError, Record
from ..sources import get_format
from ..storage import BatchWrite, IngestSession, SourceRecordRow, Store, StoreFullError
from . import space
from .ahead import AHEAD_FROM_BYTES, PrepareAhead, Upcoming
from .placement import Conflict, Placer  # noqa: F401  (Conflict: callers import it from here)

BATCH_SIZE = 2000
COMMIT_EVERY = 20000
"""Records after which a run of small files commits; a crash loses at most this much work, never half a file."""
STORED_WHOLE_BELOW_BYTES = 2 << 20
"""A file smaller than this has all its records prepared before the first is written (a day's listing: 0.1-1.3 MB,
one batch): then nothing but an error that stops the run can come while it is written, so it needs no savepoint of
its own in the run's transaction. SQLite copies every page a savepoint changes, first, to a journal: with the
statement journals (``Database.inserts_undone_together``), 2.9 GB for a year of daily listings, a 274 MB store
(docs/benchmarks.md, "Ingest", session 23)."""


@dataclass(slots=True, frozen=True)
class RecordOutcome:
    """Which item one record of a file became."""

    index: int
    """The record's position in its file (0-based, in the order the parser gave them)."""
    record_id: str | None
    """The record's id in its source (arXiv id, BibTeX key, feed entry id), when it has one."""
    item_id: int | None
    """The item the record belongs to now; None for a skipped tombstone."""
    outcome: str
    """"new" (a new item), "merged" (into an item the store had, or one made earlier in the same file),
    "unchanged" (the store had this very record), or "skipped" (a tombstone for an item the store never had)."""


@dataclass(slots=True)
class FileResult:
    """What ingesting one file did."""

    origin: str
    format: str | None = None
    new: int = 0
    merged: int = 0
    unchanged: int = 0
    skipped: int = 0
    """Tombstones (withdrawn records) for items the store never had."""
    error: str | None = None
    place: str | None = None
    changed_item_ids: list[int] = field(default_factory=list)
    """The items this file added or merged records into, each once, in the order first met."""
    outcomes: list[RecordOutcome] | None = None
    """Record by record, which item each became (only when the Ingester was asked: ``record_outcomes``)."""
    conflicts: list[Conflict] = field(default_factory=list)
    """Records the identity invariants kept out of the item an identifier named (see ``Conflict``)."""
    joined: list[int] = field(default_factory=list)
    """Stored items a bridging record joined into another item (they are gone)."""
    notes: list[str] = field(default_factory=list)
    """What the parser said about the file as a whole (a capture's page date it could not resolve)."""
    prepared_apart: bool = False
    """Its records were prepared in the run's second process (``ingest.ahead``)."""

    @property
    def records(self) -> int:
        return self.new + self.merged + self.unchanged + self.skipped

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass(slots=True)
class IngestReport:
    """Per-file results of one ingest run."""

    files: list[FileResult] = field(default_factory=list)

    @property
    def failed(self) -> list[FileResult]:
        return [result for result in self.files if result.failed]

    def total(self, name: str) -> int:
        """The sum of a count (``new``, ``merged``…) over the files; of a list's lengths (``conflicts``)."""
        return sum(len(value) if isinstance(value := getattr(result, name), list) else value
                   for result in self.files)

    @property
    def changed_item_ids(self) -> list[int]:
        """The items the run added or merged records into, each once (what ``pipeline.after_ingest`` takes)."""
        gone = {item_id for result in self.files for item_id in result.joined}
        return [item_id for item_id in dict.fromkeys(item_id for result in self.files
                                                     for item_id in result.changed_item_ids) if item_id not in gone]


class IngestStopped(Exception):
    """The store could take no more (``StoreFullError``: database or disk full) while ``origin`` was stored.

    What was committed before stays and the store is consistent: ``report.files[:committed]`` are stored,
    the ``rolled_back`` files read after the last commit (``origin`` the last of them) were rolled back. The
    same ingest run again once there is room completes it (the stored files' records count as unchanged).
    """

    def __init__(self, origin: str, error: StoreFullError, report: IngestReport, committed: int,
                 rolled_back: int) -> None:
        super().__init__(f"{error} (while storing {origin})")
        self.origin = origin
        self.error = error
        self.report = report
        self.committed = committed
        self.rolled_back = rolled_back


class Ingester:
    """Ingest files into a store, merging each record into the item it belongs to."""

    def __init__(self, store: Store, *, format_name: str | None = None, label: str | None = None,
                 on_records: Callable[[int], None] | None = None,
                 on_file: Callable[[FileResult], None] | None = None, record_outcomes: bool = False,
                 settings: Settings | None = None) -> None:
        """``record_outcomes``: fill each FileResult's ``outcomes`` (one entry per record: memory in
        proportion to the records, so off for bulk ingests). ``settings``: where the size limits of input
        files, archives and record fields come from (the defaults when None)."""
        if format_name:
            get_format(format_name)  # fail fast on a bad --format, before any file is read
        settings = settings or Settings()
        self.input_limits = InputLimits.from_settings(settings)
        self.field_limits = FieldLimits.from_settings(settings)
        self.cache_mb = settings.ingest_cache_mb
        self.disk_check = settings.ingest_disk_check
        self.parallel = settings.ingest_parallel
        self.parallel_from_bytes = AHEAD_FROM_BYTES
        """Input a run reads before it prepares records in a second process (``ingest.ahead``)."""
        self.alone_from_bytes = settings.ingest_alone_from_mb * 1024 * 1024
        """Before a file this large the files before it commit, and it goes in with the store held alone when the
        store is smaller than the file (``Store.write_group``); 0: never."""
        self.store = store
        self.format_name = format_name
        self.label = label
        self.seen_at = utc_now()
        self.on_records = on_records or (lambda count: None)
        self.on_file = on_file or (lambda result: None)
        self.record_outcomes = record_outcomes

    def ingest_paths(self, paths: Iterable[str | Path]) -> IngestReport:
        """Ingest every file, directory and archive member under ``paths``."""
        return self.ingest_inputs(iter_inputs(list(paths), self.input_limits))

    def ingest_inputs(self, entries: Iterable[InputFile | InputError]) -> IngestReport:
        """Ingest input files in order, committing every ``COMMIT_EVERY`` records and at the end.

        A full database or disk stops the run with ``IngestStopped``: what was committed stays, the rest of
        the group is rolled back.
        """
        report = IngestReport()
        committed = 0  # files in report.files whose writes are committed
        reading = 0  # 1 while a file is being stored, before it is in the report
        origin = "the last files"
        upcoming = Upcoming(entries, self._start_worker, self.parallel_from_bytes) if self.parallel else None
        run_bytes = 0  # the sizes of the files so far, this one included
        try:
            with fewer_collections(), self.store.write_group(self.cache_mb) as commit_now:
                pending = 0
                for entry in upcoming or entries:
                    origin, reading = entry.origin, 1
                    if isinstance(entry, InputError):
                        result = FileResult(entry.origin, error=entry.message, place=entry.place)
                    else:
                        try:
                            before, run_bytes = run_bytes, run_bytes + entry.size
                            # A large file, or the file with which the run's input reaches the setting (a first
                            # load of many small files: a year of daily listings): the files before it commit,
                            # and the rest of the run may go in with the store held alone (``write_group``).
                            if self.alone_from_bytes and (entry.size >= self.alone_from_bytes
                                                          or before < self.alone_from_bytes <= run_bytes):
                                commit_now(load_bytes=run_bytes)
                                committed, pending = len(report.files), 0
                            result = self.ingest_file(entry, upcoming)
                        finally:
                            entry.release()
                    report.files.append(result)
                    reading = 0
                    self.on_file(result)
                    pending += result.records
                    if pending >= COMMIT_EVERY:
                        commit_now()
                        committed = len(report.files)
                        pending = 0
        except StoreFullError as error:
            raise IngestStopped(origin, error, report, committed, len(report.files) - committed + reading) from error
        finally:
            if upcoming is not None:
                upcoming.close()
        return report

    def _start_worker(self) -> PrepareAhead | None:
        return PrepareAhead.start(self.format_name, self.label, self.field_limits, BATCH_SIZE)

    def ingest_file(self, entry: InputFile, upcoming: Upcoming | None = None) -> FileResult:
        """Ingest one file atomically (a savepoint inside the write group, or its own transaction);
        on bad input, roll it back whole and report where. With ``upcoming`` (``ingest_inputs``), its records
        may be prepared in the run's worker process."""
        if self.disk_check and (short := space.shortfall(entry.size, self.store.free_disk_bytes)):
            return FileResult(entry.origin, error=short)
        context = ParseContext(entry.origin, label=self.label, date_hint=entry.date_hint, modified=entry.modified)
        job = upcoming.job(entry) if upcoming is not None else None
        worker = upcoming.worker if job is not None and upcoming is not None else None
        try:
            try:
                if worker is not None and job is not None:
                    format_name, prepared = worker.open(job, context)
                else:
                    format_name, prepared = prepare.parse(entry.read(), context, self.format_name, self.field_limits)
                whole = entry.size < STORED_WHOLE_BELOW_BYTES
                if whole:  # a bad record or a failed read shows here, before anything of the file is written
                    prepared = list(prepared)
            except ParseError as error:
                return FileResult(entry.origin, error=error.message, place=error.place)
            except OSError as error:
                return FileResult(entry.origin, error=f"cannot read: {error.strerror or error}")
            result = self._store_prepared(entry.origin, format_name, prepared, whole)
            result.prepared_apart = job is not None and job.apart
        finally:
            if worker is not None and job is not None:
                worker.finish(job)  # stored, failed or interrupted: the worker drops what is left of it
        result.notes = list(dict.fromkeys(context.notes))  # the parser ran while the records were stored
        return result

    def ingest_prepared(self, origin: str, format_name: str, prepared: Iterable[Prepared]) -> FileResult:
        """Ingest the records of one file already parsed (``prepare.parse``) atomically, as ``ingest_file``:
        for a caller that reads the records itself (``library.import_bibtex`` keeps each entry's tags)."""
        return self._store_prepared(origin, format_name, prepared, whole=False)

    def _store_prepared(self, origin: str, format_name: str, prepared: Iterable[Prepared], whole: bool) -> FileResult:
        """``ingest_prepared``; ``whole``: ``prepared`` is every record of the file, in hand, so reading them cannot
        fail, and the file is written without a savepoint of its own (``STORED_WHOLE_BELOW_BYTES``)."""
        result = FileResult(origin, format_name)
        if self.record_outcomes:
            result.outcomes = []
        try:
            with self.store.ingest_session(savepoint=not whole) as session:
                position = 0
                for batch in _batches(prepared, BATCH_SIZE):
                    session.write(_merge_batch(session, batch, origin, self.seen_at, result, position))
                    position += len(batch)
                    self.on_records(len(batch))
        except (ParseError, OSError) as error:
            if whole:  # not from its records: its writes cannot be rolled back alone, so the run's are
                raise
            if isinstance(error, ParseError):
                return FileResult(origin, format_name, error=error.message, place=error.place)
            return FileResult(origin, format_name, error=f"cannot read: {error.strerror or error}")
        gone = set(result.joined)  # items a bridge joined into another exist no more
        result.changed_item_ids = [item_id for item_id in dict.fromkeys(result.changed_item_ids)  # once each
                                   if item_id not in gone]
        return result


def _batches(records: Iterable[Prepared], size: int) -> Iterator[list[Prepared]]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


def _merge_batch(session: IngestSession, batch_in: list[Prepared], origin: str, seen_at: str,
                 counts: FileResult, first: int = 0) -> BatchWrite:
    """Decide an item for each record of a batch, counting into ``counts`` (and its ``outcomes`` when kept;
    the batch's first record is the file's record ``first``); return the writes to make."""
    known = session.items_by_fingerprint(list({item.fingerprint for item in batch_in}))
    fresh: list[Prepared] = []
    fresh_positions: list[int] = []
    repeated: dict[int, str] = {}  # position in the batch -> fingerprint of a record met earlier in this batch
    decided: dict[int, tuple[int | None, str]] = {}  # position in the batch -> (item id, outcome)
    seen: set[str] = set()
    for position, item in enumerate(batch_in):
        if item.fingerprint in known:
            counts.unchanged += 1
            decided[position] = (known[item.fingerprint], "unchanged")
            continue
        if item.fingerprint in seen:  # the same record twice in one file counts once
            counts.unchanged += 1
            repeated[position] = item.fingerprint
            continue
        seen.add(item.fingerprint)
        if item.alone is None:  # left by the worker (prepare.Leave)
            item.complete()
        fresh.append(item)
        fresh_positions.append(position)

    placer = Placer(session, fresh, counts)
    by_identifier = placer.by_identifier
    # A record with an arXiv id can only be a near-duplicate of an item without one (two ids
    # that differ never merge, equal ones matched above), which keeps candidate sets small.
    keys_any: set[int] = set()
    keys_no_arxiv: set[int] = set()
    for item in fresh:
        if not any(i in by_identifier for i in item.identifiers):
            wanted = keys_no_arxiv if item.record.arxiv_id else keys_any
            wanted.update(item.block_keys)
            wanted.update(item.lookup_keys)
    by_key = session.items_by_block_key(list(keys_any))
    for key, item_ids in session.items_by_block_key(list(keys_no_arxiv - keys_any), without_arxiv_id=True).items():
        by_key[key] = item_ids
    summaries = session.summaries(list({item_id for ids in by_key.values() for item_id in ids}))

    next_ids = iter(session.allocate_item_ids(len(fresh)))
    born: dict[int, Record] = {}  # items new in this batch whose matcher summary is not made yet
    batch = placer.batch
    members = placer.members  # item id -> the records it gains in this batch
    abstracts = placer.abstracts
    fresh_outcomes: list[tuple[int | None, str]] = []
    for index, prepared in enumerate(fresh):
        record, ids, keys = prepared.record, prepared.identifiers, prepared.block_keys
        item_id, reason = placer.place(prepared, first + fresh_positions[index])
        if item_id is None and reason is None and not record.deleted:
            candidates = {c: summaries[c] for key in (*keys, *prepared.lookup_keys) for c in by_key.get(key, ())
                          if c in summaries or (c in born and _summarize_born(c, born, summaries, origin))}
            if candidates:
                incoming = merge.summarize(0, record.title, record.authors, record.year, record.arxiv_id,
                                           record.doi)
                best = merge.scored_match(incoming, origin, candidates.values())
                if best is not None:
                    item_id = placer.find(best.candidate.item_id)
                    best.candidate.origins.add(origin)
                    reason = {"by": "title", "item": item_id, **best.evidence(incoming)}
        if item_id is None:
            if record.deleted:
                counts.skipped += 1
                fresh_outcomes.append((None, "skipped"))
                continue
            item_id = next(next_ids)
            batch.new_item_ids.append(item_id)
            born[item_id] = record  # a later record of this batch (the same work listed again) may merge into it
            counts.new += 1
            fresh_outcomes.append((item_id, "new"))
            reason = reason or {"by": "new"}
            placer.add_identities(item_id, ids, new=True)
        else:
            counts.merged += 1
            fresh_outcomes.append((item_id, "merged"))
            placer.add_identities(item_id, ids)
        if item_id not in members:
            counts.changed_item_ids.append(item_id)
        for identifier in ids:
            # An identifier already held (stored, or given earlier in the batch) keeps its item: its row is there.
            if identifier not in by_identifier:
                by_identifier[identifier] = item_id
                batch.identifiers.append((*identifier, item_id))
        for key in keys:
            by_key.setdefault(key, []).append(item_id)
            batch.block_keys.append((key, item_id))
        members.setdefault(item_id, []).append(prepared)
        abstracts.setdefault(item_id, []).append(record.abstract)
        batch.source_records.append(SourceRecordRow(
            item_id, prepared.fingerprint, record.format, record.record_id, origin, record.label, seen_at, record.deleted,
            record.raw, prepared.data_json, reason, prepared.calendar,
        ))

    if placer.alias:
        fresh_outcomes = placer.settle(fresh_outcomes)
        decided = {position: (placer.find(item_id), outcome) for position, (item_id, outcome) in decided.items()}
    if counts.outcomes is not None:
        _record_outcomes(counts.outcomes, batch_in, first, known, decided, repeated, fresh, fresh_outcomes)

    new_ids = set(batch.new_item_ids)
    existing = [item_id for item_id in members if item_id not in new_ids]
    joined = placer.joined  # kept item -> stored items joined into it in this batch
    earlier = session.record_data([item_id for item_id in existing if item_id not in joined])
    current_abstracts = session.abstracts(existing + [gone for gones in joined.values() for gone in gones])
    for item_id, records in members.items():
        if item_id in new_ids and len(records) == 1:  # most new items: their fields were made with the record
            batch.items[item_id] = records[0].alone
            continue
        gained = [prepared.data for prepared in records]
        if item_id in new_ids:
            batch.items[item_id] = merge.resolve_item(gained, abstracts[item_id])
            continue
        if item_id in joined:  # a bridge: the item's fields come from every record of the items it joins
            before = session.record_data_in_order([item_id, *joined[item_id]])
            candidates = [current_abstracts[item_id], *(current_abstracts[gone] for gone in joined[item_id])]
            batch.items[item_id] = merge.resolve_item(before + gained, [*candidates, *abstracts[item_id]])
            continue
        before = earlier.get(item_id, [])
        fields = merge.resolve_item(before + gained, [current_abstracts[item_id], *abstracts[item_id]])
        # A re-listing usually changes nothing about the item: then only its new source record is written.
        if fields != merge.resolve_item(before, [current_abstracts[item_id]]):
            batch.items[item_id] = fields
    return batch


def _summarize_born(item_id: int, born: dict[int, Record], summaries: dict[int, merge.ItemSummary],
                    origin: str) -> bool:
    """Make the matcher summary of an item new in this batch, from its first record, when it is first a candidate."""
    record = born.pop(item_id)
    summary = summaries[item_id] = merge.summarize(item_id, record.title, record.authors, record.year,
                                                   record.arxiv_id, record.doi)
    summary.origins.add(origin)
    return True


def _record_outcomes(outcomes: list[RecordOutcome], batch_in: list[Prepared], first: int, known: dict[str, int],
                     decided: dict[int, tuple[int | None, str]], repeated: dict[int, str], fresh: list[Prepared],
                     fresh_outcomes: list[tuple[int | None, str]]) -> None:
    """Append the outcome of each record of a batch, in file order."""
    by_fingerprint = {item.fingerprint: outcome for item, outcome in zip(fresh, fresh_outcomes)}
    for position, item in enumerate(batch_in):
        if position in decided:
            item_id, outcome = decided[position]
        elif position in repeated:
            item_id = by_fingerprint[repeated[position]][0]
            outcome = "unchanged" if item_id is not None else "skipped"
        else:
            item_id, outcome = by_fingerprint[item.fingerprint]
        outcomes.append(RecordOutcome(first + position, item.record.record_id, item_id, outcome))


# -- a person's decisions: split records out of an item, merge two items -------------------------------------


class CurationError(ValueError):
    """A split or merge that cannot be done (an unknown item or record, nothing left behind); says which."""


@dataclass(slots=True)
class Curated:
    """What a split or merge did."""

    decision_id: int
    kind: str
    item_id: int
    """The item split from, or the item kept."""
    other_id: int
    """The new item of a split, or the item merged in (gone)."""
    records: list[str] = field(default_factory=list)

    @property
    def changed_item_ids(self) -> list[int]:
        """What ``pipeline.after_ingest`` takes: both items of a split, the kept item of a merge."""
        return [self.item_id, self.other_id] if self.kind == "split" else [self.item_id]


def split_item(store: Store, item_id: int, record_ids: list[str], actor: str) -> Curated:
    """Move the source records with these record ids (as in the export) out of ``item_id`` into a new item,
    and remember it: ingest keeps the two items apart, and later versions of the records join the new item.

    Identifiers go with the records that carry them (one that records on both sides carry stays); each item's
    fields and blocking keys are resolved again from its own records.
    """
    wanted = list(dict.fromkeys(record_id.strip() for record_id in record_ids if record_id.strip()))
    if not wanted:
        raise CurationError("name at least one record id to split off (see `paperfeed show ITEM --why`)")
    with store.ingest_session() as session:
        rows = session.source_rows(item_id)
        if not rows:
            raise CurationError(f"no item {item_id}")
        known = {row["record_id"] for row in rows}
        unknown = [record_id for record_id in wanted if record_id not in known]
        if unknown:
            raise CurationError(f"item {item_id} has no source record {', '.join(map(repr, unknown))} "
                                f"(its records: {', '.join(sorted(known))})")
        moving = [row for row in rows if row["record_id"] in wanted]
        staying = [row for row in rows if row["record_id"] not in wanted]
        if not staying:
            raise CurationError(f"splitting off every record of item {item_id} leaves it empty: name fewer")
        new_id = session.allocate_item_ids(1)[0]
        decision = session.record_decision("split", item_id, new_id, wanted, actor)
        current = session.abstracts([item_id])[item_id]
        fields_kept = merge.resolve_item([row["data"] for row in staying], _abstracts(staying, current))
        fields_new = merge.resolve_item([row["data"] for row in moving], _abstracts(moving, None))
        session.write(BatchWrite(new_item_ids=[new_id], items={item_id: fields_kept, new_id: fields_new}))
        session.move_records([row["id"] for row in moving], new_id,
                             [{"by": "split", "decision": decision, "from": item_id, "before": row["reason"]}
                              for row in moving])
        carried_by_staying = {i for row in staying for i in _identifiers(row)}
        session.set_identifiers(new_id, [i for row in moving for i in _identifiers(row)
                                         if i not in carried_by_staying])
        for target, side in ((item_id, staying), (new_id, moving)):
            session.set_block_keys(target, [key for row in side if row["data"].get("title") for key in
                                            merge.title_keys(row["data"]["title"], bool(row["data"].get("arxiv_id")))[0]])
        pins = [key for row in moving if (key := merge.pin_key(row["format"], row["record_id"], row["label"]))]
        session.keep_apart(item_id, new_id, decision, pins)
    return Curated(decision, "split", item_id, new_id, wanted)


def merge_items(store: Store, keep: int, gone: int, actor: str) -> Curated:
    """Join item ``gone`` into item ``keep`` (everything of it moves; it is deleted), and remember it."""
    if keep == gone:
        raise CurationError(f"cannot merge item {keep} with itself")
    with store.ingest_session() as session:
        abstracts = session.abstracts([keep, gone])
        for item_id in (keep, gone):
            if item_id not in abstracts:
                raise CurationError(f"no item {item_id}")
        decision = session.record_decision("merge", keep, gone, [], actor)
        session.absorb(keep, gone, {"by": "merge", "decision": decision})
        fields = merge.resolve_item(session.record_data_in_order([keep]), [abstracts[keep], abstracts[gone]])
        session.write(BatchWrite(items={keep: fields}))
    return Curated(decision, "merge", keep, gone)


def _identifiers(row: dict) -> list[tuple[str, str]]:
    return merge.stored_identifiers(row["data"], row["record_id"], row["label"])


def _abstracts(rows: list[dict], current: str | None) -> list[str]:
    """The abstracts of stored records, parsed again from their raw text; where one does not parse alone,
    the item's ``current`` abstract stands in (None: nothing)."""
    found = [prepare.stored_abstract(row["format"], row["raw"]) for row in rows]
    known = [text for text in found if text is not None]
    if len(known) < len(found) and current is not None:
        known.append(current)
    return known
