"""Author identity: are two people with one common name told apart, and is one person kept whole?

Usage: python bench/author_identity.py LISTINGS.tar.xz [--pairs 150] [--singles 150] [--background 6000]
                                       [--seed 2] [--similar S ...] [--ambiguous A] [--days N]

Method (no labels are learned from; the sample is seeded).
1. Every listing record is read (first listing day of each arXiv id = its date). A "rare" name is a
   normalized name on 3 to 15 papers that is alone in its block (no other name in the whole year has its
   surname and first initial): assumed to be one person.
2. Cases, all with disjoint papers and names that never share a paper:
   - ``pairs``: two rare-name authors A and B, both renamed to one common name; they must be two people again.
   - ``singles_common``: one rare-name author renamed to a common name; they must stay one person.
   - ``singles_own``: one rare-name author under their own name; they must stay one person.
   A common name is a combination of a frequent surname and a frequent first given name of the year that no
   one in the year has (``Wei Zhou`` when no Wei Zhou wrote), a different one per case, so cases never mix.
3. The cases' papers and a seeded background sample of other papers (so that the tagger and the names'
   commonness have a realistic store) are written as listing files and ingested into a fresh SQLite store
   through the library (``Ingester``), then ``tag_store`` trains and tags (as ``paperfeed topics tag``)
   and ``refresh_identities`` decides name identities and people.
4. Scores, pairwise over the papers of each case (two papers are "together" when the case's slots on them
   are one person): precision, recall and F1 summed over the cases of a set and over all three sets; for
   pairs also the share fully separated (no person holds papers of both), for singles the share split.
   ``name_only`` is today's name merging in the same store (each case's papers under one name identity).
   With several ``--similar`` values the people are decided again for each, on the same store.
5. ``--days N`` (split by time, as a store grows): the papers of the last N listing days are left out of step 3;
   after its refresh each of those days is ingested alone, tagged, and its changed items' refresh run (what a
   daily sync runs), then the cases are scored; then a full refresh of the same store is scored beside it.
   Only the first ``--similar`` value is used.
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tarfile
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

from paperfeed.authors import RULES, name_parts, normalized_name, refresh_identities
from paperfeed.ingest import Ingester
from paperfeed.normalize import author_key
from paperfeed.storage import open_store
from paperfeed.topics.tagger import tag_store


def read_listings(path: str) -> dict[str, tuple[str, dict]]:
    """arXiv id -> (first listing day, record)."""
    papers: dict[str, tuple[str, dict]] = {}
    with tarfile.open(path, "r:*") as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            handle = tar.extractfile(member)
            if handle is None:
                continue
            day = Path(member.name).name[:10]
            for line in handle:
                if line.strip():
                    record = json.loads(line)
                    papers.setdefault(record["id"], (day, record))
    return papers


def choose_cases(papers: dict[str, tuple[str, dict]], pairs: int, singles: int, seed: int) -> dict:
    names: dict[str, set[str]] = defaultdict(set)
    spelled: dict[str, str] = {}
    block: dict[str, set[str]] = defaultdict(set)
    for paper_id, (_, record) in papers.items():
        for author in record["authors"]:
            name = normalized_name(author)
            if name:
                names[name].add(paper_id)
                spelled.setdefault(name, author)
                block[author_key(author)].add(name)
    rare = sorted(name for name, ids in names.items()
                  if 3 <= len(ids) <= 15 and len(block[author_key(spelled[name])]) == 1 and " " in name)
    rng = random.Random(seed)
    rng.shuffle(rare)
    used_papers: set[str] = set()
    chosen: list[str] = []
    for name in rare:
        ids = names[name]
        if ids & used_papers:
            continue
        coauthors = {normalized_name(a) for pid in ids for a in papers[pid][1]["authors"]}
        if coauthors & set(chosen):
            continue
        chosen.append(name)
        used_papers |= ids
        if len(chosen) == 2 * pairs + 2 * singles:
            break
    # Common names nobody in the year has: frequent surnames x frequent first given names.
    surnames, given = Counter(), Counter()
    for name in names:
        first, last = name_parts(name)
        surnames[last] += 1
        if first:
            given[first[0]] += 1
    commons = [f"{g.title()} {s.title()}" for s in [s for s, _ in surnames.most_common(40)]
               for g in [g for g, _ in given.most_common(40) if len(g) > 1]
               if f"{g} {s}" not in names]
    rng.shuffle(commons)
    cases = {"pairs": [], "singles_common": [], "singles_own": []}
    it = iter(chosen)
    for _ in range(pairs):
        cases["pairs"].append({"name": commons.pop(), "people": [next(it), next(it)]})
    for _ in range(singles):
        cases["singles_common"].append({"name": commons.pop(), "people": [next(it)]})
    for _ in range(singles):
        own = next(it)
        cases["singles_own"].append({"name": spelled[own], "people": [own]})
    for kind in cases.values():
        for case in kind:
            case["papers"] = {person: sorted(names[person]) for person in case["people"]}
    return cases


def write_inputs(folder: Path, papers: dict[str, tuple[str, dict]], cases: dict, background: int, seed: int) -> int:
    rename: dict[str, str] = {}
    wanted: set[str] = set()
    for kind in cases.values():
        for case in kind:
            for person, ids in case["papers"].items():
                rename[person] = case["name"]
                wanted.update(ids)
    others = sorted(set(papers) - wanted)
    wanted.update(random.Random(seed + 1).sample(others, min(background, len(others))))
    by_day: dict[str, list[dict]] = defaultdict(list)
    for paper_id in sorted(wanted):
        day, record = papers[paper_id]
        record = dict(record, authors=[rename.get(normalized_name(a), a) for a in record["authors"]])
        by_day[day].append(record)
    for day, records in by_day.items():
        (folder / f"{day}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return len(wanted)


def score(store, cases: dict, name_only: bool) -> dict:
    by_arxiv = {item["arxiv_id"]: item["id"] for item in store.iter_items()}
    results = {}
    totals = Counter()
    for kind, kind_cases in cases.items():
        counts = Counter()
        for case in kind_cases:
            wanted = normalized_name(case["name"])
            label: dict[int, tuple[str, int]] = {}  # item id -> (gold person, predicted person)
            items = {by_arxiv[pid]: person for person, ids in case["papers"].items() for pid in ids if pid in by_arxiv}
            slots = store.item_slots(sorted(items))
            author_ids = {author for rows in slots.values() for _, author, name, _ in rows
                          if normalized_name(name) == wanted}
            identities = store.identities_of(sorted(author_ids))
            for item_id, rows in slots.items():
                for _, author, name, person in rows:
                    if normalized_name(name) == wanted:
                        label[item_id] = (items[item_id], identities[author] if name_only else person)
            pairs_same = pairs_pred = pairs_both = 0
            labels = list(label.values())
            for i in range(len(labels)):
                for j in range(i + 1, len(labels)):
                    gold, pred = labels[i][0] == labels[j][0], labels[i][1] == labels[j][1]
                    pairs_same += gold
                    pairs_pred += pred
                    pairs_both += gold and pred
            counts["gold_pairs"] += pairs_same
            counts["predicted_pairs"] += pairs_pred
            counts["correct_pairs"] += pairs_both
            counts["cases"] += 1
            people_of = defaultdict(set)
            for gold, pred in labels:
                people_of[gold].add(pred)
            if len(case["people"]) == 2:
                a, b = (people_of[p] for p in case["people"])
                counts["separated"] += not (a & b)
            else:
                counts["split"] += len(people_of[case["people"][0]]) > 1
        totals.update({k: counts[k] for k in ("gold_pairs", "predicted_pairs", "correct_pairs")})
        results[kind] = _figures(counts)
    results["all"] = _figures(totals)
    return results


def _figures(counts: Counter) -> dict:
    p = counts["correct_pairs"] / counts["predicted_pairs"] if counts["predicted_pairs"] else 1.0
    r = counts["correct_pairs"] / counts["gold_pairs"] if counts["gold_pairs"] else 1.0
    out = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r) if p + r else 0.0, 4)}
    if counts["cases"]:
        out["cases"] = counts["cases"]
    if "separated" in counts or "split" in counts:
        key = "separated" if "separated" in counts else "split"
        out[f"{key}_share"] = round(counts[key] / counts["cases"], 4)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("listings", help="arxiv_daily_listings_*.tar.xz")
    parser.add_argument("--pairs", type=int, default=150)
    parser.add_argument("--singles", type=int, default=150, help="cases of each single kind")
    parser.add_argument("--background", type=int, default=6000, help="other papers ingested beside the cases")
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--similar", type=float, nargs="+", default=[RULES.similar])
    parser.add_argument("--ambiguous", type=float, default=RULES.ambiguous)
    parser.add_argument("--days", type=int, default=0,
                        help="ingest the last N listing days one by one after the first refresh (a daily sync)")
    args = parser.parse_args(argv)
    if not Path(args.listings).is_file():
        print(f"no such file: {args.listings}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    papers = read_listings(args.listings)
    cases = choose_cases(papers, args.pairs, args.singles, args.seed)
    out = {"seed": args.seed, "cases": {k: len(v) for k, v in cases.items()}, "runs": []}
    with tempfile.TemporaryDirectory() as folder:
        inputs = Path(folder) / "inputs"
        inputs.mkdir()
        out["papers_ingested"] = write_inputs(inputs, papers, cases, args.background, args.seed)
        with open_store(Path(folder) / "store.db") as store:
            if args.days:
                out["days"] = _day_by_day(store, sorted(inputs.iterdir()), args.days, cases,
                                          replace(RULES, similar=args.similar[0], ambiguous=args.ambiguous))
                out["seconds"] = round(time.perf_counter() - started, 1)
                print(json.dumps(out))
                return 0
            report = Ingester(store).ingest_paths([str(inputs)])
            assert not report.failed, report.failed[:3]
            tag_store(store, alpha=0.1, refresh_authors=False)
            for similar in args.similar:
                rules = replace(RULES, similar=similar, ambiguous=args.ambiguous)
                begun = time.perf_counter()
                refresh_identities(store, rules=rules)
                seconds = time.perf_counter() - begun
                run = {"similar": similar, "ambiguous": args.ambiguous, "refresh_seconds": round(seconds, 2),
                       "people": score(store, cases, name_only=False)}
                out["runs"].append(run)
                print(f"similar={similar} ambiguous={args.ambiguous} (refresh {seconds:.1f} s)")
                for kind, figures in run["people"].items():
                    print(f"  people     {kind:15} {figures}")
            out["name_only"] = score(store, cases, name_only=True)
            for kind, figures in out["name_only"].items():
                print(f"  name-only  {kind:15} {figures}")
    out["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(out))
    return 0


def _day_by_day(store, files: list[Path], days: int, cases: dict, rules) -> dict:
    """The files but the last ``days`` ingested and decided at once, then each later day ingested, tagged and its
    changed items' identities refreshed; the cases scored, then scored again after a full refresh."""
    first, later = files[:-days], files[-days:]
    report = Ingester(store).ingest_paths([str(path) for path in first])
    assert not report.failed, report.failed[:3]
    tag_store(store, alpha=0.1, refresh_authors=False)
    refresh_identities(store, rules=rules)
    scoped_seconds = 0.0
    for path in later:
        report = Ingester(store).ingest_paths([str(path)])
        assert not report.failed, report.failed[:3]
        tag_store(store, alpha=0.1, refresh_authors=False)
        begun = time.perf_counter()
        refresh_identities(store, report.changed_item_ids, rules=rules)
        scoped_seconds += time.perf_counter() - begun
    found = {"first_days": len(first), "later_days": len(later), "scoped_seconds": round(scoped_seconds, 2),
             "day_by_day": score(store, cases, name_only=False)}
    begun = time.perf_counter()
    refresh_identities(store, rules=rules)
    found["full_refresh_seconds"] = round(time.perf_counter() - begun, 2)
    found["full_refresh"] = score(store, cases, name_only=False)
    for mode in ("day_by_day", "full_refresh"):
        for kind, figures in found[mode].items():
            print(f"  {mode:13} {kind:15} {figures}")
    return found


if __name__ == "__main__":
    sys.exit(main())
