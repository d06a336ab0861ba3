"""Semantic Scholar: Graph API paper JSON (``/graph/v1/paper/...``): one paper, a batch list, or a search page.

One paper, a list (the batch endpoint, with ``null`` for ids it does not know), or a page of search results
(``{"total", "offset", "data": [...]}``).

Read: ``paperId``, ``externalIds`` (``ArXiv``, ``DOI``, ``DBLP``, ``CorpusId``, ...), ``title``, ``abstract``,
``venue`` (``arXiv.org`` is the preprint server, no venue), ``year``, ``publicationDate``, ``authors`` with
``authorId``, ``fieldsOfStudy``, ``url``. A paper with both an arXiv id and a DOI bridges the arXiv item and the
journal one.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..normalize import arxiv_id, clean_text, clean_title, person_name, valid_day
from ..records import ParseContext, ParseError, Record
from .scholarly import each_item, keep, list_of_text, load_json, raw_json, split_doi, text

FORMAT = "semantic-scholar"

DEFAULT_LABEL = "Semantic Scholar"
PAPER_URL = "https://www.semanticscholar.org/paper/"
_PREPRINT_VENUES = {"arxiv.org", "arxiv", "biorxiv", "medrxiv", "ssrn", "research square"}


def sniff(head: bytes, name: str) -> bool:
    """JSON whose objects carry ``paperId`` (with ``externalIds`` or ``title``)."""
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return body[:1] in (b"{", b"[") and b'"paperId"' in body and (b'"externalIds"' in body or b'"title"' in body)


def parse(data: bytes, context: ParseContext) -> Iterator[Record]:
    """Yield one Record per paper; ``null`` entries of a batch response are skipped."""
    top = load_json(data)
    if isinstance(top, dict) and isinstance(top.get("data"), list):
        papers = top["data"]
    elif isinstance(top, dict) and "paperId" in top:
        papers = [top]
    elif isinstance(top, list):
        papers = [paper for paper in top if paper is not None]
    else:
        raise ParseError('expected a Semantic Scholar paper, a list of papers, or {"data": [...]}', "byte 0")
    label = context.label or DEFAULT_LABEL
    yield from each_item(papers, lambda paper, place: _record(paper, place, label), "paper")


def _record(paper: dict, place: str, label: str) -> Record:
    paper_id = (text(paper.get("paperId")) or "").strip()
    if not paper_id:
        raise ParseError("paper without a paperId", place)
    title = clean_title(text(paper.get("title")))
    if not title:
        raise ParseError(f"paper {paper_id} has no title", place)
    ids = paper.get("externalIds") if isinstance(paper.get("externalIds"), dict) else {}
    doi_value, arxiv_from_doi = split_doi(text(ids.get("DOI")))
    arxiv = arxiv_id(text(ids.get("ArXiv"))) or arxiv_from_doi
    venue = clean_text(text(paper.get("venue")))
    journal = paper.get("journal")
    if not venue and isinstance(journal, dict):
        venue = clean_text(text(journal.get("name")))
    year = paper.get("year")
    authors, author_ids = [], []
    for author in paper.get("authors") if isinstance(paper.get("authors"), list) else []:
        if isinstance(author, dict):
            name = person_name(text(author.get("name")))
            if name:
                authors.append(name)
                author_ids.append(text(author.get("authorId")))
    extra = {"venue": venue if venue and venue.lower() not in _PREPRINT_VENUES else None,
             "s2_paper_id": paper_id, "corpus_id": text(ids.get("CorpusId")), "dblp_key": text(ids.get("DBLP")),
             "pubmed_id": text(ids.get("PubMed")), "author_ids": author_ids if any(author_ids) else None,
             "fields_of_study": list_of_text(paper.get("fieldsOfStudy")),
             "citation_count": paper.get("citationCount") if type(paper.get("citationCount")) is int else None}
    return Record(
        format=FORMAT,
        record_id=paper_id,
        title=title,
        raw=raw_json(paper),
        abstract=clean_text(text(paper.get("abstract"))),
        authors=authors,
        arxiv_id=arxiv,
        doi=doi_value,
        url=clean_text(text(paper.get("url"))) or PAPER_URL + paper_id,
        published=valid_day((text(paper.get("publicationDate")) or "").strip()[:10]),
        year=year if type(year) is int and 1000 <= year <= 9999 else None,
        label=label,
        extra=keep(extra),
    )
