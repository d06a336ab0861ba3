"""TL;DR: paperfeed's extractive one-liner against standard extractive baselines, scored against Hugging Face's
own one-line summaries (``ai_summary``) of the same papers.

Usage: python bench/tldr.py PATH [--split YYYY-MM-DD]

PATH is the .tar.xz archive (or a directory of day files) of ../shared/data/hf-daily-papers, read with
paperfeed's own parser (``sources.hf_daily``), so abstracts are exactly what a store holds. The reference is the
item's ``ai_summary`` (written by Hugging Face's model, not by a person: an abstractive one-liner, so every
extractive method scores well below 1; the figures rank methods, they are not absolute quality). Papers of days
before --split tune every method that has a choice to make (the baselines' as much as paperfeed's); papers of
later days are the test. A harder variant of the test set hard-wraps each abstract at 72 columns and prefixes
"Abstract:" (as text pasted from a PDF or an e-mail looks) before anything is computed.

Methods, each cut to the same 250 characters at a word boundary:
- first sentence; last sentence;
- TF-IDF centroid: the sentence closest (cosine) to the abstract's TF-IDF centroid, IDF from the tuning papers;
  tuned: with or without the title in the centroid, sublinear tf or not, minimum sentence length;
- paperfeed default: ``summaries.extractive.extractive_tldr`` with its shipped weights;
- paperfeed tuned: the same with weights chosen by grid search on the tuning papers (reported to show how much
  the shipped weights leave on the table on unseen days);
- oracle sentence: the abstract's sentence closest to the reference (ROUGE-L): the ceiling of any method that
  picks one sentence, not a method.
Scores: ROUGE-1 and ROUGE-L F1 (lowercased alphanumeric tokens, no stemming, as rouge-score's default
tokenizer), mean over papers. Ends with one JSON line of figures.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import re
import sys
import tarfile
import time
from collections import Counter
from pathlib import Path

from paperfeed.records import ParseContext
from paperfeed.sources import hf_daily
from paperfeed.summaries.extractive import MAX_CHARS, Weights, bound, extractive_tldr, tidy
from paperfeed.summaries.sentences import split_sentences

TOKEN = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


def rouge_1(candidate: list[str], reference: list[str]) -> float:
    overlap = sum((Counter(candidate) & Counter(reference)).values())
    return _f1(overlap, len(candidate), len(reference))


def rouge_l(candidate: list[str], reference: list[str]) -> float:
    if not candidate or not reference:
        return 0.0
    previous = [0] * (len(reference) + 1)
    for word in candidate:
        current = [0]
        for index, other in enumerate(reference):
            current.append(previous[index] + 1 if word == other else max(previous[index + 1], current[index]))
        previous = current
    return _f1(previous[-1], len(candidate), len(reference))


def _f1(overlap: int, candidate: int, reference: int) -> float:
    if not overlap:
        return 0.0
    precision, recall = overlap / candidate, overlap / reference
    return 2 * precision * recall / (precision + recall)


def load(path: Path) -> list[dict]:
    """Every paper with an ``ai_summary``, once (its first day), as {day, title, abstract, reference}."""
    members: list[tuple[str, bytes]] = []
    if path.is_dir():
        members = [(file.name, file.read_bytes()) for file in sorted(path.glob("*.json"))]
    else:
        with tarfile.open(path, "r:xz") as archive:
            for member in sorted(archive.getmembers(), key=lambda m: m.name):
                if member.isfile() and member.name.endswith(".json"):
                    members.append((Path(member.name).name, archive.extractfile(member).read()))
    papers, seen = [], set()
    for name, data in members:
        try:
            records = list(hf_daily.parse(data, ParseContext(origin=name)))
        except Exception as error:  # noqa: BLE001 - a file the parser refuses is reported and skipped
            print(f"skipped {name}: {error}", file=sys.stderr)
            continue
        for record in records:
            reference = (record.extra or {}).get("ai_summary")
            if not reference or not record.abstract or record.arxiv_id in seen:
                continue
            seen.add(record.arxiv_id)
            papers.append({"day": name[:10], "title": record.title, "abstract": record.abstract,
                           "reference": reference})
    return papers


def noisy(paper: dict) -> dict:
    """The harder variant: the abstract hard-wrapped at 72 columns and prefixed "Abstract:"."""
    words, lines, line = paper["abstract"].split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > 72:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return {**paper, "abstract": "Abstract:\n" + "\n".join(lines)}


# -- baselines --------------------------------------------------------------------------------------------------


def first_sentence(paper: dict) -> str:
    sentences = split_sentences(paper["abstract"])
    return tidy_plain(sentences[0] if sentences else "")


def last_sentence(paper: dict) -> str:
    sentences = split_sentences(paper["abstract"])
    return tidy_plain(sentences[-1] if sentences else "")


def tidy_plain(sentence: str) -> str:
    """A baseline's sentence on one line and bounded like paperfeed's, with nothing else changed."""
    return bound(" ".join(sentence.split()), MAX_CHARS)


class Centroid:
    """The sentence nearest the abstract's TF-IDF centroid (IDF over the tuning papers' sentences)."""

    def __init__(self, papers: list[dict], *, with_title: bool, sublinear: bool, min_chars: int) -> None:
        self.with_title, self.sublinear, self.min_chars = with_title, sublinear, min_chars
        frequency: Counter = Counter()
        documents = 0
        for paper in papers:
            for sentence in split_sentences(paper["abstract"]):
                frequency.update(set(tokens(sentence)))
                documents += 1
        self.idf = {word: math.log((1 + documents) / (1 + count)) + 1 for word, count in frequency.items()}
        self.unknown = math.log(1 + documents) + 1

    def vector(self, words: list[str]) -> dict[str, float]:
        counts = Counter(words)
        vector = {word: ((1 + math.log(count)) if self.sublinear else count) * self.idf.get(word, self.unknown)
                  for word, count in counts.items()}
        norm = math.sqrt(sum(value * value for value in vector.values())) or 1.0
        return {word: value / norm for word, value in vector.items()}

    def __call__(self, paper: dict) -> str:
        sentences = split_sentences(paper["abstract"])
        if not sentences:
            return ""
        centroid_words = tokens(paper["abstract"]) + (tokens(paper["title"]) if self.with_title else [])
        centroid = self.vector(centroid_words)
        candidates = [s for s in sentences if len(s) >= self.min_chars] or sentences
        best = max(candidates, key=lambda s: sum(value * centroid.get(word, 0.0)
                                                 for word, value in self.vector(tokens(s)).items()))
        return tidy_plain(best)


# -- scoring and tuning ----------------------------------------------------------------------------------------


def score(method, papers: list[dict]) -> dict[str, float]:
    r1 = rl = 0.0
    empty = 0
    for paper in papers:
        summary = method(paper) or ""
        empty += not summary
        reference = tokens(paper["reference"])
        candidate = tokens(summary)
        r1 += rouge_1(candidate, reference)
        rl += rouge_l(candidate, reference)
    n = max(len(papers), 1)
    return {"rouge1": round(r1 / n, 4), "rougeL": round(rl / n, 4), "empty": empty}


def oracle_sentence(paper: dict) -> str:
    """The upper bound of any one-sentence method: the sentence with the best ROUGE-L against the reference itself
    (it reads the answer; not a method)."""
    reference = tokens(paper["reference"])
    sentences = [tidy_plain(sentence) for sentence in split_sentences(paper["abstract"])] or [""]
    return max(sentences, key=lambda sentence: rouge_l(tokens(sentence), reference))


def paperfeed_method(weights: Weights):
    return lambda paper: extractive_tldr(paper["title"], paper["abstract"], weights=weights) or ""


def tune_centroid(tuning: list[dict]) -> tuple[dict, Centroid]:
    best = None
    for with_title, sublinear, min_chars in itertools.product((False, True), (False, True), (0, 40, 80)):
        method = Centroid(tuning, with_title=with_title, sublinear=sublinear, min_chars=min_chars)
        figures = score(method, tuning)
        if best is None or figures["rougeL"] > best[0]["rougeL"]:
            best = (figures, method, {"with_title": with_title, "sublinear": sublinear, "min_chars": min_chars})
    return best[2], best[1]


def tune_paperfeed(tuning: list[dict]) -> Weights:
    best = None
    for strong, medium, title, position, results in itertools.product(
            (1.5, 3.0, 5.0), (0.5, 1.5), (0.0, 1.0, 2.0, 4.0), (0.0, 0.5, 1.5), (0.5, 1.5)):
        weights = Weights(strong=strong, medium=medium, title=title, position=position, results=results)
        figures = score(paperfeed_method(weights), tuning)
        if best is None or figures["rougeL"] > best[0]["rougeL"]:
            best = (figures, weights)
    return best[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--split", default="2025-11-01", help="first day of the test papers")
    parser.add_argument("--tune-sample", type=int, default=600,
                        help="tuning papers the grid searches use (every other figure uses all)")
    args = parser.parse_args()
    if not args.path.exists():
        print(f"bench/tldr.py: no such file or directory: {args.path}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    papers = load(args.path)
    tuning = [paper for paper in papers if paper["day"] < args.split]
    test = [paper for paper in papers if paper["day"] >= args.split]
    if not tuning or not test:
        print(f"bench/tldr.py: --split {args.split} leaves no tuning or no test papers", file=sys.stderr)
        return 2
    sample = tuning[::max(1, len(tuning) // args.tune_sample)]
    centroid_settings, centroid = tune_centroid(sample)
    tuned_weights = tune_paperfeed(sample)
    methods = {
        "first sentence": first_sentence,
        "last sentence": last_sentence,
        "tf-idf centroid (tuned)": centroid,
        "paperfeed (shipped weights)": paperfeed_method(Weights()),
        "paperfeed (weights tuned this run)": paperfeed_method(tuned_weights),
        "oracle sentence (upper bound, reads the reference)": oracle_sentence,
    }
    results: dict[str, dict] = {}
    hard = [noisy(paper) for paper in test]
    print(f"tuning: {len(tuning)} papers ({tuning[0]['day']} .. {tuning[-1]['day']}, grid on {len(sample)}); "
          f"test: {len(test)} papers ({test[0]['day']} .. {test[-1]['day']})")
    print(f"centroid settings: {centroid_settings}; tuned weights: {tuned_weights}")
    print(f"{'method':52} {'test R-1':>9} {'test R-L':>9} {'noisy R-1':>10} {'noisy R-L':>10} {'tune R-L':>9}")
    for name, method in methods.items():
        on_test, on_hard, on_tuning = score(method, test), score(method, hard), score(method, tuning)
        results[name] = {"test": on_test, "noisy": on_hard, "tuning": on_tuning}
        print(f"{name:52} {on_test['rouge1']:9.4f} {on_test['rougeL']:9.4f} {on_hard['rouge1']:10.4f} "
              f"{on_hard['rougeL']:10.4f} {on_tuning['rougeL']:9.4f}")
    timing_start = time.perf_counter()
    for paper in test:
        extractive_tldr(paper["title"], paper["abstract"])
    per_paper_ms = (time.perf_counter() - timing_start) * 1000 / len(test)
    print(f"paperfeed extractive: {per_paper_ms:.3f} ms per paper; run took {time.perf_counter() - started:.0f} s")
    print(json.dumps({"split": args.split, "tuning": len(tuning), "test": len(test), "results": results,
                      "centroid": centroid_settings, "tuned_weights": repr(tuned_weights),
                      "ms_per_paper": round(per_paper_ms, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
