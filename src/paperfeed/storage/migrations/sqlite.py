"""Named, append-only migrations for the SQLite backend. Never edit one that has shipped: add another."""

from . import LOGIN_FAILURES, RATE_LIMITS

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_items_and_provenance",
        """
        CREATE TABLE items (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('paper', 'news')),
            title TEXT NOT NULL,
            abstract TEXT NOT NULL DEFAULT '',
            arxiv_id TEXT,
            doi TEXT,
            url TEXT,
            published TEXT,
            year INTEGER,
            upvotes INTEGER NOT NULL DEFAULT 0,
            withdrawn INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX items_published ON items (published);
        CREATE INDEX items_arxiv_id ON items (arxiv_id);

        CREATE TABLE source_records (
            id INTEGER PRIMARY KEY,
            item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
            fingerprint TEXT NOT NULL UNIQUE,
            format TEXT NOT NULL,
            record_id TEXT NOT NULL,
            origin TEXT NOT NULL,
            label TEXT,
            seen_at TEXT NOT NULL,
            deleted INTEGER NOT NULL DEFAULT 0,
            raw TEXT NOT NULL,
            -- merge.record_data: the normalized fields merging reads (JSON, abstract left out).
            data TEXT NOT NULL
        );
        CREATE INDEX source_records_item ON source_records (item_id);

        CREATE TABLE identifiers (
            scheme TEXT NOT NULL,
            value TEXT NOT NULL,
            item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
            PRIMARY KEY (scheme, value)
        ) WITHOUT ROWID;
        CREATE INDEX identifiers_item ON identifiers (item_id);

        -- Title blocking keys (merge.block_keys): hashed word runs, looked up by key only.
        CREATE TABLE block_keys (
            key INTEGER NOT NULL,
            item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
            PRIMARY KEY (key, item_id)
        ) WITHOUT ROWID;

        CREATE TABLE authors (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            key TEXT NOT NULL
        );
        CREATE INDEX authors_key ON authors (key);

        CREATE TABLE item_authors (
            item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            author_id INTEGER NOT NULL REFERENCES authors (id),
            PRIMARY KEY (item_id, position)
        ) WITHOUT ROWID;
        CREATE INDEX item_authors_author ON item_authors (author_id);

        CREATE TABLE item_categories (
            item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            category TEXT NOT NULL,
            PRIMARY KEY (item_id, position)
        ) WITHOUT ROWID;
        CREATE INDEX item_categories_category ON item_categories (category);

        CREATE TABLE topics (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            slug TEXT NOT NULL UNIQUE
        );

        CREATE TABLE item_topics (
            item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
            topic_id INTEGER NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
            assigned_by TEXT NOT NULL,
            confidence REAL NOT NULL CHECK (confidence BETWEEN 0 AND 1),
            PRIMARY KEY (item_id, topic_id, assigned_by)
        ) WITHOUT ROWID;
        CREATE INDEX item_topics_topic ON item_topics (topic_id);
        """,
    ),
    (
        "0002_sources_and_sync_state",
        """
        CREATE TABLE sources (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            url TEXT,
            label TEXT,
            options TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL
        );

        -- One row per source: the cursor (JSON) says where its next sync starts, the rest is its last outcome.
        CREATE TABLE sync_state (
            source TEXT PRIMARY KEY REFERENCES sources (name) ON DELETE CASCADE,
            cursor TEXT NOT NULL DEFAULT '{}',
            last_run_at TEXT,
            last_ok_at TEXT,
            last_error TEXT,
            last_error_at TEXT,
            failures INTEGER NOT NULL DEFAULT 0,
            last_summary TEXT
        );
        """,
    ),
    (
        "0003_topics_and_authors",
        """
        -- A topic's definition (taxonomy.toml, topics_file, paperfeed topics add); origin says which.
        -- Topics first seen in a capture header keep the defaults and origin 'source'.
        ALTER TABLE topics ADD COLUMN description TEXT NOT NULL DEFAULT '';
        ALTER TABLE topics ADD COLUMN categories TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE topics ADD COLUMN phrases TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE topics ADD COLUMN origin TEXT NOT NULL DEFAULT 'source';

        -- The tagger's trained models ('topics', 'categories'): metadata as JSON, weights as numpy .npz bytes
        -- read with allow_pickle=False, so a store file from elsewhere cannot run code when loaded.
        CREATE TABLE tagger_models (
            name TEXT PRIMARY KEY,
            version TEXT NOT NULL,
            trained_at TEXT NOT NULL,
            meta TEXT NOT NULL,
            arrays BLOB NOT NULL
        );

        -- Which model versions tagged an item and what its updated_at was then: retagging visits only
        -- items never tagged, tagged by an older model, or changed since.
        CREATE TABLE item_tag_state (
            item_id INTEGER PRIMARY KEY REFERENCES items (id) ON DELETE CASCADE,
            version TEXT NOT NULL,
            item_updated_at TEXT NOT NULL
        );

        -- Categories predicted for items that have none of their own (news, captures, BibTeX).
        CREATE TABLE predicted_categories (
            item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
            category TEXT NOT NULL,
            confidence REAL NOT NULL CHECK (confidence BETWEEN 0 AND 1),
            PRIMARY KEY (item_id, category)
        ) WITHOUT ROWID;

        -- Merged author identities (authors.py): only authors merged into another one have a row.
        CREATE TABLE author_identities (
            author_id INTEGER PRIMARY KEY REFERENCES authors (id) ON DELETE CASCADE,
            identity_id INTEGER NOT NULL REFERENCES authors (id) ON DELETE CASCADE
        );
        CREATE INDEX author_identities_identity ON author_identities (identity_id);
        CREATE INDEX item_topics_by_topic ON item_topics (topic_id, assigned_by, confidence);
        """,
    ),
    (
        "0004_search_change_log_and_vectors",
        """
        -- One row per changed item, its sequence bumped on every change: search indexes replay the log
        -- from the last sequence they applied, so they are never silently stale.
        CREATE TABLE search_changes (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            item_id INTEGER NOT NULL
        );
        CREATE UNIQUE INDEX search_changes_item ON search_changes (item_id);
        INSERT INTO search_changes (item_id) SELECT id FROM items ORDER BY id;

        CREATE TRIGGER items_search_insert AFTER INSERT ON items BEGIN
            INSERT OR REPLACE INTO search_changes (item_id) VALUES (NEW.id);
        END;
        CREATE TRIGGER items_search_update AFTER UPDATE ON items BEGIN
            INSERT OR REPLACE INTO search_changes (item_id) VALUES (NEW.id);
        END;
        CREATE TRIGGER items_search_delete AFTER DELETE ON items BEGIN
            INSERT OR REPLACE INTO search_changes (item_id) VALUES (OLD.id);
        END;
        CREATE TRIGGER item_topics_search_insert AFTER INSERT ON item_topics BEGIN
            INSERT OR REPLACE INTO search_changes (item_id) VALUES (NEW.item_id);
        END;
        CREATE TRIGGER item_topics_search_delete AFTER DELETE ON item_topics BEGIN
            INSERT OR REPLACE INTO search_changes (item_id) VALUES (OLD.item_id);
        END;

        -- Embeddings per model, float16; text_hash says whether the item's text changed since.
        CREATE TABLE item_vectors (
            item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
            model TEXT NOT NULL,
            text_hash TEXT NOT NULL,
            vector BLOB NOT NULL,
            PRIMARY KEY (model, item_id)
        );
        """,
    ),
    (
        "0005_users_library_votes_digests",
        """
        -- The Daily Papers calendar, derived from source records (refresh_daily_dates scans new ones by id):
        -- one row per record that dates an item. kind says which date it is: 'picked' (Hugging Face daily
        -- papers day), 'announced' (an arXiv listing day) or 'published' (any other source's own date).
        CREATE TABLE daily_dates (
            record_id INTEGER PRIMARY KEY REFERENCES source_records (id) ON DELETE CASCADE,
            item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('picked', 'announced', 'published')),
            day TEXT NOT NULL
        );
        CREATE INDEX daily_dates_day ON daily_dates (day, item_id);
        CREATE INDEX daily_dates_item ON daily_dates (item_id, day);

        -- Small key/value state: the daily_dates scan cursor, generated signing secrets.
        CREATE TABLE app_state (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );

        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL UNIQUE COLLATE NOCASE,
            password_hash TEXT NOT NULL,
            created_at TEXT NOT NULL
        );

        -- Only a hash of the session token is stored: a leaked database file opens no sessions.
        CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        );
        CREATE INDEX sessions_user ON sessions (user_id);

        -- A user's verdict on an item: 'saved' (in the library, with tags below) or 'not_relevant'.
        CREATE TABLE library (
            user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
            state TEXT NOT NULL CHECK (state IN ('saved', 'not_relevant')),
            added_at TEXT NOT NULL,
            PRIMARY KEY (user_id, item_id)
        ) WITHOUT ROWID;

        CREATE TABLE library_tags (
            user_id INTEGER NOT NULL,
            tag TEXT NOT NULL,
            item_id INTEGER NOT NULL,
            PRIMARY KEY (user_id, tag, item_id),
            FOREIGN KEY (user_id, item_id) REFERENCES library (user_id, item_id) ON DELETE CASCADE
        ) WITHOUT ROWID;

        -- Local upvotes, kept apart from Hugging Face's (items.upvotes): one per user and item.
        CREATE TABLE votes (
            user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
            voted_at TEXT NOT NULL,
            PRIMARY KEY (item_id, user_id)
        ) WITHOUT ROWID;

        -- Papers users put on a day's list; the first submitter of an item for a day is kept.
        CREATE TABLE submissions (
            item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
            day TEXT NOT NULL,
            user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
            submitted_at TEXT NOT NULL,
            PRIMARY KEY (item_id, day)
        ) WITHOUT ROWID;
        CREATE INDEX submissions_day ON submissions (day);

        CREATE TABLE subscribers (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL UNIQUE COLLATE NOCASE,
            user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'unsubscribed')),
            created_at TEXT NOT NULL,
            changed_at TEXT NOT NULL
        );

        -- The sent log: a row is written before a digest goes to the SMTP server ('sending') and marked
        -- 'sent' after; a rerun skips both, so a crash never makes a subscriber get a day twice.
        CREATE TABLE digest_log (
            subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
            day TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('sending', 'sent')),
            message_id TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (subscriber_id, day)
        ) WITHOUT ROWID;
        """,
    ),
    RATE_LIMITS,
    LOGIN_FAILURES,
    (
        "0008_merge_reasons_and_decisions",
        """
        -- Why each source record is in its item (JSON, see ingest.py): the identifier it shares, a bridge,
        -- a title match with its score and evidence, or a person's decision. NULL for records stored before.
        ALTER TABLE source_records ADD COLUMN reason TEXT;

        -- A person's split and merge decisions, kept as history (the ids as they were then).
        -- split: records (a JSON list of record ids) left item_id for the new item other_id;
        -- merge: other_id was joined into item_id (and is gone).
        CREATE TABLE merge_decisions (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('split', 'merge')),
            item_id INTEGER NOT NULL,
            other_id INTEGER NOT NULL,
            records TEXT NOT NULL DEFAULT '[]',
            actor TEXT NOT NULL,
            made_at TEXT NOT NULL
        );

        -- Items a person split apart: ingest never joins them again (a record bridging them is a conflict).
        CREATE TABLE items_apart (
            item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
            other_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
            decision_id INTEGER NOT NULL REFERENCES merge_decisions (id) ON DELETE CASCADE,
            PRIMARY KEY (item_id, other_id)
        ) WITHOUT ROWID;
        CREATE INDEX items_apart_other ON items_apart (other_id);

        -- Source records a person moved (merge.pin_key): a later version of the record joins the same item.
        CREATE TABLE record_pins (
            key TEXT PRIMARY KEY,
            item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
            decision_id INTEGER NOT NULL REFERENCES merge_decisions (id) ON DELETE CASCADE
        ) WITHOUT ROWID;
        CREATE INDEX record_pins_item ON record_pins (item_id);
        """,
    ),
    (
        "0009_user_roles",
        """
        -- 'admin' may split and merge items from the web app and the API.
        ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin'));
        """,
    ),
    (
        "0010_author_people",
        """
        -- People (authors.py): who wrote what, beyond name strings. One name string may be several people
        -- (two different "Wei Wang") and several spellings one person (José García, J. García). author_id is
        -- the spelling the person is mostly written as (the name their page goes by).
        CREATE TABLE people (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            author_id INTEGER NOT NULL REFERENCES authors (id) ON DELETE CASCADE
        );
        CREATE INDEX people_author ON people (author_id);

        -- Who each author slot of an item is: (item, position) -> person. author_id is the name the slot
        -- held when it was decided; a slot whose name has changed since is read as undecided.
        CREATE TABLE item_people (
            item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            author_id INTEGER NOT NULL REFERENCES authors (id) ON DELETE CASCADE,
            person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
            PRIMARY KEY (item_id, position)
        ) WITHOUT ROWID;
        CREATE INDEX item_people_person ON item_people (person_id, item_id);
        CREATE INDEX item_people_author ON item_people (author_id);

        -- A user's decision about people (paperfeed authors split / merge), kept by every later refresh.
        -- 'merge': the slots of side 0 are one person. 'split': the slots of side 0 are one person, and
        -- none of them is the person of any slot of side 1. A slot is (item, author name).
        CREATE TABLE author_decisions (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('split', 'merge')),
            created_at TEXT NOT NULL
        );
        CREATE TABLE author_decision_slots (
            decision_id INTEGER NOT NULL REFERENCES author_decisions (id) ON DELETE CASCADE,
            side INTEGER NOT NULL CHECK (side IN (0, 1)),
            item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
            author_id INTEGER NOT NULL REFERENCES authors (id) ON DELETE CASCADE,
            PRIMARY KEY (decision_id, side, item_id, author_id)
        ) WITHOUT ROWID;
        CREATE INDEX author_decision_slots_author ON author_decision_slots (author_id);
        """,
    ),
    (
        "0011_sync_runs",
        """
        -- Every sync of a source, kept 400 days: what `paperfeed sources status` and /status answer
        -- "why no new papers?" from (new records per day, the failures and their messages).
        CREATE TABLE sync_runs (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL REFERENCES sources (name) ON DELETE CASCADE,
            finished_at TEXT NOT NULL,
            ok BOOLEAN NOT NULL,
            error TEXT,
            new INTEGER NOT NULL DEFAULT 0,
            merged INTEGER NOT NULL DEFAULT 0,
            unchanged INTEGER NOT NULL DEFAULT 0,
            pages INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX sync_runs_source ON sync_runs (source, finished_at);
        """,
    ),
    (
        "0012_follows",
        """
        -- What a signed-in user follows: a saved search (its query, filters included, as typed), a topic (slug),
        -- a person (id) or a keyword. Each has its own feed, and may join the user's digest mail.
        CREATE TABLE follows (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('search', 'topic', 'person', 'keyword')),
            target TEXT NOT NULL,
            label TEXT NOT NULL,
            in_digest BOOLEAN NOT NULL DEFAULT FALSE,
            created_at TEXT NOT NULL,
            UNIQUE (user_id, kind, target)
        );

        -- The version of a user's private feed token (an HMAC of user and version): revoking bumps it, and
        -- every feed URL handed out before stops working at once. No row: version 0.
        CREATE TABLE feed_keys (
            user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
            version INTEGER NOT NULL
        );
        """,
    ),
    (
        "0013_comments",
        """
        -- A discussion thread per item (library/comments.py). body is the author's Markdown as typed; body_html
        -- its sanitised rendering, made on write (html_version says by which renderer, so a newer one can
        -- render again on read). A deleted comment keeps its row with the text erased; an admin's hide keeps
        -- the text for admins. Comments move with their item when items are merged.
        CREATE TABLE comments (
            id INTEGER PRIMARY KEY,
            item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            body TEXT NOT NULL,
            body_html TEXT NOT NULL,
            html_version INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            edited_at TEXT,
            deleted_at TEXT,
            hidden_at TEXT,
            hidden_by INTEGER REFERENCES users (id) ON DELETE SET NULL
        );
        CREATE INDEX comments_item ON comments (item_id, id);
        CREATE INDEX comments_user ON comments (user_id);
        """,
    ),
    (
        "0014_item_tldr",
        """
        -- An item's TL;DR (summaries/): its text, where it came from ('extractive' or 'llm:<model>') and the
        -- hash of the abstract it was made from, so a changed abstract makes it stale (never shown, made again).
        CREATE TABLE item_tldrs (
            item_id INTEGER PRIMARY KEY REFERENCES items (id) ON DELETE CASCADE,
            text TEXT NOT NULL,
            origin TEXT NOT NULL,
            abstract_hash TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX item_tldrs_origin ON item_tldrs (origin);
        """,
    ),
    (
        "0015_digest_frequency",
        """
        -- A subscriber gets the digest daily (the day's papers) or weekly (the ISO week's, on its Monday's key
        -- in digest_log, written 'week:YYYY-MM-DD' so it never meets a day's row).
        ALTER TABLE subscribers ADD COLUMN frequency TEXT NOT NULL DEFAULT 'daily'
            CHECK (frequency IN ('daily', 'weekly'));
        """,
    ),
    (
        "0016_topic_cutoffs",
        """
        -- Each topic's calibrated cut-off (topics/tagger.py): a tagged item is filed under the topic when its
        -- confidence is at or above it; those below are kept but not listed by default. NULL: no cut-off yet.
        -- cutoff_precision: the share of held-out items at or above the cut-off that truly had the topic.
        ALTER TABLE topics ADD COLUMN cutoff REAL CHECK (cutoff BETWEEN 0 AND 1);
        ALTER TABLE topics ADD COLUMN cutoff_precision REAL CHECK (cutoff_precision BETWEEN 0 AND 1);
        """,
    ),
    (
        "0017_fulltext_title_index",
        """
        -- PostgreSQL only (a GIN index on its full text's titles); SQLite's keyword index is a tantivy
        -- directory. Recorded here too so that both backends report the same history.
        SELECT 1;
        """,
    ),
    (
        "0018_search_log_inserts_per_batch",
        """
        -- Inserted items are logged for search by their writers, one statement per batch
        -- (SearchStorage.log_inserted_items), in the inserting transaction: this trigger's INSERT OR REPLACE per
        -- row was 0.6 of the 0.95 CPU s of inserting the listings' items. Updates, deletes and retags keep their
        -- triggers.
        DROP TRIGGER items_search_insert;
        """,
    ),
    (
        "0019_indexes_for_item_deletes",
        """
        -- Every table that refers to an item can find its rows by item. Joining two items (a record that bridges
        -- them, a person's merge) deletes one, and the delete cascades to each of these tables; a join and a
        -- split also read and rewrite one item's blocking keys. Without an index led by item_id each of those
        -- was a scan of the whole table: every item's keys, every item's vectors (millions after a whole-arXiv
        -- bootstrap). PostgreSQL had block_keys_item from its first migration.
        CREATE INDEX block_keys_item ON block_keys (item_id);
        CREATE INDEX item_vectors_item ON item_vectors (item_id);
        CREATE INDEX library_item ON library (item_id);
        CREATE INDEX author_decision_slots_item ON author_decision_slots (item_id);
        """,
    ),
    (
        "0020_source_record_ids_given",
        """
        -- PostgreSQL only (its identity column now takes the ids ingest gives); SQLite's rowid always did.
        -- Recorded here too so that both backends report the same history.
        SELECT 1;
        """,
    ),
    (
        "0021_affiliated_records_index",
        """
        -- The source records that give authors' affiliations (arXiv OAI and API metadata), by item: each chunk of
        -- an author identity refresh reads its papers' affiliations (PeopleStorage._author_affiliations, whose
        -- WHERE names this index's condition word for word, as the planner needs), and without it read the JSON
        -- of every record of those papers, 2.1 of a chunk's 20 s in a whole-arXiv store that holds none. An
        -- insert tests the condition (1.4 µs a record) and indexes only the records that meet it.
        CREATE INDEX source_records_affiliated ON source_records (item_id) WHERE data LIKE '%"affiliations"%';
        """,
    ),
    (
        "0022_item_people_without_author_index",
        """
        -- item_people's name index goes: a store-wide identity refresh inserted each slot's row into it at random
        -- (its slots come in paper order), 2.1-2.7 of a chunk's 18 s at 2.7 million papers. The one statement that
        -- read by it (PeopleStorage.save_people: the earlier people of a chunk's names) now finds them through
        -- item_authors' name index, and authors are never deleted, so their foreign key needs no child index.
        DROP INDEX IF EXISTS item_people_author;
        """,
    ),
    (
        "0023_item_dates_index",
        """
        -- Each paper's dates by id, narrow: each chunk of an author identity refresh reads the dates of its papers
        -- (about 140,000 of a whole-arXiv store, spread over it), and from the items table that meant a page of
        -- titles and abstracts per paper: 0.8 s of a chunk with the store cached, 10.6 to 27 s when it was not (a
        -- 14 GB store, 23 GB of memory). Read through this index (PeopleStorage.author_graph names it:
        -- SQLiteDialect.dated_items), 0.4 s. Ids only grow, so an insert appends to it.
        CREATE INDEX items_dates ON items (id, published, year);
        """,
    ),
]
