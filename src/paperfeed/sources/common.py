"""Helpers every parser shares: safe XML, strict UTF-8 decoding, JSON with places."""

from __future__ import annotations

import copy
import re
from xml.etree.ElementTree import Element, ParseError as ExpatError, tostring

import defusedxml.ElementTree as safe_etree
from defusedxml import DefusedXmlException

from ..records import ParseError


def decode_utf8(data: bytes) -> str:
    """Decode UTF-8 (BOM tolerated) or raise a ParseError naming the byte offset."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ParseError(
            f"not valid UTF-8 (byte 0x{data[error.start]:02x}); re-save the file as UTF-8",
            f"byte {error.start}",
        ) from None


def parse_xml(data: bytes) -> Element:
    """Parse XML with entity declarations and external references refused (never expanded, never fetched)."""
    try:
        return safe_etree.fromstring(data.lstrip())
    except DefusedXmlException as error:
        raise ParseError(f"refused: the XML declares entities or external references ({type(error).__name__})",
                         "DTD") from None
    except ExpatError as error:
        line, column = error.position
        reason = str(error).split(":")[0]
        raise ParseError(f"malformed XML: {reason}", f"line {line}, column {column}") from None
    except (LookupError, ValueError) as error:
        # expat hands encodings it lacks to Python's codecs: an unknown name (encoding="UTF08") raises
        # LookupError, a multi-byte one (Shift_JIS, Big5, UTF-7) ValueError.
        raise ParseError(f"unsupported XML encoding in the declaration ({error}); re-save the file as UTF-8",
                         "line 1") from None


def local_name(tag: str) -> str:
    """``{namespace}entry`` -> ``entry``."""
    return tag.rsplit("}", 1)[-1]


def text_of(element: Element | None) -> str:
    """All text inside an element (children included), or '' for None."""
    if element is None:
        return ""
    return "".join(element.itertext())


# The prolog may hold an XML declaration, processing instructions (TechCrunch has two
# xml-stylesheet lines), comments and a DOCTYPE before the root element.
_PROLOG = re.compile(
    rb"(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>)*<([A-Za-z_][\w.:-]*)",
    re.DOTALL,
)


def root_local_name(head: bytes) -> str | None:
    """Return the root element's name without prefix (``rss``, ``RDF``, ``feed``) from a file's first bytes."""
    head = head.removeprefix(b"\xef\xbb\xbf")
    match = _PROLOG.match(head)
    return match.group(1).decode("ascii", "replace").rsplit(":", 1)[-1] if match else None


def element_xml(element: Element) -> str:
    """Serialize one element without the text that follows it in its parent."""
    detached = copy.copy(element)
    detached.tail = None
    return tostring(detached, encoding="unicode")
