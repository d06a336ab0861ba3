"""A real store for the web tests: a listing day, a Hugging Face day, topic captures, news, and a hostile record."""

from __future__ import annotations

import json
from pathlib import Path

from paperfeed.config import Settings
from paperfeed.ingest import Ingester
from paperfeed.search import open_indexer
from paperfeed.storage import open_store

from datafiles import DATA, HF_DAY, LISTING, SHAPE3, TOPIC_PAGE

NEWS = DATA / "news" / "guardian_us_2018-01-31.rss"
XSS_ARXIV = "2512.99001"
XSS_TITLE = ('<script>window.__xss = 1</script>Adversarial <img src=x onerror="window.__xss = 2"> titles '
             'for transformer attention')
XSS_RECORD = {
    "id": XSS_ARXIV, "categories": ["cs.LG"], "authors": ["Mallory <b>Hacker</b>", "Eve Example"],
    "abs": "javascript:window.__xss=3", "pdf": "javascript:window.__xss=4",
    "title": XSS_TITLE,
    "summary": "We study <script>window.__xss = 5</script> attention heads of transformer models "
               "with an <iframe src=javascript:alert(1)></iframe> payload in the abstract.",
}
KNOWN_ARXIV = "2602.22639"
KNOWN_TITLE = "QuadSync: Quadrifocal Tensor Synchronization via Tucker Decomposition"
TOPIC_SLUG = "large-language-model"


def build_store(directory: Path, db: str | None = None) -> Settings:
    """Ingest the test inputs into ``db`` (default ``directory``/store.db), index them (keyword only: fast),
    return settings."""
    hostile = directory / "hostile.jsonl"
    hostile.write_text(json.dumps(XSS_RECORD) + "\n", encoding="utf-8")
    db = db or directory / "store.db"
    settings = Settings.load(db=str(db), embedder="none", secret_key="test-secret-key")
    with open_store(db) as store:
        report = Ingester(store).ingest_paths([LISTING, HF_DAY, TOPIC_PAGE, SHAPE3, NEWS, hostile])
        assert not report.failed, [(f.origin, f.error) for f in report.failed]
        open_indexer(store, settings, vectors=False).update()
    return settings
