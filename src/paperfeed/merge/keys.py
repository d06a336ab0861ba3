"""Merge keys: the identifiers a record carries, its fingerprint, and the blocking keys of a title.

Identity first goes by a shared identifier: arXiv id (version stripped), DOI, or the source's own
id (``format:record_id``; CSV, BibTeX, RIS and CSL-JSON ids are local to their file's label). A record also
carries the ids its source names for another version of the same work (``related_identifiers``: a preprint's
journal DOI, a journal article's preprint). Records without a
shared identifier are compared (``matching``) only with the items that share a blocking key: runs
of significant title words, see ``block_keys``. Name and title keys the matcher compares
(``_person_tokens``, ``_title_variants``) live here too.
"""

from __future__ import annotations

import hashlib
import re
import struct
from functools import lru_cache
from typing import Iterable

from ..normalize import NAME_CACHE_SIZE, fold
from ..records import Record

# Source ids that are unique only inside one file or library, not across a source. (MODS is not: an ACL
# Anthology id names the paper anywhere, and the parser scopes a MODS citation key by its label itself.)
_FILE_LOCAL_ID_FORMATS = {"csv", "bibtex", "ris", "csl-json"}

ARXIV_DOI_PREFIX = "10.48550/arxiv."
# bioRxiv and medRxiv DOIs: Cold Spring Harbor's prefix, then a date ("10.1101/2023.03.14.532608") or, before
# December 2019, a number; its journals' DOIs under the same prefix start with letters ("10.1101/gad.…").
_PREPRINT_SERVER_DOI = re.compile(r"10\.1101/\d")
VERSION_RELATIONS = frozenset({"has-preprint", "is-preprint-of", "preprint", "published-as", "published",
                               "has-version", "is-version-of"})
"""Relations in ``extra["related_ids"]`` (``sources.scholarly.add_related``) that name the same work in another
version (its preprint, its journal article), not another work (a review, a reply, a dataset)."""

_STOPWORDS = frozenset(
    "a an and are as at by for from in into is it of on or the to via with without using towards toward".split()
)
BLOCK_WORDS = 4
"""Words in a title-end blocking key; also the most words a title may have to be keyed whole."""
_DELETION_KEY_WORDS = 5
"""Titles of 3 up to this many significant words also get a key for each word left out (one typo or change)."""

# Remarks in brackets: "(Tutorial)", "(Panel Abstract)", "(extended version)", "[Demo]".
_BRACKETED = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")
# Where a title's main part ends: "Main: subtitle", "Main - Book Review", "Main? Subtitle".
_MAIN_BREAK = re.compile(r": | - |\? | \u2013 | \u2014 ")


def _main_break(title: str) -> re.Match | None:
    """``_MAIN_BREAK.search(title)``, with the regex run only when one of its separators is there (each tested by a
    C scan: most titles have none, and the regex, having no literal prefix, tries every position)."""
    if ": " in title or " - " in title or "? " in title or " \u2013 " in title or " \u2014 " in title:
        return _MAIN_BREAK.search(title)
    return None


# Prefixes written hyphenated as often as solid: "semi-structured" ~ "semistructured", "e-mail" ~ "email".
_JOINED_PREFIXES = frozenset("semi multi non co pre post re sub inter intra meta micro e".split())
_WORD = re.compile(r"[a-z0-9]+")
_NAME_TOKEN = re.compile(r"[a-z0-9?]+")
_NAME_SUFFIX_TOKENS = frozenset({"jr", "sr", "ii", "iii", "iv"})


def identifiers(record: Record, label: str | None = None) -> list[tuple[str, str]]:
    """The (scheme, value) identifiers a record carries, strongest first."""
    found: list[tuple[str, str]] = []
    if record.arxiv_id:
        found.append(("arxiv", record.arxiv_id))
    if record.doi:
        found.append(("doi", record.doi))
    if record.extra:
        found.extend(related_identifiers(record.extra, record.arxiv_id, record.doi))
    if not found and record.record_id:
        scope = f"{label or ''}:" if record.format in _FILE_LOCAL_ID_FORMATS else ""
        found.append(("source", f"{record.format}:{scope}{record.record_id}"))
    return found


