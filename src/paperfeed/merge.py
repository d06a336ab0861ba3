"""Merge decisions: which item a record belongs to, and what a merged item says.

Everything here is pure: it takes records and item summaries and returns decisions,
so it can be tested without a store and reused by every backend.

Identity, in order:
1. a shared identifier: arXiv id (version stripped), DOI, or the source's own id
   (``format:record_id``; CSV and BibTeX ids are local to their file's label);
2. otherwise a matching title among the items that share a blocking key (runs of
   significant title words, see ``block_keys``), not contradicted by authors or year
   when both sides have them (see ``match_score``): a near-duplicate title confirmed by
   authors or year (almost equal if neither can confirm); a close title when the year
   and nearly all authors agree; or one title the start of the other (a subtitle or a
   remark added) when authors confirm it. Bracketed remarks ("(Tutorial)") may be left
   out of the comparison; numbers in the titles must agree ("Part I" is not "Part II");
   surnames tolerate lost accents, typos and double surnames. When two items fit about
   equally well, the record merges with neither. Two different arXiv ids or DOIs never
   merge, and an item never takes two different records from the same origin file.

Field rule for a merged item (``resolve_item``), applied to all its source records:
- title, authors, identifiers and primary category come from the most authoritative
  source that has them (``FORMAT_RANK``; ties go to the record seen first);
- the abstract is the longest one (captures and feeds carry truncated teasers);
- published is the earliest full date any source gives (arXiv v1 before a listing day);
- categories are the union, the best source's order first; topics keep their highest confidence;
- upvotes are summed over sources, taking each source label's highest count;
- kind is ``paper`` if any source calls it a paper, else ``news``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from .normalize import NAME_CACHE_SIZE, fold, title_tokens
from .records import Record

FORMAT_RANK = {
    "arxiv-oai": 0,
    "arxiv-atom": 0,
    "arxiv-rss": 1,
    "jsonl": 1,
    "hf-daily": 2,
    "bibtex": 3,
    "csv": 3,
    "capture": 4,
    "feed": 4,
}
# Source ids that are unique only inside one file or library, not across a source.
_FILE_LOCAL_ID_FORMATS = {"csv", "bibtex"}

_STOPWORDS = frozenset(
    "a an and are as at by for from in into is it of on or the to via with without using towards toward".split()
)
BLOCK_WORDS = 4
"""Words in a title-end blocking key; also the most words a title may have to be keyed whole."""
_DELETION_KEY_WORDS = 5
"""Titles of 3 up to this many significant words also get a key for each word left out (one typo or change)."""
TITLE_MATCH = 92.0
"""Minimum rapidfuzz ratio (0-100) of normalized titles for a confirmed near-duplicate."""
TITLE_MATCH_UNCONFIRMED = 97.0
"""Stricter bar when neither authors nor year can confirm the match."""
TITLE_MATCH_AUTHORS = 90.0
"""Lower bar when the year and the authors agree: as many on each side, two or more, four in five in common."""
TITLE_MATCH_CONTAINED = 95.0
"""Minimum ratio of a title to the start of a longer one for it to count as contained there."""
TITLE_MATCH_CONTAINED_WORDS = 4
"""Significant words a contained title needs (one fewer when the years are equal too)."""
TITLE_MATCH_MARGIN = 1.0
"""Score points by which the best candidate must beat the next one; closer than that is too close to call."""

# Remarks in brackets: "(Tutorial)", "(Panel Abstract)", "(extended version)", "[Demo]".
_BRACKETED = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")
# Where a title's main part ends: "Main: subtitle", "Main - Book Review", "Main? Subtitle".
_MAIN_BREAK = re.compile(r": | - |\? | \u2013 | \u2014 ")
# Prefixes written hyphenated as often as solid: "semi-structured" ~ "semistructured", "e-mail" ~ "email".
_JOINED_PREFIXES = frozenset("semi multi non co pre post re sub inter intra meta micro e".split())
_WORD = re.compile(r"[a-z0-9]+")
_NAME_TOKEN = re.compile(r"[a-z0-9?]+")
_NAME_SUFFIX_TOKENS = frozenset({"jr", "sr", "ii", "iii", "iv"})
_FUZZY_NAME_PAIRS = 2500
"""Most name pairs compared loosely (lost accents, typos) for one pair of author lists."""
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10}
_NUMBERED = frozenset({"part", "vol", "volume", "chapter", "section", "no", "number", "phase", "level", "book"})
# Number words, so that "4th" and "fourth" agree ("one" is left out: it is a pronoun as often).
_NUMBER_WORDS = {word: value for value, words in enumerate((
    (), (), ("two", "second"), ("three", "third"), ("four", "fourth"), ("five", "fifth"), ("six", "sixth"),
    ("seven", "seventh"), ("eight", "eighth"), ("nine", "ninth"), ("ten", "tenth"))) for word in words}
_NUMBER_WORDS["first"] = 1
_DIGITS = re.compile(r"\d+")


def identifiers(record: Record, label: str | None = None) -> list[tuple[str, str]]:
    """The (scheme, value) identifiers a record carries, strongest first."""
    found: list[tuple[str, str]] = []
    if record.arxiv_id:
        found.append(("arxiv", record.arxiv_id))
    if record.doi:
        found.append(("doi", record.doi))
    if not found and record.record_id:
        scope = f"{label or ''}:" if record.format in _FILE_LOCAL_ID_FORMATS else ""
        found.append(("source", f"{record.format}:{scope}{record.record_id}"))
    return found


def significant_words(title: str) -> list[str]:
    """Title tokens (``title_tokens``) without stopwords; a plural ``s`` dropped, hyphenated prefixes joined.

    ``Semi-Structured Updates`` -> ``semistructured update``: spelling variants meet in a key.
    """
    text = fold(title)
    if "-" in text:
        text = _join_prefixes(text)
    return [token[:-1] if len(token) > 3 and token[-1] == "s" and token[-2] != "s" else token
            for token in _WORD.findall(text) if token not in _STOPWORDS]


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


def block_keys(title: str) -> list[int]:
    """Blocking keys: items sharing one are compared; everything else is assumed different.

    Keys are made of the significant words (``significant_words``) of the title, and of the
    title without bracketed remarks:
    - the first and the last ``BLOCK_WORDS`` words, or all of them for a title that short, so
      a short title also meets a longer one that begins or ends with it;
    - for titles of up to 7 words, where those two overlap, the first two and last two words
      together, so one change in the middle still meets (longer titles keep one end intact);
    - for titles of 3 to ``_DELETION_KEY_WORDS`` words, the words with each one left out in
      turn, and the words sorted, so one changed, added or dropped word, or a new word order,
      still meets;
    - the main part of "Main: subtitle" when it has 3 to ``BLOCK_WORDS`` words, so that it
      meets plain "Main".
    Each key is hashed to a signed 64-bit integer: compact to index, and a rare collision only
    adds a candidate that the title comparison then rejects.
    """
    texts: set[str] = set()
    variants = _title_variants(title)
    for variant in variants:
        words = significant_words(variant)
        count = len(words)
        if count <= BLOCK_WORDS:
            if words:
                texts.add(" ".join(words))
        else:
            texts.add(" ".join(words[:BLOCK_WORDS]))
            texts.add(" ".join(words[-BLOCK_WORDS:]))
            if count < 2 * BLOCK_WORDS:
                texts.add(" ".join(words[:2] + words[-2:]))
        if 3 <= count <= _DELETION_KEY_WORDS:
            texts.update(" ".join(words[:i] + words[i + 1:]) for i in range(count))
            texts.add("~" + " ".join(sorted(words)))  # the same words in another order
    core = variants[-1]
    main = _MAIN_BREAK.search(core)
    if main and core.count(" ", 0, main.start()) >= 2:  # a main part of one or two words makes no key
        words = significant_words(core[:main.start()])
        if 3 <= len(words) <= BLOCK_WORDS:
            texts.add(" ".join(words))
    return [_key_hash(text) for text in texts]


def _key_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


def fingerprint(record: Record, origin_name: str) -> str:
    """Identity of a source record: the same bytes from the same named file are the same record."""
    digest = hashlib.blake2b(digest_size=16)
    for part in (record.format, origin_name, record.record_id, record.raw):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()


@dataclass(slots=True)
class ItemSummary:
    """What the matcher needs to know of an item."""

    item_id: int
    title: str
    title_norm: str
    """The title's tokens, space-joined."""
    surnames: frozenset[str]
    year: int | None
    arxiv_id: str | None
    doi: str | None
    origins: set[str] = field(default_factory=set)
    title_core: str = ""
    """``title_norm`` without bracketed remarks; the same string when there are none."""
    people: tuple[tuple[str, ...], ...] = ()
    """Each author's folded name tokens, surname last (``?`` stands for characters lost to bad decoding)."""


