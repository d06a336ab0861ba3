"""Run a command and print its wall time and the peak of the summed resident memory of its process tree.

Usage: python bench/peak_rss.py COMMAND [ARG...]

VmRSS of the command and every descendant (``/proc/PID/task/PID/children``), summed and sampled every 0.1 s:
a worker process's memory counts with its parent's. Linux only. Prints one line to stderr; exits with the
command's status.
"""

from __future__ import annotations

import subprocess
import sys
import time


def tree(pid: int) -> list[int]:
    found = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            for child in handle.read().split():
                found += tree(int(child))
    except OSError:  # gone meanwhile
        pass
    return found


def resident_mb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    start = time.perf_counter()
    process = subprocess.Popen(sys.argv[1:])
    peak = 0
    while process.poll() is None:
        peak = max(peak, sum(resident_mb(pid) for pid in tree(process.pid)))
        time.sleep(0.1)
    print(f"exit {process.returncode}, wall {time.perf_counter() - start:.1f} s, peak RSS of the tree {peak:,} MB",
          file=sys.stderr)
    sys.exit(process.returncode)


if __name__ == "__main__":
    main()
