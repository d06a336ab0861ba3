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
