"""Build a whole-arXiv-sized file in the Kaggle ``arxiv-metadata-oai-snapshot.json`` schema, from real records.

Usage: python bench/make_arxiv_snapshot.py OUTPUT [--records N] [--seed S]
       [--head PATH] [--listings PATH.tar.xz]

The real Kaggle snapshot (about 2.7 million lines, 4 GB) cannot be shipped or downloaded here, so this makes a
stand-in of the same size and shape from what /work/shared/data holds: the snapshot's first 200 real lines
(``arxiv-kaggle-snapshot-head``) and 47,919 distinct real papers of the daily listings (``arxiv-daily-listings``,
72,790 records). Deterministic: the same seed and inputs give byte-identical output.

What is real and what is synthetic, per output line:
- **Base record (real).** Each line starts from one real record drawn at random (uniformly over the distinct
  papers of both sources). Kept from it: categories (its real list; listing noise such as ``I.2.7`` dropped,
  as Kaggle's field holds arXiv categories only), the first author, comments, and the shape of everything.
- **Title (recombined from real words).** The base title with each word replaced, with probability 0.25, by a
  word drawn from the title words of every real record with the same primary category (drawn from the token
  list, so frequent words are drawn as often as they occur: the vocabulary keeps its real Zipf shape).
- **Abstract (recombined from real sentences).** As many sentences as the base abstract has: its first
  sentence, then sentences drawn from the abstracts of real records of the same primary category. Wrapped at
  about 80 columns with two leading spaces and a trailing newline, as Kaggle's abstracts are.
- **Authors (real names, recombined).** The base's first author, then the base's other authors each replaced,
  with probability 0.5, by a real author of the same primary category; written as Kaggle does (``authors`` a
  comma/``and`` string, ``authors_parsed`` as ``[last, first, ""]``). ``submitter`` is the first author.
- **Synthetic:** the arXiv id, dates, versions, DOI, journal-ref, report-no and license. Each record gets a
  month from January 1991 to December 2026, drawn with weight growing as (years since 1990) ** 1.6 (arXiv's
  monthly submissions grow about so); lines are in month order. Ids are unique and in arXiv's styles: before
  April 2007 ``archive/YYMMNNN`` (the archive of the primary category, e.g. ``hep-th/9901001``; the next
  archive of a fixed list when one's 999 numbers of a month are used up), April 2007 to December 2014
  ``YYMM.NNNN``, from 2015 ``YYMM.NNNNN`` (a month's excess over 9,999 moves to a random later month).
  ``versions``: 1 to 3 (weights 6:3:1), v1 on a random day of the month, each later one 1 to 200 days on;
  ``update_date`` 0 to 400 days after the last version (at most 2026-12-31). A DOI (``10.<a real DOI
  prefix of the head>/pf-synthetic.<id>``) and a journal-ref (a real one of the head) for 45% of records
  older than 2024; a report-no (real, from the head) for 5%; a license (real values of arXiv) by era.

Nothing here is tuned to anything: it is a volume and shape stand-in for ingest and indexing benchmarks, not a
quality benchmark (titles and abstracts are recombined and do not make sense as papers).
"""

from __future__ import annotations

import argparse
import re
import sys
import tarfile
import time
from collections import defaultdict
from pathlib import Path
from random import Random

import orjson

DATA = Path("/work/shared/data")
HEAD = DATA / "arxiv-kaggle-snapshot-head" / "arxiv-metadata-oai-snapshot.head200.json"
LISTINGS = DATA / "arxiv-daily-listings" / "arxiv_daily_listings_2025-03-18_to_2026-02-28.tar.xz"
WHOLE_ARXIV = 2_700_000

OLD_ARCHIVES = ("hep-th", "hep-ph", "astro-ph", "cond-mat", "math", "quant-ph", "gr-qc", "nucl-th", "hep-ex",
                "physics", "cs", "nlin", "math-ph", "hep-lat", "nucl-ex", "q-bio")
