"""The default TL;DR: the abstract's own sentence that states the contribution, cleaned and bounded. Pure.

Each sentence is scored by what it says (``we propose …``, ``this paper …``, ``in this work …`` weigh most;
``we show …`` less), how much it shares with the title, and where it stands; sentences that set the scene
(``However, …``, ``Recent …``) or report results and links (``Experiments show …``, ``Code is available``) lose.
The best one, with its lead-in (``In this paper,``, ``To address this,``) dropped, is the TL;DR, cut at a word
boundary to ``max_chars``. The weights were chosen on earlier days of Hugging Face Daily Papers and measured on
later ones (``bench/tldr.py``, ``docs/benchmarks.md``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .sentences import split_sentences

MAX_CHARS = 250
"""Longest TL;DR in characters (a card's one line or two); longer sentences are cut at a word boundary."""

EXTRACTIVE = "extractive"
"""The ``origin`` stored with an extractive TL;DR."""

_STRONG = re.compile(
    r"\b(?:we|this (?:paper|work|study|article|report|letter)|our (?:paper|work))\s+(?:\w+ly\s+)?"
    r"(?:propose|introduce|present|develop|design|put forward|devise|unveil|release|formulate|construct|build|"
    r"create|contribute|offer|establish|pioneer)s?\b", re.IGNORECASE)
_MEDIUM = re.compile(
    r"\b(?:in this (?:paper|work|study|article|report|letter)|this (?:paper|work|study|article)\b|here,? we|"
    r"we (?:\w+ly\s+)?(?:also\s+)?(?:propose|introduce|present|develop|design|study|investigate|explore|"
    r"describe|address|tackle|examine|analy[sz]e|revisit|"
    r"demonstrate|show|find|report|provide|curate|collect|leverage|extend|train|adapt|reframe|frame|aim|seek|"
    r"focus|bridge|fill|identify|argue|reveal|evaluate|benchmark|conduct|perform|make|observe|prove|derive)|"
    r"(?:paper|work|study|method|approach|framework|model|benchmark|dataset) (?:called|named|dubbed)|"
    r"we call|which we (?:call|name|term|dub))\b", re.IGNORECASE)
_MEDIUM_LOWERCASE = re.compile(_MEDIUM.pattern)
"""``_MEDIUM`` for a lowercased ASCII sentence: the same matches, twice as fast as ``IGNORECASE`` (whose search
cannot skip ahead to the letters its alternatives start with)."""
_SCENE = re.compile(
    r"^(?:however|despite|although|though|while|whereas|recent(?:ly)?|existing|current(?:ly)?|traditional(?:ly)?|"
    r"prior|previous(?:ly)?|conventional(?:ly)?|many|most|several|large language models|with the|as|"
    r"in recent|over the past|nevertheless|yet|unfortunately|moreover|furthermore|additionally)\b",
    re.IGNORECASE)
# What reports results or points at code: an opening (matched at the start) or a phrase anywhere. Kept as two
# patterns so that the phrase test can skip an ASCII sentence holding none of the phrases' literal parts
# (``_RESULT_LITERALS``): Python's ``re`` tries every position of an unanchored alternation, which made this test
# a third of the TL;DR step's time (2.7 million abstracts in a whole-arXiv bootstrap).
_RESULTS_OPENING = re.compile(
    r"(?:experiments?|extensive|empirical(?:ly)?|results?|evaluations?|our (?:results|experiments|"
    r"evaluations?|findings|analysis)|on \w+ benchmarks?|notably|overall|finally|in addition|ablation|code|"
    r"the code|our code|data|models?,? code|we (?:will )?(?:release|open-source|make)\b.*\b(?:available|public))",
    re.IGNORECASE)
_RESULTS_ANYWHERE = re.compile(
    r"https?://|github\.com|\bavailable at\b|\bpublicly available\b|\boutperform|state-of-the-art|\bsota\b"
    r"|\bimprov\w* (?:by|of) \d", re.IGNORECASE)
_RESULT_LITERALS = ("http", "github.com", "available", "outperform", "state-of-the-art", "sota", "improv")
"""Each phrase of ``_RESULTS_ANYWHERE`` holds one of these (lowercase); for ASCII text ``IGNORECASE`` and
``str.lower`` agree, so a sentence holding none cannot match."""
_LEAD_IN = re.compile(
    r"^(?:(?:in|within) (?:this|the present|our) (?:paper|work|study|article|report|letter|note)|here|"
    r"to (?:this end|that end|address|tackle|overcome|bridge|fill|solve|mitigate|alleviate|close|remedy|resolve|"
    r"fix|handle|meet|answer)[^,]{0,80}|(?:in response|motivated by|inspired by|building on|based on|"
    r"towards? this goal|with this goal|to achieve this|against this backdrop|given th\w+)[^,]{0,80}|"
    r"therefore|thus|hence|accordingly|consequently|specifically|concretely|instead|as such|"
    r"in (?:particular|contrast|this context|light of this)|motivated by this|to do so|for this purpose)\s*,\s*"
    r"|^(?:(?:in|within) (?:this|the present) (?:paper|work|study|article|report|letter|note)|here)\s+(?=we\b)",
    re.IGNORECASE)
# "<any opening clause>, we propose …": the statement starts at "we".
_CLAUSE_THEN_WE = re.compile(
    r"^[^;:]{3,200}?,\s+(?=we\s+(?:\w+ly\s+)?(?:also\s+)?(?:propose|introduce|present|develop|design|put forward|"
    r"devise|unveil|release|formulate|construct|build|create|contribute|offer|establish|pioneer)\b)", re.IGNORECASE)
_WORDS = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    "a an and are as at be by for from in into is it its of on or our that the their this to via we with without "
    "using towards toward through how can do does what when why".split())
