"""Pure normalization of identifiers, titles, author names and dates."""

from __future__ import annotations

import html
import re
from html.entities import html5 as _HTML5_ENTITIES
import unicodedata
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime
from functools import lru_cache

from unidecode import unidecode

# New-style ids: YYMM.NNNN (2007-2014) or YYMM.NNNNN (2015-); old style: archive[.SUBJ]/YYMMNNN.
# An id follows a non-digit, non-dot character, or "arXiv." as in arXiv's own DOIs (10.48550/arXiv.2005.14165).
_NEW_ID = re.compile(r"(?:(?<![\d.])|(?<=(?i:arxiv)\.))(\d{4}\.\d{4,5})(v\d+)?(?![\d])")
_OLD_ID = re.compile(r"(?<![\w-])([a-z][a-z-]+)(?:\.[A-Z]{2})?/(\d{7})(v\d+)?(?!\d)")
_DOI = re.compile(r"10\.\d{4,9}/\S+", re.IGNORECASE)
_WS = re.compile(r"\s+")


def arxiv_id(text: str | None) -> str | None:
    """Return the canonical arXiv id (no version) found in an id, URL or OAI identifier."""
    found = split_arxiv_id(text)
    return found[0] if found else None


def split_arxiv_id(text: str | None) -> tuple[str, int | None] | None:
    """Return (canonical id, version or None) for an arXiv id, URL or OAI identifier."""
    if not text:
        return None
    text = text.strip()
    match = _NEW_ID.search(text)
    if match:
        number = match.group(1)
        yymm = int(number[:4])
        # Months are 01-12; five-digit serials exist only from 1501 on, four-digit ones only before.
        if not 1 <= yymm % 100 <= 12 or (len(number) == 10) != (yymm >= 1501):
            return None
        version = match.group(2)
        return match.group(1), int(version[1:]) if version else None
    match = _OLD_ID.search(text)
    if match:
        version = match.group(3)
        return f"{match.group(1)}/{match.group(2)}", int(version[1:]) if version else None
    return None


def doi(text: str | None) -> str | None:
    """Return a DOI lower-cased, without ``doi:`` or resolver prefix, or None."""
    if not text:
        return None
    match = _DOI.search(text.strip())
    if not match:
        return None
    return match.group(0).rstrip(".,;").lower()


# A complete HTML character reference: named, decimal or hex, closed by ";" (``&amp;``, ``&#225;``, ``&#xE9;``).
_ENTITY = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")


def _unescape_entity(match: re.Match) -> str:
    reference = match.group(0)
    if reference[1] == "#":
        return html.unescape(reference)
    # html.unescape would also decode a known prefix of an unknown name ("&param;" -> "¶m;").
    return _HTML5_ENTITIES.get(reference[1:], reference)


def clean_text(text: str | None) -> str:
    """Decode HTML character references; collapse whitespace and line breaks; NFC-normalize.

    Only references closed by ``;`` are decoded (``AT&T``, ``&param`` stay as they are), one
    level deep; unknown names are kept. The ``"&" in text`` test keeps this free for most text.
    """
    if not text:
        return ""
    if "&" in text:
        text = _ENTITY.sub(_unescape_entity, text)
    if text.isascii():
        # Most abstracts are already clean: a few scans cost far less than split/join. An ASCII text's control
        # characters (line breaks too) are the bytes a translate table of the printable ones leaves: one C loop,
        # three times as fast as str.isprintable (a table lookup per character) on an abstract, nine times a regex;
        # a short text (a name) is quicker with str.isprintable than with the bytes made.
        controls = (b"" if len(text) < 128 and text.isprintable()
                    else text.encode("ascii").translate(None, _PRINTABLE_ASCII))
        if not controls:
            if "  " not in text and text[0] != " " and text[-1] != " ":
                return text
            return " ".join(text.split())
        if controls.count(b"\n") == len(controls):
            # Wrapped lines (arXiv's abstracts): with each line break a space, the text's only whitespace is the
            # space, so stripping it and collapsing its runs is what split/join does, in a few C scans instead of
            # one string per word (a fifth of the time on an abstract).
            spaced = text.replace("\n", " ").strip(" ")
            return spaced if "  " not in spaced else " ".join(spaced.split())
        joined = " ".join(text.split())
        if joined.isprintable():  # its only control characters were whitespace (tabs, carriage returns)
            return joined
        text = _DEBRIS.sub("", text)
    else:
        if _DEBRIS.search(text):
            text = _DEBRIS.sub("", text)
        if not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
    # str.split() is several times faster than a regex over long abstracts. It also takes the control
    # characters that are whitespace to Python (\x0b, \x0c, \x1c-\x1f) as separators, so none is left.
    return " ".join(text.split())