LICENSES = ("http://arxiv.org/licenses/nonexclusive-distrib/1.0/", "http://creativecommons.org/licenses/by/4.0/",
            "http://creativecommons.org/licenses/by-nc-sa/4.0/", "http://creativecommons.org/licenses/by-sa/4.0/",
            "http://creativecommons.org/publicdomain/zero/1.0/", "http://creativecommons.org/licenses/by-nc-nd/4.0/")
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def real_records(head: Path, listings: Path) -> list[dict]:
    """The distinct real papers as {title, abstract, authors [names], categories [..], comments, ...}."""
    records: dict[str, dict] = {}
    for line in head.read_bytes().splitlines():
        obj = orjson.loads(line)
        names = [" ".join(part for part in (row[1], row[0]) if part) for row in obj["authors_parsed"]]
        records["kaggle:" + obj["id"]] = {"title": " ".join(obj["title"].split()), "abstract": " ".join(obj["abstract"].split()),
                                          "authors": names, "categories": obj["categories"].split(),
                                          "comments": obj.get("comments")}
    with tarfile.open(listings, "r:xz") as archive:
        members = sorted((m for m in archive if m.isfile()), key=lambda m: m.name)
        for member in members:
            for line in archive.extractfile(member).read().splitlines():
                if not line.strip():
                    continue
                obj = orjson.loads(line)
                categories = [c for c in obj["categories"] if c[:1].islower()]
                if obj["id"] in records or not categories or not obj.get("title"):
                    continue
                records[obj["id"]] = {"title": " ".join(obj["title"].split()),
                                      "abstract": " ".join((obj.get("summary") or "").split()),
                                      "authors": [a for a in obj["authors"] if a.strip()], "categories": categories,
                                      "comments": obj.get("comment")}
    return [records[key] for key in sorted(records)]


class Pools:
    """Per primary category: title words, abstract sentences and author names of the real records."""

    def __init__(self, records: list[dict]) -> None:
        self.title_words: dict[str, list[str]] = defaultdict(list)
        self.sentences: dict[str, list[str]] = defaultdict(list)
        self.authors: dict[str, list[str]] = defaultdict(list)
        for record in records:
            primary = record["categories"][0]
            self.title_words[primary].extend(record["title"].split())
            self.sentences[primary].extend(sentences(record["abstract"]))
            self.authors[primary].extend(record["authors"])


def sentences(text: str) -> list[str]:
    return [part for part in _SENTENCE_END.split(text) if part]


def months(count: int, rng: Random) -> list[tuple[int, int]]:
    """A month (year, month) per record, in order, with arXiv's id capacities respected."""
    calendar = [(year, month) for year in range(1991, 2027) for month in range(1, 13)]
    weights = [(year - 1990) ** 1.6 for year, _ in calendar]
    drawn = rng.choices(range(len(calendar)), weights=weights, k=count)
    per_month = [0] * len(calendar)
    for index in drawn:
        per_month[index] += 1
    first_five_digit = calendar.index((2015, 1))
    for index, (year, month) in enumerate(calendar):
        if (2007, 4) <= (year, month) < (2015, 1) and per_month[index] > 9999:
            excess = per_month[index] - 9999
            per_month[index] = 9999
            for _ in range(excess):
                per_month[rng.randrange(first_five_digit, len(calendar))] += 1
    return [month for index, month in enumerate(calendar) for _ in range(per_month[index])]


def wrap(text: str, width: int = 79) -> str:
    """Kaggle's abstract layout: two leading spaces, lines of about ``width`` columns, a trailing newline."""
    lines, start = [], 0
    text = "  " + text
    while len(text) - start > width:
        cut = text.rfind(" ", start + 1, start + width)
        if cut <= start:
            cut = text.find(" ", start + width)
            if cut < 0:
                break
        lines.append(text[start:cut])
        start = cut + 1
    lines.append(text[start:])
    return "\n".join(lines) + "\n"


def split_name(name: str) -> list[str]:
    parts = name.split()
    return [parts[-1], " ".join(parts[:-1]), ""] if len(parts) > 1 else [name, "", ""]


def rfc2822(year: int, month: int, day: int, rng: Random) -> str:
    import datetime as dt

    weekday = DAY_NAMES[dt.date(year, month, day).weekday()]
    return (f"{weekday}, {day} {MONTH_NAMES[month - 1]} {year} "
            f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d} GMT")


