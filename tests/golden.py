"""Golden-file comparison for parser tests (as in lemon24/reader: expected parse beside the input)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

DATA = Path(__file__).parent / "data"


def record_as_dict(record) -> dict:
    """A Record as plain JSON data; the raw text is represented by its length and SHA-256 prefix."""
    data = dataclasses.asdict(record)
    raw = data.pop("raw")
    data["topics"] = [list(pair) for pair in data["topics"]]
    data["raw_sha256"] = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]
    return data


def assert_golden(records, golden_name: str) -> None:
    """Compare parsed records with ``tests/data/golden/<golden_name>.json``.

    Set PAPERFEED_UPDATE_GOLDEN=1 to (re)write the file; read the diff before committing it.
    """
    path = DATA / "golden" / f"{golden_name}.json"
    actual = [record_as_dict(record) for record in records]
    if os.environ.get("PAPERFEED_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(actual, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert len(actual) == len(expected), f"{golden_name}: {len(actual)} records, golden has {len(expected)}"
    for index, (got, want) in enumerate(zip(actual, expected)):
        assert json.loads(json.dumps(got)) == want, f"{golden_name}: record {index} differs"
