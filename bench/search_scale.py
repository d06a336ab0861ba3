"""Search at 1,000,000 items: keyword / semantic / hybrid latency and serving memory, against the real store.

Usage:
    python bench/search_scale.py --listings ../shared/data/arxiv-daily-listings/*.tar.xz \
        --hf ../shared/data/hf-daily-papers/*.tar.xz --work-dir /work/tmp/scale [--items 1000000] [--queries 1000]

Stores (built once, reused on later runs: each lives in a folder of --work-dir named by a hash of what made it;
nothing here is ever committed):
- base: the real listing records ingested as they are by the real ingest path (``Ingester``), indexed by the
  real ``Indexer`` (tantivy keyword index, WordLlama embeddings, usearch graph). This is the ~48,000-item store.
- scale: a copy of the base store grown to ``--items`` with synthetic items, written in bulk through the storage
  layer's ingest transaction (``IngestSession.write`` of ``BatchWrite``s, 20,000 items each): items, authors,
  categories, one source record and one arXiv identifier each, the change log kept by the store's own triggers.
  Synthetic item *i* (seeded): a real base item *a* drawn at random and a second real item *b* of the same primary
  arXiv category; title = the first half of *a*'s title words + the second half of *b*'s; abstract = the first
  half of *a*'s sentences + the second half of *b*'s sentences; authors of *b*; categories, kind, source format
  and listing day (published) of *a*; a fresh item id and a fresh arXiv id (``10MM.NNNNN`` onwards, unused by
  the real records, which are 2025-2026). So the vocabulary, sentence and posting-list statistics are those of
  real abstracts in the same field. What is not real: the recombined texts, their ids, and the absence of merge
  block keys and stored per-item vectors for synthetic items (only ingest merging and re-embedding read those;
  search does not). Its indexes are built in bulk by this bench, not by ``Indexer.update`` (which is timed at
  this scale in bench/search.py): the keyword documents through ``KeywordIndex.update``, embeddings by the same
  embedder from ``embedding_text``, one ``VectorIndex.upsert`` of every vector, then the index state is recorded
  as current, exactly as the indexer records it; the pair lists of ``search.pairs`` are kept as the indexer's
  ``KeywordIndex.close`` keeps them (for a store built before they existed, on the first run that finds it without
  them; the time is logged). Build time is reported separately; it is not the target.
Queries (``--queries``, seeded): half Hugging Face ``ai_keywords``, half runs of 1-4 consecutive words of real
titles; 60 other queries of the same kinds warm each process up first.
Measured in a fresh child process per store and configuration (the large store, then the base store; with
``--before-src``, the code of another checkout's src/ too, alternating which goes first from round to round; every
file of a store read once before, so that no run pays for a cold page cache), through ``search.open_search`` as
the CLI opens it, with one embedder per process as the web app has; ``--services 16`` opens 16 services on 16
store connections taking the queries in turn, as the web app's pooled request contexts do. Result cache off, so
that every call searches. Each query in keyword, semantic and hybrid mode (rotating order), top 10, one client;
wall-clock p50 / p95 / p99, and the process's CPU time per call (the work, apart from waiting for a core on a
machine other sessions load). Memory of the serving process after its queries: RSS, PSS and USS
(``/proc/self/smaps_rollup``) and the resident part of the memory-mapped index files. Vector recall: the usearch
top 10 against exact cosine search over the same (float16) vectors, at several search expansions.
Ends with one JSON line of figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from children import in_child  # noqa: E402  (bench/children.py)
from search import log, percentile, read_keywords, read_listings  # noqa: E402  (bench/search.py)

MODES = ("keyword", "semantic", "hybrid")
METHOD_VERSION = 1
"""Bumped when the synthetic method changes, so a cached store built by another method is not reused."""
CHUNK = 20_000
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9$\\(])")


def file_key(*parts: object) -> str:
    return hashlib.blake2b(json.dumps(parts, default=str).encode(), digest_size=6).hexdigest()


# -- the base store: real records, real ingest, real indexer -------------------------------------------------

def build_base(folder: Path, listings: str) -> dict:
    from paperfeed.config import Settings
    from paperfeed.ingest import Ingester
    from paperfeed.search import open_indexer
    from paperfeed.storage import open_store

    db = folder / "store.db"
    if (folder / "done.json").exists():
        return json.loads((folder / "done.json").read_text())
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with open_store(db) as store:
        started = time.perf_counter()
        Ingester(store).ingest_paths([Path(listings)])
        ingest_seconds = time.perf_counter() - started
        report = open_indexer(store, Settings.load(db=str(db))).update()
        done = {"items": store.item_count(), "ingest_seconds": round(ingest_seconds, 1),
                "index_seconds": round(report.seconds, 1), "embedded": report.embedded}
    (folder / "done.json").write_text(json.dumps(done))
    return done


# -- the scale store: synthetic growth written in bulk -------------------------------------------------------

def split_sentences(text: str) -> list[str]:
    return [sentence for sentence in _SENTENCE_END.split(text.strip()) if sentence]


class Recombiner:
    """Synthetic items from real ones (see the module docstring), seeded."""

    def __init__(self, documents: list, seed: int) -> None:
        self.generator = random.Random(seed)
        self.documents = documents
        self.sentences = [split_sentences(document.abstract or "") for document in documents]
        self.by_category: dict[str, list[int]] = {}
        for index, document in enumerate(documents):
            self.by_category.setdefault(document.categories[0] if document.categories else "", []).append(index)

    def item(self, number: int) -> tuple[dict, tuple[str, str]]:
        """The fields of synthetic item ``number`` and the (arXiv id, arXiv id) of the items it recombines."""
        generator = self.generator
        a_index = generator.randrange(len(self.documents))
        a = self.documents[a_index]
        peers = self.by_category[a.categories[0] if a.categories else ""]
        b_index = generator.choice(peers)
        if b_index == a_index and len(peers) > 1:
            b_index = peers[(peers.index(b_index) + 1) % len(peers)]
        b = self.documents[b_index]
        title_a, title_b = a.title.split(), b.title.split()
        sentences_a, sentences_b = self.sentences[a_index], self.sentences[b_index]
        abstract = " ".join(sentences_a[:(len(sentences_a) + 1) // 2] + sentences_b[len(sentences_b) // 2:])
        month = number // 99_999
        arxiv = f"{10 + month // 12:02d}{month % 12 + 1:02d}.{number % 99_999 + 1:05d}"
        fields = {"kind": a.kind, "title": " ".join(title_a[:len(title_a) // 2] + title_b[len(title_b) // 2:]),
                  "abstract": abstract, "authors": list(b.authors), "arxiv_id": arxiv,
                  "url": f"https://arxiv.org/abs/{arxiv}", "published": a.published,
                  "categories": list(a.categories), "format": a.sources[0] if a.sources else "arxiv-listing"}
        return fields, (a.arxiv_id, b.arxiv_id)


def base_documents(store) -> list:
    ids = [row[0] for row in store.db.rows("SELECT id FROM items ORDER BY id")]
    documents = []
    for start in range(0, len(ids), 5000):
        batch = store.item_documents(ids[start:start + 5000])
        documents += [batch[item_id] for item_id in ids[start:start + 5000] if item_id in batch]
    return documents


def write_chunk(store, fields_list: list[dict], sources: list[tuple[str, str]]):
    """Write synthetic items through the storage layer's ingest transaction; their SearchDocuments."""
    import orjson

    from paperfeed.merge.fields import ItemFields
    from paperfeed.normalize import utc_now
    from paperfeed.storage import SearchDocument
    from paperfeed.storage.ingest_session import BatchWrite, SourceRecordRow

    seen_at = utc_now()
    documents = []
    with store.ingest_session() as session:
        ids = session.allocate_item_ids(len(fields_list))
        batch = BatchWrite(new_item_ids=list(ids))
        for item_id, fields, origin in zip(ids, fields_list, sources):
            published = fields["published"]
            batch.items[item_id] = ItemFields(
                kind=fields["kind"], title=fields["title"], abstract=fields["abstract"], authors=fields["authors"],
                arxiv_id=fields["arxiv_id"], doi=None, url=fields["url"], published=published,
                year=int(published[:4]) if published else None, categories=fields["categories"], topics={},
                upvotes=0, withdrawn=False)
            raw = orjson.dumps({"id": fields["arxiv_id"], "categories": fields["categories"],
                                "authors": fields["authors"], "title": fields["title"],
                                "summary": fields["abstract"], "abs": fields["url"]}).decode()
            batch.source_records.append(SourceRecordRow(
                item_id=item_id, fingerprint=f"synthetic:{fields['arxiv_id']}", format=fields["format"],
                record_id=fields["arxiv_id"], origin="bench/search_scale.py", label=None, seen_at=seen_at,
                deleted=False, raw=raw, data_json=orjson.dumps({"synthetic_from": list(origin)}).decode()))
            batch.identifiers.append(("arxiv", fields["arxiv_id"], item_id))
            documents.append(SearchDocument(
                id=item_id, kind=fields["kind"], title=fields["title"], abstract=fields["abstract"],
                published=published, arxiv_id=fields["arxiv_id"], url=fields["url"], authors=fields["authors"],
                categories=fields["categories"], topics=[], sources=[fields["format"]]))
        session.write(batch)
    return documents


