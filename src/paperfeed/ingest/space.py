"""Will a large file fit? The disk an ingest needs, estimated before it starts rather than found out hours later.

A file is stored in one transaction (per-file atomicity), so while it runs SQLite keeps every changed page in
the write-ahead log beside the store as well as in the store itself. Measured on the whole-arXiv snapshot's
schema (docs/benchmarks.md, "Bootstrap"): 5.57 GB of JSON Lines made a 17.9 GB store, 3.2 bytes of store per
byte read, and the log grew to about the store's size before it was copied in. So a file needs about
``2 × STORE_BYTES_PER_INPUT_BYTE × its size`` free. Small files are not checked: their need is within what any
working disk has, and the estimate is for bulk metadata, not for a capture that merges into items already stored.
"""

from __future__ import annotations

from typing import Callable

STORE_BYTES_PER_INPUT_BYTE = 3.2
"""Store growth per byte of a bulk metadata file (17.9 GB from 5.57 GB of the snapshot's schema)."""
CHECKED_FROM_BYTES = 256 << 20
"""Files below this size are ingested without a check."""


def bytes_needed(input_bytes: int) -> int:
    """Free disk an ingest of ``input_bytes`` needs: the store's growth, and the log of its one transaction."""
    return int(2 * STORE_BYTES_PER_INPUT_BYTE * input_bytes)


def shortfall(input_bytes: int, free_bytes: Callable[[], int | None]) -> str | None:
    """Why a file of ``input_bytes`` should not start with ``free_bytes()`` free (None: it may; so does unknown).
    The disk is asked only about a file large enough to be checked (an archive's members are thousands)."""
    if input_bytes < CHECKED_FROM_BYTES:
        return None
    free_bytes = free_bytes()
    if free_bytes is None:
        return None
    needed = bytes_needed(input_bytes)
    if free_bytes >= needed:
        return None
    return (f"not enough free disk beside the store: a {_gb(input_bytes)} file needs about {_gb(needed)} "
            f"(the store grows about {STORE_BYTES_PER_INPUT_BYTE:g}x the file, and its write-ahead log as much "
            f"again while the file's one transaction runs); {_gb(free_bytes)} free. Free some space, or set "
            f"ingest_disk_check to false to try anyway (a full disk stops the ingest and loses nothing stored)")


def _gb(count: int) -> str:
    return f"{count / 1e9:,.1f} GB" if count >= 1e8 else f"{count / 1e6:,.0f} MB"