# Control characters that are not whitespace, lone surrogates and the non-characters U+FFFE/U+FFFF: debris of
# broken encodings that XML 1.0 cannot carry (a feed holding one is ill-formed) and PostgreSQL text refuses (NUL).
_PRINTABLE_ASCII = bytes(range(0x20, 0x7F))
_DEBRIS = re.compile(r"[\x00-\x08\x0e-\x1b\x7f\ud800-\udfff\ufffe\uffff]")
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold (C0 controls but tab and line breaks, lone
    surrogates, U+FFFE/U+FFFF): for every text written into an XML document, so old stored data cannot make
    a feed ill-formed."""
    return _XML_ILLEGAL.sub("", text) if _XML_ILLEGAL.search(text) else text


@lru_cache(maxsize=1)
def _latex_converter():
    from pylatexenc.latex2text import LatexNodes2Text

    return LatexNodes2Text(math_mode="verbatim", strict_latex_spaces=False)


def latex_to_text(text: str) -> str:
    """Turn simple LaTeX (inline math, accents, braces, ``\\emph``, dashes, quotes) into Unicode text.

    A ``$`` that does not open inline math (``$11 To $13``) is kept: it is money, not LaTeX.
    pylatexenc runs only when a macro is left, since it costs a millisecond a title; and only on text up to
    ``LATEX_MAX_CHARS``, since it takes 10 to 50 µs a character: a longer text keeps its macros.
    """
    # The marks one by one (each a C scan for a character): four times as fast as the regex, which has no literal
    # prefix to search for, on the 99% of titles that hold none.
    if not ("\\" in text or "$" in text or "{" in text or "--" in text or "``" in text or "''" in text):
        return text
    text = _INLINE_MATH.sub(_math_content, text)
    if "\\" not in text:
        for latex, plain in _LATEX_PLAIN:
            text = text.replace(latex, plain)
        return text
    if len(text) > LATEX_MAX_CHARS:
        return text
    try:
        return _latex_converter().latex_to_text(text.replace("$", "\\$"))
    except Exception:  # pylatexenc rejects some malformed markup; the raw text is still a title.
        return text


LATEX_MAX_CHARS = 10_000
"""Longest text pylatexenc converts (at most half a second of it; a title is at most ``max_title_chars``, 2,000 by
default): without a bound, one huge field of backslashes in a file took minutes to parse."""



def _math_content(match: re.Match) -> str:
    return match.group(1)
# Inline math: "$" hugging non-space on both inner sides, as LaTeX authors write it.
_INLINE_MATH = re.compile(r"\$(?=[^\s$])([^$]*?)(?<=[^\s$])\$")
_LATEX_PLAIN = (("{", ""), ("}", ""), ("---", "\u2014"), ("--", "\u2013"), ("``", "\u201c"), ("''", "\u201d"))


def clean_title(text: str | None) -> str:
    """Normalize a title: LaTeX to Unicode, whitespace collapsed, no trailing period."""
    title = clean_text(text)
    if not title:
        return ""
    title = clean_text(latex_to_text(title))
    return title


NAME_CACHE_SIZE = 32768
"""Entries of each per-name cache (about 5 MB apiece when full): names recur within days of listings, so a
bounded cache keeps most hits while a long harvest's memory stays flat."""

# Already "First Last" with nothing to fix: no comma, LaTeX, or run-together initials.
_PLAIN_NAME = re.compile(r"[^,\\{}.]*(?:\.(?![A-Z])[^,\\{}.]*)*")
_NAME_SUFFIXES = {"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"}


@lru_cache(maxsize=NAME_CACHE_SIZE)
def person_name(text: str | None) -> str:
    """Return a display name ``First Last`` from ``Last, First``, ``First Last`` or LaTeX-accented forms."""
    name = clean_text(text)
    # A printable text holds no control character: the test skips the regex for nearly every name.
    if not name.isprintable() and _CONTROL.search(name):
        name = _CONTROL.sub("", name)  # a NUL or other control character is debris, and PostgreSQL text refuses NUL
    if not (name[:1].isalnum() or any(char.isalnum() for char in name)):
        return ""  # listing pages split "Team Olmo: A. Author" into a stray ":" author
    if _PLAIN_NAME.fullmatch(name):
        return name
    if "\\" in name or "{" in name:
        name = clean_text(latex_to_text(name))
    if name.count(",") == 1:
        last, first = name.split(",")
        last, first = last.strip(), first.strip()
        if first.lower() in _NAME_SUFFIXES:
            # "John Smith, Jr." is already First Last with a suffix.
            return f"{last}, {first}" if last else first
        if last and first:
            name = f"{first} {last}"
    if "." in name:
        # "J.R.R. Tolkien" -> "J. R. R. Tolkien" so that initials compare equal across sources.
        name = _RUN_INITIALS.sub(r"\1. ", name)
    name = name.strip(" ,")
    if name.endswith(";") and not _ENTITY_AT_END.search(name):
        name = name.rstrip(" ,;")
    return name