@lru_cache(maxsize=NAME_CACHE_SIZE)
def _person_tokens(name: str) -> tuple[str, ...]:
    """Folded name tokens, surname last, suffixes (``Jr.``) dropped; U+FFFD becomes ``?``."""
    if "\ufffd" in name:
        name = re.sub("\ufffd+", "?", name)
    tokens = _NAME_TOKEN.findall(fold(name))
    if len(tokens) > 1:
        tokens = [token for token in tokens if token not in _NAME_SUFFIX_TOKENS] or tokens
    return tuple(token for token in tokens if token != "?")


def surnames(authors: Iterable[str]) -> frozenset[str]:
    """Folded surnames of a list of display names (``?`` where characters were lost)."""
    return frozenset(tokens[-1] for tokens in (_person_tokens(name) for name in authors) if tokens)


def summarize(item_id: int, title: str, authors: Iterable[str], year: int | None,
              arxiv_id: str | None, doi: str | None) -> ItemSummary:
    """Build the matcher's view of an item."""
    variants = _title_variants(title)
    norm = " ".join(title_tokens(variants[0]))
    core = (" ".join(title_tokens(variants[1])) or norm) if len(variants) > 1 else norm
    people = tuple(tokens for tokens in (_person_tokens(name) for name in authors) if tokens)
    return ItemSummary(item_id, title, norm, frozenset(tokens[-1] for tokens in people), year, arxiv_id, doi,
                       title_core=core, people=people)