def is_preprint_doi(value: str) -> bool:
    """Whether a (normalized, lower-case) DOI is a preprint server's: arXiv's own (``10.48550/arxiv.``) or
    bioRxiv's and medRxiv's. It names the preprint, so it is never "a second DOI" beside the journal's."""
    return value.startswith(ARXIV_DOI_PREFIX) or _PREPRINT_SERVER_DOI.match(value) is not None


def related_identifiers(extra: dict, arxiv_id: str | None, doi: str | None) -> list[tuple[str, str]]:
    """The arXiv ids and DOIs a record's source names for the same work in another version, besides its own
    (``arxiv_id``, ``doi``): its own preprint DOI when its ``doi`` is the journal's (``extra["preprint_doi"]``),
    and the ``[relation, scheme, id]`` triples of ``extra["related_ids"]`` whose relation is a version
    (``VERSION_RELATIONS``). So a bioRxiv preprint still marked unpublished meets the Crossref record that
    names its journal DOI.

    A record never gains a second arXiv id or a second DOI that is not a preprint server's (``is_preprint_doi``):
    only when it has none of its own, and only the first named, so the identity invariants hold for the ids a
    record carries as they do for the record itself."""
    named: list[tuple[str, str]] = []
    own_preprint = extra.get("preprint_doi")
    if isinstance(own_preprint, str) and own_preprint:
        named.append(("doi", own_preprint))
    related = extra.get("related_ids")
    if isinstance(related, list):
        for entry in related:
            if (isinstance(entry, (list, tuple)) and len(entry) == 3 and entry[0] in VERSION_RELATIONS
                    and entry[1] in ("arxiv", "doi") and isinstance(entry[2], str) and entry[2]):
                named.append((entry[1], entry[2]))
    found: list[tuple[str, str]] = []
    has_arxiv, has_doi = bool(arxiv_id), bool(doi and not is_preprint_doi(doi))
    for scheme, value in named:
        if value == (arxiv_id if scheme == "arxiv" else doi) or (scheme, value) in found:
            continue
        if scheme == "arxiv":
            if has_arxiv:
                continue
            has_arxiv = True
        elif not is_preprint_doi(value):
            if has_doi:
                continue
            has_doi = True
        found.append((scheme, value))
    return found


def significant_words(title: str) -> list[str]:
    """Title tokens (``title_tokens``) without stopwords; a plural ``s`` dropped, hyphenated prefixes joined.

    ``Semi-Structured Updates`` -> ``semistructured update``: spelling variants meet in a key.
    """
    text = fold(title if title.isascii() else _readable(title))
    if "-" in text:
        text = _join_prefixes(text)
    # Folded text is ASCII: every byte but [a-z0-9] made a space, str.split gives what _WORD.findall would, in half
    # the time (the regex engine's cost is per match).
    tokens = (text.encode("ascii").translate(_WORD_BYTES).decode("ascii").split() if text.isascii()
              else _WORD.findall(text))
    return [form for form in map(_KEY_FORMS.__getitem__, tokens) if form]


class _KeyForms(dict):
    """Token -> its form in keys: "" for a stopword, a plural ``s`` dropped (``significant_words``); filled as
    tokens are met, and emptied when it holds ``KEY_FORMS_CACHED`` (a lookup costs a third of the rules)."""

    def __missing__(self, token: str) -> str:
        form = ("" if token in _STOPWORDS else token[:-1] if len(token) > 3 and token[-1] == "s" and token[-2] != "s"
                else token)
        if len(self) >= KEY_FORMS_CACHED:
            self.clear()
        self[token] = form
        return form


KEY_FORMS_CACHED = 200_000
"""Distinct title words kept (about 20 MB when full; 60,000 arXiv titles hold 27,000)."""
_KEY_FORMS = _KeyForms()


