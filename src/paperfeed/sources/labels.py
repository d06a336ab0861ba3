"""Source formats in words: the one mapping from a format name (``jsonl``, ``hf-daily``) to what a reader calls it.

Pages, feeds and the JSON API show a source by its label in words, never by its format name. A record's own
label (``The Guardian``, ``arXiv listing``) says the most; a record without one, or whose label is only a
format name or a file name, is named by its format's words here.
"""

from __future__ import annotations

FORMAT_LABELS = {
    "arxiv-atom": "arXiv API",
    "arxiv-oai": "arXiv OAI-PMH",
    "arxiv-rss": "arXiv RSS feed",
    "feed": "News feed",
    "hf-daily": "Hugging Face Daily Papers",
    "jsonl": "arXiv listing",
    "bibtex": "BibTeX library",
    "csv": "CSV table",
    "capture": "Page capture",
    "zotero": "Zotero library",
    "mods": "MODS XML (ACL Anthology)",
    "dblp": "DBLP",
    "biorxiv": "bioRxiv / medRxiv",
    "openreview": "OpenReview",
    "crossref": "Crossref",
    "semantic-scholar": "Semantic Scholar",
    "csl-json": "CSL-JSON library",
    "ris": "RIS library",
}
"""What each format is, in words (every format of ``paperfeed.sources``; tests check none is missing)."""

UNKNOWN_FORMAT_LABEL = "Other source"

_FILE_SUFFIXES = (".bib", ".ris", ".sqlite",
                  ".csv", ".json", ".jsonl", ".xml", ".rss", ".atom", ".txt", ".gz", ".xz", ".zip", ".tar")


def format_label(source_format: str | None) -> str:
    """The words for a format name (``hf-daily`` -> ``Hugging Face Daily Papers``)."""
    return FORMAT_LABELS.get(source_format or "", UNKNOWN_FORMAT_LABEL)


def source_label(source_format: str | None, label: str | None = None) -> str:
    """How a page names one source record: its own label in words, else its format's words."""
    text = (label or "").strip()
    if not text or text.lower() in FORMAT_LABELS or text.lower().endswith(_FILE_SUFFIXES):
        return format_label(source_format)
    return text


def source_labels(sources: list[tuple[str | None, str | None]]) -> list[str]:
    """The distinct labels of (format, label) pairs, in order."""
    labels: list[str] = []
    for source_format, label in sources:
        text = source_label(source_format, label)
        if text not in labels:
            labels.append(text)
    return labels