def title_similarity(a: str, b: str) -> float:
    """Similarity 0-100 of two normalized titles, tolerant of one dropped or reordered word."""
    if a == b:
        return 100.0
    return max(fuzz.ratio(a, b), fuzz.token_sort_ratio(a, b))


def _numbers(title_norm: str) -> list[int]:
    """The numbers a normalized title names, sorted: digit runs, number words ("fourth"),
    roman numerals ii-ix, and i, v, x after "part", "volume" and the like."""
    found = [int(run) for run in _DIGITS.findall(title_norm)]
    tokens = title_norm.split()
    for index, token in enumerate(tokens):
        value = _NUMBER_WORDS.get(token)
        if value is None:
            value = _ROMAN.get(token)
            if value is None or (token in ("i", "v", "x") and not (index and tokens[index - 1] in _NUMBERED)):
                continue
        found.append(value)
    return sorted(found)


def _is_year(value: int) -> bool:
    return 1900 <= value <= 2099


def _comparable_numbers(a: str, b: str) -> tuple[list[int], list[int]]:
    """The numbers of two normalized titles, without years when only one title names a year
    ("Response to the March 1994 ODMG-93 Commentary" names the year a source may leave out)."""
    numbers_a, numbers_b = _numbers(a), _numbers(b)
    if numbers_a != numbers_b:
        years_a, years_b = any(map(_is_year, numbers_a)), any(map(_is_year, numbers_b))
        if years_a != years_b:
            numbers_a = [value for value in numbers_a if not _is_year(value)]
            numbers_b = [value for value in numbers_b if not _is_year(value)]
    return numbers_a, numbers_b


def _same_numbers(a: str, b: str) -> bool:
    """Whether two normalized titles name the same numbers ("Part I" is not "Part II", "5th" not "6th")."""
    numbers_a, numbers_b = _comparable_numbers(a, b)
    return numbers_a == numbers_b


def _contains_numbers(longer: list[int], shorter: list[int]) -> bool:
    """Whether every number of ``shorter`` is among ``longer`` (as a multiset)."""
    rest = list(longer)
    for value in shorter:
        if value not in rest:
            return False
        rest.remove(value)
    return True


