"""The storage interface the web app reads through beyond the shared item and search reads."""

from __future__ import annotations

import abc
from typing import Any


class WebStorage(abc.ABC):
    """Small reads the pages need: a record's format-specific extras, recent items for feeds."""

    @abc.abstractmethod
    def item_extras(self, item_id: int) -> list[dict[str, Any]]:
        """The ``extra`` fields (github_repo, venue, upvotes, …) of an item's source records, in the order seen."""

    @abc.abstractmethod
    def item_summaries(self, item_ids: list[int]) -> dict[int, dict[str, Any]]:
        """id, kind, title, published, arxiv_id and author names of each existing item among ``item_ids``."""

    @abc.abstractmethod
    def item_author_ids(self, item_id: int) -> list[tuple[int, str]]:
        """(author id, name) of an item's authors in order."""
