"""Helpers every parser shares: safe XML, strict UTF-8 decoding, JSON with places."""

from __future__ import annotations

import copy
import re
from collections.abc import Collection
from xml.etree.ElementTree import Element, ParseError as ExpatError, TreeBuilder, tostring
from xml.sax.saxutils import quoteattr

import defusedxml.ElementTree as safe_etree
from defusedxml import DefusedXmlException

from ..records import ParseError


def decode_utf8(data: bytes) -> str:
    """Decode UTF-8 (BOM tolerated) or raise a ParseError naming the byte offset."""
    if not isinstance(data, bytes):  # a memory-mapped file (inputs.MappedFile) read whole by a parser that must
        data = bytes(data)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ParseError(
            f"not valid UTF-8 (byte 0x{data[error.start]:02x}); re-save the file as UTF-8",
            f"byte {error.start}",
        ) from None


def parse_xml(data: bytes) -> Element:
    """Parse XML with entity declarations and external references refused (never expanded, never fetched)."""
    return _parse(data.lstrip(), safe_etree.DefusedXMLParser(target=TreeBuilder()))


def parse_xml_keeping(data: bytes, tags: Collection[str]) -> tuple[Element, dict[Element, str]]:
    """Parse like ``parse_xml``, and return the source text of every element named in ``tags`` (``{ns}name``).

    Each element's text is its exact bytes in the document, with the namespace declarations it inherits
    from its ancestors written into its start tag, so that it stands alone as a well-formed, namespace-complete
    document. Slicing is much cheaper than re-serializing the parsed element, and keeps the source's own
    spelling. Only outermost ones are kept (a wanted element inside another is part of that one's text). An
    element that cannot be sliced (an empty-element tag, a document not in UTF-8) is absent from the map;
    callers fall back to ``element_xml``.
    """
    data = data.lstrip()
    parser = safe_etree.DefusedXMLParser(target=TreeBuilder())
    recorder = _SourceRecorder(parser, data, frozenset(tags)) if _is_utf8(data) else None
    root = _parse(data, parser)
    return root, recorder.texts if recorder else {}


MAX_XML_DEPTH = 256
"""Deepest element nesting read (libxml2's default limit too): feeds and OAI records nest about ten deep; a
deeper document is refused, since reading it would take Python's recursion limit (ElementTree's serializer)."""


class _TooDeep(Exception):
    pass


def _guard_depth(parser: safe_etree.DefusedXMLParser) -> None:
    """Wrap the parser's element handlers to refuse nesting deeper than ``MAX_XML_DEPTH``."""
    expat = parser.parser
    start, end = expat.StartElementHandler, expat.EndElementHandler
    depth = 0

    def guarded_start(tag, attributes):
        nonlocal depth
        depth += 1
        if depth > MAX_XML_DEPTH:
            raise _TooDeep
        return start(tag, attributes)

    def guarded_end(tag):
        nonlocal depth
        depth -= 1
        return end(tag)

    expat.StartElementHandler, expat.EndElementHandler = guarded_start, guarded_end


def _parse(data: bytes, parser: safe_etree.DefusedXMLParser) -> Element:
    _guard_depth(parser)
    try:
        parser.feed(data)
        return parser.close()
    except _TooDeep:
        expat = parser.parser
        raise ParseError(f"malformed XML: elements nested more than {MAX_XML_DEPTH} deep",
                         f"line {expat.CurrentLineNumber}, column {expat.CurrentColumnNumber}") from None
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


_DECLARED_ENCODING = re.compile(rb"<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)")


