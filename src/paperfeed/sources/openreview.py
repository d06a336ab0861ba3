"""OpenReview: the API v2 ``/notes`` JSON (``{"notes": [...], "count": N}``), e.g. the accepted papers of a venue.

Each note's fields sit under ``content`` as ``{"value": ...}`` objects (API v2); API v1's plain values are read
too. The publication day is ``pdate`` (milliseconds since 1970), else ``odate``, else ``cdate``. A note whose
``venueid`` marks a submission that was not accepted (``.../Withdrawn_Submission``, ``.../Rejected_Submission``,
``.../Submission``) or whose venue reads ``Submitted to ...`` keeps its venue only as ``openreview_venue``, so
it never shows as published there.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..normalize import arxiv_id, clean_text, clean_title, person_name
from ..records import ParseContext, ParseError, Record
from .scholarly import each_item, from_millis, keep, list_of_text, load_json, raw_json, text

FORMAT = "openreview"

DEFAULT_LABEL = "OpenReview"
FORUM_URL = "https://openreview.net/forum?id="
_NOT_ACCEPTED = ("/submission", "withdrawn_submission", "rejected_submission", "desk_rejected_submission")


def sniff(head: bytes, name: str) -> bool:
    """A JSON object with a ``notes`` array whose notes have a ``forum`` and ``content``."""
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return body.startswith(b"{") and b'"notes"' in body and b'"forum"' in body and b'"content"' in body


def parse(data: bytes, context: ParseContext) -> Iterator[Record]:
    """Yield one Record per note."""
    top = load_json(data)
    if isinstance(top, dict) and isinstance(top.get("notes"), list):
        notes = top["notes"]
    elif isinstance(top, list):
        notes = top
    elif isinstance(top, dict) and "content" in top:
        notes = [top]  # one note alone, as a stored record's raw text holds it
    else:
        raise ParseError('expected a JSON object with a "notes" array (the OpenReview API)', "byte 0")
    label = context.label or DEFAULT_LABEL

    def build(note: dict, place: str) -> Record:
        note_id = text(note.get("id"))
        if not note_id or not note_id.strip():
            raise ParseError("note without an id", place)
        note_id = note_id.strip()
        content = note.get("content")
        if not isinstance(content, dict):
            raise ParseError(f'note {note_id} has no "content" object', place)
        title = clean_title(text(_value(content, "title")))
        if not title:
            raise ParseError(f"note {note_id} has no title", place)
        venue = clean_text(text(_value(content, "venue")))
        venue_id = clean_text(text(_value(content, "venueid")))
        accepted = bool(venue) and not venue.lower().startswith("submitted to") and not (
            venue_id.lower().endswith(_NOT_ACCEPTED))
        forum = text(note.get("forum")) or note_id
        published = from_millis(note.get("pdate")) or from_millis(note.get("odate")) or from_millis(note.get("cdate"))
        authors = [name for name in map(person_name, list_of_text(_value(content, "authors"))) if name]
        extra = {"venue": venue if accepted else None, "openreview_venue": venue or None,
                 "venue_id": venue_id or None, "forum": forum,
                 "keywords": [clean_text(k) for k in list_of_text(_value(content, "keywords"))],
                 "author_ids": list_of_text(_value(content, "authorids")),
                 "tldr": clean_text(text(_value(content, "TLDR")) or text(_value(content, "tldr"))) or None}
        return Record(
            format=FORMAT,
            record_id=note_id,
            title=title,
            raw=raw_json(note),
            abstract=clean_text(text(_value(content, "abstract"))),
            authors=authors,
            arxiv_id=arxiv_id(text(_value(content, "arxiv"))) if _value(content, "arxiv") else None,
            url=FORUM_URL + forum,
            published=published,
            label=label,
            extra=keep(extra),
        )

    yield from each_item(notes, build, "note")


def _value(content: dict, key: str):
    """``content[key]["value"]`` (API v2) or ``content[key]`` (API v1)."""
    field = content.get(key)
    return field.get("value") if isinstance(field, dict) else field