_WORD_BYTES = bytes(byte if 48 <= byte <= 57 or 97 <= byte <= 122 else 32 for byte in range(256))
"""A ``bytes.translate`` table keeping the bytes of ``_WORD`` (digits, lower-case ASCII letters), the rest spaces."""


def _join_prefixes(text: str) -> str:
    """Drop the hyphen after a prefix (``_JOINED_PREFIXES``) in lower-case text."""
    pieces = text.split("-")
    joined = pieces[0]
    for piece in pieces[1:]:
        start = len(joined)
        while start and joined[start - 1].isalnum():
            start -= 1
        if joined[start:] in _JOINED_PREFIXES and piece[:1].isalpha():
            joined += piece
        else:
            joined += "-" + piece
    return joined


def _title_variants(title: str) -> list[str]:
    """The title, and the title without bracketed remarks when it has any."""
    if "(" in title or "[" in title:
        core = _BRACKETED.sub(" ", title)
        if core.strip() and core != title:
            return [title, core]
    return [title]


# An ellipsis: where a scraped title was cut ("Efficient query pro…"); text after it is the site's, not the title's.
_ELLIPSIS = re.compile(r"\s*(?:\.\.\.|\u2026)")
WINDOW_WORDS = 3
"""Significant words in a window key: a run of this many consecutive words of a title is a key."""
WINDOW_STARTS = 3
"""Window keys start at the title's first this many significant words: a scraped title carries a short prefix
("Chapter 3", "Invited talk:", a surname) if any, so a run that begins within it meets the clean title's first
run; windows further on would only multiply the keys stored per title (long titles have many)."""


def cut_title(title: str) -> tuple[str, bool]:
    """The title up to an ellipsis after its third word, and whether it was cut there (truncated)."""
    if "\u2026" in title or "..." in title:
        for found in _ELLIPSIS.finditer(title):
            if title.count(" ", 0, found.start()) >= 2:
                return title[:found.start()], True
    return title, False


def title_words(title: str) -> tuple[list[str], str]:
    """The significant words a title is matched by when it may be garbled: without bracketed remarks
    ("[PDF]"), up to an ellipsis; and the stump, the last word before the ellipsis of a title cut short
    ("pro" of "Efficient query pro…"; "" when there is none), which matches a word it begins."""
    core = _title_variants(title)[-1]
    core, truncated = cut_title(core)
    if not truncated:
        return significant_words(core), ""
    head, _, last = core.rstrip().rpartition(" ")
    stump = significant_words(last)
    if stump and any(word.startswith(stump[-1]) for word in _STOPWORDS):
        return significant_words(head), ""  # "f" of "for": a cut stopword, which the other title leaves out
    return significant_words(head), stump[-1] if stump else ""


HEAD_WORDS = 2
"""Significant words in a head key: a title not from an arXiv record stores its first word and the start of its
second (``HEAD_LETTERS``), which a scraped title looks up when it is cut short or has few words (``title_keys``)."""
HEAD_LETTERS = 3
"""Letters of the second word in a head key: a title cut inside its second word ("Efficient transparen…")."""


def _head_key(first: str, second: str) -> str:
    return f"h:{first} {second[:HEAD_LETTERS]}"


def window_keys(words: list[str]) -> list[str]:
    """Key texts of the runs of ``WINDOW_WORDS`` consecutive significant words that start at one of the first
    ``WINDOW_STARTS`` words: a title with a short prefix glued on, garbage after it, or cut short, still shares
    the clean title's first run."""
    return [" ".join(words[i:i + WINDOW_WORDS]) for i in range(min(WINDOW_STARTS, len(words) - WINDOW_WORDS + 1))]