def _is_utf8(data: bytes) -> bool:
    """True when the document's bytes are UTF-8 (declared so, or undeclared without a UTF-16 byte order mark)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    declared = _DECLARED_ENCODING.match(data, 3 if data.startswith(b"\xef\xbb\xbf") else 0)
    return declared is None or declared.group(1).lower() in (b"utf-8", b"utf8")


class _SourceRecorder:
    """Wrap a parser's expat handlers to note where chosen elements start and end, and the namespaces in scope."""

    def __init__(self, parser: safe_etree.DefusedXMLParser, data: bytes, tags: frozenset[str]) -> None:
        self.expat = parser.parser
        self.data = data
        self.tags = tags
        self.texts: dict[Element, str] = {}
        self.scope: list[tuple[str | None, str]] = []  # namespace declarations in force, innermost last
        self.fresh = 0  # declarations made since the last start tag: they belong to the next element
        self.starts: list[tuple[int, str] | None] = []  # per open kept element: (start byte, declarations to add)
        self.memo: dict[tuple, str] = {}
        self._start, self._end = self.expat.StartElementHandler, self.expat.EndElementHandler
        self._start_ns = self.expat.StartNamespaceDeclHandler
        self._end_ns = self.expat.EndNamespaceDeclHandler
        self.expat.StartElementHandler = self.start
        self.expat.EndElementHandler = self.end
        self.expat.StartNamespaceDeclHandler = self.start_ns
        self.expat.EndNamespaceDeclHandler = self.end_ns

    def start_ns(self, prefix: str | None, uri: str) -> None:
        self.scope.append((prefix or None, uri))
        self.fresh += 1
        if self._start_ns:
            self._start_ns(prefix, uri)

    def end_ns(self, prefix: str | None) -> None:
        for index in range(len(self.scope) - 1, -1, -1):
            if self.scope[index][0] == (prefix or None):
                del self.scope[index]
                break
        if self._end_ns:
            self._end_ns(prefix)

    def start(self, tag: str, attributes: list[str]) -> Element:
        fresh, self.fresh = self.fresh, 0
        element = self._start(tag, attributes)
        if element.tag in self.tags:
            if self.starts:
                self.starts.append(None)  # inside a kept element: its text is part of that one's
            else:
                inherited = tuple(self.scope[:len(self.scope) - fresh])
                own = frozenset(prefix for prefix, _ in self.scope[len(self.scope) - fresh:])
                self.starts.append((self.expat.CurrentByteIndex, self._declarations(inherited, own)))
        return element

    def end(self, tag: str) -> Element:
        element = self._end(tag)
        if element.tag in self.tags:
            opened = self.starts.pop()
            at = self.expat.CurrentByteIndex
            if opened is not None and at > opened[0]:  # equal for an empty-element tag <x/>: not sliced
                close = self.data.index(b">", at) + 1  # an end tag holds no attributes, so no '>' before its own
                self.texts[element] = _with_declarations(self.data[opened[0]:close].decode("utf-8"), opened[1])
        return element

    def _declarations(self, inherited: tuple[tuple[str | None, str], ...], own: frozenset[str | None]) -> str:
        """The inherited declarations that the element does not make itself, as attributes (memoized: few scopes)."""
        key = (inherited, own)
        text = self.memo.get(key)
        if text is None:
            in_force = dict(inherited)  # a prefix declared twice: the inner declaration wins
            text = self.memo[key] = "".join(f' xmlns{":" + prefix if prefix else ""}={quoteattr(uri)}'
                                            for prefix, uri in in_force.items() if prefix not in own)
        return text


def _with_declarations(text: str, declarations: str) -> str:
    """Write namespace declarations into the start tag that opens ``text``, after the element's name."""
    if not declarations:
        return text
    name_end = 1
    while text[name_end] not in " \t\r\n/>":
        name_end += 1
    return text[:name_end] + declarations + text[name_end:]


def local_name(tag: str) -> str:
    """``{namespace}entry`` -> ``entry``."""
    return tag.rsplit("}", 1)[-1]


def text_of(element: Element | None) -> str:
    """All text inside an element (children included), or '' for None."""
    if element is None:
        return ""
    if not len(element):
        return element.text or ""  # a leaf, as most fields are: no iterator to build
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


# ElementTree's own prefixes for well-known namespaces, as it ships them. ``tostring`` looks prefixes up in a
# process-wide registry that ``ET.register_namespace`` changes; element_xml uses this copy instead, so a record's
# raw text (and its fingerprint) is the same whatever else in the process registered.
_KNOWN_PREFIXES = {
    "http://www.w3.org/XML/1998/namespace": "xml",
    "http://www.w3.org/1999/xhtml": "html",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#": "rdf",
    "http://schemas.xmlsoap.org/wsdl/": "wsdl",
    "http://www.w3.org/2001/XMLSchema": "xs",
    "http://www.w3.org/2001/XMLSchema-instance": "xsi",
    "http://purl.org/dc/elements/1.1/": "dc",
}


def element_xml(element: Element) -> str:
    """Serialize one element without the text that follows it in its parent.

    The output is what ``tostring`` writes with ElementTree's registry as shipped (``ns0:``, ``ns1:`` … in the
    order of first use, ``dc:``, ``rdf:`` … for the well-known ones, the declarations on the root sorted by
    prefix), but it never reads that registry: names are spelled out here and handed to ``tostring`` as plain
    ``prefix:name`` tags, which it writes as they are.
    """
    prefixes: dict[str, str] = {}  # namespace URI -> prefix, in order of first use
    names: dict[str, str] = {}

    def name(qualified: str) -> str:
        spelled = names.get(qualified)
        if spelled is None:
            if qualified[:1] == "{":
                uri, local = qualified[1:].rsplit("}", 1)
                prefix = prefixes.get(uri)
                if prefix is None:
                    prefix = _KNOWN_PREFIXES.get(uri) or f"ns{len(prefixes)}"
                    if prefix != "xml":
                        prefixes[uri] = prefix
                spelled = f"{prefix}:{local}"
            else:
                spelled = qualified
            names[qualified] = spelled
        return spelled

    def rename(node: Element) -> Element:
        if not isinstance(node.tag, str):  # a comment or processing instruction (kept only by custom builders)
            return copy.copy(node)
        renamed = Element(name(node.tag), {name(key): value for key, value in node.items()})
        renamed.text, renamed.tail = node.text, node.tail
        renamed.extend(rename(child) for child in node)
        return renamed

    detached = rename(element)
    detached.tail = None
    if prefixes:
        declarations = {f"xmlns:{prefix}": uri for uri, prefix in sorted(prefixes.items(), key=lambda p: p[1])}
        detached.attrib = {**declarations, **detached.attrib}
    return tostring(detached, encoding="unicode")