def build_scale(folder: Path, base: Path, items: int, seed: int) -> dict:
    """Copy the base store and its indexes, grow it to ``items`` (see the module docstring)."""
    from paperfeed.config import Settings
    from paperfeed.search import load_embedder
    from paperfeed.search.indexer import IndexState, embedding_text
    from paperfeed.search.keyword import KeywordIndex
    from paperfeed.storage import open_store

    if (folder / "done.json").exists():
        return json.loads((folder / "done.json").read_text())
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    db, index_dir = folder / "store.db", folder / "store.db.search"
    source = sqlite3.connect(base / "store.db")
    target = sqlite3.connect(db)
    source.backup(target)
    source.close()
    target.close()
    shutil.copytree(base / "store.db.search" / "keyword", index_dir / "keyword")
    shutil.copy2(base / "store.db.search" / "state.json", index_dir / "state.json")
    timings = {"write_seconds": 0.0, "keyword_seconds": 0.0, "embed_seconds": 0.0}
    settings = Settings.load(db=str(db))
    embedder = load_embedder(settings.embedder)
    with open_store(db) as store:
        documents = base_documents(store)
        start_count = len(documents)
        recombiner = Recombiner(documents, seed)
        ids = np.zeros(items, dtype=np.uint64)
        vectors = np.lib.format.open_memmap(folder / "vectors.f16.npy", mode="w+", dtype=np.float16,
                                            shape=(items, embedder.dim))
        position = 0
        for rows in store.iter_item_vectors(embedder.name):
            for item_id, vector in rows:
                ids[position] = item_id
                vectors[position] = np.frombuffer(vector, dtype=np.float16)
                position += 1
        if position != start_count:
            raise SystemExit(f"the base store holds {position} vectors for {start_count} items: index it first")
        keyword = KeywordIndex(index_dir / "keyword")
        number = 0
        while position < items:
            count = min(CHUNK, items - position)
            made = [recombiner.item(number + offset) for offset in range(count)]
            number += count
            started = time.perf_counter()
            chunk = write_chunk(store, [fields for fields, _ in made], [origin for _, origin in made])
            timings["write_seconds"] += time.perf_counter() - started
            started = time.perf_counter()
            keyword.update(chunk, [], [])
            timings["keyword_seconds"] += time.perf_counter() - started
            started = time.perf_counter()
            vectors[position:position + count] = embedder.embed([embedding_text(doc) for doc in chunk])
            timings["embed_seconds"] += time.perf_counter() - started
            ids[position:position + count] = [doc.id for doc in chunk]
            position += count
            log(f"  {position:,} items ({', '.join(f'{k} {v:.0f}' for k, v in timings.items())})")
        started = time.perf_counter()
        keyword.close()
        timings["keyword_seconds"] += time.perf_counter() - started
        vectors.flush()
        np.save(folder / "ids.npy", ids)
        timings["vector_graph_seconds"] = build_vector_graph(folder, index_dir / "vectors.usearch", embedder.dim)
        version = store.store_version()
        state = IndexState.load(index_dir)
        state.keyword_seq = state.vector_seq = version
        state.keyword_max_id = int(ids.max())
        state.model, state.dim = embedder.name, embedder.dim
        state.save(index_dir)
        done = {"items": store.item_count(), "synthetic": items - start_count, "seed": seed,
                **{name: round(value, 1) for name, value in timings.items()}}
    (folder / "done.json").write_text(json.dumps(done))
    return done


