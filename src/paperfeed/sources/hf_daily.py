"""Hugging Face daily papers: the ``api/daily_papers?date=`` JSON, with its schema drift tolerated.

Three shapes occur in real saved responses: a JSON array of item objects; an array of strings
each holding a Python ``repr`` of an item (parsed with ``ast.literal_eval``, which evaluates
literals only); and a wrapper object ``{"status", "date", "count", "data": [...]}``.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator

import orjson

from ..normalize import arxiv_id, clean_text, clean_title, person_name, to_utc_date, valid_day
from ..records import ParseContext, ParseError, Record
from .common import decode_utf8

FORMAT = "hf-daily"

DEFAULT_LABEL = "Hugging Face Daily Papers"
PAPER_URL = "https://huggingface.co/papers/"

_FILE_DAY = re.compile(r"(?<!\d)(\d{4}-\d{2}-\d{2})(?!\d)")
_ARRAY_OF_ITEMS = re.compile(rb"""^\[\s*(?:\{|"\{'paper'|"\{\\"paper\\")""")
_DATA_ARRAY = re.compile(rb'"data"\s*:\s*\[')
_PAPER_OBJECT = re.compile(rb'"paper"\s*:\s*\{')


def sniff(head: bytes, name: str) -> bool:
    """Say whether the input is a daily-papers response: an array of paper items or the wrapper object."""
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if body.startswith(b"["):
        match = _ARRAY_OF_ITEMS.match(body)
        if not match:
            return False
        return not match.group(0).endswith(b"{") or bool(_PAPER_OBJECT.search(body))
    # The wrapper is pretty-printed: a line starting with "{" would mean JSON Lines instead.
    return (body.startswith(b"{") and b'"date"' in body and bool(_DATA_ARRAY.search(body))
            and b"\n{" not in body)


def parse(data: bytes, context: ParseContext) -> Iterator[Record]:
    """Yield one Record per daily-paper item; a missing paper id or title fails the file."""
    text = decode_utf8(data)
    try:
        top = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise ParseError(f"not JSON: {error.msg}", f"line {error.lineno}, column {error.colno}") from None
    file_day = _file_day(context)
    if isinstance(top, dict):
        items = top.get("data")
        if not isinstance(items, list):
            raise ParseError("a JSON object without a \"data\" array is not a daily-papers response", "byte 0")
        file_day = file_day or valid_day(top.get("date"))
    elif isinstance(top, list):
        items = top
    else:
        raise ParseError("expected a JSON array of daily-paper items", "byte 0")
    label = context.label or DEFAULT_LABEL
    for number, element in enumerate(items, 1):
        yield _record(element, number, file_day, label)


def _file_day(context: ParseContext) -> str | None:
    """Return the day the file was fetched for: the context's hint, else a YYYY-MM-DD in its name."""
    if context.date_hint:
        return valid_day(context.date_hint)
    match = _FILE_DAY.search(context.name)
    return valid_day(match.group(1)) if match else None


def _item(element, place: str) -> dict:
    """Return the item dict, evaluating a Python-repr string element when needed."""
    if isinstance(element, str):
        try:
            element = ast.literal_eval(element)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise ParseError("a string element that is not a Python literal of an item", place) from None
    if not isinstance(element, dict) or not isinstance(element.get("paper"), dict):
        raise ParseError("not a daily-paper item (no \"paper\" object)", place)
    return element


def _record(element, number: int, file_day: str | None, label: str) -> Record:
    """Turn one array element into a Record."""
    place = f"item {number}"
    item = _item(element, place)
    paper = item["paper"]
    paper_id = paper.get("id")
    if not isinstance(paper_id, str) or not paper_id.strip():
        raise ParseError("missing paper id", place)
    paper_id = paper_id.strip()
    title = clean_title(_text(paper.get("title")) or _text(item.get("title")))
    if not title:
        raise ParseError(f"missing title for paper {paper_id}", place)
    picked = to_utc_date(_text(paper.get("submittedOnDailyAt"))) or file_day
    return Record(
        format=FORMAT,
        record_id=paper_id,
        title=title,
        raw=element if isinstance(element, str) else json.dumps(element, ensure_ascii=False),
        abstract=clean_text(_text(paper.get("summary")) or _text(item.get("summary"))),
        authors=_authors(paper.get("authors")),
        arxiv_id=arxiv_id(paper_id),
        url=PAPER_URL + paper_id,
        published=to_utc_date(_text(paper.get("publishedAt")) or _text(item.get("publishedAt"))),
        label=label,
        extra=_extra(item, paper, picked),
    )


def _text(value) -> str | None:
    """Return ``value`` if it is a string, else None (drifting fields sometimes hold null or objects)."""
    return value if isinstance(value, str) else None


def _authors(value) -> list[str]:
    """Return the display names of ``paper.authors``, skipping entries without a name."""
    if not isinstance(value, list):
        return []
    names = (person_name(_text(author.get("name"))) for author in value if isinstance(author, dict))
    return [name for name in names if name]


def _extra(item: dict, paper: dict, picked: str | None) -> dict:
    """Collect the Hugging Face fields worth keeping; absent ones are left out."""
    organization = item.get("organization") or paper.get("organization") or item.get("submitterOrganization")
    submitter = item.get("submittedBy") or paper.get("submittedOnDailyBy")
    keywords = paper.get("ai_keywords")
    values = {
        "upvotes": _int(paper.get("upvotes", item.get("upvotes"))),
        "picked_date": picked,
        "ai_keywords": [k for k in keywords if isinstance(k, str)] if isinstance(keywords, list) else None,
        "ai_summary": clean_text(_text(paper.get("ai_summary"))) or None,
        "github_repo": _text(paper.get("githubRepo")) or None,
        "github_stars": _int(paper.get("githubStars")),
        "project_page": _text(paper.get("projectPage")) or None,
        "num_comments": _int(item.get("numComments")),
        # "name" is the Hugging Face account name (older items carry only "user" on submittedOnDailyBy).
        "submitted_by": _name_of(submitter, "name") or _name_of(submitter, "user"),
        "organization": _name_of(organization, "name"),
    }
    return {key: value for key, value in values.items() if value is not None}


def _int(value) -> int | None:
    """Return an int count, or None for null or non-numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _name_of(value, key: str) -> str | None:
    """Return ``value[key]`` of a user or organization object, if it is a non-empty string."""
    if isinstance(value, dict):
        name = value.get(key)
        if isinstance(name, str) and name.strip():
            return name.strip()
    return None
