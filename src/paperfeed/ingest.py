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

from . import merge
from .inputs import InputError, InputFile, iter_inputs
from .normalize import utc_now
from .records import ParseContext, ParseError, Record
from .sources import detect_format, get_format
from .storage import BatchWrite, IngestSession, SourceRecordRow, Store

BATCH_SIZE = 2000
COMMIT_EVERY = 20000
"""Records after which a run of small files commits; a crash loses at most this much work, never half a file."""


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
        return sum(getattr(result, name) for result in self.files)


class Ingester:
    """Ingest files into a store, merging each record into the item it belongs to."""

    def __init__(self, store: Store, *, format_name: str | None = None, label: str | None = None,
                 on_records: Callable[[int], None] | None = None,
                 on_file: Callable[[FileResult], None] | None = None) -> None:
        if format_name:
            get_format(format_name)  # fail fast on a bad --format, before any file is read
        self.store = store
        self.format_name = format_name
        self.label = label
        self.seen_at = utc_now()
        self.on_records = on_records or (lambda count: None)
        self.on_file = on_file or (lambda result: None)

    def ingest_paths(self, paths: Iterable[str | Path]) -> IngestReport:
        """Ingest every file, directory and archive member under ``paths``."""
        return self.ingest_inputs(iter_inputs(list(paths)))

    def ingest_inputs(self, entries: Iterable[InputFile | InputError]) -> IngestReport:
        """Ingest input files, committing every ``COMMIT_EVERY`` records and at the end."""
        report = IngestReport()
        with self.store.write_group() as commit_now:
            pending = 0
            for entry in entries:
                if isinstance(entry, InputError):
                    result = FileResult(entry.origin, error=entry.message, place=entry.place)
                else:
                    result = self.ingest_file(entry)
                report.files.append(result)
                self.on_file(result)
                pending += result.records
                if pending >= COMMIT_EVERY:
                    commit_now()
                    pending = 0
        return report

    def ingest_file(self, entry: InputFile) -> FileResult:
        """Ingest one file atomically (a savepoint inside the write group); on bad input, roll it
        back whole and report where."""
        result = FileResult(entry.origin)
        context = ParseContext(entry.origin, label=self.label, date_hint=entry.date_hint)
        try:
            data = entry.read()
            module = get_format(self.format_name) if self.format_name else detect_format(data, entry.name)
            result.format = module.FORMAT
            with self.store.ingest_session() as session:
                for batch in _batches(_parser_bugs_as_errors(module.parse(data, context)), BATCH_SIZE):
                    counts, changes = _merge_batch(session, batch, entry.origin, self.seen_at)
                    session.write(changes)
                    result.new += counts.new
                    result.merged += counts.merged
                    result.unchanged += counts.unchanged
                    result.skipped += counts.skipped
                    self.on_records(len(batch))
        except ParseError as error:
            return FileResult(entry.origin, result.format, error=error.message, place=error.place)
        except OSError as error:
            return FileResult(entry.origin, result.format, error=f"cannot read: {error.strerror or error}")
        return result


def _parser_bugs_as_errors(records: Iterator[Record]) -> Iterator[Record]:
    """Turn a parser's unexpected exception into a ParseError, so a parser bug fails its own file
    and not the whole run (store errors raised outside the parser still propagate)."""
    try:
        yield from records
    except ParseError:
        raise
    except Exception as error:
        raise ParseError(f"internal error while parsing ({type(error).__name__}: {error}); please report it") from error


def _batches(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


@dataclass(slots=True)
class _Counts:
    new: int = 0
    merged: int = 0
    unchanged: int = 0
    skipped: int = 0


def _merge_batch(session: IngestSession, records: list[Record], origin: str,
                 seen_at: str) -> tuple[_Counts, BatchWrite]:
    """Decide an item for each record of a batch; return the counts and the writes to make."""
    counts = _Counts()
    origin_name = origin.rsplit("!", 1)[-1].rsplit("/", 1)[-1]
    prints = [merge.fingerprint(record, origin_name) for record in records]
    known = session.known_fingerprints(list(set(prints)))

    fresh: list[tuple[Record, str, list[tuple[str, str]], list[str]]] = []
    for record, print_ in zip(records, prints):
        if print_ in known:
            counts.unchanged += 1
            continue
        known.add(print_)  # the same record twice in one file counts once
        fresh.append((record, print_, merge.identifiers(record, record.label),
                      merge.block_keys(record.title) if record.title else []))

    by_identifier = session.items_by_identifier(list({i for _, _, ids, _ in fresh for i in ids}))
    # A record with an arXiv id can only be a near-duplicate of an item without one (two ids
    # that differ never merge, equal ones matched above), which keeps candidate sets small.
    keys_any: set[int] = set()
    keys_no_arxiv: set[int] = set()
    for record, _, ids, keys in fresh:
        if not any(i in by_identifier for i in ids):
            (keys_no_arxiv if record.arxiv_id else keys_any).update(keys)
    by_key = session.items_by_block_key(list(keys_any))
    for key, item_ids in session.items_by_block_key(list(keys_no_arxiv - keys_any), without_arxiv_id=True).items():
        by_key[key] = item_ids
    summaries = session.summaries(list({item_id for ids in by_key.values() for item_id in ids}))

    next_ids = iter(session.allocate_item_ids(len(fresh)))
    batch = BatchWrite()
    members: dict[int, list[dict]] = {}  # item id -> data of the records it gains in this batch
    abstracts: dict[int, list[str]] = {}
    for record, print_, ids, keys in fresh:
        item_id = next((by_identifier[i] for i in ids if i in by_identifier), None)
        if item_id is None and not record.deleted:
            candidates = {c: summaries[c] for key in keys for c in by_key.get(key, ()) if c in summaries}
            if candidates:
                incoming = merge.summarize(0, record.title, record.authors, record.year, record.arxiv_id,
                                           record.doi)
                best = merge.best_match(incoming, origin, candidates.values())
                if best is not None:
                    item_id = best.item_id
                    best.origins.add(origin)
        if item_id is None:
            if record.deleted:
                counts.skipped += 1
                continue
            item_id = next(next_ids)
            batch.new_item_ids.append(item_id)
            counts.new += 1
        else:
            counts.merged += 1
        for identifier in ids:
            by_identifier.setdefault(identifier, item_id)
            batch.identifiers.append((*identifier, item_id))
        for key in keys:
            by_key.setdefault(key, []).append(item_id)
            batch.block_keys.append((key, item_id))
        data = merge.record_data(record)
        members.setdefault(item_id, []).append(data)
        abstracts.setdefault(item_id, []).append(record.abstract)
        batch.source_records.append(SourceRecordRow(
            item_id, print_, record.format, record.record_id, origin, record.label, seen_at, record.deleted,
            record.raw, data,
        ))

    new_ids = set(batch.new_item_ids)
    existing = [item_id for item_id in members if item_id not in new_ids]
    earlier = session.record_data(existing)
    current_abstracts = session.abstracts(existing)
    for item_id, gained in members.items():
        if item_id in new_ids:
            batch.items[item_id] = merge.resolve_item(gained, abstracts[item_id])
            continue
        before = earlier.get(item_id, [])
        fields = merge.resolve_item(before + gained, [current_abstracts[item_id], *abstracts[item_id]])
        # A re-listing usually changes nothing about the item: then only its new source record is written.
        if fields != merge.resolve_item(before, [current_abstracts[item_id]]):
            batch.items[item_id] = fields
    return counts, batch