def keep_pair_lists(folder: Path) -> dict:
    """The kept first passes of the commonest word pairs (``search.pairs``), as the indexer's ``KeywordIndex.close``
    keeps them: made here for a store built before they existed (once; a no-op when they are current)."""
    from paperfeed.search import pairs
    from paperfeed.search.keyword import RERANK_DEPTH, KeywordIndex

    index = KeywordIndex(folder / "store.db.search" / "keyword")
    started, started_cpu = time.perf_counter(), time.process_time()
    kept = pairs.keep(index.path, index.index, index.schema, RERANK_DEPTH)
    return {**kept, "wall_seconds": round(time.perf_counter() - started, 1),
            "cpu_seconds": round(time.process_time() - started_cpu, 1)}


def build_vector_graph(folder: Path, path: Path, dim: int) -> float:
    """The usearch graph of every vector (``search.vectors`` settings), in one multi-threaded add."""
    from paperfeed.search.vectors import VectorIndex

    started = time.perf_counter()
    ids = np.load(folder / "ids.npy")
    vectors = np.load(folder / "vectors.f16.npy", mmap_mode="r")
    path.unlink(missing_ok=True)
    index = VectorIndex(path, dim, writable=True)
    for start in range(0, len(ids), 200_000):
        index.upsert([int(key) for key in ids[start:start + 200_000]],
                     np.asarray(vectors[start:start + 200_000], dtype=np.float32))
    index.save()
    return time.perf_counter() - started