_SPACE = re.compile(r"\s+")
_MATH = re.compile(r"\$\$.+?\$\$|(?<!\\)\$[^$]+?(?<!\\)\$|\\\(.+?\\\)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each sign counts in a sentence's score (tuned in ``bench/tldr.py`` on earlier days)."""

    strong: float = 3.0
    medium: float = 1.5
    title: float = 1.0
    """Times the share of the title's content words the sentence holds (0..1)."""
    scene: float = 1.0
    results: float = 1.5
    position: float = 1.5
    """Times 1 for the first sentence down to 0 for the last: an early statement beats a late one."""
    too_short: int = 40
    """Sentences shorter than this (characters) are headings or fragments ("Abstract:", "2)"): never chosen."""


DEFAULT_WEIGHTS = Weights()


def content_words(text: str) -> set[str]:
    return {word for word in _WORDS.findall(text.lower()) if word not in _STOPWORDS and len(word) > 1}


def reports_results(sentence: str, lowered: str | None = None) -> bool:
    """Whether ``sentence`` reports results or points at code (``Experiments show …``, ``… outperforms …``);
    ``lowered``: the sentence lowercased, when it is ASCII."""
    if _RESULTS_OPENING.match(sentence):
        return True
    if lowered is None and sentence.isascii():
        lowered = sentence.lower()
    if lowered is not None and not any(literal in lowered for literal in _RESULT_LITERALS):
        return False
    return _RESULTS_ANYWHERE.search(sentence) is not None


def sentence_scores(title: str, sentences: list[str], weights: Weights = DEFAULT_WEIGHTS) -> list[float]:
    """The score of each sentence as a statement of the paper's contribution (higher is more likely)."""
    title_words = content_words(title)
    last = max(len(sentences) - 1, 1)
    scores = []
    for position, sentence in enumerate(sentences):
        if len(sentence) < weights.too_short:
            scores.append(float("-inf"))
            continue
        score = weights.position * (1 - position / last)
        lowered = sentence.lower() if sentence.isascii() else None
        strong = _STRONG.search(sentence) is not None
        if strong:
            score += weights.strong
        elif (_MEDIUM_LOWERCASE.search(lowered) if lowered is not None else _MEDIUM.search(sentence)):
            score += weights.medium
        if title_words:
            words = content_words(lowered if lowered is not None else sentence)  # (lowercasing twice gives the same)
            score += weights.title * len(title_words & words) / len(title_words)
        if not strong:  # a sentence stating the contribution is not scene-setting or a report of results
            if _SCENE.match(sentence):
                score -= weights.scene
            if reports_results(sentence, lowered):
                score -= weights.results
        scores.append(score)
    return scores


def contribution_sentence(title: str, abstract: str, weights: Weights = DEFAULT_WEIGHTS) -> str | None:
    """The abstract's sentence that best states the contribution, as written; None for an empty abstract."""
    sentences = split_sentences(abstract or "")
    if not sentences:
        return None
    scores = sentence_scores(title or "", sentences, weights)
    best = max(range(len(sentences)), key=lambda index: (scores[index], -index))
    if scores[best] == float("-inf"):
        return max(sentences, key=len)
    return sentences[best]


def extractive_tldr(title: str, abstract: str | None, max_chars: int = MAX_CHARS,
                    weights: Weights = DEFAULT_WEIGHTS) -> str | None:
    """The one-line TL;DR of a paper from its abstract; None when the abstract has no sentence to give."""
    sentence = contribution_sentence(title, abstract or "", weights)
    return tidy(sentence, max_chars) if sentence else None


def tidy(sentence: str, max_chars: int = MAX_CHARS) -> str | None:
    """One sentence as a TL;DR: one line, without its lead-in, starting with a capital, at most ``max_chars``."""
    text = _SPACE.sub(" ", sentence).strip()
    text = text.removeprefix("Abstract:").removeprefix("ABSTRACT:").strip()
    shorter = _CLAUSE_THEN_WE.sub("", text, count=1)
    if shorter == text:
        shorter = _LEAD_IN.sub("", text, count=1)
    if len(shorter) >= 20:
        text = shorter
    if text and text[0].islower() and not text.startswith(("$", "\\")):
        text = text[0].upper() + text[1:]
    return bound(text, max_chars) or None


def bound(text: str, max_chars: int = MAX_CHARS) -> str:
    """``text`` if it fits in ``max_chars``, else cut at the last word boundary before it (never inside inline
    math) with "…" added."""
    if len(text) <= max_chars:
        return text
    limit = max_chars - 1  # room for the ellipsis
    for math in _MATH.finditer(text):
        if math.start() < limit < math.end():
            limit = math.start()
            break
    cut = text.rfind(" ", 0, limit + 1)
    if cut <= 0:
        cut = limit
    return text[:cut].rstrip(" ,;:-–—([") + "…"