def generate(output: Path, count: int, seed: int, head: Path = HEAD, listings: Path = LISTINGS) -> dict:
    """Write ``count`` lines to ``output``; return a summary."""
    import datetime as dt

    started = time.perf_counter()
    rng = Random(seed)
    records = real_records(head, listings)
    pools = Pools(records)
    head_objects = [orjson.loads(line) for line in head.read_bytes().splitlines()]
    doi_prefixes = sorted({obj["doi"].split("/")[0] for obj in head_objects if obj.get("doi")})
    journal_refs = sorted({obj["journal-ref"] for obj in head_objects if obj.get("journal-ref")})
    report_numbers = sorted({obj["report-no"] for obj in head_objects if obj.get("report-no")})
    numbers: dict[tuple, int] = defaultdict(int)
    last_day = dt.date(2026, 12, 31)
    with output.open("wb") as out:
        for year, month in months(count, rng):
            base = records[rng.randrange(len(records))]
            primary = base["categories"][0]
            # The id, in the style of its month.
            if (year, month) < (2007, 4):
                archive = primary.split(".")[0] if primary.split(".")[0] in OLD_ARCHIVES else OLD_ARCHIVES[0]
                at = OLD_ARCHIVES.index(archive)
                while numbers[(year, month, archive)] >= 999:
                    at = (at + 1) % len(OLD_ARCHIVES)
                    archive = OLD_ARCHIVES[at]
                numbers[(year, month, archive)] += 1
                arxiv = f"{archive}/{year % 100:02d}{month:02d}{numbers[(year, month, archive)]:03d}"
            else:
                numbers[(year, month)] += 1
                digits = 4 if year < 2015 else 5
                arxiv = f"{year % 100:02d}{month:02d}.{numbers[(year, month)]:0{digits}d}"
            # Title and abstract recombined from real text of the same primary category.
            words = pools.title_words[primary]
            title = " ".join(word if rng.random() >= 0.25 else words[rng.randrange(len(words))]
                             for word in base["title"].split())
            own = sentences(base["abstract"])
            pool = pools.sentences[primary]
            abstract = " ".join(own[:1] + [pool[rng.randrange(len(pool))] for _ in own[1:]]) if pool else ""
            names = pools.authors[primary]
            authors = base["authors"][:1] + [name if rng.random() < 0.5 or not names else names[rng.randrange(len(names))]
                                             for name in base["authors"][1:]]
            # Versions and dates.
            day = dt.date(year, month, rng.randint(1, 28))
            versions = []
            for number in range(1, 1 + rng.choices((1, 2, 3), weights=(6, 3, 1))[0]):
                versions.append({"version": f"v{number}", "created": rfc2822(day.year, day.month, day.day, rng)})
                day = min(last_day, day + dt.timedelta(days=rng.randint(1, 200)))
            updated = min(last_day, day + dt.timedelta(days=rng.randint(0, 400)))
            published_elsewhere = year < 2024 and rng.random() < 0.45
            line = {
                "id": arxiv,
                "submitter": authors[0] if authors else None,
                "authors": (", ".join(authors[:-1]) + " and " + authors[-1]) if len(authors) > 1 else
                           (authors[0] if authors else ""),
                "title": title,
                "comments": base["comments"],
                "journal-ref": journal_refs[rng.randrange(len(journal_refs))] if published_elsewhere else None,
                "doi": (f"{doi_prefixes[rng.randrange(len(doi_prefixes))]}/pf-synthetic.{arxiv.replace('/', '.')}"
                        if published_elsewhere else None),
                "report-no": report_numbers[rng.randrange(len(report_numbers))] if rng.random() < 0.05 else None,
                "categories": " ".join(base["categories"]),
                "license": None if year < 2004 else LICENSES[rng.randrange(len(LICENSES) if year >= 2016 else 1)],
                "abstract": wrap(abstract),
                "versions": versions,
                "update_date": updated.isoformat(),
                "authors_parsed": [split_name(name) for name in authors],
            }
            out.write(orjson.dumps(line) + b"\n")
    return {"output": str(output), "records": count, "seed": seed, "real_bases": len(records),
            "bytes": output.stat().st_size, "seconds": round(time.perf_counter() - started, 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path, help="where to write (use /tmp; never commit the file)")
    parser.add_argument("--records", type=int, default=WHOLE_ARXIV, help="lines to write (default 2,700,000)")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--head", type=Path, default=HEAD)
    parser.add_argument("--listings", type=Path, default=LISTINGS)
    args = parser.parse_args(argv)
    summary = generate(args.output, args.records, args.seed, args.head, args.listings)
    sys.stdout.write(orjson.dumps(summary).decode() + "\n")


if __name__ == "__main__":
    main()
