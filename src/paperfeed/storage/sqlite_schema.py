"""Named, append-only migrations for the SQLite backend. Never edit one that has shipped: add another."""

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
]
