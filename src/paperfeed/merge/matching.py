"""Matching: whether a record is the same work as an item it shares a blocking key with.

A matching title among the items that share a blocking key (``keys.block_keys``), not
contradicted by authors or year when both sides have them (see ``match_score``): a
near-duplicate title confirmed by authors or year (almost equal if neither can confirm); a
close title when the year and nearly all authors agree; or one title the start of the other (a
subtitle or a remark added) when authors confirm it. Bracketed remarks ("(Tutorial)") may be
left out of the comparison; numbers in the titles must agree ("Part I" is not "Part II");
surnames tolerate lost accents, typos and double surnames. When two items fit about equally
well, the record merges with neither. Two different arXiv ids or DOIs never merge.

Records scraped from the web (garbled titles, initials, missing years and authors) that this
clean path rejects get a second look (``_garbled_score``): the title words aligned in order,
what is missing counted neither way. An item takes a second record of an origin it already has
(a scraped index that lists a work twice) when it also holds another source's record (it is
that record's work: the listing is judged as one of another source, less ``SAME_ORIGIN_PENALTY``,
so that an item without a record of the origin wins), else only on the garbled path's stronger
same-origin evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Iterable

from rapidfuzz import fuzz

from .keys import _title_variants, cut_title, is_preprint_doi, significant_words
from .summary import ItemSummary, _same_surname, _shared_authors, summarize  # noqa: F401 (re-exported)

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
GARBLED_MIN_WORDS = 4
"""Significant title words a garbled match needs in common (a shorter title must match whole, and be 3 or more)."""
GARBLED_COVER = 0.6
"""Share of the shorter title's significant words a garbled match needs (a title cut short keeps its start)."""
GARBLED_BOTH_PREFIXED = 0
"""Words allowed before the matching stretch on both sides (one side's title must start there)."""
GARBLED_YEAR_GAP = 2
WINDOW_PREFIX_WORDS = 2
"""Words a prefix glued before a short title may have ("Chapter 7", "Invited talk")."""
"""Most years apart for a garbled match (a preprint and its proceedings)."""
GARBLED_TITLE_ALONE = 5
"""Significant words a title must have, all matched, to match with no author to confirm it."""
GARBLED_WHOLE_TITLE_ALONE = 4
"""Significant words enough for a title alone when neither title was cut short (no ellipsis): whole titles that
agree word for word, with nothing but a prefix or a suffix glued on."""
GARBLED_SAME_ORIGIN_COVER = 0.85
"""Share of the shorter title a match needs with two records of one origin, or with the year alone to confirm."""
SAME_ORIGIN_MIN_WORDS = 3
SAME_ORIGIN_PENALTY = 10.0
"""Score points an item loses when it already holds a record of the incoming record's origin (a source lists a
work once, a scraped index maybe twice): an item without one that fits about as well wins."""
CLEAN_YEAR_GAP = 2
"""Most years apart on the clean path; two apart only for a near-duplicate title with an author in common (a
scraped year drifts: the preprint's, a reprint's)."""
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10}
_NUMBERED = frozenset({"part", "vol", "volume", "chapter", "section", "no", "number", "phase", "level", "book"})
# Number words, so that "4th" and "fourth" agree ("one" is left out: it is a pronoun as often).
_NUMBER_WORDS = {word: value for value, words in enumerate((
    (), (), ("two", "second"), ("three", "third"), ("four", "fourth"), ("five", "fifth"), ("six", "sixth"),
    ("seven", "seventh"), ("eight", "eighth"), ("nine", "ninth"), ("ten", "tenth"))) for word in words}
