"""Approximate nearest neighbours over item vectors: a usearch HNSW graph kept beside the store.

Why usearch over hnswlib and faiss: it stores vectors quantized to int8 (a quarter of float32, so a
million 256-dimension vectors take 256 MB), supports removing and re-adding keys for incremental
updates, and can serve a saved index memory-mapped, so several readers share one copy.
"""

from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path

import numpy as np
from usearch.index import Index

CONNECTIVITY = 16
EXPANSION_ADD = 48
EXPANSION_SEARCH = 96


class _View:
    """A saved graph mapped read-only, shared by every reader of this process (a web server keeps a search service
    per pooled connection, 16 per process: each mapping the file itself counted its pages up to 16 times in the
    resident set). Searches of one view take turns: usearch keeps one search context per thread slot, and two
    callers would share slot 0."""

    _all: "weakref.WeakValueDictionary[tuple, _View]" = weakref.WeakValueDictionary()
    _all_lock = threading.Lock()

    def __init__(self, index: Index) -> None:
        self.index = index
        self.lock = threading.Lock()

    @classmethod
    def of(cls, path: Path, open_view) -> "_View":
        # Keyed by the file itself: a writer replaces it (a new inode) when it saves.
        found = path.stat()
        key = (str(path.resolve()), found.st_dev, found.st_ino, found.st_mtime_ns, found.st_size)
        with cls._all_lock:
            view = cls._all.get(key)
            if view is None:
                view = cls._all[key] = cls(open_view())
            return view


class VectorIndex:
    """Cosine-similarity HNSW over unit vectors keyed by item id."""

    def __init__(self, path: Path, dim: int, writable: bool = False) -> None:
        self.path = path
        self.dim = dim
        self.writable = writable
        self._mtime: float | None = None
        self._lock = threading.Lock()
        self._view: _View | None = None
        self.index = self._open()

    def _new(self) -> Index:
        return Index(ndim=self.dim, metric="cos", dtype="i8", connectivity=CONNECTIVITY,
                     expansion_add=EXPANSION_ADD, expansion_search=EXPANSION_SEARCH)

    def _open(self) -> Index:
        if not self.path.exists():
            return self._new()
        self._mtime = self.path.stat().st_mtime
        if self.writable:
            index = self._new()
            index.load(str(self.path))
        else:
            # Readers map the file: several server workers share one copy in memory, and the readers of one
            # process share one mapping.
            self._view = _View.of(self.path, lambda: Index.restore(str(self.path), view=True))
            self._lock = self._view.lock
            index = self._view.index
        if index is None or index.ndim != self.dim:
            raise ValueError(f"{self.path} holds vectors of another dimension; rebuild with `paperfeed index --rebuild`")
        index.expansion_search = EXPANSION_SEARCH
        return index

    def refresh(self) -> None:
        """Reopen the file when a writer replaced it since it was opened."""
        if self.path.exists() and self.path.stat().st_mtime != self._mtime:
            self.index = self._open()

    def __len__(self) -> int:
        return len(self.index)

    def upsert(self, item_ids: list[int], vectors: np.ndarray) -> None:
        """Add or replace the vectors of ``item_ids``."""
        if not item_ids:
            return
        keys = np.asarray(item_ids, dtype=np.uint64)
        present = keys[np.asarray(self.index.contains(keys), dtype=bool)]
        if len(present):
            self.index.remove(present)
        self.index.add(keys, vectors)

    def remove(self, item_ids: list[int]) -> None:
        keys = np.asarray(item_ids, dtype=np.uint64)
        present = keys[np.asarray(self.index.contains(keys), dtype=bool)] if len(keys) else keys
        if len(present):
            self.index.remove(present)

    def save(self) -> None:
        """Write the index atomically: readers keep their old mapping until they refresh."""
        temporary = self.path.with_suffix(".tmp")
        self.index.save(str(temporary))
        os.replace(temporary, self.path)
        self._mtime = self.path.stat().st_mtime

    def search(self, vector: np.ndarray, count: int, exclude: int | None = None) -> list[tuple[int, float]]:
        """(item id, cosine similarity) of the ``count`` nearest items, best first."""
        if len(self.index) == 0 or count <= 0:
            return []
        with self._lock:
            matches = self.index.search(vector, count + (exclude is not None))
        results = [(int(key), float(1.0 - distance)) for key, distance in zip(matches.keys, matches.distances)
                   if int(key) != exclude]
        return results[:count]

    def vector(self, item_id: int) -> np.ndarray | None:
        """The stored (quantized) vector of an item, as float32; None when absent."""
        with self._lock:
            found = self.index.get(np.uint64(item_id), dtype=np.float32)
        return None if found is None else np.asarray(found, dtype=np.float32).reshape(-1)
