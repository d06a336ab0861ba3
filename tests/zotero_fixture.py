"""A small Zotero library database (``zotero.sqlite``) for the Zotero parser's tests, built from Zotero's schema.

Only the tables the parser reads are created, each with the column definitions of Zotero's own schema
(``resource/schema/userdata.sql`` in https://github.com/zotero/zotero, documented at
https://www.zotero.org/support/dev/client_coding/direct_sqlite_database_access); foreign keys and the tables
the parser does not read are left out. Field and item-type names are Zotero's (``title``, ``abstractNote``,
``DOI``, ``archiveID``, ``publicationTitle``; ``journalArticle``, ``preprint``, ``attachment``); their numeric ids
are assigned here, as each Zotero database has its own. Dates are stored as Zotero stores them: the SQL date,
a space, then the date as typed (``2023-10-23 October 23, 2023``; unknown parts are ``00``).

The library holds: a journal article in two collections (one nested) with a Zotero tag; an arXiv preprint with
an editor (not an author) and its PDF attachment (not a paper); a report by an organization (a single-field
name); and a conference paper in the trash. Pages are 512 bytes so that the file stays small (a fuzzing seed).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE itemTypes (itemTypeID INTEGER PRIMARY KEY, typeName TEXT, templateItemTypeID INT, display INT DEFAULT 1);
CREATE TABLE fields (fieldID INTEGER PRIMARY KEY, fieldName TEXT, fieldFormatID INT);
CREATE TABLE creatorTypes (creatorTypeID INTEGER PRIMARY KEY, creatorType TEXT);
CREATE TABLE items (
    itemID INTEGER PRIMARY KEY, itemTypeID INT NOT NULL,
    dateAdded TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, dateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    clientDateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    libraryID INT NOT NULL, key TEXT NOT NULL, version INT NOT NULL DEFAULT 0, synced INT NOT NULL DEFAULT 0,
    UNIQUE (libraryID, key));
CREATE TABLE itemDataValues (valueID INTEGER PRIMARY KEY, value UNIQUE);
CREATE TABLE itemData (itemID INT, fieldID INT, valueID, PRIMARY KEY (itemID, fieldID));
CREATE TABLE creators (creatorID INTEGER PRIMARY KEY, firstName TEXT, lastName TEXT, fieldMode INT,
    UNIQUE (lastName, firstName, fieldMode));
CREATE TABLE itemCreators (itemID INT NOT NULL, creatorID INT NOT NULL, creatorTypeID INT NOT NULL DEFAULT 1,
    orderIndex INT NOT NULL DEFAULT 0, PRIMARY KEY (itemID, creatorID, creatorTypeID, orderIndex),
    UNIQUE (itemID, orderIndex));
CREATE TABLE collections (
    collectionID INTEGER PRIMARY KEY, collectionName TEXT NOT NULL,
    clientDateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, parentCollectionID INT DEFAULT NULL,
    libraryID INT NOT NULL, key TEXT NOT NULL, version INT NOT NULL DEFAULT 0, synced INT NOT NULL DEFAULT 0,
    UNIQUE (libraryID, key));
CREATE TABLE collectionItems (collectionID INT NOT NULL, itemID INT NOT NULL, orderIndex INT NOT NULL DEFAULT 0,
    PRIMARY KEY (collectionID, itemID));
CREATE TABLE tags (tagID INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE itemTags (itemID INT NOT NULL, tagID INT NOT NULL, type INT NOT NULL, PRIMARY KEY (itemID, tagID));
CREATE TABLE deletedItems (itemID INTEGER PRIMARY KEY, dateDeleted DEFAULT CURRENT_TIMESTAMP NOT NULL);
"""

ITEM_TYPES = {"journalArticle": 1, "preprint": 2, "conferencePaper": 3, "report": 4, "attachment": 5, "note": 6}
CREATOR_TYPES = {"author": 1, "editor": 2, "contributor": 3}

