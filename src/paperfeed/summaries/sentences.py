"""Splitting an abstract into sentences: pure, no model, tolerant of what abstracts hold.

A full stop ends a sentence only when it is not part of an abbreviation (``e.g.``, ``et al.``, ``Fig.``), a number
(``3.5``, ``v2.1``), an initial (``J. Smith``), a URL or a file name (``arxiv.org``, ``model.py``), and is not
inside inline math (``$O(n \\log n)$``, ``\\(x.y\\)``) or brackets. ``?`` and ``!`` end sentences too. The next
sentence must start like one: a capital, a digit, a quote, a bracket or math.
"""

from __future__ import annotations

import re

ABBREVIATIONS = frozenset({
    "e.g", "i.e", "et al", "etc", "vs", "cf", "fig", "figs", "eq", "eqs", "sec", "secs", "tab", "ref", "refs",
    "approx", "resp", "no", "nos", "vol", "pp", "dr", "prof", "mr", "mrs", "ms", "st", "jr", "sr", "inc", "ltd",
    "co", "corp", "al", "viz", "ca", "est", "max", "min", "avg", "w.r.t", "a.k.a", "u.s", "u.k", "ph.d", "e.t.c",
    "appx", "app", "thm", "lem", "def", "prop", "cor", "alg", "dept", "univ", "jan", "feb", "mar", "apr", "jun",
    "jul", "aug", "sep", "sept", "oct", "nov", "dec",
})
"""Words that a full stop follows without ending a sentence (lowercased, without the final stop)."""

# Stretches in which no sentence ends: inline and display math, and URLs. Replaced by placeholders of the same
# length that hold no full stop, then put back.
_PROTECTED = re.compile(
    r"\$\$.+?\$\$|(?<!\\)\$[^$]+?(?<!\\)\$|\\\(.+?\\\)|\\\[.+?\\\]"   # TeX math
    r"|\b(?:https?://|www\.)\S*[^\s.,;:!?)\]\"']",  # URLs, without the punctuation that ends them
    re.DOTALL)
_END = re.compile(r"([.!?]+)([\"'”’)\]]*)(\s+)(?=[\"'“‘(\[$\\]?[A-Z0-9\u0391-\u03a9])")
_LETTERS_AND_STOPS_REVERSED = re.compile(r"[A-Za-z.]*")
"""Read from the end of a reversed stretch: the letters and full stops just before a full stop (searching forwards
for ``[A-Za-z][A-Za-z.]*$`` tried every start in the stretch, a fifth of the TL;DR step's time)."""
_NUMBER_BEFORE = re.compile(r"\d$")


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` in order, each stripped; whitespace inside them is kept as it was."""
    text = text.strip()
    if not text:
        return []
    # Every protected stretch holds "$", a backslash, "://" or "www."; most abstracts hold none of them.
    if "$" in text or "\\" in text or "://" in text or "www." in text:
        masked = _PROTECTED.sub(lambda match: "\x00" * len(match.group(0)), text)
    else:
        masked = text
    sentences: list[str] = []
    start = 0
    for match in _END.finditer(masked):
        stop = match.end(2)
        if match.group(1) == "." and not _ends_sentence(masked, match.start(1)):
            continue
        if stop - start < 600 and _open_brackets(masked[start:stop]):
            continue  # a stop inside a parenthesis; past 600 characters, a bracket never closed
        sentences.append(text[start:stop].strip())
        start = match.end()
    rest = text[start:].strip()
    if rest:
        sentences.append(rest)
    return [sentence for sentence in sentences if sentence]


def _ends_sentence(masked: str, dot: int) -> bool:
    """Whether the single full stop at ``dot`` ends a sentence (not an abbreviation, an initial or a number)."""
    before = masked[max(0, dot - 40):dot]
    # The word before the stop: the run of letters and stops ending there (or before a line break there, where the
    # pattern's "$" also matched), from its first letter.
    stretch = before[:-1] if before.endswith("\n") else before
    token = _LETTERS_AND_STOPS_REVERSED.match(stretch[::-1]).group(0)[::-1].lstrip(".")
    if not token:
        return True
    lowered = token.lower().rstrip(".")
    if lowered in ABBREVIATIONS:
        # "etc." and "al." can end a sentence too; only "et al." and Latin "e.g./i.e." never do.
        return lowered == "etc" and not before[:-len(token)].rstrip().endswith(",")
    if len(token) == 1 and token.isupper():
        return False  # an initial: "J. Smith", "Section A. We" is rare
    parts = token.rstrip(".").split(".")
    if len(parts) > 1 and all(len(part) <= 2 for part in parts):
        return False  # "U.S.", "a.k.a.", "Ph.D." spelled another way; "arxiv.org." ends a sentence
    return True


def _open_brackets(stretch: str) -> bool:
    """Whether ``stretch`` opens more round or square brackets than it closes (a stop inside a parenthesis)."""
    return stretch.count("(") > stretch.count(")") or stretch.count("[") > stretch.count("]")