def block_keys(title: str) -> list[int]:
    """Blocking keys: items sharing one are compared; everything else is assumed different.

    Every key a record looks up (``title_keys`` splits them into those an item stores and those only looked
    up). Keys are made of the significant words (``significant_words``) of the title, and of the
    title without bracketed remarks:
    - the first and the last ``BLOCK_WORDS`` words, or all of them for a title that short, so
      a short title also meets a longer one that begins or ends with it;
    - for titles of up to 7 words, where those two overlap, the first two and last two words
      together, so one change in the middle still meets (longer titles keep one end intact);
    - for titles of 3 to ``_DELETION_KEY_WORDS`` words, the words with each one left out in
      turn, and the words sorted, so one changed, added or dropped word, or a new word order,
      still meets;
    - the main part of "Main: subtitle" when it has 3 to ``BLOCK_WORDS`` words, so that it
      meets plain "Main";
    - window keys (``window_keys`` of ``title_words``): the runs of ``WINDOW_WORDS`` consecutive
      words that start at one of the first ``WINDOW_STARTS`` words, so that a scraped title with a
      short prefix before it, garbage after it, or cut short ("…"), still meets the clean one.
      They are added to the keys above, which are kept unchanged, so that
      items stored before window keys existed are still found by a new record's older keys.
    Each key is hashed to a signed 64-bit integer: compact to index, and a rare collision only
    adds a candidate that the title comparison then rejects.
    """
    stored, looked_up = title_keys(title)
    return stored + looked_up


def title_keys(title: str, clean: bool = False) -> tuple[list[int], list[int]]:
    """(the keys an item stores for this title, the keys a record with it looks up besides): ``block_keys``
    split so that fewer rows are written, every pair of titles that share a key still meeting.

    Only looked up, not stored: the first ``BLOCK_WORDS`` words of a longer title, when the window key of its
    first ``WINDOW_WORDS`` words is stored: two titles that share the one share the other (the first key is
    still looked up, for items stored before window keys existed). A scraped title may hide a short clean one
    behind a prefix, or end in author or venue text glued on without a space ("...XML documentsJ Smith"): it
    looks up the runs of three and four words that start at one of its first words (a clean title that
    short stores them whole), and the keys of the title up to the glued text.
    Head keys: a title that is not ``clean`` stores its first word and the first letters of its second too
    (``_head_key``), and one cut short, of ``BLOCK_WORDS`` words or fewer, or ended by a separator looks up
    those of the pairs of words at its start, so that a title cut to two words, or two words behind a prefix,
    meets its work (``matching`` then asks authors in common of so short a match). Not for ``clean`` titles:
    an arXiv listing's ingest, most of the store, writes no more rows.
    A ``clean`` title (one a record with an arXiv id carries: what its authors typed, no prefix glued on) stores
    only its first window key (none when it is short enough to be stored whole: then it looks it up), and looks
    up nothing else: a scraped title that carries a prefix meets it by its own later windows, which it stores
    and looks up; such a record looks up only items without an arXiv id, and those (its ingest's cost is mostly
    theirs) are what the keys are kept few for. Items stored before window keys existed are found by its other
    keys (the last words).
    """
    stored, looked_up = _key_texts(title, clean)
    return [_key_hash(text) for text in stored], [_key_hash(text) for text in looked_up]


# Where a scraped title's own text may end and a venue or a site's name begin.
_SEPARATOR = re.compile(r"\. | - | [Ii]n: ")
# Where text may be glued onto a title's word: a lower-case letter, then a capital or a year ("dataJ Smith").
_GLUED = re.compile(r"[a-z](?=[A-Z]|(?:19|20)[0-9][0-9]\b)")