_RUN_INITIALS = re.compile(r"\b([A-Z])\.(?=[A-Z])")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")

# An HTML reference that ends a name (left by double escaping): its ";" is part of it, not punctuation.
_ENTITY_AT_END = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});$")


def name_pairs(text: str) -> list[str]:
    """Split a ``Last, First, Last, First`` line into display names."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) % 2:
        raise ValueError(f"odd number of comma-separated parts ({len(parts)}) in an author line")
    return [person_name(f"{parts[i]}, {parts[i + 1]}") for i in range(0, len(parts), 2)]


def split_authors(text: str | None) -> list[str]:
    """Split an author string into display names.

    Handles ``A and B`` (BibTeX, arXiv), ``First Last, First Last`` and, when every
    comma-separated part is a single word and there is an even number of them,
    ``Last, First, Last, First``.
    """
    text = clean_text(text)
    if not text:
        return []
    and_parts = [part for part in re.split(r",?\s+and\s+", text) if part.strip()]
    if len(and_parts) > 1 and all(_is_one_name(part) for part in and_parts):
        return [n for n in (person_name(p) for p in and_parts) if n]
    parts = [part.strip() for part in ", ".join(and_parts).split(",") if part.strip()]
    if len(parts) > 1 and any(part.lower() in _NAME_SUFFIXES for part in parts[1:]):
        parts = _attach_suffixes(parts)
    single_words = sum(1 for part in parts if " " not in part)
    if len(parts) >= 2 and len(parts) % 2 == 0 and single_words == len(parts):
        return [n for n in name_pairs(", ".join(parts)) if n]
    return [n for n in (person_name(p) for p in parts) if n]


def _attach_suffixes(parts: list[str]) -> list[str]:
    """Join a name suffix to the name before it: ``Felipe Cariño``, ``Jr.`` -> ``Felipe Cariño, Jr.``."""
    joined: list[str] = []
    for part in parts:
        if joined and part.lower() in _NAME_SUFFIXES:
            joined[-1] = f"{joined[-1]}, {part}"
        else:
            joined.append(part)
    return joined


def _is_one_name(part: str) -> bool:
    """True for ``First Last`` or ``Last, First``; False for ``First Last, First Last``."""
    pieces = part.split(",")
    if len(pieces) == 1:
        return True
    if len(pieces) > 2:
        return False
    before, after = (piece.strip() for piece in pieces)
    return " " not in before or " " not in after or after.lower() in _NAME_SUFFIXES


def fold(text: str) -> str:
    """Lower-case ASCII transliteration, for matching keys only."""
    return unidecode(text).lower() if not text.isascii() else text.lower()


_KEY_TOKEN = re.compile(r"[a-z0-9]+")
_KEY_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})


@lru_cache(maxsize=NAME_CACHE_SIZE)
def author_key(name: str) -> str:
    """Return a matching key ``last|f`` (surname and first initial, ASCII-folded)."""
    tokens = _KEY_TOKEN.findall(fold(name))
    if not tokens:
        return ""
    tokens = [t for t in tokens if t not in _KEY_SUFFIXES] or tokens
    last = tokens[-1]
    return f"{last}|{tokens[0][0]}" if len(tokens) > 1 else last


_TITLE_TOKEN = re.compile(r"[a-z0-9]+")


def title_tokens(title: str) -> list[str]:
    """Lower-case ASCII word tokens of a title."""
    return _TITLE_TOKEN.findall(fold(title))


def title_key(title: str) -> str:
    """Exact-match key: the title's tokens joined, ignoring case, accents and punctuation."""
    return " ".join(title_tokens(title))


def to_utc_date(value: str | None) -> str | None:
    """Return ``YYYY-MM-DD`` (UTC) for an ISO 8601 or RFC 822 timestamp, or None if unparseable."""
    moment = to_utc_datetime(value)
    return moment.date().isoformat() if moment else None


def to_utc_datetime(value: str | None) -> datetime | None:
    """Parse an ISO 8601 or RFC 822 timestamp into an aware UTC datetime; a bare date is midnight UTC.

    None for anything else, including a time that has no UTC date (``0001-01-01T00:00:00+05:00``) and an
    offset no clock has (``-05050505050500``), on which Python raises OverflowError.
    """
    if not value:
        return None
    value = value.strip()
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:
        return None


def valid_day(value: str | None) -> str | None:
    """Return ``value`` if it is a real ``YYYY-MM-DD`` date, else None."""
    if not value:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        return None


def utc_now() -> str:
    """The current time, ISO 8601 in UTC with seconds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
