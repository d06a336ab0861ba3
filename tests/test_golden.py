"""The golden-file check itself: a mismatch names the fields that differ; the update switch never lets a run pass."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from golden import DATA, UPDATE, assert_golden
from paperfeed.records import ParseContext
from paperfeed.sources import hf_daily

NAME = "hf_daily_2024-05-27"
INPUT = DATA / "hf" / "2024-05-27.json"
GOLDEN = DATA / "golden" / f"{NAME}.json"


@pytest.fixture
def records():
    return list(hf_daily.parse(INPUT.read_bytes(), ParseContext(str(INPUT))))


@pytest.fixture
def altered(tmp_path) -> Path:
    """A copy of a real golden file with one title, one author and one field changed, and one record fewer."""
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    golden[1]["title"] = "A title the parser never gave"
    golden[2]["authors"][0] = "Nobody Atall"
    del golden[3]["url"]
    golden.pop()
    path = tmp_path / f"{NAME}.json"
    path.write_text(json.dumps(golden, indent=1), encoding="utf-8")
    return path


@pytest.fixture
def no_switch(monkeypatch):
    monkeypatch.delenv(UPDATE, raising=False)
    monkeypatch.delenv("CI", raising=False)
    return monkeypatch


def test_a_mismatch_names_each_differing_field(records, altered, no_switch):
    with pytest.raises(pytest.fail.Exception) as failure:
        assert_golden(records, NAME, altered.parent)
    message = str(failure.value)
    real = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert message.startswith(f"{NAME}: 5 difference(s) from the golden file:\n")
    assert f"{len(real)} records parsed, the golden file has {len(real) - 1}" in message
    assert f'record 1 .title: parsed {json.dumps(real[1]["title"])}, golden "A title the parser never gave"' in message
    assert f'record 2 .authors[0]: parsed {json.dumps(real[2]["authors"][0])}, golden "Nobody Atall"' in message
    assert f'record 3 .url: parsed {json.dumps(real[3]["url"])}, not in the golden file' in message
    assert f"record {len(real) - 1}: parsed, not in the golden file (title " in message


def test_a_match_passes(records, no_switch):
    assert_golden(records, NAME)


def test_the_update_switch_rewrites_the_file_and_still_fails(records, altered, no_switch):
    no_switch.setenv(UPDATE, "1")
    with pytest.raises(pytest.fail.Exception) as failure:
        assert_golden(records, NAME, altered.parent)
    message = str(failure.value)
    assert message.startswith(f"{UPDATE}: rewrote {altered} ({NAME}: 5 difference(s)")
    assert 'golden "A title the parser never gave"' in message and "a run with it set never passes" in message
    assert json.loads(altered.read_text(encoding="utf-8")) == json.loads(GOLDEN.read_text(encoding="utf-8"))
    with pytest.raises(pytest.fail.Exception, match=r"rewrote .* \(unchanged\)"):  # even when nothing changed
        assert_golden(records, NAME, altered.parent)
    no_switch.delenv(UPDATE)
    assert_golden(records, NAME, altered.parent)


@pytest.mark.parametrize("ci", ["true", "1", "yes"])
def test_the_update_switch_is_refused_in_ci_and_writes_nothing(records, altered, no_switch, ci):
    before = altered.read_bytes()
    no_switch.setenv(UPDATE, "1")
    no_switch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match=f"{UPDATE} is set in a CI run"):
        assert_golden(records, NAME, altered.parent)
    assert altered.read_bytes() == before


@pytest.mark.slow
def test_a_ci_run_with_the_update_switch_stops_before_any_test(tmp_path):
    goldens = {path: path.read_bytes() for path in (DATA / "golden").glob("*.json")}
    env = {**os.environ, UPDATE: "1", "CI": "true"}
    tests = Path(__file__).parent
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(tests / "test_sources_text.py"), "-k", "golden"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert f"{UPDATE} is set in a CI run" in result.stderr and " passed" not in result.stdout
    assert {path: path.read_bytes() for path in (DATA / "golden").glob("*.json")} == goldens