def _same_surname(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Whether two folded names (``_person_tokens``) can be one person, judged by surname.

    Equal surnames; a surname with lost characters (``sch?ning`` ~ ``schoning``, ``kie?ling`` ~
    ``kiessling``); one surname among the other's later name words (``Berzal`` ~ ``Berzal Galiano``);
    or, for surnames of five letters or more with the same first initial, one typo (``Kriegal``).
    """
    x, y = a[-1], b[-1]
    if x == y:
        return True
    if "?" in x or "?" in y:
        pattern, other = (x, y) if "?" in x else (y, x)
        regex = ".{1,3}".join(re.escape(part) for part in pattern.split("?"))
        return "?" not in other and re.fullmatch(regex, other) is not None
    if (len(x) > 1 and x in b[1:-1]) or (len(y) > 1 and y in a[1:-1]):
        return True
    return (min(len(x), len(y)) >= 5 and (len(a) == 1 or len(b) == 1 or a[0][0] == b[0][0])
            and OSA.distance(x, y, score_cutoff=1) <= 1)


def _shared_authors(a: ItemSummary, b: ItemSummary) -> int:
    """How many authors of the shorter list have a namesake (``_same_surname``) in the other.

    Equal surnames count first; the looser comparison runs only while it stays cheap
    (``_FUZZY_NAME_PAIRS``), so two collaborations of thousands of authors compare in linear time.
    """
    few, many = (a, b) if len(a.people) <= len(b.people) else (b, a)
    rest = [person for person in few.people if person[-1] not in many.surnames]
    shared = len(few.people) - len(rest)
    if rest and len(rest) * len(many.people) <= _FUZZY_NAME_PAIRS:
        shared += sum(1 for person in rest if any(_same_surname(person, other) for other in many.people))
    return shared


def _contained_similarity(a: ItemSummary, b: ItemSummary, min_words: int) -> float:
    """How well (0-100) the shorter title (without bracketed remarks) matches the start of the longer one.

    The longer title is the shorter one with a subtitle or a remark added ("Unix RDBMS: The Next
    Generation" + " what are the vendors doing ...", "Information Warfare and Security" +
    " - Book Review"). The start is taken one word shorter or longer too, for a typo. 0 when the
    shorter title has fewer than ``min_words`` significant words, or names a number the longer
    one does not ("Part II").
    """
    short, long = (a, b) if len(a.title_core) <= len(b.title_core) else (b, a)
    if len(significant_words(short.title_core)) < min_words:
        return 0.0
    numbers_long, numbers_short = _comparable_numbers(long.title_norm, short.title_norm)
    if not _contains_numbers(numbers_long, numbers_short):
        return 0.0
    size, words = len(short.title_core.split()), long.title_core.split()
    best = 0.0
    for take in range(max(1, size - 1), size + 2):
        best = max(best, fuzz.ratio(short.title_core, " ".join(words[:take])))
    return best


def match_score(record: ItemSummary, origin: str, candidate: ItemSummary) -> float:
    """Score how surely ``record`` is the same work as ``candidate``: 0 if not, else higher is surer.

    Vetoes: different arXiv ids or DOIs; an origin the item already has; years more than one
    apart; authors in conflict (fewer than half of the shorter list with a namesake in the
    other, see ``_same_surname``). Titles are compared with and without bracketed remarks
    ("(Tutorial)", "(extended abstract)"), and match as
    - near-duplicates (``TITLE_MATCH``) naming the same numbers ("Part I" is not "Part II"),
      confirmed by authors or year, or almost equal ones (``TITLE_MATCH_UNCONFIRMED``) alone;
      a title under four words also needs authors in common;
    - close titles (``TITLE_MATCH_AUTHORS``) when the year and nearly all of two or more
      authors agree (a word changed or inserted: "system" / "project");
    - one title the start of the other (``TITLE_MATCH_CONTAINED``: a subtitle or a remark such
      as "- Book Review" added) when authors in common confirm it, and the shorter title has
      ``TITLE_MATCH_CONTAINED_WORDS`` significant words (one fewer in the same year).
    Only the start: a title that ends another ("TTRL: Test-Time Reinforcement Learning" and
    "OR-R1: ... via Test-Time Reinforcement Learning") is as often a different work by the same
    group. The score is the title similarity (close titles lose 10 points, contained ones 20,
    so that near-duplicates win) plus 4 points for the same year and up to 2 for the share of
    authors in common, so the closest of several candidates wins (see ``best_match``).
    """
    if record.arxiv_id and candidate.arxiv_id and record.arxiv_id != candidate.arxiv_id:
        return 0.0
    if record.doi and candidate.doi and record.doi != candidate.doi:
        return 0.0
    if origin in candidate.origins:
        return 0.0
    similarity = title_similarity(record.title_norm, candidate.title_norm)
    if similarity < 100.0 and (record.title_core is not record.title_norm
                               or candidate.title_core is not candidate.title_norm):
        similarity = max(similarity, title_similarity(record.title_core, candidate.title_core))
    bonus = 0.0
    both_years = bool(record.year and candidate.year)
    same_year = False
    if both_years:
        if abs(record.year - candidate.year) > 1:
            return 0.0
        same_year = record.year == candidate.year
        if same_year:
            bonus += 4.0
    shared = fewer = 0
    if record.people and candidate.people:
        shared = _shared_authors(record, candidate)
        fewer = min(len(record.people), len(candidate.people))
        if shared * 2 < fewer:
            return 0.0
        bonus += 2.0 * shared / max(len(record.people), len(candidate.people))
    same_numbers = similarity >= TITLE_MATCH_AUTHORS and _same_numbers(record.title_norm, candidate.title_norm)
    if similarity >= TITLE_MATCH and same_numbers:
        short = min(len(record.title_norm.split()), len(candidate.title_norm.split())) < 4
        if (short or not (shared or both_years)) and similarity < TITLE_MATCH_UNCONFIRMED:
            return 0.0
        if short and not shared:
            # "Introduction", "Editorial": a short title alone says nothing about identity.
            return 0.0
        return similarity + bonus
    if not shared:
        return 0.0
    if (same_numbers and same_year and shared >= 2 and shared * 5 >= fewer * 4
            and len(record.people) == len(candidate.people)):
        return similarity - 10.0 + bonus
    contained = _contained_similarity(record, candidate, TITLE_MATCH_CONTAINED_WORDS - same_year)
    if contained >= TITLE_MATCH_CONTAINED:
        return contained - 20.0 + bonus
    return 0.0


def best_match(record: ItemSummary, origin: str, candidates: Iterable[ItemSummary]) -> ItemSummary | None:
    """The best-scoring candidate that is the same work, or None.

    None also when the runner-up scores within ``TITLE_MATCH_MARGIN`` of the best: two items
    that look equally like the record ("Editorial", the same author, the same year) leave it
    unattributed rather than merged into one of them by chance.
    """
    best, best_score, runner_up = None, 0.0, 0.0
    for candidate in candidates:
        score = match_score(record, origin, candidate)
        if score > best_score:
            best, best_score, runner_up = candidate, score, best_score
        elif score > runner_up:
            runner_up = score
    if best is not None and runner_up and best_score - runner_up < TITLE_MATCH_MARGIN:
        return None
    return best


def record_data(record: Record) -> dict[str, Any]:
    """The normalized fields of a record that ``resolve_item`` reads, stored beside its raw text.

    Empty fields are left out, and so is the abstract: it is the bulk of a record, the raw
    text holds it, and the item keeps the longest one seen (see ``resolve_item``).
    """
    data: dict[str, Any] = {"format": record.format, "title": record.title}
    if record.kind != "paper":
        data["kind"] = record.kind
    for name in ("authors", "arxiv_id", "doi", "url", "published", "year", "categories", "label", "extra"):
        value = getattr(record, name)
        if value:
            data[name] = value
    if record.topics:
        data["topics"] = [list(pair) for pair in record.topics]
    if record.deleted:
        data["deleted"] = True
    return data


@dataclass(slots=True)
class ItemFields:
    """An item's merged fields."""

    kind: str
    title: str
    abstract: str
    authors: list[str]
    arxiv_id: str | None
    doi: str | None
    url: str | None
    published: str | None
    year: int | None
    categories: list[str]
    topics: dict[str, float]
    upvotes: int
    withdrawn: bool


def resolve_item(records: list[dict[str, Any]], abstracts: Iterable[str] = ()) -> ItemFields:
    """Merge the stored data of an item's source records (in the order seen) into its fields.

    ``abstracts`` are the candidates for the abstract: the item's current one and those of
    the records it gains now; the longest wins (the first of equals).
    """
    live = [data for data in records if not data.get("deleted")] or records
    # Stable sort: among sources of equal rank the record seen first wins.
    ranked = sorted(live, key=lambda data: FORMAT_RANK.get(data["format"], 5)) if len(live) > 1 else live
    best: dict[str, Any] = {}
    categories: list[str] = []
    topics: dict[str, float] = {}
    upvotes_by_label: dict[str, int] = {}
    published = None
    years = []
    kind = "news"
    for data in ranked:
        for name in ("title", "authors", "arxiv_id", "doi", "url"):
            if name not in best and data.get(name):
                best[name] = data[name]
        for category in data.get("categories", ()):
            if category not in categories:
                categories.append(category)
        for name, confidence in data.get("topics", ()):
            topics[name] = max(confidence, topics.get(name, 0.0))
        votes = data["extra"].get("upvotes") if "extra" in data else None
        if isinstance(votes, int):
            label = data.get("label") or data["format"]
            upvotes_by_label[label] = max(votes, upvotes_by_label.get(label, 0))
        day = data.get("published")
        if day and (published is None or day < published):
            published = day
        if data.get("year"):
            years.append(data["year"])
        if data.get("kind", "paper") == "paper":
            kind = "paper"
    abstract = ""
    for text in abstracts:
        if len(text) > len(abstract):
            abstract = text
    arxiv_id = best.get("arxiv_id")
    return ItemFields(
        kind=kind,
        title=best.get("title", ""),
        abstract=abstract,
        authors=list(best.get("authors", ())),
        arxiv_id=arxiv_id,
        doi=best.get("doi"),
        url=f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else best.get("url"),
        published=published,
        year=int(published[:4]) if published else (min(years) if years else None),
        categories=categories,
        topics=topics,
        upvotes=sum(upvotes_by_label.values()),
        withdrawn=all(data.get("deleted") for data in records),
    )
