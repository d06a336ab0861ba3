"""Per-tag recommendations: one linear model per tag over TF-IDF and embedding features, with reasons.

The web app, the digest and ``paperfeed recommend`` all call ``recommend_for_tag`` (or ``TagModel`` on
their own candidate sets, as the benchmark does): there is one ranking code path, not a copy per caller.

Features of a paper, concatenated into one sparse row:
- TF-IDF (sublinear tf, l2) of title + abstract, words and word pairs;
- its authors as whole-name tokens (``author:yann_lecun``) and its arXiv categories (``category:cs.cl``),
  TF-IDF weighted too, so a prolific group's name is one feature rather than two common first names;
- its embedding (the configured embedder's unit vector), scaled by ``EMBEDDING_WEIGHT``.
The model is L2-regularized logistic regression, trained on the tag's papers (positives) against the
user's "not relevant" papers and a reproducible sample of other papers (negatives); classes are
balanced by weight because a tag holds a handful of papers against hundreds of negatives. The vocabulary
is fitted on the candidates and the negative sample, once per store version (``candidate_pool``).
"""

from __future__ import annotations

import copy
import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np

from .reasons import reason_in_words

EMBEDDING_WEIGHT = 1.0
AUTHOR_WEIGHT = 1.0
NOT_RELEVANT_WEIGHT = 2.0
"""A paper the user rejected says more than a random one."""
NEGATIVE_SAMPLE = 1000
REASON_TERMS = 3
_NAME = re.compile(r"[^0-9a-z]+")


def author_token(name: str) -> str:
    """``Yann LeCun`` -> ``author:yann_lecun``."""
    return "author:" + _NAME.sub("_", name.lower()).strip("_")


def document_text(title: str, abstract: str) -> str:
    """The words the TF-IDF part reads."""
    return f"{title}. {title}. {abstract}"  # the title twice: it is the densest statement of the topic


def meta_tokens(authors: list[str], categories: list[str]) -> str:
    """Author and category tokens, one space-separated string."""
    return " ".join([author_token(a) for a in authors] + ["category:" + c.lower() for c in categories])


@dataclass(slots=True)
class Paper:
    """What the model reads of one paper."""

    id: int
    title: str
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Recommendation:
    item_id: int
    score: float
    terms: list[str]
    """The features that pushed this paper up the most (words, author names, categories)."""
    because: list[int]
    """Saved papers of the tag most similar to this one (by embedding, else by TF-IDF)."""
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.item_id, "score": round(self.score, 6), "terms": self.terms,
                "because": self.because, "reason": self.reason}


class TagModel:
    """Featurize papers, fit a linear model for one tag, score and explain candidates."""

    def __init__(self, c: float = 1.0, embedding_weight: float = EMBEDDING_WEIGHT, min_df: int = 1,
                 max_features: int | None = 200_000) -> None:
        self.c = c
        self.embedding_weight = embedding_weight
        self.min_df = min_df
        self.max_features = max_features
        self.words = None
        self.meta = None
        self.model = None
        self.names: np.ndarray | None = None

    def fit_vocabulary(self, papers: list[Paper]) -> None:
        """Learn the TF-IDF vocabularies and weights from ``papers`` (the training set and candidates)."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.words = TfidfVectorizer(ngram_range=(1, 2), min_df=self.min_df, max_df=0.5, sublinear_tf=True,
                                     max_features=self.max_features, stop_words="english", dtype=np.float32)
        self.meta = TfidfVectorizer(token_pattern=r"\S+", lowercase=False, sublinear_tf=True, dtype=np.float32)
        self.words.fit([document_text(p.title, p.abstract) for p in papers])
        try:
            self.meta.fit([meta_tokens(p.authors, p.categories) for p in papers])
        except ValueError:  # no paper has authors or categories
            self.meta = None
        names = list(self.words.get_feature_names_out())
        if self.meta is not None:
            names += list(self.meta.get_feature_names_out())
        self.names = np.asarray(names, dtype=object)

    def features(self, papers: list[Paper], embeddings: np.ndarray | None = None):
        """Return the sparse feature matrix of ``papers`` (embeddings: rows aligned with papers, or None)."""
        from scipy.sparse import csr_matrix, hstack

        blocks = [self.words.transform([document_text(p.title, p.abstract) for p in papers])]
        if self.meta is not None:
            blocks.append(self.meta.transform([meta_tokens(p.authors, p.categories) for p in papers]) * AUTHOR_WEIGHT)
        if embeddings is not None and self.embedding_weight:
            blocks.append(csr_matrix(np.asarray(embeddings, dtype=np.float32) * self.embedding_weight))
        return hstack(blocks, format="csr", dtype=np.float32)

    def fit(self, X, labels: np.ndarray, sample_weight: np.ndarray | None = None) -> "TagModel":
        """Fit the tag's linear model on feature rows ``X`` with 0/1 ``labels``."""
        from sklearn.linear_model import LogisticRegression

        labels = np.asarray(labels)
        if labels.min() == labels.max():
            raise ValueError("a tag model needs both positive and negative papers")
        self.model = LogisticRegression(C=self.c, class_weight="balanced", max_iter=1000, solver="liblinear")
        self.model.fit(X, labels, sample_weight=sample_weight)
        return self

    def scores(self, X) -> np.ndarray:
        """Return the model's decision value of each row (higher: more like the tag)."""
        return np.asarray(self.model.decision_function(X), dtype=np.float32)

    def top_terms(self, row, count: int = REASON_TERMS) -> list[str]:
        """Return the named features (not embedding dimensions) contributing most to one row's score, labelled."""
        return [_label(feature) for feature in self.top_features(row, count)]

    def top_features(self, row, count: int = REASON_TERMS) -> list[str]:
        """The raw tokens (words, ``author:…``, ``category:…``) contributing most to one row's score."""
        coef = self.model.coef_[0]
        named = len(self.names)
        named_columns = row.indices < named  # the rest are embedding dimensions, which have no name
        indices = row.indices[named_columns]
        contributions = row.data[named_columns] * coef[indices]
        order = np.argsort(-contributions)
        return [self.names[indices[i]] for i in order[:count] if contributions[i] > 0]