_NUMBER_WORDS["first"] = 1
_DIGITS = re.compile(r"\d+")


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

    Vetoes: different arXiv ids or DOIs (a preprint server's DOI aside). A record of an origin the item
    already has is judged by ``_garbled_score`` alone, unless the item also holds another source's record:
    then as a record of another source (containment aside), less ``SAME_ORIGIN_PENALTY``. One this clean
    path rejects is judged by ``_garbled_score``, then ``_short_score`` (a title of two words). Clean-path
    vetoes: years more than ``CLEAN_YEAR_GAP`` apart, or two apart without an author in common or a
    near-duplicate title (then 4 points less); authors in conflict (fewer than half of the shorter list
    with a namesake in the other, see ``_same_surname``). Titles are compared with and without bracketed remarks
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
    if (record.doi and candidate.doi and record.doi != candidate.doi and not is_preprint_doi(record.doi)
            and not is_preprint_doi(candidate.doi)):
        return 0.0  # a preprint server's DOI is the preprint's: its journal version has another
    same_origin = origin in candidate.origins
    if not same_origin or len(candidate.origins) >= 2:
        score = _clean_score(record, candidate, contained=not same_origin)
        if score:
            return score - SAME_ORIGIN_PENALTY if same_origin else score
    if same_origin and len(candidate.origins) >= 2:
        # Another listing of an item that holds another source's record: judged as a record of another source
        # (the item is that record's work): whichever copy of a scraped index's came first, the next one meets
        # the item as it would have met it alone.
        score = _garbled_score(record, candidate, False) or _short_score(record, candidate, False)
        return score - SAME_ORIGIN_PENALTY if score else 0.0
    return _garbled_score(record, candidate, same_origin) or _short_score(record, candidate, same_origin)


def _clean_score(record: ItemSummary, candidate: ItemSummary, contained: bool = True) -> float:
    """The score of records that carry their fields cleanly (see ``match_score``); 0 if they do not match so."""
    similarity = title_similarity(record.title_norm, candidate.title_norm)
    if similarity < 100.0 and (record.title_core is not record.title_norm
                               or candidate.title_core is not candidate.title_norm):
        similarity = max(similarity, title_similarity(record.title_core, candidate.title_core))
    bonus = 0.0
    both_years = bool(record.year and candidate.year)
    same_year = False
    far_years = False
    if both_years:
        gap = abs(record.year - candidate.year)
        if gap > CLEAN_YEAR_GAP:
            return 0.0
        far_years = gap > 1
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
    if far_years and not shared:
        return 0.0
    same_numbers = similarity >= TITLE_MATCH_AUTHORS and _same_numbers(record.title_norm, candidate.title_norm)
    if similarity >= TITLE_MATCH and same_numbers:
        short = min(len(record.title_norm.split()), len(candidate.title_norm.split())) < 4
        if (short or not (shared or both_years)) and similarity < TITLE_MATCH_UNCONFIRMED:
            return 0.0
        if short and not shared:
            # "Introduction", "Editorial": a short title alone says nothing about identity.
            return 0.0
        return similarity + bonus - (4.0 if far_years else 0.0)
    if not shared or far_years:
        return 0.0
    if (same_numbers and same_year and shared >= 2 and shared * 5 >= fewer * 4
            and len(record.people) == len(candidate.people)):
        return similarity - 10.0 + bonus
    if not contained:
        return 0.0
    contained = _contained_similarity(record, candidate, TITLE_MATCH_CONTAINED_WORDS - same_year)
    if contained >= TITLE_MATCH_CONTAINED:
        return contained - 20.0 + bonus
    return 0.0


def _aligned_words(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[int, slice, slice]:
    """Align two titles' words in order: (words matched, the stretch of ``a`` from the first matched word
    to the last, the same stretch of ``b``)."""
    blocks = SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()[:-1]
    if not blocks:
        return 0, slice(len(a), len(a)), slice(len(b), len(b))
    first, last = blocks[0], blocks[-1]
    return (sum(block.size for block in blocks), slice(first.a, last.a + last.size),
            slice(first.b, last.b + last.size))


def _numbers_from(summary: ItemSummary, start: int) -> list[int]:
    """The numbers a title names from its ``start``-th significant word on (not in a prefix glued on:
    "Chapter 3"), and in its bracketed remarks ("(part ii)"), sorted; years left out."""
    found = _numbers(" ".join(summary.words[start:]))
    if summary.title_core is not summary.title_norm:
        remarks = _numbers(summary.title_norm)
        for value in _numbers(summary.title_core):
            if value in remarks:
                remarks.remove(value)
        found += remarks
    return sorted(value for value in found if not _is_year(value))


def _cut_short(summary: ItemSummary) -> bool:
    """Whether a title ends in an ellipsis (``keys.cut_title``): cut short, its end unknown."""
    return bool(summary.stump) or cut_title(_title_variants(summary.title)[-1])[1]


_GLUED_AFTER = re.compile(r"[a-z]{0,2}[A-Z0-9]")
"""After a word (its plural "s" perhaps dropped), where glued text begins: a capital or a digit."""


def _glued_end(glued: ItemSummary, other: ItemSummary) -> tuple[int, slice, slice] | None:
    """The alignment of two titles' words when ``glued``'s title ends in text glued onto its last word without a
    space ("... dimensional dataInternational Conference", "... nii1994"): the first stretch where the words agree,
    then a word of ``glued`` that begins with the next word of ``other`` and goes on in a capital or a digit in the
    title as written; what follows is the glued text, left out. (matched, span of ``glued``'s words, span of
    ``other``'s) as ``_aligned_words`` gives them, or None."""
    a, b = glued.words, other.words
    blocks = SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()[:-1]
    if not blocks:
        return None
    first = blocks[0]
    end_a, end_b = first.a + first.size, first.b + first.size
    if end_a >= len(a) or end_b >= len(b):
        return None
    word, whole = a[end_a], b[end_b]
    if len(whole) < 3 or len(word) <= len(whole) or not word.startswith(whole):
        return None
    written = glued.title
    at = written.lower().find(whole)
    if at < 0 or not _GLUED_AFTER.match(written, at + len(whole)):
        return None
    span_a, span_b = slice(first.a, end_a + 1), slice(first.b, end_b + 1)
    return first.size + 1, span_a, span_b


def _garbled_score(record: ItemSummary, candidate: ItemSummary, same_origin: bool, min_words: int = 0) -> float:
    """The score of a record whose fields may be garbled or missing (scraped from the web); 0 if no match.

    Titles: the significant words (``keys.title_words``: no bracketed tags, nothing after an ellipsis)
    aligned in order; the stretch where they agree may have words before it on one side (a prefix
    glued on: "Chapter 3", an author's name) and after it on either (a suffix glued on, or one title
    cut short), but inside it every word must agree (a changed word is for the clean path to judge). ``GARBLED_MIN_WORDS`` words must match and
    ``GARBLED_COVER`` of the shorter title. Authors, when both have them, must not conflict (initials,
    truncated lists, lost characters and mojibake are all read as compatible); years, when both have
    them, at most ``GARBLED_YEAR_GAP`` apart (preprint and proceedings). What is missing counts neither
    way, but a title alone must match fully and be long (``GARBLED_TITLE_ALONE``, or
    ``GARBLED_WHOLE_TITLE_ALONE`` when neither was cut short), or have three words or more with years at
    most one apart and no prefix (a title cut short with its year, where the authors are missing). Two
    records of the same origin (a scraped index that lists a work twice) need more: ``GARBLED_SAME_ORIGIN_COVER`` of
    the shorter title, and authors in common or the same year. Scores stay below the clean path's, so
    a clean match among the candidates always wins.
    """
    a, b = record.words, candidate.words
    if len(a) + bool(record.stump) < GARBLED_MIN_WORDS - 1 or len(b) + bool(candidate.stump) < GARBLED_MIN_WORDS - 1:
        return 0.0
    matched, span_a, span_b = _aligned_words(a, b)
    end_a, end_b = len(a), len(b)
    stretch_a, stretch_b = a, b  # the words the stretch's numbers are read from (a stump matched counts as its word)
    # A title cut short ends in a stump: it matches the word after the stretch on the other side that it begins.
    if record.stump and span_a.stop == len(a) and span_b.stop < len(b) and b[span_b.stop].startswith(record.stump):
        matched, span_b = matched + 1, slice(span_b.start, span_b.stop + 1)
        stretch_a = (*a, record.stump)
    elif (candidate.stump and span_b.stop == len(b) and span_a.stop < len(a)
          and a[span_a.stop].startswith(candidate.stump)):
        matched, span_a = matched + 1, slice(span_a.start, span_a.stop + 1)
        stretch_b = (*b, candidate.stump)
    elif matched < max(span_a.stop - span_a.start, span_b.stop - span_b.start) or (
            span_a.stop < len(a) and span_b.stop < len(b)):
        # Words disagree inside the stretch, or both titles go on after it: text glued on may end it.
        # The glued word is its title's last: what follows it is the glued text.
        glued = _glued_end(record, candidate)
        if glued is not None:
            matched, span_a, span_b = glued
            end_a = span_a.stop
        elif (glued := _glued_end(candidate, record)) is not None:
            matched, span_b, span_a = glued
            end_b = span_b.stop
    stretch = max(span_a.stop - span_a.start, span_b.stop - span_b.start)
    # A prefix glued on before the stretch ("Chapter 3", "Invited talk:") is no part of the title either.
    shorter = min(end_a - span_a.start + bool(record.stump), end_b - span_b.start + bool(candidate.stump))
    if not matched or shorter <= 0 or (shorter < GARBLED_MIN_WORDS - 1 and (span_a.start or span_b.start)):
        return 0.0  # two words after a prefix: ``_short_score``'s to judge, with its stricter prefixes
    cover = matched / shorter
    if (matched < GARBLED_MIN_WORDS and matched < shorter) or cover < GARBLED_COVER or (
            matched < min_words and (record.stump or candidate.stump)):
        return 0.0
    if matched < stretch:
        return 0.0  # a word changed inside ("bulk incremental updates"): close titles are the clean path's call
    if min(span_a.start, span_b.start) > GARBLED_BOTH_PREFIXED:
        return 0.0  # neither title starts where they agree
    if _numbers(" ".join(stretch_a[span_a.start:span_a.stop + (stretch_a is not a)])) != _numbers(
            " ".join(stretch_b[span_b.start:span_b.stop + (stretch_b is not b)])):
        return 0.0  # "part i" / "part ii" where they agree
    numbers_a, numbers_b = _numbers_from(record, span_a.start), _numbers_from(candidate, span_b.start)
    if numbers_a != numbers_b and ((numbers_a and numbers_b) or same_origin) and not (
            (span_a.stop >= len(a) and _cut_short(record)) or (span_b.stop >= len(b) and _cut_short(candidate))):
        # And from there on, or in a remark left out of the words ("(part ii)"); what a title cut short at the
        # stretch's end says after it is unknown.
        return 0.0
    year_gap = abs(record.year - candidate.year) if record.year and candidate.year else None
    if year_gap is not None and year_gap > GARBLED_YEAR_GAP:
        return 0.0
    shared = 0
    if record.people and candidate.people:
        shared = _shared_authors(record, candidate)
        if shared * 2 < min(len(record.people), len(candidate.people)):
            return 0.0
    close_year = year_gap is not None and year_gap <= 1
    if same_origin:
        # A title of three words or fewer ("Editor's Notes", "Chair's Message") is a column a source lists
        # every issue, not a work listed twice.
        if cover < GARBLED_SAME_ORIGIN_COVER or matched < GARBLED_MIN_WORDS:
            return 0.0
        if not (shared or (year_gap == 0 and not (record.people and candidate.people))):
            return 0.0
        # A clean source lists a conference paper and its journal version as two works, and "Fact: learning
        # based query processing" beside "Toward learning based query processing": between records of that
        # source alone, equal years only and no words before the stretch on either side. An item that holds
        # another source's record is that record's work (its summary is the best source's), so the record is
        # then another listing of it.
        if len(candidate.origins) < 2 and (year_gap or span_a.start or span_b.start):
            return 0.0
    elif not shared:
        alone = cover == 1.0 and (matched >= GARBLED_TITLE_ALONE or (
            matched >= GARBLED_WHOLE_TITLE_ALONE and not _cut_short(record) and not _cut_short(candidate)))
        if not (alone or (close_year and cover >= GARBLED_SAME_ORIGIN_COVER and matched >= GARBLED_MIN_WORDS + 1)
                or (close_year and cover == 1.0 and matched >= GARBLED_MIN_WORDS - 1
                    and not (span_a.start or span_b.start))):
            return 0.0
    score = 50.0 + 10.0 * cover + (2.0 if shared else 0.0)
    if year_gap is not None:
        score += (3.0, 1.0, -2.0)[year_gap]
    return score


SHORT_TITLE_WORDS = 2
"""Significant words (a stump counted) of a title too short for the garbled path: cut to two words
("Automatic segmentation…"), or a two-word title ("Implementing XQuery"), which ``_short_score`` judges."""
SHORT_YEAR_GAP = 1
"""Most years apart for a match of a title that short."""
# After a title's last word as written, where text that is no part of it begins: a capital or a digit glued on
# ("XQueryPaul Cotton"), or a separator (" - ACM Digital Library", " In: ...", ". Proc. ...", " (1999)").
_TITLE_ENDS = re.compile(r"[a-z]{0,2}(?:[A-Z0-9]| - | in: |\. |, | \(| \[| &|$)")


_ELLIPSIS_ANYWHERE = re.compile(r"\.\.\.|\u2026")


def _ends_after(summary: ItemSummary, word: str) -> bool:
    """Whether ``summary``'s title as written ends after its first ``word`` (see ``_TITLE_ENDS``)."""
    title = _title_variants(summary.title)[-1]
    found = re.search(re.escape(word), title, re.IGNORECASE)
    if found is None:
        return False
    rest = title[found.end():]
    return _TITLE_ENDS.match(rest) is not None and (not rest[:1].islower() or rest[:1] in "s")


def _head(summary: ItemSummary) -> tuple[tuple[str, ...], str, bool]:
    """(words, stump, cut short) of a title as a short title is compared: ``words`` and ``stump`` when it was cut
    after its third word (``keys.title_words``); else, when an ellipsis cuts it sooner ("Coloring Away…W Hasan"),
    the words before it, the last one a stump unless a space came before the ellipsis; else the whole words."""
    if summary.stump or _cut_short(summary):
        return summary.words, summary.stump, True
    title = _title_variants(summary.title)[-1]
    found = _ELLIPSIS_ANYWHERE.search(title)
    if found is None:
        return summary.words, "", False
    words = tuple(significant_words(title[:found.start()]))
    if words and title[found.start() - 1:found.start()].isalnum():
        return words[:-1], words[-1], True
    return words, "", True


def _scraped_prefix(summary: ItemSummary, prefix: tuple[str, ...], short: ItemSummary) -> bool:
    """Whether the ``prefix`` words before a short title in ``summary``'s title are a scraper's, not the title's
    own ("Call for Book Reviews" is not "Book Reviews"): a number in them ("Chapter 7", "Session 4"), a colon
    after them ("Invited talk:"), or an author's surname ("Cotton Implementing XQuery")."""
    if any(word.isdigit() for word in prefix):
        return True
    if prefix[-1] in short.surnames or prefix[-1] in summary.surnames:
        return True
    title = _title_variants(summary.title)[-1].lower()
    found = title.find(prefix[-1])
    return found >= 0 and title[found + len(prefix[-1]):].lstrip("s").startswith(":")


def _prefix_words(summary: ItemSummary, other: ItemSummary) -> int:
    """How many of the first significant words of ``summary``'s title are a scraper's prefix
    (``_scraped_prefix``: "Session 9:", "Invited talk:", "Labio"), 0 when none."""
    words = summary.words
    for size in (1, WINDOW_PREFIX_WORDS):
        if len(words) > size and _scraped_prefix(summary, words[:size], other):
            return size
    return 0


def _short_score(record: ItemSummary, candidate: ItemSummary, same_origin: bool) -> float:
    """The score of a match where one title has only ``SHORT_TITLE_WORDS`` significant words (a stump counted):
    0 unless authors confirm it, since two words alone say little ("Query optimization").

    The short title must be the other's start: cut short (an ellipsis: ``_head``), its words are the other's
    first words, the stump the start of the next; whole, its words are the other's after at most a short prefix
    (``WINDOW_PREFIX_WORDS``: "Chapter 7"), and the other's title ends there as written (text glued on, or a
    separator such as " - ACM Digital Library": ``_ends_after``). Authors must be in common (half of the
    shorter list at least), years at most ``SHORT_YEAR_GAP`` apart; never between two records of one origin
    alone. Scores stay below the garbled path's."""
    if same_origin and len(candidate.origins) < 2:
        return 0.0
    if not (record.people and candidate.people):
        return 0.0
    if record.year and candidate.year and abs(record.year - candidate.year) > SHORT_YEAR_GAP:
        return 0.0
    heads = [_head(record), _head(candidate)]
    for index, (side, other_side) in enumerate(((record, candidate), (candidate, record))):
        words, stump, cut = heads[index]
        if len(words) + bool(stump) > SHORT_TITLE_WORDS:  # two words behind a scraper's prefix ("Session 9:")
            prefix = _prefix_words(side, other_side)
            if prefix and len(words) - prefix + bool(stump) == SHORT_TITLE_WORDS:
                heads[index] = (words[prefix:], stump, cut)
    sizes = [len(words) + bool(stump) for words, stump, _ in heads]
    if min(sizes) != SHORT_TITLE_WORDS:
        return 0.0
    (words, stump, cut), other = (heads[0], candidate) if sizes[0] <= sizes[1] else (heads[1], record)
    if heads[0][2] and heads[1][2]:
        return 0.0  # both cut short: too little of either
    if cut:
        size = len(words)
        if other.words[:size] != words:
            return 0.0
        if stump and (len(other.words) <= size or not other.words[size].startswith(stump)):
            return 0.0
    else:
        # After a prefix of at most WINDOW_PREFIX_WORDS words; the last word may run into text glued on
        # ("XQueryPaul Cotton2002"), and the other title must end after it as written.
        if record.year and candidate.year and record.year != candidate.year:
            return 0.0  # a column under the same two words each year ("Charter and Scope", "Book Reviews")
        last = len(words) - 1
        for start in range(min(WINDOW_PREFIX_WORDS, len(other.words) - len(words)) + 1):
            if (other.words[start:start + last] == words[:last] and other.words[start + last].startswith(words[last])
                    and (not start or _scraped_prefix(other, other.words[:start], record if other is candidate
                                                      else candidate))):
                break
        else:
            return 0.0
        if ((start + len(words) < len(other.words) or other.words[start + last] != words[last])
                and not _ends_after(other, words[last])):
            return 0.0
    shared = _shared_authors(record, candidate)
    if not shared or shared * 2 < min(len(record.people), len(candidate.people)):
        return 0.0
    score = 40.0 + 4.0 * shared / max(len(record.people), len(candidate.people))
    if record.year and candidate.year:
        score += 3.0 if record.year == candidate.year else 1.0
    return score


def best_match(record: ItemSummary, origin: str, candidates: Iterable[ItemSummary]) -> ItemSummary | None:
    """The best-scoring candidate that is the same work, or None.

    None also when the runner-up scores within ``TITLE_MATCH_MARGIN`` of the best: two items
    that look equally like the record ("Editorial", the same author, the same year) leave it
    unattributed rather than merged into one of them by chance. ``scored_match`` says the same
    with the score and the evidence.
    """
    found = scored_match(record, origin, candidates)
    return found.candidate if found is not None else None


@dataclass(slots=True, frozen=True)
class Match:
    """``best_match``'s decision with what it rests on (kept as the record's merge reason)."""

    candidate: ItemSummary
    score: float
    runner_up: float
    """The next candidate's score (0 when none scored)."""

    def evidence(self, record: ItemSummary) -> dict:
        """What the score was made of, for a person reading why two records are one item."""
        other = self.candidate
        return {"score": round(self.score, 2), "runner_up": round(self.runner_up, 2),
                "title_similarity": round(title_similarity(record.title_norm, other.title_norm), 2),
                "title": other.title, "years": [record.year, other.year],
                "shared_authors": _shared_authors(record, other) if record.people and other.people else 0,
                "authors": [len(record.people), len(other.people)]}


def scored_match(record: ItemSummary, origin: str, candidates: Iterable[ItemSummary]) -> Match | None:
    """``best_match`` with its score and the runner-up's (the same decisions)."""
    best, best_score, runner_up = None, 0.0, 0.0
    for candidate in candidates:
        score = match_score(record, origin, candidate)
        if score > best_score:
            best, best_score, runner_up = candidate, score, best_score
        elif score > runner_up:
            runner_up = score
    if best is None or (runner_up and best_score - runner_up < TITLE_MATCH_MARGIN):
        return None
    return Match(best, best_score, runner_up)
