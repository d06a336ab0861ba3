"""A throwaway PostgreSQL server for the tests: initdb into a temp dir, pg_ctl start on a free port, stop at the end.

Runs as the invoking user, or, when that is root (CI containers), as the ``postgres`` system user Debian's
package creates (``nobody`` where there is none) via ``runuser``: PostgreSQL refuses to run as root. The
server listens on 127.0.0.1 only, with its Unix socket inside the temp dir, trust authentication for the
``paperfeed`` superuser, and durability off (fsync, synchronous commit): it lives for one test session.
``stop()`` is idempotent and also registered with ``atexit``, so a failing or interrupted run leaves
nothing running.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SUPERUSER = "paperfeed"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (``make install`` installs them)."""


def find_bindir() -> Path:
    """Where initdb, pg_ctl and postgres are: $PAPERFEED_PG_BINDIR, Debian's newest, or the PATH."""
    candidates = []
    if os.environ.get("PAPERFEED_PG_BINDIR"):
        candidates.append(Path(os.environ["PAPERFEED_PG_BINDIR"]))
    candidates += sorted((Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")),
                         key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    if shutil.which("pg_ctl"):
        candidates.append(Path(shutil.which("pg_ctl")).resolve().parent)
    for bindir in candidates:
        if all((bindir / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return bindir
    raise PostgresUnavailable("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found; "
                              "`make install` installs Debian's postgresql package")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run_as() -> str | None:
    """The user to run the server as when we are root; None when we are not."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise PostgresUnavailable("running as root and no 'postgres' or 'nobody' user to run PostgreSQL as")


class PostgresServer:
    def __init__(self, bindir: Path | None = None) -> None:
        self.bindir = bindir or find_bindir()
        self.user = _run_as()
        self.root = Path(tempfile.mkdtemp(prefix="paperfeed-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self.started = False
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        os.chmod(self.root, 0o700)

    def _command(self, *args: str) -> list[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        return ["runuser", "-u", self.user, "--", *command] if self.user else command

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(self._command(*args), capture_output=True, text=True, timeout=timeout,
                              cwd=self.root, env={**os.environ, "LC_ALL": "C.UTF-8"})

    def start(self) -> "PostgresServer":
        atexit.register(self.stop)
        done = self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                         "--locale=C.UTF-8", "--no-sync")
        if done.returncode:
            raise RuntimeError(f"initdb failed ({done.returncode}): {done.stderr or done.stdout}")
        error = ""
        for _attempt in range(3):  # another process may take the free port before the server binds it
            self.port = _free_port()
            options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50")
            done = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60",
                             "start")
            if done.returncode == 0:
                self.started = True
                return self
            error = done.stderr + done.stdout + (self.log.read_text(errors="replace") if self.log.exists() else "")
        self.stop()
        raise RuntimeError(f"pg_ctl start failed: {error}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        """Stop the server (fast, then by signal if it will not) and remove its directory. Idempotent."""
        if self.data.exists() and self._postmaster_pid():
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop", timeout=60)
            except subprocess.TimeoutExpired:
                pass
            pid = self._postmaster_pid()
            if pid:
                try:
                    os.kill(pid, signal.SIGQUIT)  # immediate shutdown
                    for _ in range(100):
                        os.kill(pid, 0)
                        time.sleep(0.05)
                except ProcessLookupError:
                    pass
        self.started = False
        shutil.rmtree(self.root, ignore_errors=True)
