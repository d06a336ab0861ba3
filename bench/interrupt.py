"""How long Ctrl-C takes to stop the author-identity refresh of a large store (the step after a bootstrap's keyword
index, where one long statement used to hold the main thread).

Usage: python bench/interrupt.py STORE.db [--delays 2,5,9,13] [--old-ref REF]

For each delay, a child process opens STORE, reads every item id, prints "ready" and refreshes the identities of
all of them (``authors.refresh_identities(store, ids)``, as ``pipeline.after_ingest`` does after a bootstrap);
the bench sends SIGINT that many seconds after "ready" and times the child's exit (status 130 expected: Python
answers a signal between statements only). With ``--old-ref`` the same runs are made with the ``src`` of git
REF first (``git archive``, as bench/ingest.py does). The refresh commits block by block, so the store stays usable
(a refresh stopped part-way is what ``Store.identities_interrupted`` records); use a copy of a bootstrap's store
(``bench/bootstrap.py --keep`` or ``paperfeed ingest --no-index``) of 1,000,000 items or more.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import old_source  # noqa: E402  (bench/ingest.py: the src of a git ref)

CHILD = r'''
import sys
from paperfeed.authors import refresh_identities
from paperfeed.storage import open_store
store = open_store(sys.argv[1])
ids = store.item_ids_after(0, 100_000_000)
print("ready", flush=True)
try:
    refresh_identities(store, ids)
except KeyboardInterrupt:
    sys.exit(130)
'''


def stop_times(store: str, src: str, delays: list[float]) -> list[tuple[float, int, float]]:
    found = []
    for delay in delays:
        child = subprocess.Popen([sys.executable, "-c", CHILD, store], stdout=subprocess.PIPE, text=True,
                                 env={**os.environ, "PYTHONPATH": src})
        child.stdout.readline()
        time.sleep(delay)
        start = time.perf_counter()
        child.send_signal(signal.SIGINT)
        status = child.wait()
        found.append((delay, status, time.perf_counter() - start))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store")
    parser.add_argument("--delays", default="2,5,9,13")
    parser.add_argument("--old-ref", default=None)
    args = parser.parse_args()
    delays = [float(value) for value in args.delays.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        runs = [(f"old ({args.old_ref})", old_source(args.old_ref, folder))] if args.old_ref else []
        runs.append(("this tree", str(Path(__file__).resolve().parent.parent / "src")))
        for name, src in runs:
            for delay, status, seconds in stop_times(args.store, src, delays):
                print(f"{name}: SIGINT {delay:g} s after the start: exit status {status} after {seconds:.2f} s",
                      flush=True)


if __name__ == "__main__":
    main()
