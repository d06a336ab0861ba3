"""The layer contract of docs/architecture.md, checked so that the next change cannot quietly break it."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

from paperfeed.storage import Store
from paperfeed.storage.postgres import PostgresStore
from paperfeed.storage.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "paperfeed"

BACKEND_HOOKS = {
    # What truly differs per backend (docs/architecture.md): connecting, migrations in the backend's dialect,
    # write groups and locks, id allocation, the integrity check, where local index files go, the page cache of a
    # long read (a connection's own on SQLite, the server's on PostgreSQL).
    "__init__", "migrate", "applied_migrations", "known_migrations", "check_integrity", "close", "write_group",
    "_allocate_item_ids", "_allocate_record_ids", "_allocate_people_ids", "sync_lock", "default_index_directory",
    "reading_much",
}


def test_the_import_contract_holds():
    """import-linter: layers, forbidden imports (backends and drivers, purity of parsing and merging), no cycles."""
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_no_storage_method_is_written_once_per_backend():
    """Every query lives once, in a storage area; the backends define only the hooks that truly differ."""
    def methods(backend: type) -> set[str]:
        return {name for name, value in vars(backend).items() if inspect.isfunction(value)}

    for backend in (SQLiteStore, PostgresStore):
        public = {name for name in methods(backend) if not name.startswith("_")}
        assert public <= BACKEND_HOOKS, f"{backend.__name__} defines {sorted(public - BACKEND_HOOKS)} itself"
    twice = methods(SQLiteStore) & methods(PostgresStore)
    assert twice <= BACKEND_HOOKS, f"written once per backend: {sorted(twice - BACKEND_HOOKS)}"
    assert not getattr(Store, "__abstractmethods__", set()) - BACKEND_HOOKS


def test_no_statement_is_rewritten_at_run_time():
    """No ``sql.replace(...)`` placeholder rewriting: statements are written with ``$n``, read natively by both."""
    for path in (SOURCE / "storage").rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "replace"
                    and node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value in ("?", "%s")):
                raise AssertionError(f"{path.relative_to(ROOT)}:{node.lineno} rewrites SQL placeholders")
