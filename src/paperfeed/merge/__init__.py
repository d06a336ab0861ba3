"""Merge decisions: which item a record belongs to, and what a merged item says.

Everything here is pure: it takes records and item summaries and returns decisions,
so it can be tested without a store and reused by every backend. Three layers, each
importing only the ones before it:

- ``keys``: the identifiers a record carries (arXiv id, DOI, the source's own id), its
  fingerprint, and the blocking keys of its title (``block_keys``);
- ``summary``: the matcher's view of an item (``ItemSummary``, ``summarize``) and how author lists compare;
- ``matching``: the decision whether a record is the same work as a candidate (``match_score``,
  ``best_match``), on clean, garbled (scraped) and two-word titles;
- ``fields``: what a merged item says (``record_data``, ``resolve_item`` -> ``ItemFields``; its versions and
  published venue);
- ``identity``: the invariants every placement keeps (two different arXiv ids or DOIs are never one item).

Identity, in order: a shared identifier; otherwise a matching title among the items that
share a blocking key, not contradicted by authors or year (see ``matching``).
Callers import from this package, not from the submodules.
"""

from .fields import FORMAT_RANK, ItemFields, published_venue, record_data, record_venue, resolve_item, version_of
from .identity import STRONG, IdentitySets, clash, describe_clash, identity_sets, pin_key, stored_identifiers, union
from .keys import (BLOCK_WORDS, WINDOW_WORDS, block_keys, fingerprint, identifiers, is_preprint_doi,
                   related_identifiers, repair_mojibake, significant_words, surnames, title_keys)
from .matching import (TITLE_MATCH, TITLE_MATCH_AUTHORS, TITLE_MATCH_CONTAINED, TITLE_MATCH_CONTAINED_WORDS,
                       TITLE_MATCH_MARGIN, TITLE_MATCH_UNCONFIRMED, ItemSummary, Match, _shared_authors, best_match,
                       match_score, scored_match, summarize, title_similarity)

__all__ = ["BLOCK_WORDS", "FORMAT_RANK", "STRONG", "IdentitySets", "ItemFields", "ItemSummary", "Match", "TITLE_MATCH", "TITLE_MATCH_AUTHORS",
           "TITLE_MATCH_CONTAINED", "TITLE_MATCH_CONTAINED_WORDS", "TITLE_MATCH_MARGIN", "TITLE_MATCH_UNCONFIRMED",
           "WINDOW_WORDS", "best_match", "block_keys", "clash", "describe_clash", "identity_sets", "pin_key",
           "published_venue", "record_venue", "repair_mojibake", "stored_identifiers", "union", "version_of",
           "fingerprint", "identifiers", "is_preprint_doi", "match_score", "related_identifiers", "record_data",
           "resolve_item", "scored_match",
           "significant_words", "summarize", "surnames", "title_keys", "title_similarity"]
# ``_shared_authors`` is re-exported (outside __all__) for tests/test_merge.py, which checks it directly.