def _label(feature: str) -> str:
    if feature.startswith("author:"):
        return feature[7:].replace("_", " ").title()
    return feature


def rank_candidates(model: TagModel, X, limit: int) -> list[tuple[int, float]]:
    """Return (row, score) of the ``limit`` best rows, best first."""
    scores = model.scores(X)
    limit = min(limit, len(scores))
    if limit <= 0:
        return []
    top = np.argpartition(-scores, limit - 1)[:limit]
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(int(i), float(scores[i])) for i in top]


# -- reading the store ------------------------------------------------------------------------

def _papers(store, item_ids: list[int]) -> list[Paper]:
    documents = store.item_documents(item_ids)
    return [Paper(d.id, d.title, d.abstract, d.authors, d.categories)
            for d in (documents.get(i) for i in item_ids) if d is not None]


def _embeddings(store, embedder, papers: list[Paper]) -> np.ndarray | None:
    """Stored vectors where the indexer made them; the rest embedded now (not stored)."""
    if embedder is None or not papers:
        return None
    stored = store.item_vectors(embedder.name, [p.id for p in papers])
    out = np.zeros((len(papers), embedder.dim), dtype=np.float32)
    missing = []
    for row, paper in enumerate(papers):
        found = stored.get(paper.id)
        if found is not None and len(found[1]) == embedder.dim * 2:
            out[row] = np.frombuffer(found[1], dtype=np.float16)
        else:
            missing.append(row)
    if missing:
        out[missing] = embedder.embed([f"{papers[r].title}. {papers[r].abstract}" for r in missing])
    return out


@dataclass(slots=True)
class CandidatePool:
    """Recent papers and a negative sample, featurized once and shared by every tag and user.

    Fitting TF-IDF over a month of papers with word pairs takes seconds; a library page with three tags, or a
    digest run over many users, would pay it for each tag. Only the tag's own papers are featurized per call.
    """

    model: TagModel
    """Holds the fitted vocabularies (no classifier): each tag fits a copy's classifier."""
    candidates: list[Paper]
    X_candidates: Any
    sample: list[Paper]
    X_sample: Any
    embedder: Any


CACHED_POOLS = 2
"""Candidate pools kept per process (the current window, and one more: another day or a CLI ``--days``)."""
_pools: "OrderedDict[tuple, CandidatePool]" = OrderedDict()
_pools_lock = threading.Lock()