def _key_texts(title: str, clean: bool = False) -> tuple[set[str], set[str]]:
    """The texts of ``title_keys`` (before hashing)."""
    variants = _title_variants(title)
    if clean and len(variants) == 1 and "\u2026" not in title and "..." not in title:
        return _clean_key_texts(title)
    texts: set[str] = set()
    firsts: set[str] = set()
    for variant in variants:
        words = significant_words(variant)
        count = len(words)
        if count <= BLOCK_WORDS:
            if words:
                texts.add(" ".join(words))
        else:
            firsts.add(" ".join(words[:BLOCK_WORDS]))
            texts.add(" ".join(words[-BLOCK_WORDS:]))
            if count < 2 * BLOCK_WORDS:
                texts.add(" ".join(words[:2] + words[-2:]))
        if 3 <= count <= _DELETION_KEY_WORDS:
            texts.update(" ".join(words[:i] + words[i + 1:]) for i in range(count))
            texts.add("~" + " ".join(sorted(words)))  # the same words in another order
    core, core_words = variants[-1], words
    main = _main_break(core)
    if main and core.count(" ", 0, main.start()) >= 2:  # a main part of one or two words makes no key
        words = significant_words(core[:main.start()])
        if 3 <= len(words) <= BLOCK_WORDS:
            texts.add(" ".join(words))
    if "\u2026" in core or "..." in core:
        words, stump = title_words(title)
    else:  # not cut short: the words of the last variant, as ``title_words`` would make them
        words, stump = core_words, ""
    windows = ["w:" + text for text in window_keys(words)]
    if stump and len(words) >= WINDOW_WORDS - 1:  # the stump may be a whole word
        texts.add("w:" + " ".join(words[1 - WINDOW_WORDS:] + [stump]))
    texts.update(windows[:1] if clean else windows)
    covered = {text for text in firsts if "w:" + " ".join(text.split()[:WINDOW_WORDS]) in texts}
    stored = texts | (firsts - covered)
    if clean:
        return stored, set()
    # Head keys: a scraped title cut to two words ("Automatic segmentation…", "Efficient transparen…"), or two
    # words behind a prefix ("Chapter 7 Implementing XQuery"), forms no window; it meets a title by that title's
    # first word and the start of its second.
    cut_short = bool(stump) or "\u2026" in core or "..." in core
    if len(words) >= HEAD_WORDS:
        stored.add(_head_key(words[0], words[1]))
    looked_up = set(covered)
    head = words
    ellipsis = _ELLIPSIS.search(core)
    if ellipsis and not stump:  # cut before its third word ("Coloring Away…W Hasan"): the words before
        head = significant_words(core[:ellipsis.start()])
    elif not (cut_short or len(words) <= BLOCK_WORDS):
        # A short title that a separator ends ("Implementing XQuery. International Conference ..."): its words.
        separator = _SEPARATOR.search(core)
        head = significant_words(core[:separator.start()]) if separator else []
    if cut_short or len(head) <= BLOCK_WORDS:
        looked_up.update(_head_key(head[i], head[i + 1]) for i in range(min(WINDOW_STARTS, len(head) - 1)))
        if stump and words and len(stump) >= HEAD_LETTERS:
            looked_up.add(_head_key(words[-1], stump))
    # Whole short titles a prefix glued on hides ("Chapter 7 Implementing XQuery tools"): the runs of three and
    # four words that start at one of the first words are what a clean title that short stores.
    for size in (WINDOW_WORDS, BLOCK_WORDS):
        looked_up.update(" ".join(words[i:i + size]) for i in range(min(WINDOW_STARTS, len(words) - size + 1)))
    for glued in _GLUED.finditer(core):
        if core.count(" ", 0, glued.start()) >= 2:  # not a name written in camel case ("MindReader: ...")
            # Author or venue text glued on: the title up to there, as keys go.
            cut_stored, cut_looked_up = _key_texts(core[:glued.start() + 1])
            looked_up |= cut_stored | cut_looked_up
            break
    return stored, looked_up - stored


def _clean_key_texts(title: str) -> tuple[set[str], set[str]]:
    """``_key_texts`` of a clean title without bracketed remarks or an ellipsis (most of them: arXiv's), computed
    directly (an arXiv listing is mostly this work). A title of ``_DELETION_KEY_WORDS`` words or fewer stores its
    first ``BLOCK_WORDS`` words (whole, or with a word left out), which a scraped title looks up among the runs
    at its start: its first window key is looked up (a scraped title stored earlier has it), not stored."""
    words = significant_words(title)
    count = len(words)
    texts: set[str] = set()
    if count <= BLOCK_WORDS:
        if words:
            texts.add(" ".join(words))
    else:
        texts.add(" ".join(words[-BLOCK_WORDS:]))
        if count < 2 * BLOCK_WORDS:
            texts.add(" ".join(words[:2] + words[-2:]))
    if 3 <= count <= _DELETION_KEY_WORDS:
        texts.update(" ".join(words[:i] + words[i + 1:]) for i in range(count))
        texts.add("~" + " ".join(sorted(words)))
    looked_up: set[str] = set()
    if count >= WINDOW_WORDS:  # the first window, which stands for the first BLOCK_WORDS words too
        (texts if count > _DELETION_KEY_WORDS else looked_up).add("w:" + " ".join(words[:WINDOW_WORDS]))
    main = _main_break(title)
    if main and title.count(" ", 0, main.start()) >= 2:
        words = significant_words(title[:main.start()])
        if 3 <= len(words) <= BLOCK_WORDS:
            texts.add(" ".join(words))
    return texts, looked_up


