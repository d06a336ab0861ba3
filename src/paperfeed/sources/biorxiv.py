"""bioRxiv and medRxiv: the ``https://api.biorxiv.org/details/[server]/...`` JSON.

The response is ``{"messages": [...], "collection": [...]}`` with one object per version of a preprint:
``doi`` (the same for every version), ``version``, ``title``, ``authors`` (``"Last, F.; Last, G."``),
``date``, ``category``, ``abstract``, ``server`` and ``published``: the DOI of the journal version, or ``"NA"``.

Each version is a version of one work: its record id is ``<doi>v<version>``. When any version in the file
names a journal DOI, every version of that preprint carries the journal DOI as its ``doi`` (so a Crossref
record of the journal article joins the same item) and keeps its own DOI in ``extra["preprint_doi"]`` and in
``extra["related_ids"]``; a preprint not yet published carries its own DOI.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..normalize import clean_text, clean_title, doi, person_name, valid_day
from ..records import ParseContext, ParseError, Record
from .scholarly import add_related, each_item, keep, load_json, raw_json, text

FORMAT = "biorxiv"

SERVER_LABELS = {"biorxiv": "bioRxiv", "medrxiv": "medRxiv"}


def sniff(head: bytes, name: str) -> bool:
    """A JSON object with a ``collection`` array and bioRxiv's fields (``server``, ``jatsxml``, ``published``)."""
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return (body.startswith(b"{") and b'"collection"' in body
            and any(key in body for key in (b'"jatsxml"', b'"server"', b'"author_corresponding"')))


def parse(data: bytes, context: ParseContext) -> Iterator[Record]:
    """Yield one Record per preprint version in ``collection``."""
    top = load_json(data)
    if isinstance(top, dict) and "collection" not in top and "doi" in top:
        top = {"collection": [top]}  # one version alone, as a stored record's raw text holds it
    if not isinstance(top, dict) or not isinstance(top.get("collection"), list):
        raise ParseError('expected a JSON object with a "collection" array (the bioRxiv/medRxiv details API)',
                         "byte 0")
    collection = top["collection"]
    journal: dict[str, str] = {}  # preprint DOI -> the journal DOI any of its versions names
    for entry in collection:
        if isinstance(entry, dict):
            own, published = doi(text(entry.get("doi"))), _published(entry.get("published"))
            if own and published and own != published:
                journal.setdefault(own, published)

    def build(entry: dict, place: str) -> Record:
        own = doi(text(entry.get("doi")))
        if not own:
            raise ParseError("no DOI", place)
        title = clean_title(text(entry.get("title")))
        if not title:
            raise ParseError(f"no title for {own}", place)
        version = text(entry.get("version"))
        version = version.strip() if version and version.strip().isdigit() else None
        server = (text(entry.get("server")) or "").strip().lower()
        label = context.label or SERVER_LABELS.get(server, "bioRxiv")
        site = server if server in SERVER_LABELS else "biorxiv"
        published_doi = journal.get(own)
        extra = {"server": SERVER_LABELS.get(server), "version": int(version) if version else None,
                 "subject": clean_text(text(entry.get("category"))) or None,
                 "article_type": clean_text(text(entry.get("type"))) or None,
                 "license": clean_text(text(entry.get("license"))) or None}
        if published_doi:
            extra["preprint_doi"] = own
            extra["published_doi"] = published_doi
            add_related(extra, "preprint", "doi", own)
            add_related(extra, "published-as", "doi", published_doi)
        return Record(
            format=FORMAT,
            record_id=f"{own}v{version}" if version else own,
            title=title,
            raw=raw_json(entry),
            abstract=clean_text(text(entry.get("abstract"))),
            authors=_authors(text(entry.get("authors"))),
            doi=published_doi or own,
            url=f"https://www.{site}.org/content/{own}" + (f"v{version}" if version else ""),
            published=valid_day((text(entry.get("date")) or "").strip()),
            label=label,
            extra=keep(extra),
        )

    yield from each_item(collection, build, "collection item")


def _published(value) -> str | None:
    """The journal DOI of ``published``; ``"NA"`` (not published) and other non-DOIs are None."""
    return doi(value) if isinstance(value, str) and value.strip().upper() != "NA" else None


def _authors(value: str | None) -> list[str]:
    """``"Smith, J.; van der Berg, A. B."`` -> ``["J. Smith", "A. B. van der Berg"]``."""
    names = (person_name(part) for part in (value or "").split(";"))
    return [name for name in names if name]
