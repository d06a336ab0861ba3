"""Zotero libraries read straight from their ``zotero.sqlite`` database.

The file's bytes are read once (as every input is: bounded by ``max_input_bytes``) and opened as an in-memory
SQLite database (``sqlite3.Connection.deserialize``): the library file itself is never opened by SQLite, so
reading it is safe while Zotero runs and holds its lock, and nothing is ever written to it. A database in WAL
mode is read as of its last checkpoint (changes still in ``zotero.sqlite-wal`` are not seen; closing Zotero
checkpoints them).

Tables read (Zotero's schema, ``userdata.sql`` in zotero/zotero): ``items``, ``itemTypes``, ``itemData``,
``itemDataValues``, ``fields``, ``creators``, ``itemCreators``, ``creatorTypes``, ``deletedItems`` (the trash,
skipped), ``collections`` and ``collectionItems`` (collection names become the record's tags, as BibTeX
keywords do), ``tags`` and ``itemTags`` (Zotero's own tags, also kept as tags). Attachments, notes and
annotations are not papers and are skipped. Each item's record id is its Zotero key within its library.

A crafted database could make a query run without end (a view in place of a table): every table read must be a
real table, and all queries together stop after ``MAX_QUERY_SECONDS``.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator

from ..normalize import arxiv_id, clean_text, clean_title, person_name
from ..records import ParseContext, ParseError, Record
from .scholarly import day_and_year, keep, split_doi

FORMAT = "zotero"

DEFAULT_LABEL = "Zotero library"
SQLITE_HEADER = b"SQLite format 3\x00"
MAX_QUERY_SECONDS = 120
"""All queries of one database together stop after this long (a library of 50,000 items takes a few seconds)."""

REQUIRED_TABLES = ("items", "itemTypes", "itemData", "itemDataValues", "fields")
OPTIONAL_TABLES = ("creators", "itemCreators", "creatorTypes", "deletedItems", "collections", "collectionItems",
                   "tags", "itemTags")
_SKIPPED_TYPES = ("attachment", "note", "annotation")
_VENUE_FIELDS = ("publicationTitle", "proceedingsTitle", "bookTitle", "conferenceName", "websiteTitle")
_PREPRINT_VENUES = {"arxiv", "arxiv.org", "biorxiv", "medrxiv"}


def sniff(head: bytes, name: str) -> bool:
    """An SQLite database with Zotero's tables (``itemDataValues`` in its schema) or named ``zotero*.sqlite``."""
    if not head.startswith(SQLITE_HEADER):
        return False
    lower = name.lower()
    return b"itemDataValues" in head or (lower.startswith("zotero") and lower.endswith(".sqlite"))


def parse(data: bytes, context: ParseContext) -> Iterator[Record]:
    """Yield one Record per regular item (not in the trash), in item id order."""
    if not data.startswith(SQLITE_HEADER):
        raise ParseError("not an SQLite database (a Zotero library is zotero.sqlite in Zotero's data folder)",
                         "byte 0")
    if len(data) >= 20 and data[18:20] == b"\x02\x02":
        # WAL mode: an in-memory copy cannot have a WAL file; marked as a rollback-journal database, SQLite reads
        # the main file as it stands (as of the last checkpoint).
        data = data[:18] + b"\x01\x01" + data[20:]
    label = context.label or DEFAULT_LABEL
    connection = sqlite3.connect(":memory:")
    # A damaged file can hold text that is not UTF-8: keep what reads, mark the rest (U+FFFD), as the other
    # parsers do, instead of failing the whole library (found by the fuzz suite).
    connection.text_factory = lambda raw: raw.decode("utf-8", "replace")
    try:
        deadline = time.monotonic() + MAX_QUERY_SECONDS
        connection.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 10_000)
        try:
            connection.deserialize(data)
            connection.execute("PRAGMA query_only = ON")
            rows = _read(connection)
        except sqlite3.OperationalError as error:
            if "interrupted" in str(error):
                raise ParseError(f"reading the database took more than {MAX_QUERY_SECONDS} seconds",
                                 "database") from None
            raise ParseError(f"cannot read the Zotero database: {error}", "database") from None
        except (sqlite3.DatabaseError, MemoryError, OverflowError) as error:
            raise ParseError(f"not a readable SQLite database: {error}", "database") from None
    finally:
        connection.close()
    yield from (_record(item, label) for item in rows)