def _key_hash(text: str) -> int:
    return _SIGNED_64(hashlib.blake2b(text.encode(), digest_size=8).digest())[0]


_SIGNED_64 = struct.Struct(">q").unpack
"""Eight bytes as a big-endian signed integer (``int.from_bytes(..., "big", signed=True)``, in fewer calls)."""


def fingerprint(record: Record, origin_name: str) -> str:
    """Identity of a source record: the same bytes from the same named file are the same record."""
    # One update of the parts joined: the same bytes as an update per part and per separator, in a quarter of the calls.
    joined = f"{record.format}\x00{origin_name}\x00{record.record_id}\x00{record.raw}\x00"
    return hashlib.blake2b(joined.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()

# UTF-8 read as cp1252 (or Latin-1), maybe twice: a lead byte shown as one of these, then continuation bytes.
_MOJIBAKE = re.compile("[\u00c2-\u00c5\u00c9\u00d0\u00d1\u00e2][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178"
                       "\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030"
                       "\u2039\u203a\u20ac\u2122?]")
_MOJIBAKE_RUN = re.compile("(?:[\u00c2-\u00c5\u00c9\u00d0\u00d1\u00e2][\u0080-\u00bf\u0152\u0153\u0160\u0161"
                           "\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022"
                           "\u2026\u2030\u2039\u203a\u20ac\u2122?]+)+")


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 text decoded as cp1252 (``MÃ¼ller`` -> ``Müller``, twice over too); where bytes were lost
    on the way (``Ã¢â?¬â?¢``), the damaged run becomes ``?``, which name comparison reads as lost characters."""
    if text.isascii() or not _MOJIBAKE.search(text):
        return text
    for _ in range(2):
        try:
            repaired = text.encode("cp1252").decode("utf-8")
        except UnicodeError:
            break
        if repaired == text:
            break
        text = repaired
        if not _MOJIBAKE.search(text):
            return text
    return _MOJIBAKE_RUN.sub("?", text)


def _readable(title: str) -> str:
    """A title as its words are compared: mojibake undone (``repair_mojibake``), and a character lost to bad
    decoding (U+FFFD, or ``?`` where mojibake could not be undone) a word break, as the hyphen or quote it mostly
    was ("shared\ufffddisk" is "shared-disk", not "shareddisk")."""
    title = repair_mojibake(title)
    return title.replace("\ufffd", "-") if "\ufffd" in title else title


@lru_cache(maxsize=NAME_CACHE_SIZE)
def _person_tokens(name: str) -> tuple[str, ...]:
    """Folded name tokens, surname last, suffixes (``Jr.``) dropped; U+FFFD (and mojibake that cannot be
    undone, see ``repair_mojibake``) becomes ``?``."""
    name = repair_mojibake(name)
    if "\ufffd" in name:
        name = re.sub("\ufffd+", "?", name)
    tokens = _NAME_TOKEN.findall(fold(name))
    if len(tokens) > 1:
        tokens = [token for token in tokens if token not in _NAME_SUFFIX_TOKENS] or tokens
    return tuple(token for token in tokens if token != "?")


def surnames(authors: Iterable[str]) -> frozenset[str]:
    """Folded surnames of a list of display names (``?`` where characters were lost)."""
    return frozenset(tokens[-1] for tokens in (_person_tokens(name) for name in authors) if tokens)

