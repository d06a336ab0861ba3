"""Starting a second interpreter of this paperfeed for work that runs beside the first (a run's records prepared
ahead, the TL;DRs beside the author identities): ``python -c``, not ``multiprocessing``, whose spawn would run the
command's main module again (``python -m paperfeed`` would start the command a second time)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)
"""Where this paperfeed is imported from: the child imports the same code, installed or not."""


def can_start() -> bool:
    """False in an embedded interpreter with no program to start again: the work then runs in this process."""
    return bool(sys.executable)


def start_python(code: str, **popen: Any) -> subprocess.Popen:
    """``sys.executable -c code`` with this paperfeed first on its path; ``popen``: the rest of ``Popen``'s arguments.
    Raises OSError when no process can be started."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [PACKAGE_ROOT, *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.Popen([sys.executable, "-c", code], env=environment, **popen)


def start_python_piped(function: str, pipe_bytes: int | None = None) -> tuple[subprocess.Popen, int, int]:
    """``start_python`` of ``function(jobs, results)`` (a dotted name: ``paperfeed.search.analysis.serve``) over two new
    pipes: the child reads jobs from the first descriptor and writes results to the second. Returns the process,
    this side's end of the jobs pipe (to write) and of the results pipe (to read). ``pipe_bytes``: the buffer each
    pipe gets where the system allows it (Linux). Raises OSError with every descriptor closed."""
    module, _, name = function.rpartition(".")
    jobs_read, jobs_write = os.pipe()
    results_read, results_write = os.pipe()
    if pipe_bytes is not None:
        for descriptor in (jobs_write, results_write):
            _widen(descriptor, pipe_bytes)
    try:
        process = start_python(f"from {module} import {name}; {name}({jobs_read}, {results_write})",
                               pass_fds=(jobs_read, results_write), stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        for descriptor in (jobs_read, jobs_write, results_read, results_write):
            os.close(descriptor)
        raise
    os.close(jobs_read)
    os.close(results_write)
    return process, jobs_write, results_read


def _widen(descriptor: int, size: int) -> None:
    """Give a pipe ``size`` bytes of buffer where the system allows it (Linux); else leave it as it is."""
    try:
        import fcntl

        fcntl.fcntl(descriptor, getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except (ImportError, OSError):
        pass