# (itemID, type, key, fields, creators [(first, last, fieldMode, creator type)])
ITEMS = [
    (1, "journalArticle", "ABCD2345", {
        "title": "Single-cell atlas of the regenerating axolotl limb",
        "abstractNote": "We profile 150,000 cells across six stages of axolotl limb regeneration.",
        "publicationTitle": "Developmental Cell", "date": "2023-10-23 October 23, 2023",
        "DOI": "10.1016/j.devcel.2023.09.004", "url": "https://doi.org/10.1016/j.devcel.2023.09.004"},
     [("Chidi N.", "Okafor", 0, "author"), ("Anna", "Lindqvist", 0, "author"), ("Paul", "van der Berg", 0, "author")]),
    (2, "preprint", "EFGH6789", {
        "title": "Sparse Adapters for Continual Instruction Tuning", "repository": "arXiv",
        "archiveID": "arXiv:2310.05521", "url": "http://arxiv.org/abs/2310.05521", "date": "2023-10-09 2023-10-09",
        "extra": "arXiv: 2310.05521"},
     [("Kwame", "Asante", 0, "author"), ("Yuki", "Tanaka", 0, "author"), ("María", "López", 0, "author"),
      ("Ed", "Itor", 0, "editor")]),
    (3, "attachment", "PDFA0001", {"title": "Asante et al. - 2023 - Sparse Adapters.pdf"}, []),
    (4, "report", "IJKL0123", {"title": "Global Tuberculosis Report 2024", "date": "2024-11-00 November 2024"},
     [(None, "World Health Organization", 1, "author")]),
    (5, "conferencePaper", "MNOP4567", {"title": "A paper in the trash", "date": "2020-00-00 2020"},
     [("Tr", "Ash", 0, "author")]),
]
COLLECTIONS = [(1, "Biology", None, "COLL0001"), (2, "Regeneration", 1, "COLL0002"), (3, "Reading group", None,
                                                                                        "COLL0003")]
COLLECTION_ITEMS = [(2, 1), (3, 1), (3, 2)]
TAGS = [(1, "to-read")]
ITEM_TAGS = [(1, 1, 0)]
DELETED = [5]


def build_zotero_library(path: Path) -> Path:
    """Write the fixture library to ``path`` (a new file) and return it."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA page_size = 512")
        connection.executescript(SCHEMA)
        connection.executemany("INSERT INTO itemTypes (itemTypeID, typeName) VALUES (?, ?)",
                               [(number, name) for name, number in ITEM_TYPES.items()])
        connection.executemany("INSERT INTO creatorTypes VALUES (?, ?)",
                               [(number, name) for name, number in CREATOR_TYPES.items()])
        field_ids: dict[str, int] = {}
        value_ids: dict[str, int] = {}
        creator_ids: dict[tuple, int] = {}
        for item_id, type_name, key, fields, creators in ITEMS:
            connection.execute("INSERT INTO items (itemID, itemTypeID, libraryID, key) VALUES (?, ?, 1, ?)",
                               (item_id, ITEM_TYPES[type_name], key))
            for name, value in fields.items():
                if name not in field_ids:
                    field_ids[name] = len(field_ids) + 1
                    connection.execute("INSERT INTO fields (fieldID, fieldName) VALUES (?, ?)", (field_ids[name], name))
                if value not in value_ids:
                    value_ids[value] = len(value_ids) + 1
                    connection.execute("INSERT INTO itemDataValues VALUES (?, ?)", (value_ids[value], value))
                connection.execute("INSERT INTO itemData VALUES (?, ?, ?)",
                                   (item_id, field_ids[name], value_ids[value]))
            for order, (first, last, mode, creator_type) in enumerate(creators):
                person = (first or "", last, mode)
                if person not in creator_ids:
                    creator_ids[person] = len(creator_ids) + 1
                    connection.execute("INSERT INTO creators VALUES (?, ?, ?, ?)", (creator_ids[person], *person))
                connection.execute("INSERT INTO itemCreators VALUES (?, ?, ?, ?)",
                                   (item_id, creator_ids[person], CREATOR_TYPES[creator_type], order))
        connection.executemany("INSERT INTO collections (collectionID, collectionName, parentCollectionID, libraryID,"
                               " key) VALUES (?, ?, ?, 1, ?)", COLLECTIONS)
        connection.executemany("INSERT INTO collectionItems (collectionID, itemID) VALUES (?, ?)", COLLECTION_ITEMS)
        connection.executemany("INSERT INTO tags VALUES (?, ?)", TAGS)
        connection.executemany("INSERT INTO itemTags VALUES (?, ?, ?)", ITEM_TAGS)
        connection.executemany("INSERT INTO deletedItems (itemID) VALUES (?)", [(item,) for item in DELETED])
        connection.commit()
    finally:
        connection.close()
    return path


def zotero_library_bytes(directory: Path) -> bytes:
    """The fixture library's bytes (built under ``directory``)."""
    return build_zotero_library(directory / "zotero.sqlite").read_bytes()
