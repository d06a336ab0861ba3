"""Helpers the scholarly-API parsers share (Crossref, Semantic Scholar, DBLP, OpenReview, bioRxiv, CSL-JSON).

One JSON document per file: ``load_json`` parses it with a place for errors; ``each_item`` runs a record
builder over a list of objects and turns a wrong field shape into a ParseError naming the item, never another
exception. Related identifiers (the preprint of a journal article, the journal version of a preprint) are
kept in ``Record.extra["related_ids"]`` as ``[relation, scheme, value]`` triples, e.g.
``["has-preprint", "arxiv", "2005.14165"]``, so merging can bridge versions that carry different ids.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import orjson

from ..normalize import arxiv_id, clean_text, doi, person_name, valid_day
from ..records import ParseError, Record
from .common import decode_utf8

ARXIV_DOI = re.compile(r"^10\.48550/arxiv\.", re.IGNORECASE)
_TAG = re.compile(r"<[^<>]{0,500}>")
_BLOCK_TAG = re.compile(r"</?(?:jats:)?(?:p|title|sec|list|list-item|break|br|div|li|ul|ol|h\d|label|caption)\b",
                        re.IGNORECASE)
_JATS_TITLE = re.compile(r"^\s*<(?:jats:)?title>.{0,200}?</(?:jats:)?title>", re.DOTALL)


_ANTHOLOGY_URL = re.compile(r"(?:aclanthology\.org|aclweb\.org/anthology)/([A-Za-z0-9][A-Za-z0-9.-]*[A-Za-z0-9])"
                            r"(?:\.pdf)?/?$")


def anthology_id(url: str | None) -> str | None:
    """The ACL Anthology id of a paper's URL (``https://aclanthology.org/2023.acl-long.901`` ->
    ``2023.acl-long.901``; old ids like ``P18-1001`` too), or None."""
    match = _ANTHOLOGY_URL.search(url or "")
    return match.group(1) if match else None


def load_json(data: bytes) -> Any:
    """The JSON document in ``data`` (UTF-8), or a ParseError with the line and column of the fault."""
    text = decode_utf8(data)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        if not text.strip():
            raise ParseError("empty file: expected a JSON document", "byte 0") from None
        raise ParseError(f"not JSON: {error.msg}", f"line {error.lineno}, column {error.colno}") from None


def each_item(items: list, build: Callable[[dict, str], Record | None], what: str = "item") -> Iterator[Record]:
    """Run ``build(item, place)`` over a list of JSON objects; a wrong shape is a ParseError naming the item."""
    for number, item in enumerate(items, 1):
        place = f"{what} {number}"
        if not isinstance(item, dict):
            raise ParseError(f"expected a JSON object, got {_json_type(item)}", place)
        try:
            record = build(item, place)
        except ParseError:
            raise
        except (KeyError, TypeError, AttributeError, IndexError, ValueError, OverflowError) as error:
            raise ParseError(f"unexpected field shape ({type(error).__name__}: {error})", place) from None
        if record is not None:
            yield record


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "true/false", type(None): "null"}.get(
        type(value), "a number")


def text(value: Any) -> str | None:
    """``value`` if it is a string, a number written out, else None (fields drift between null, text and
    objects)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def first_text(value: Any) -> str | None:
    """The first string of a list of strings (Crossref's ``title``), or the string itself."""
    if isinstance(value, list):
        return next((item for item in value if isinstance(item, str) and item.strip()), None)
    return text(value)


def list_of_text(value: Any) -> list[str]:
    """The strings of a list (others skipped), a lone string as a one-item list, else []."""
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str) and item.strip()]
    return []


def strip_markup(value: str | None) -> str:
    """Text of an abstract or title written in JATS or HTML (``<jats:p>``, ``<i>``): tags dropped, a leading
    ``<jats:title>Abstract</jats:title>`` heading left out, whitespace collapsed."""
    if not value:
        return ""
    if "<" in value:
        value = _JATS_TITLE.sub("", value)
        # Block tags separate words; inline ones (<jats:italic>why</jats:italic>.) sit inside them.
        value = _TAG.sub(lambda tag: " " if _BLOCK_TAG.match(tag.group(0)) else "", value)
    return clean_text(value)


