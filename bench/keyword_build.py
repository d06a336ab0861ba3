"""Keyword index build: this code against an older commit's, alternating, on the same store; answers compared.

Usage: python bench/keyword_build.py STORE.db --old-ref REF [--rounds 2] [--queries 400] [--repeat 1]

Each round builds the keyword index of STORE (every item, from an empty index, as after a bootstrap's ingest)
once with REF's code (``git archive`` into a temporary folder) and once with this working tree's, each in a fresh
child process (``Indexer.update`` without an embedder), alternating which goes first. Per build: CPU seconds of
the whole process (tantivy indexes and merges on its own threads), of the main thread alone (reading the store,
making documents), of its child processes (the text is analysed in a second one: ``child_cpu_s``), wall seconds,
peak resident memory of the process and of its children, bytes written to storage (``/proc/self/io``'s
``write_bytes``, not ``wchar``, which counts the pipe to the child too: merges rewrite segments) and the segments
left.
``--repeat N`` indexes every document N times under new ids (a larger index from a small store, so that merges
happen as at millions of items).

Then the last two indexes are compared with this code: for ``--queries`` queries made from the store's own
documents (title beginnings, abstract fragments, author filters, a title word with a category filter), the top
10 scores, the ids at each score and the match counts must be equal (tantivy orders equal scores by document
address, which depends on where segments were cut; ``--repeat`` makes every document N times, all tied, so it
also prints how many answers differ only in that order).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

BUILD = r'''
import dataclasses, json, os, resource, shutil, sys, time
from pathlib import Path
from paperfeed.storage import open_store
from paperfeed.search import indexer as indexer_module
from paperfeed.search.indexer import Indexer
store_path, out, repeat = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
shutil.rmtree(out, ignore_errors=True)
store = open_store(store_path)
if repeat > 1:  # every document again under new ids: the same store read, a larger index
    read = store.item_documents
    def documents(ids, facets=True):
        found = read([i % 100_000_000 for i in ids], facets)
        return {i: dataclasses.replace(found[i % 100_000_000], id=i) for i in ids if i % 100_000_000 in found}
    store.item_documents = documents
    rows = store.search_changes(0, 10**9)
    every = [(n, item_id + copy * 100_000_000) for n, (copy, (_, item_id)) in
             enumerate(((c, row) for c in range(repeat) for row in rows), 1)]
    store.search_changes = lambda after, limit: every[after:after + limit]
    store.pending_search_changes = lambda after: len(every) - after
def written():
    return int(next(line for line in Path("/proc/self/io").read_text().splitlines()
                    if line.startswith("write_bytes")).split()[1])
cpu, main, wall, wrote = time.process_time(), time.thread_time(), time.perf_counter(), written()
report = Indexer(store, out, None).update()
print(json.dumps({"indexed": report.indexed, "cpu_s": round(time.process_time() - cpu, 2),
                  "main_thread_cpu_s": round(time.thread_time() - main, 2),
                  "wall_s": round(time.perf_counter() - wall, 2), "written_mb": round((written() - wrote) / 1e6),
                  "segments": len(list((out / "keyword").glob("*.idx"))),
                  # a second process analysing the text (search/analysis.py), ended by the build: its CPU and memory
                  "child_cpu_s": round(sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2]), 2),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                  "child_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)}))
'''

COMPARE = r'''
import json, random, sys
from pathlib import Path
from paperfeed.storage import open_store
from paperfeed.search.keyword import KeywordIndex
from paperfeed.search.query import parse_query
store, count = open_store(sys.argv[1]), int(sys.argv[4])
old, new = KeywordIndex(Path(sys.argv[2])), KeywordIndex(Path(sys.argv[3]))
rng = random.Random(3)
ids = [item_id for _, item_id in store.search_changes(0, 10**9)]
documents = store.item_documents(rng.sample(ids, min(len(ids), count // 4 + 1)))
queries = []
for document in documents.values():
    words, abstract = document.title.split(), document.abstract.split()
    queries.append(" ".join(words[:rng.randint(1, min(4, len(words)))]))
    if len(abstract) > 6:
        start = rng.randrange(len(abstract) - 3)
        queries.append(" ".join(abstract[start:start + rng.randint(1, 3)]))
    if document.authors:
        queries.append('author:"' + document.authors[0].replace('"', "") + '"')
    if document.categories:
        queries.append(f"{rng.choice(words)} category:{document.categories[0]}")
queries = [query for query in queries if query.strip()][:count]
def top(index, parsed):
    """The top 10 as (score, ids at that score): equal scores are in document order, which depends on how the
    segments were cut and merged, so a tie is compared as a set (the 10th place's tie as far as 100 places reach)."""
    hits = [(round(hit.score, 5), hit.item_id) for hit in index.search(parsed, 100)]
    if len(hits) > 10:
        last = hits[9][0]
        hits = hits[:10] + [hit for hit in hits[10:] if hit[0] == last]
    groups = {}
    for score, item_id in hits:
        groups.setdefault(score, set()).add(item_id)
    return [(score, sorted(ids)) for score, ids in groups.items()], index.count(parsed)
differing, strict, scores = [], 0, []
for query in queries:
    parsed = parse_query(query)
    if ([round(h.score, 5) for h in old.search(parsed, 10)], old.count(parsed)) != \
            ([round(h.score, 5) for h in new.search(parsed, 10)], new.count(parsed)):
        scores.append(query)
    strict += [(h.item_id, round(h.score, 5)) for h in old.search(parsed, 10)] != \
        [(h.item_id, round(h.score, 5)) for h in new.search(parsed, 10)]
    if top(old, parsed) != top(new, parsed):
        differing.append(query)
print(json.dumps({"queries": len(queries), "differing_in_scores_or_counts": len(scores),
                  "score_examples": scores[:5],
                  "differing": len(differing), "examples": differing[:5],
                  "differing_in_the_order_of_equal_scores": strict,
                  "documents": [old.document_count(), new.document_count()]}))
'''


def build(code_root: Path, store: Path, out: Path, repeat: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code_root / "src")}
    done = subprocess.run([PYTHON, "-c", BUILD, str(store), str(out), str(repeat)], capture_output=True, text=True,
                          env=env)
    if done.returncode:
        sys.exit(f"build with {code_root} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store", type=Path)
    parser.add_argument("--old-ref", required=True)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    figures: dict = {"bench": "keyword_build", "store": str(args.store), "old_ref": args.old_ref,
                     "repeat": args.repeat, "load_before": load(), "old": [], "new": []}
    with tempfile.TemporaryDirectory(dir=args.workdir) as name:
        folder = Path(name)
        old_root = folder / "code_old"
        old_root.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.old_ref, "src"], capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old_root)], input=archive, check=True)
        for round_number in range(args.rounds):
            order = [("old", old_root), ("new", ROOT)]
            for label, root in order if round_number % 2 == 0 else order[::-1]:
                result = build(root, args.store, folder / f"index_{label}", args.repeat)
                figures[label].append(result)
                print(f"round {round_number + 1} {label}: {json.dumps(result)}", flush=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        compared = subprocess.run([PYTHON, "-c", COMPARE, str(args.store), str(folder / "index_old" / "keyword"),
                                   str(folder / "index_new" / "keyword"), str(args.queries)], capture_output=True,
                                  text=True, env=env)
        if compared.returncode:
            sys.exit(f"comparison failed:\n{compared.stderr[-2000:]}")
        figures["answers"] = json.loads(compared.stdout.strip().splitlines()[-1])
    for label in ("old", "new"):
        runs = figures[label]
        figures[f"{label}_mean"] = {key: round(sum(run[key] for run in runs) / len(runs), 2)
                                    for key in ("cpu_s", "main_thread_cpu_s", "wall_s", "written_mb", "segments")}
    figures["load_after"] = load()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