# -- measuring: one serving process per store ------------------------------------------------------------------

def make_queries(papers: list[dict], keywords: list[str], count: int, seed: int) -> list[str]:
    """Half Hugging Face ai_keywords, half runs of 1-4 consecutive words of real titles (seeded)."""
    generator = random.Random(seed)
    chosen = generator.sample(keywords, min(count // 2, len(keywords)))
    while len(chosen) < count:
        words = generator.choice(papers)["title"].split()
        length = generator.randint(1, 4)
        start = generator.randrange(0, max(1, len(words) - length + 1))
        chosen.append(" ".join(words[start:start + length]))
    generator.shuffle(chosen)
    return chosen


def memory_figures(index_dir: Path) -> dict:
    """RSS, PSS, USS of this process and the resident part of its mapped index files, in MB."""
    figures = {}
    rollup = Path("/proc/self/smaps_rollup")
    if rollup.exists():
        values = {}
        for line in rollup.read_text().splitlines():
            name, _, rest = line.partition(":")
            if rest.strip().endswith("kB"):
                values[name] = int(rest.split()[0])
        figures = {"rss_mb": round(values.get("Rss", 0) / 1024), "pss_mb": round(values.get("Pss", 0) / 1024),
                   "uss_mb": round((values.get("Private_Clean", 0) + values.get("Private_Dirty", 0)) / 1024)}
    mapped: dict[str, int] = {}
    current = None
    prefix = str(index_dir.resolve())
    smaps = Path("/proc/self/smaps")
    if smaps.exists():
        for line in smaps.read_text().splitlines():
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                path = line.split(maxsplit=5)[5] if len(line.split(maxsplit=5)) > 5 else ""
                current = ("vectors" if path.endswith(".usearch") else "keyword") if path.startswith(prefix) else None
            elif current and line.startswith("Rss:"):
                mapped[current] = mapped.get(current, 0) + int(line.split()[1])
    figures["index_files_resident_mb"] = {name: round(kb / 1024) for name, kb in mapped.items()}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            figures["peak_rss_mb"] = round(int(line.split()[1]) / 1024)
    return figures


def serve_and_measure(db: str, queries: list[str], warmup: list[str], services: int, source: str | None,
                      queue) -> None:
    """In a fresh child process: open search as the CLI does (the web app's SearchService, same arguments),
    warm up, then time every query in every mode, interleaved; then memory. With ``services`` > 1, that many
    services, each on its own store connection, take the queries in turn, as the web app's pooled request
    contexts do (one SearchService per pooled connection). ``source``: import paperfeed from that src/ folder."""
    if source:
        # A spawned child starts with its parent's sys.path, whatever PYTHONPATH says: put the other code first.
        sys.path.insert(0, source)
        assert not any(name.startswith("paperfeed") for name in sys.modules)
    from paperfeed.config import Settings
    from paperfeed.search import load_embedder, open_search
    from paperfeed.storage import open_store

    started = time.perf_counter()
    # Result cache off: every call searches (the queries are distinct anyway; a repeat would time the cache).
    settings = Settings.load(db=db, search_cache_hits="0")
    embedder = load_embedder(settings.embedder)  # one per process, shared by its services as the web app does
    stores = [open_store(db, migrate=False) for _ in range(services)]
    pool = [open_search(store, settings, embedder=embedder) for store in stores]
    store, service = stores[0], pool[0]
    for number, query in enumerate(warmup):
        for mode in MODES:
            pool[number % len(pool)].search(query, mode=mode)
    warm_seconds = time.perf_counter() - started
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    cpu_times: dict[str, list[float]] = {mode: [] for mode in MODES}
    slowest: dict[str, list[tuple[float, str]]] = {mode: [] for mode in MODES}
    for number, query in enumerate(queries):
        for shift in range(len(MODES)):
            mode = MODES[(number + shift) % len(MODES)]
            service = pool[(number * len(MODES) + shift) % len(pool)]
            begun, begun_cpu = time.perf_counter(), time.process_time()
            results = service.search(query, mode=mode, limit=10)
            elapsed = (time.perf_counter() - begun) * 1000
            times[mode].append(elapsed)
            cpu_times[mode].append((time.process_time() - begun_cpu) * 1000)
            slowest[mode].append((elapsed, query))
            if results.mode != mode:
                raise SystemExit(f"{mode} search of {query!r} ran as {results.mode}: {results.note}")
    latency = {mode: {"p50_ms": round(percentile(values, 50), 2), "p95_ms": round(percentile(values, 95), 2),
                      "p99_ms": round(percentile(values, 99), 2), "mean_ms": round(float(np.mean(values)), 2)}
               for mode, values in times.items()}
    # The process's CPU time per call (every thread of it): the work a query costs, apart from waiting for a
    # core on a machine other sessions load.
    cpu = {mode: {"p50_ms": round(percentile(values, 50), 2), "p95_ms": round(percentile(values, 95), 2),
                  "p99_ms": round(percentile(values, 99), 2)} for mode, values in cpu_times.items()}
    slow = {mode: [f"{query} ({ms:.0f} ms)" for ms, query in sorted(values, reverse=True)[:5]]
            for mode, values in slowest.items()}
    import paperfeed

    queue.put({"items": store.item_count(), "services": services, "imported": paperfeed.__file__,
               "latency": latency, "cpu": cpu, "slowest": slow,
               "memory": memory_figures(service.directory), "open_and_warm_seconds": round(warm_seconds, 1)})


def vector_recall(folder: Path, dim: int, queries: list[str], count: int = 300, k: int = 10) -> dict:
    """Recall@k of the served usearch graph against exact cosine search over the stored float16 vectors, and
    the CPU time of a search for the hybrid's depth, at several search expansions (the served one marked)."""
    from paperfeed.search import load_embedder
    from paperfeed.search.service import FUSION_DEPTH
    from paperfeed.search.vectors import EXPANSION_SEARCH, VectorIndex

    embedder = load_embedder("wordllama")
    ids = np.load(folder / "ids.npy")
    vectors = np.load(folder / "vectors.f16.npy", mmap_mode="r")
    index = VectorIndex(folder / "store.db.search" / "vectors.usearch", dim)
    query_vectors = embedder.embed(queries[:count])
    query_vectors = query_vectors[np.flatnonzero(query_vectors.any(axis=1))]
    scores = np.empty((len(query_vectors), len(ids)), dtype=np.float32)
    for start in range(0, len(ids), 100_000):
        block = np.asarray(vectors[start:start + 100_000], dtype=np.float32)
        scores[:, start:start + len(block)] = query_vectors @ block.T
    exact = np.argpartition(-scores, k, axis=1)[:, :k]
    del scores
    truths = [{int(ids[column]) for column in row} for row in exact]
    figures = {"queries": len(query_vectors), "k": k, "served_expansion": EXPANSION_SEARCH, "by_expansion": {}}
    for expansion in sorted({32, 64, EXPANSION_SEARCH, 128, 192}):
        index.index.expansion_search = expansion
        found, cpu = 0, []
        for vector, truth in zip(query_vectors, truths):
            found += len(truth & {item_id for item_id, _ in index.search(vector, k)})
            begun = time.process_time()
            index.search(vector, FUSION_DEPTH)
            cpu.append((time.process_time() - begun) * 1000)
        figures["by_expansion"][expansion] = {
            "recall_at_10": round(found / (k * len(query_vectors)), 4),
            f"cpu_ms_at_{FUSION_DEPTH}_p50": round(percentile(cpu, 50), 3),
            f"cpu_ms_at_{FUSION_DEPTH}_p99": round(percentile(cpu, 99), 3)}
    return figures


def read_through(folder: Path) -> None:
    """Read a store's files once, so that neither configuration measured first pays for a cold page cache."""
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.endswith(".npy"):
            with path.open("rb") as handle:
                while handle.read(1 << 24):
                    pass


def run_configuration(source: str | None, db: str, queries: list[str], warmup: list[str], services: int) -> dict:
    """``serve_and_measure`` in a child importing paperfeed from ``source`` (another checkout's src/), or ours."""
    result = in_child(serve_and_measure, db, queries, warmup, services, source)
    result["source"] = source or "current"
    return result


def measure_all(args, base_folder: Path, scale_folder: Path, base: dict, scale: dict) -> int:
    papers = read_listings(args.listings)
    keywords = read_keywords(args.hf)
    queries = make_queries(papers, keywords, args.queries + 60, seed=args.seed + 10)
    warmup, queries = queries[:60], queries[60:]
    log(f"{len(queries)} queries, e.g. {queries[:6]}; load {os.getloadavg()}")
    configurations = [("current", None)] + ([("before", args.before_src)] if args.before_src else [])
    runs: dict[str, list[dict]] = {}
    for name, folder in (("scale", scale_folder), ("base", base_folder)):
        read_through(folder)
        for round_number in range(args.rounds):
            # Alternate which configuration goes first from round to round.
            turn = round_number % len(configurations)
            order = configurations[turn:] + configurations[:turn]
            for label, source in order:
                result = run_configuration(source, str(folder / "store.db"), queries, warmup, args.services)
                result["load"] = [round(value, 2) for value in os.getloadavg()]
                runs.setdefault(f"{name} {label}", []).append(result)
                log(f"{name} ({result['items']:,} items), {label}, round {round_number + 1}: {json.dumps(result)}")
    recall = None if args.skip_recall else vector_recall(scale_folder, 256, queries)
    log(f"vector recall at {scale['items']:,} items: {recall}")
    print(json.dumps({"bench": "search_scale", "build": {"base": base, "scale": scale}, "runs": runs,
                      "vector_recall": recall}), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listings", required=True, help="The arXiv daily listings archive (.tar.xz).")
    parser.add_argument("--hf", required=True, help="The Hugging Face daily papers archive (for ai_keywords).")
    parser.add_argument("--work-dir", required=True, help="Where the stores are built and kept for reuse.")
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--services", type=int, default=1,
                        help="Search services in the measuring process taking queries in turn (the web app keeps one "
                        "per pooled connection, 16 per process).")
    parser.add_argument("--rounds", type=int, default=1, help="Runs per store and configuration.")
    parser.add_argument("--before-src", help="Also measure the paperfeed package of this src/ folder (a checkout "
                        "of the code before a change), alternating with the current one.")
    parser.add_argument("--build-only", action="store_true", help="Build (or find) the stores and stop.")
    parser.add_argument("--skip-recall", action="store_true", help="Leave out the vector recall (a minute at 1M).")
    args = parser.parse_args(argv)
    work = Path(args.work_dir)
    listings = Path(args.listings)
    base_folder = work / f"base-{file_key(METHOD_VERSION, listings.name, listings.stat().st_size)}"
    scale_folder = work / f"scale-{file_key(METHOD_VERSION, base_folder.name, args.items, args.seed)}"
    started = time.perf_counter()
    base = build_base(base_folder, str(listings))
    log(f"base store {base_folder}: {base} ({time.perf_counter() - started:.0f} s)")
    started = time.perf_counter()
    scale = build_scale(scale_folder, base_folder, args.items, args.seed)
    log(f"scale store {scale_folder}: {scale} ({time.perf_counter() - started:.0f} s)")
    for name, folder in (("base", base_folder), ("scale", scale_folder)):
        log(f"{name} store's pair lists: {keep_pair_lists(folder)}")
    if args.build_only:
        return 0
    return measure_all(args, base_folder, scale_folder, base, scale)


if __name__ == "__main__":
    raise SystemExit(main())
