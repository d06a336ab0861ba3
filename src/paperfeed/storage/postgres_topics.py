"""PostgreSQL side of ``TopicStorage``: a mixin of ``PostgresStore`` sharing its connection ``self._conn``.

Topic models, item topics, author identities. Mirrors ``sqlite_topics.py``; behaviour must match it (the same tests run on both backends).
"""

from __future__ import annotations

from .topics_base import TopicStorage

MIGRATIONS: list[tuple[str, str]] = []
"""This area's migrations, under the same names as SQLite's ('0003_topics_and_authors'); postgres_schema lists them in order."""


class PostgresTopicStorage(TopicStorage):
    """Topic models, item topics, author identities in PostgreSQL."""
