"""Golden-file comparison for parser tests (as in lemon24/reader: expected parse beside the input).

A mismatch fails with the fields that differ, record by record. ``PAPERFEED_UPDATE_GOLDEN=1`` rewrites a golden file
and still fails the test (read ``git diff``, then rerun without it), so a run with the switch on never passes; with
``CI`` set the switch is refused outright (see also ``conftest.py``, which refuses such a run before it starts).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
UPDATE = "PAPERFEED_UPDATE_GOLDEN"
MAX_DIFFERENCES = 40
"""At most this many differing fields are listed (then how many more there are)."""


def in_ci() -> bool:
    """Whether this is a CI run (``CI`` set to anything but empty, 0, false or no, as CI services set it)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def update_requested() -> bool:
    return os.environ.get(UPDATE, "").strip() not in ("", "0")


def record_as_dict(record) -> dict:
    """A Record as plain JSON data; the raw text is represented by its length and SHA-256 prefix."""
    data = dataclasses.asdict(record)
    raw = data.pop("raw")
    data["topics"] = [list(pair) for pair in data["topics"]]
    data["raw_sha256"] = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]
    return data


def differences(actual, expected, where: str = "") -> list[str]:
    """One line per differing field: ``record 3 .authors[1]: parsed 'A. B.', golden 'A B'`` (recursive)."""
    if isinstance(actual, dict) and isinstance(expected, dict):
        lines = []
        for key in sorted(set(actual) | set(expected)):
            at = f"{where}.{key}"
            if key not in expected:
                lines.append(f"{at}: parsed {_show(actual[key])}, not in the golden file")
            elif key not in actual:
                lines.append(f"{at}: not parsed, golden {_show(expected[key])}")
            else:
                lines.extend(differences(actual[key], expected[key], at))
        return lines
    if isinstance(actual, list) and isinstance(expected, list):
        if len(actual) != len(expected):
            return [f"{where}: parsed {len(actual)} values {_show(actual)}, golden {len(expected)} {_show(expected)}"]
        return [line for index, (got, want) in enumerate(zip(actual, expected))
                for line in differences(got, want, f"{where}[{index}]")]
    if actual != expected or type(actual) is not type(expected):
        return [f"{where}: parsed {_show(actual)}, golden {_show(expected)}"]
    return []


def _show(value, limit: int = 200) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def compare(actual: list[dict], expected: list[dict]) -> list[str]:
    """Every difference between parsed records and the golden ones, as readable lines."""
    lines = []
    if len(actual) != len(expected):
        lines.append(f"{len(actual)} records parsed, the golden file has {len(expected)}")
    for index, (got, want) in enumerate(zip(actual, expected)):
        lines.extend(f"record {index} {line}" for line in differences(got, want))
    for index in range(len(expected), len(actual)):
        lines.append(f"record {index}: parsed, not in the golden file (title {_show(actual[index].get('title'))})")
    for index in range(len(actual), len(expected)):
        lines.append(f"record {index}: in the golden file, not parsed (title {_show(expected[index].get('title'))})")
    return lines


def _report(golden_name: str, lines: list[str]) -> str:
    shown = lines[:MAX_DIFFERENCES]
    more = f"\n  ... and {len(lines) - len(shown)} more" if len(lines) > len(shown) else ""
    return f"{golden_name}: {len(lines)} difference(s) from the golden file:\n  " + "\n  ".join(shown) + more


def assert_golden(records, golden_name: str, directory: Path | None = None) -> None:
    """Compare parsed records with ``tests/data/golden/<golden_name>.json``, failing with the fields that differ.

    PAPERFEED_UPDATE_GOLDEN=1 (re)writes the file and fails the test all the same (refused when CI is set):
    read ``git diff`` before committing it, then rerun without the switch.
    """
    path = (directory or DATA / "golden") / f"{golden_name}.json"
    # Through JSON and back, as the golden file holds it (tuples become lists).
    actual = json.loads(json.dumps([record_as_dict(record) for record in records]))
    expected = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
    if update_requested():
        if in_ci():
            pytest.fail(f"{UPDATE} is set in a CI run: golden files are rewritten only by hand, never by CI",
                        pytrace=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(actual, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
        changes = compare(actual, expected) if expected is not None else ["new golden file"]
        pytest.fail(f"{UPDATE}: rewrote {path} ({_report(golden_name, changes) if changes else 'unchanged'}); "
                    f"read `git diff`, then rerun without {UPDATE}: a run with it set never passes", pytrace=False)
    if expected is None:
        pytest.fail(f"{golden_name}: no golden file {path}; write it with {UPDATE}=1 and read it", pytrace=False)
    lines = compare(actual, expected)
    if lines:
        pytest.fail(_report(golden_name, lines), pytrace=False)