def _tables(connection: sqlite3.Connection) -> set[str]:
    return {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _read(connection: sqlite3.Connection) -> list[dict]:
    tables = _tables(connection)
    missing = [name for name in REQUIRED_TABLES if name not in tables]
    if missing:
        raise ParseError(f"not a Zotero library: no table {', '.join(missing)}", "database")
    has = {name: name in tables for name in OPTIONAL_TABLES}
    trash = "AND i.itemID NOT IN (SELECT itemID FROM deletedItems)" if has["deletedItems"] else ""
    items: dict[int, dict] = {}
    for item_id, key, library, type_name in connection.execute(
            "SELECT i.itemID, i.key, i.libraryID, t.typeName FROM items i JOIN itemTypes t USING (itemTypeID) "
            f"WHERE t.typeName NOT IN ({', '.join('?' * len(_SKIPPED_TYPES))}) {trash} ORDER BY i.itemID",
            _SKIPPED_TYPES):
        items[item_id] = {"item_id": item_id, "key": _str(key), "library": library, "type": _str(type_name),
                          "fields": {}, "creators": [], "tags": []}
    for item_id, field, value in connection.execute(
            "SELECT d.itemID, f.fieldName, v.value FROM itemData d JOIN fields f USING (fieldID) "
            "JOIN itemDataValues v USING (valueID)"):
        if item_id in items and isinstance(field, str):
            items[item_id]["fields"][field] = _str(value)
    if has["creators"] and has["itemCreators"]:
        kind = ("LEFT JOIN creatorTypes t USING (creatorTypeID)", "t.creatorType") if has["creatorTypes"] else (
            "", "'author'")
        for item_id, first, last, mode, creator_type in connection.execute(
                f"SELECT ic.itemID, c.firstName, c.lastName, c.fieldMode, {kind[1]} FROM itemCreators ic "
                f"JOIN creators c USING (creatorID) {kind[0]} ORDER BY ic.itemID, ic.orderIndex"):
            if item_id in items:
                items[item_id]["creators"].append((_str(first), _str(last), mode, _str(creator_type) or "author"))
    if has["collections"] and has["collectionItems"]:
        for item_id, name in connection.execute(
                "SELECT ci.itemID, c.collectionName FROM collectionItems ci JOIN collections c USING (collectionID) "
                "ORDER BY ci.itemID, c.collectionName"):
            _add_tag(items.get(item_id), name)
    if has["tags"] and has["itemTags"]:
        for item_id, name in connection.execute(
                "SELECT it.itemID, t.name FROM itemTags it JOIN tags t USING (tagID) ORDER BY it.itemID, t.name"):
            _add_tag(items.get(item_id), name)
    return list(items.values())


def _str(value) -> str:
    """A column value as text (SQLite columns may hold any type)."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _add_tag(item: dict | None, name) -> None:
    tag = clean_text(_str(name))
    if item is not None and tag and tag not in item["tags"]:
        item["tags"].append(tag)


def _record(item: dict, label: str) -> Record:
    fields = item["fields"]
    place = f"item {item['key'] or item['item_id']}"
    title = clean_title(fields.get("title"))
    if not title:
        raise ParseError("item has no title", place)
    doi_value, arxiv = split_doi(fields.get("DOI") or _extra_line(fields.get("extra"), "DOI"))
    url = clean_text(fields.get("url")) or None
    if not arxiv:
        # Zotero's preprints hold "arXiv:2005.14165" in archiveID; older items an "arXiv: ..." line in extra.
        arxiv_url = url if url and "arxiv.org" in url else None
        for value in (fields.get("archiveID"), arxiv_url, _extra_line(fields.get("extra"), "arXiv")):
            arxiv = arxiv_id(value)
            if arxiv:
                break
    published, year = day_and_year(fields.get("date"))
    venue = next((clean_text(fields[name]) for name in _VENUE_FIELDS if clean_text(fields.get(name))), "")
    if venue.lower() in _PREPRINT_VENUES:
        venue = ""
    creators = item["creators"]
    authors_only = [c for c in creators if c[3] == "author"] or [c for c in creators if c[3] != "editor"]
    authors = []
    for first, last, mode, _ in authors_only:
        # fieldMode 1: a single-field name (an organization) kept whole in lastName.
        name = person_name(last if mode == 1 or not first else f"{first} {last}")
        if name:
            authors.append(name)
    raw = "\n".join(f"{name}: {value}" for name, value in sorted(fields.items()))
    return Record(
        format=FORMAT,
        record_id=f"{item['library']}/{item['key']}" if item["key"] else f"{item['library']}/{item['item_id']}",
        title=title,
        raw=f"itemType: {item['type']}\n{raw}",
        abstract=clean_text(fields.get("abstractNote")),
        authors=authors,
        arxiv_id=arxiv,
        doi=doi_value,
        url=url,
        published=published,
        year=year,
        label=label,
        extra=keep({"entry_type": item["type"] or None, "venue": venue or None, "tags": item["tags"],
                    "zotero_key": item["key"] or None}),
    )


def _extra_line(extra: str | None, name: str) -> str | None:
    """A ``Name: value`` line of Zotero's ``extra`` field (``arXiv: 2005.14165``, ``DOI: 10...``), or None."""
    for line in (extra or "").splitlines():
        head, _, value = line.partition(":")
        if head.strip().lower() == name.lower() and value.strip():
            return value.strip()
    return None