def date_parts(value: Any) -> tuple[str | None, int | None]:
    """(``YYYY-MM-DD`` or None, year or None) from CSL/Crossref ``{"date-parts": [[2020, 5, 1]]}``."""
    if not isinstance(value, dict):
        return None, None
    parts = value.get("date-parts")
    if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
        numbers = [int(part) for part in parts[0][:3] if _is_int(part)]
        year = numbers[0] if numbers and 1000 <= numbers[0] <= 9999 else None
        if year and len(numbers) == 3:
            return valid_day(f"{year:04d}-{numbers[1]:02d}-{numbers[2]:02d}"), year
        return None, year
    raw = text(value.get("raw")) or text(value.get("literal"))
    return day_and_year(raw)


def _is_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) < 100_000
    return isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 5


_DAY = re.compile(r"(\d{4})(?:[-/](\d{1,2})(?:[-/](\d{1,2}))?)?")


def day_and_year(value: str | None) -> tuple[str | None, int | None]:
    """(``YYYY-MM-DD`` or None, year or None) from ``2020-05-01``, ``2020/05/01/``, ``2020-05`` or ``2020``."""
    if not value:
        return None, None
    match = _DAY.search(value)
    if not match:
        return None, None
    year = int(match.group(1))
    if not 1000 <= year <= 9999:
        return None, None
    if match.group(3):
        return valid_day(f"{year:04d}-{int(match.group(2)):02d}-{int(match.group(3)):02d}"), year
    return None, year


def from_millis(value: Any) -> str | None:
    """``YYYY-MM-DD`` (UTC) of a JavaScript timestamp in milliseconds (OpenReview's ``pdate``), or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(value / 1000, timezone.utc).date().isoformat()
    except (OverflowError, OSError, ValueError):
        return None


def arxiv_from_doi(value: str | None) -> str | None:
    """The arXiv id of an arXiv-minted DOI (``10.48550/arXiv.2005.14165``), else None."""
    match = ARXIV_DOI.match(value or "")
    return arxiv_id(value[match.end():]) if match else None


def split_doi(value: str | None) -> tuple[str | None, str | None]:
    """(DOI, arXiv id): an arXiv-minted DOI names the arXiv preprint, so it comes back as an arXiv id."""
    found = doi(value)
    if found and ARXIV_DOI.match(found):
        return None, arxiv_from_doi(found)
    return found, None


def raw_json(value: Any) -> str:
    """The record as received, written back as JSON (for provenance)."""
    return json.dumps(value, ensure_ascii=False)


def add_related(extra: dict, relation: str, scheme: str, value: str | None) -> None:
    """Note a related identifier once in ``extra["related_ids"]``."""
    if not value:
        return
    related = extra.setdefault("related_ids", [])
    if [relation, scheme, value] not in related:
        related.append([relation, scheme, value])


def keep(extra: dict) -> dict:
    """``extra`` without empty values."""
    return {key: value for key, value in extra.items() if value not in (None, "", [], {})}


def csl_author_names(value: Any) -> list[str]:
    """Display names of a CSL ``author`` list, as CSL-JSON and Crossref write it: ``given [particle] family`` for
    people, else ``literal`` or ``name`` (an organization), else a lone ``given``."""
    names = []
    for author in value if isinstance(value, list) else []:
        if not isinstance(author, dict):
            continue
        family, given = text(author.get("family")), text(author.get("given"))
        particle = text(author.get("non-dropping-particle"))
        if family:
            family = f"{particle} {family}" if particle else family
            name = person_name(f"{given} {family}" if given else family)
        else:
            name = person_name(text(author.get("literal")) or text(author.get("name")) or given)
        if name:
            names.append(name)
    return names
