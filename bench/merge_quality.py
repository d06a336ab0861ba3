"""Merge quality: how well ingest merges records of the same work, measured on real data.

Usage: python bench/merge_quality.py --dblp DBLP2.csv --acm ACM.csv --mapping DBLP-ACM_perfectMapping.csv
                                     [--listings LISTINGS.tar.xz --hf HF.tar.xz] [--show N]

Method.
1. DBLP-ACM (Leipzig entity-resolution benchmark, Köpcke, Thor & Rahm, PVLDB 2010). Both CSV files are
   ingested into a fresh temporary SQLite store through the library itself (``open_store`` and
   ``Ingester.ingest_paths``), exactly as ``paperfeed ingest`` would, so the figures measure the real
   merge path: normalization, blocking, ``merge.best_match`` and the store's item summaries. Nothing is
   learned from the gold mapping; it is read only to score the result. Items are read back with
   ``store.iter_items()``; every item's source records are split by origin file, and each
   (DBLP record id, ACM record id) pair inside one item is a predicted match. Two records of the same
   file in one item would be an error of its own (each file lists a work once), and is counted and
   reported apart (``same_source_merges``: the number of extra same-file records in such items).
   Precision = correct predicted pairs / predicted pairs, recall = correct predicted pairs / gold pairs,
   F1 their harmonic mean. The time is the wall time of the ingest of both files.
2. arXiv listings x Hugging Face daily papers (optional, ``--listings`` and ``--hf``). Both tarballs are
   ingested into a second fresh store. Every source record's arXiv id is taken from its record id; an
   id that occurs in records of both sources is "shared". Each shared id must end up in exactly one
   item: ``split_arxiv_ids`` counts shared ids whose records landed in more than one item (must be 0),
   ``items_with_both_sources`` counts items holding records of both sources.

Prints human-readable lines (``--show N`` also lists up to N false positives and negatives with their
titles, authors and years) and ends with one JSON line of figures. A missing data path is reported
and exits with status 2.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from paperfeed.ingest import Ingester
from paperfeed.normalize import arxiv_id
from paperfeed.storage import open_store


def ingest_fresh(folder: str, name: str, paths: list[str]):
    """Ingest ``paths`` into a new store in ``folder``; return (store, report, seconds)."""
    store = open_store(Path(folder) / name)
    start = time.perf_counter()
    report = Ingester(store).ingest_paths(paths)
    seconds = time.perf_counter() - start
    for result in report.failed:
        print(f"warning: {result.origin}: {result.error} ({result.place})", file=sys.stderr)
    return store, report, seconds


def read_rows(path: str) -> dict[str, dict[str, str]]:
    """The rows of a benchmark CSV by id, for showing errors."""
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["id"]: row for row in csv.DictReader(handle)}


def read_mapping(path: str) -> set[tuple[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        if not (header and header[0].lower().startswith("id")):  # headerless copies exist
            pairs = {(header[0], header[1])}
        else:
            pairs = set()
        pairs.update((row[0], row[1]) for row in reader if len(row) >= 2)
    return pairs


def dblp_acm(args: argparse.Namespace) -> dict:
    gold = read_mapping(args.mapping)
    dblp_path, acm_path = str(Path(args.dblp).resolve()), str(Path(args.acm).resolve())
    with tempfile.TemporaryDirectory() as folder:
        store, report, seconds = ingest_fresh(folder, "dblp_acm.db", [dblp_path, acm_path])
        predicted: set[tuple[str, str]] = set()
        same_source = 0
        items = 0
        for item in store.iter_items():
            items += 1
            by_origin: dict[str, list[str]] = defaultdict(list)
            for source in item["sources"]:
                by_origin[source["origin"]].append(source["record_id"])
            dblp_ids, acm_ids = by_origin.get(dblp_path, []), by_origin.get(acm_path, [])
            same_source += max(len(dblp_ids) - 1, 0) + max(len(acm_ids) - 1, 0)
            predicted.update((d, a) for d in dblp_ids for a in acm_ids)
        store.close()
    correct = len(predicted & gold)
    precision = correct / len(predicted) if predicted else 0.0
    recall = correct / len(gold) if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    records = report.total("records")
    print(f"DBLP-ACM: {records} records -> {items} items in {seconds:.2f} s")
    print(f"  gold pairs {len(gold)}, predicted {len(predicted)}, correct {correct}, "
          f"false positives {len(predicted - gold)}, false negatives {len(gold - predicted)}, "
          f"same-source merges {same_source}")
    print(f"  precision {precision:.4f}  recall {recall:.4f}  F1 {f1:.4f}")
    if args.show:
        dblp_rows, acm_rows = read_rows(args.dblp), read_rows(args.acm)

        def describe(kind: str, pairs: set[tuple[str, str]]) -> None:
            for d, a in sorted(pairs)[:args.show]:
                print(f"  {kind} {d} / {a}")
                for row in (dblp_rows.get(d), acm_rows.get(a)):
                    if row:
                        print(f"      {row['year']} | {row['title']} | {row['authors']}")

        describe("FP", predicted - gold)
        describe("FN", gold - predicted)
    return {"records": records, "items": items, "gold_pairs": len(gold), "predicted_pairs": len(predicted),
            "correct_pairs": correct, "false_positives": len(predicted - gold),
            "false_negatives": len(gold - predicted), "same_source_merges": same_source,
            "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "seconds": round(seconds, 3)}


def listings_hf(args: argparse.Namespace) -> dict:
    listings_path, hf_path = str(Path(args.listings).resolve()), str(Path(args.hf).resolve())
    with tempfile.TemporaryDirectory() as folder:
        store, report, seconds = ingest_fresh(folder, "listings_hf.db", [listings_path, hf_path])
        items_by_id: dict[str, set[int]] = defaultdict(set)
        sources_by_id: dict[str, set[str]] = defaultdict(set)
        both_items = 0
        items = 0
        for item in store.iter_items():
            items += 1
            kinds = set()
            for source in item["sources"]:
                origin = source["origin"]
                kind = "listings" if origin.startswith(listings_path) else "hf" if origin.startswith(hf_path) else None
                if kind is None:
                    continue
                kinds.add(kind)
                found = arxiv_id(source["record_id"])
                if found:
                    items_by_id[found].add(item["id"])
                    sources_by_id[found].add(kind)
            both_items += len(kinds) == 2
        store.close()
    shared = [i for i, kinds in sources_by_id.items() if len(kinds) == 2]
    split = [i for i in shared if len(items_by_id[i]) > 1]
    split_any = [i for i, ids in items_by_id.items() if len(ids) > 1]
    records = report.total("records")
    print(f"listings x HF: {records} records -> {items} items in {seconds:.2f} s")
    print(f"  arXiv ids in both sources {len(shared)}, split over >1 item {len(split)} (must be 0), "
          f"items with records of both sources {both_items}")
    if split_any:
        print(f"  ids split over >1 item (any source): {len(split_any)}, e.g. {sorted(split_any)[:5]}")
    return {"listings_hf_records": records, "listings_hf_items": items, "shared_arxiv_ids": len(shared),
            "split_arxiv_ids": len(split), "split_arxiv_ids_any_source": len(split_any),
            "items_with_both_sources": both_items, "listings_hf_seconds": round(seconds, 3),
            "listings_hf_failed_files": len(report.failed)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--dblp", required=True, help="DBLP2.csv")
    parser.add_argument("--acm", required=True, help="ACM.csv")
    parser.add_argument("--mapping", required=True, help="DBLP-ACM_perfectMapping.csv")
    parser.add_argument("--listings", help="arXiv daily listings tarball")
    parser.add_argument("--hf", help="Hugging Face daily papers tarball")
    parser.add_argument("--show", type=int, default=0, metavar="N", help="list up to N false positives/negatives")
    args = parser.parse_args(argv)
    if bool(args.listings) != bool(args.hf):
        parser.error("--listings and --hf go together")
    missing = [f"--{name} {path}" for name in ("dblp", "acm", "mapping", "listings", "hf")
               if (path := getattr(args, name)) and not Path(path).is_file()]
    if missing:
        for entry in missing:
            print(f"error: data file not found: {entry}", file=sys.stderr)
        return 2
    figures: dict = {"bench": "merge_quality"}
    figures.update(dblp_acm(args))
    if args.listings:
        figures.update(listings_hf(args))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
