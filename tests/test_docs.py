"""The README documents every command, setting and source format (as sqlite-utils' test_docs does)."""

from pathlib import Path

import pytest

from paperfeed.cli import cli
from paperfeed.config import describe
from paperfeed.sources import format_names

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_is_in_the_readme(command):
    assert f"paperfeed {command}" in README


@pytest.mark.parametrize("name, env, help_text", describe())
def test_every_setting_is_in_the_readme(name, env, help_text):
    assert f"`{name}`" in README and f"`{env}`" in README


@pytest.mark.parametrize("format_name", format_names())
def test_every_format_is_in_the_readme(format_name):
    assert f"| `{format_name}` |" in README
