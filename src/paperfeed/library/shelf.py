"""A user's library: saved papers with tags, "not relevant" marks, and BibTeX imports matched to items."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..inputs import InputFile, InputLimits, read_regular_file
from ..storage import Store

if TYPE_CHECKING:
    from ..pipeline import PipelineReport

TAG_MAX = 64
_TAG = re.compile(r"^[\w][\w .+/:-]*$")


class LibraryError(ValueError):
    """A bad tag, an unknown paper, a BibTeX file that cannot be read."""


def check_tag(tag: str) -> str:
    """Return a tag stripped and lower-cased, or raise LibraryError saying why it is refused."""
    cleaned = " ".join(tag.split()).lower()
    if any(ord(ch) < 32 for ch in tag) or not cleaned or len(cleaned) > TAG_MAX or not _TAG.match(cleaned):
        raise LibraryError(f"tag {tag!r} is not allowed (letters, digits, space and _ . + / : -; "
                           f"at most {TAG_MAX} characters)")
    return cleaned


def _item(store: Store, reference: str | int) -> int:
    """The item of a reference (an id, arXiv id or URL, or DOI), or LibraryError; an int is an item id the caller
    has just resolved, used as it is (the web resolves before its write turn, so the turn holds only the write)."""
    if isinstance(reference, int):
        return reference
    item_id = store.find_item(reference)
    if item_id is None:
        raise LibraryError(f"no paper {reference!r} in the store (give an item id, arXiv id or URL, or DOI)")
    return item_id


def save_item(store: Store, user_id: int, reference: str | int, tags: list[str] = ()) -> int:
    """Save a paper to a user's library with ``tags`` added; return its item id."""
    item_id = _item(store, reference)
    store.set_library_state(user_id, item_id, "saved", [check_tag(tag) for tag in tags])
    return item_id


def mark_not_relevant(store: Store, user_id: int, reference: str | int) -> int:
    """Mark a paper "not relevant" for a user (a negative for every tag's recommendations)."""
    item_id = _item(store, reference)
    store.set_library_state(user_id, item_id, "not_relevant")
    return item_id


def remove_item(store: Store, user_id: int, reference: str | int) -> int:
    """Take a paper out of a user's library (saved or not relevant)."""
    item_id = _item(store, reference)
    store.set_library_state(user_id, item_id, None)
    return item_id


@dataclass(slots=True)
class ImportReport:
    """What a BibTeX import did."""

    entries: int = 0
    matched: int = 0
    """Entries that merged into items the store had."""
    ingested: int = 0
    """Entries the store did not know: new items."""
    tagged: dict[str, int] = field(default_factory=dict)
    item_ids: list[int] = field(default_factory=list)
    after: "PipelineReport | None" = None
    """What tagging and indexing the imported items did (``pipeline.after_ingest``), when settings were given."""


def import_bibtex(store: Store, user_id: int, path: Path, tags: list[str] = (), settings=None,
                  progress=None) -> ImportReport:
    """Import a BibTeX file (``import_library`` with the format fixed)."""
    return import_library(store, user_id, path, tags, settings, progress, format_name="bibtex")


def import_library(store: Store, user_id: int, path: Path, tags: list[str] = (), settings=None,
                   progress=None, format_name: str | None = None) -> ImportReport:
    """Ingest a reference library (BibTeX, RIS, CSL-JSON, a Zotero ``zotero.sqlite``, or any other source format;
    detected from the file when ``format_name`` is None), save every entry to the user's library and tag it.

    Entries are matched to stored items the way every ingest merges (arXiv id, DOI, then title and
    authors); unknown ones become new items. Each entry gets ``tags`` plus its own tags (``extra["tags"]``:
    BibTeX keywords, RIS ``KW``, CSL ``keyword``, Zotero collections and tags).
    With ``settings``, what was stored is then tagged with topics and indexed (``pipeline.after_ingest``,
    reported in ``after``) so that search finds it at once.
    """
    from ..ingest import Ingester
    from ..prepare import parse
    from ..records import ParseContext, ParseError

    fixed = [check_tag(tag) for tag in tags]
    try:
        # Bounded like every ingest read, and never blocking on a named pipe or a device given as the file.
        data = read_regular_file(path, InputLimits.from_settings(settings).max_input_bytes)
    except OSError as error:
        raise LibraryError(f"cannot read {path}: {error.strerror or error}") from None
    # The context an ingest of the file gives its records (a date in the file name is a hint to the parser).
    context = ParseContext(str(path), date_hint=InputFile(str(path), path.name, lambda: data, len(data)).date_hint)
    try:
        format_name, parsed = parse(data, context, format_name)
        prepared = list(parsed)  # read once: the ingest stores them, and each entry's own tags come from them
    except ParseError as error:
        raise LibraryError(f"{path}: {error}") from None
    result = Ingester(store, format_name=format_name, record_outcomes=True).ingest_prepared(str(path), format_name,
                                                                                           prepared)
    if result.failed:
        place = f" at {result.place}" if result.place else ""
        raise LibraryError(f"{path}{place}: {result.error}")
    report = ImportReport(entries=len(prepared), ingested=result.new, matched=result.merged)
    for record, outcome in zip(prepared, result.outcomes or ()):
        item_id = outcome.item_id
        if item_id is None:  # an entry the ingest skipped (a tombstone for an item the store never had)
            continue
        own = []
        for tag in record.record.extra.get("tags", []):
            try:
                own.append(check_tag(tag))
            except LibraryError:
                continue  # a tag we cannot keep does not fail the import of its paper
        entry_tags = sorted(set(fixed + own))
        store.set_library_state(user_id, item_id, "saved", entry_tags)
        report.item_ids.append(item_id)
        for tag in entry_tags:
            report.tagged[tag] = report.tagged.get(tag, 0) + 1
    if settings is not None:
        from ..pipeline import after_ingest

        report.after = after_ingest(store, settings, result.changed_item_ids, progress=progress)
    return report