def candidate_pool(store, embedder, candidate_ids: list[int]) -> CandidatePool:
    """The pool of ``candidate_ids`` for this store as it is now: reused until any item changes."""
    key = (store.url, store.store_version(), getattr(embedder, "name", None),
           hashlib.blake2b(np.asarray(candidate_ids, dtype=np.int64).tobytes(), digest_size=16).digest())
    with _pools_lock:  # one pool is built at a time: concurrent callers wait for it rather than build it twice
        pool = _pools.get(key)
        if pool is None:
            pool = _build_pool(store, embedder, candidate_ids)
            _pools[key] = pool
            while len(_pools) > CACHED_POOLS:
                _pools.popitem(last=False)
        _pools.move_to_end(key)
        return pool


def _build_pool(store, embedder, candidate_ids: list[int]) -> CandidatePool:
    # The negative sample is the same for every user (a fixed seed), so it is featurized once with the rest.
    candidates = _papers(store, candidate_ids)
    sample = _papers(store, store.sample_item_ids(NEGATIVE_SAMPLE, seed=0))
    vectors = _embeddings(store, embedder, sample + candidates)
    model = TagModel()
    model.fit_vocabulary(sample + candidates)
    X = model.features(sample + candidates, vectors)
    return CandidatePool(model, candidates, X[len(sample):], sample, X[: len(sample)], embedder)


def recommend_for_tag(store, user_id: int, tag: str, embedder=None, *, today: date | None = None,
                      days: int = 7, limit: int = 10, candidate_ids: list[int] | None = None) -> list[Recommendation]:
    """Rank recent papers (the last ``days`` calendar days, or ``candidate_ids``) for a user's tag.

    Papers already in the user's library are never recommended. Empty when the tag has no papers.
    """
    from scipy.sparse import vstack

    positives = [e.item_id for e in store.library_entries(user_id, tag=tag, state="saved")]
    if not positives:
        return []
    in_library = {e.item_id for e in store.library_entries(user_id)}
    rejected = [e.item_id for e in store.library_entries(user_id, state="not_relevant")]
    if candidate_ids is None:
        today = today or date.today()
        candidate_ids = store.recent_item_ids((today - timedelta(days=days - 1)).isoformat(), today.isoformat())
    if not [i for i in candidate_ids if i not in in_library]:
        return []
    pool = candidate_pool(store, embedder, candidate_ids)
    own = _papers(store, list(dict.fromkeys(positives + rejected)))
    X_own = pool.model.features(own, _embeddings(store, embedder, own))
    keep = [row for row, paper in enumerate(pool.sample) if paper.id not in in_library]
    train = own + [pool.sample[row] for row in keep]
    X_train = vstack([X_own, pool.X_sample[keep]], format="csr")
    positive_set, rejected_set = set(positives), set(rejected)
    labels = np.asarray([1 if p.id in positive_set else 0 for p in train])
    weights = np.asarray([NOT_RELEVANT_WEIGHT if p.id in rejected_set else 1.0 for p in train])
    model = copy.copy(pool.model)  # shares the vocabularies; the classifier is this tag's own
    try:
        model.fit(X_train, labels, weights)
    except ValueError:
        return []  # every sampled paper is in the tag: nothing to learn against yet
    open_rows = [row for row, paper in enumerate(pool.candidates) if paper.id not in in_library]
    X_candidates = pool.X_candidates[open_rows]
    positive_rows = [row for row, p in enumerate(train) if p.id in positive_set]
    results = []
    for row, score in rank_candidates(model, X_candidates, limit):
        paper = pool.candidates[open_rows[row]]
        # The saved paper nearest by cosine (rows are l2-normalized per block, so a dot product compares).
        similarity = (X_train[positive_rows] @ X_candidates[row].T).toarray().ravel()
        nearest = [train[positive_rows[i]].id for i in np.argsort(-similarity)[:1]]
        features = model.top_features(X_candidates[row])
        titles = store.item_documents(nearest)
        closest = titles[nearest[0]].title if nearest and nearest[0] in titles else ""
        results.append(Recommendation(paper.id, score, [_label(f) for f in features], nearest,
                                      reason_in_words(tag, features, closest)))
    return results


def recommend_for_user(store, user_id: int, embedder=None, *, today: date | None = None, days: int = 7,
                       per_tag: int = 5, candidate_ids: list[int] | None = None) -> dict[str, list[Recommendation]]:
    """Recommendations for each of a user's tags."""
    return {tag: recommend_for_tag(store, user_id, tag, embedder, today=today, days=days, limit=per_tag,
                                   candidate_ids=candidate_ids)
            for tag in store.library_tags(user_id)}
