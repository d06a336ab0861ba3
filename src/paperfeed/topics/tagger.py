"""Train the topic and category models from the store and tag its items, incrementally.

Training reads every item once: topics are learned from weak labels (``taxonomy.weak_labels``:
category hints, seed phrases, gold capture/user labels), categories from the items' own arXiv
categories. The latest ``CALIBRATION_SHARE`` of the items by publication date is held out to
calibrate: later items resemble the newest ones most, so thresholds set on them hold best for
what arrives next. Tagging then visits only items not yet tagged by the current models or changed
since (``item_tag_state``), so a retag after a day's ingest costs that day's items.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ..normalize import utc_now
from ..storage import Store, StoredModel, TagInput, TagResult, TopicRow
from . import model as label_model
from .taxonomy import Topic, WeakLabeler, default_taxonomy, is_category, load_taxonomy_file

TOPICS_MODEL = "topics"
CATEGORIES_MODEL = "categories"
CALIBRATION_SHARE = 0.2
MIN_CATEGORY_ITEMS = 20
"""A category needs this many items in the store to be predicted at all."""
MAX_TRAINING_ITEMS = 80_000
"""Training reads at most this many items, the newest ones: enough for stable weights, bounded time."""


class TaggerError(ValueError):
    """The store cannot train a model (too few labelled items); the message says what is missing."""


@dataclass(slots=True)
class TagReport:
    """What ``tag_store`` did."""

    trained: list[str] = field(default_factory=list)
    """Names of the models trained in this run."""
    tagged: int = 0
    seconds: float = 0.0
    train_seconds: float = 0.0
    dropped: dict[str, list[str]] = field(default_factory=dict)
    """Per model, labels left out for too few examples."""
    identities_merged: int = 0
    notes: list[str] = field(default_factory=list)
    """Things worth saying: e.g. no category model, because no category has enough items."""


def all_topics(store: Store, topics_file: str | None = None) -> list[Topic]:
    """Return the shipped taxonomy, then a ``topics_file``'s topics, then those users added to the store."""
    topics = {topic.name: topic for topic in default_taxonomy()}
    if topics_file:
        topics.update((topic.name, topic) for topic in load_taxonomy_file(topics_file))
    for row in store.topics():
        if row.origin == "user":
            topics[row.name] = Topic(row.name, row.description, tuple(row.categories), tuple(row.phrases), "user")
        elif row.name not in topics:
            # Named only by a capture header: learnable from its gold labels alone.
            topics[row.name] = Topic(row.name, origin="source")
    return list(topics.values())


def sync_topics(store: Store, topics: Sequence[Topic]) -> dict[str, int]:
    """Write topic definitions to the store; return topic ids by name."""
    return store.save_topics([TopicRow(name=t.name, description=t.description, categories=list(t.categories),
                                       phrases=list(t.phrases), origin=t.origin) for t in topics])


def definitions_digest(topics: Sequence[Topic], alpha: float) -> str:
    """Return a digest of what the topic model was trained for; a change means retraining."""
    text = repr(sorted((t.name, t.categories, t.phrases) for t in topics)) + f"|{alpha}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def tag_store(store: Store, *, alpha: float, topics_file: str | None = None, retrain: bool = False,
              on_stage: Callable[[str], None] | None = None, on_items: Callable[[int], None] | None = None,
              refresh_authors: bool = True) -> TagReport:
    """Train the models if needed (none yet, topics or ``alpha`` changed, or ``retrain``) and tag due items."""
    stage = on_stage or (lambda text: None)
    advance = on_items or (lambda count: None)
    report = TagReport()
    started = time.perf_counter()
    topics = all_topics(store, topics_file)
    topic_ids = sync_topics(store, topics)
    digest = definitions_digest(topics, alpha)

    topic_stored = store.load_model(TOPICS_MODEL)
    category_stored = store.load_model(CATEGORIES_MODEL)
    stale = (retrain or topic_stored is None or topic_stored.meta.get("digest") != digest
             or (category_stored is not None and category_stored.meta.get("alpha") != alpha))
    if stale and store.item_count():
        stage("reading the store")
        inputs = training_inputs(store)
        stage(f"training topics and categories on {len(inputs):,} items")
        train_started = time.perf_counter()
        topic_stored, category_stored, notes = train_models(inputs, topics, alpha, digest)
        store.save_model(topic_stored)
        report.trained = [TOPICS_MODEL]
        if category_stored is not None:
            store.save_model(category_stored)
            report.trained.append(CATEGORIES_MODEL)
        report.notes += notes
        report.train_seconds = time.perf_counter() - train_started
    if topic_stored is None:
        report.seconds = time.perf_counter() - started
        return report
    for stored in (topic_stored, category_stored):
        if stored is not None:
            report.dropped[stored.name] = list(stored.meta.get("model", {}).get("dropped", []))

    topic_model = load(topic_stored)
    category_model = load(category_stored) if category_stored is not None else None
    save_cutoffs(store, topic_model, topic_ids)
    version = f"{topic_stored.version}+{category_stored.version if category_stored else 'none'}"
    stage("tagging")
    tagged_ids: list[int] = []
    for batch in store.iter_tag_inputs(due_for=version):
        store.write_tags(version, tag_batch(batch, topic_model, category_model, topic_ids))
        tagged_ids += [item.id for item in batch]
        advance(len(batch))
    report.tagged = len(tagged_ids)
    if refresh_authors and (report.tagged or report.trained):
        from ..authors import refresh_identities

        stage("merging author identities")
        # After a retrain every topic may have moved: decide every block again; otherwise only new ones.
        report.identities_merged = refresh_identities(store, None if report.trained else tagged_ids)
    report.seconds = time.perf_counter() - started
    return report


def save_cutoffs(store: Store, topic_model: label_model.LabelModel, topic_ids: dict[str, int]) -> None:
    """Give each topic the model's calibrated cut-off and its estimated precision, where they changed.

    The cut-off is the label's decision threshold, tuned for F1 on the held-out newest items; items the
    tagger keeps below it stay in the store (``topics show --all``) but are not filed under the topic.
    Topics the model does not learn keep none, so their gold items and any old tags stay listed.
    """
    wanted = {topic_ids[name]: (cut, precision)
              for name, (cut, precision) in topic_model.meta.get("cutoffs", {}).items() if name in topic_ids}
    current = {row.id: (row.cutoff, row.cutoff_precision) for row in store.topics()}
    changed = {topic_id: value for topic_id, value in wanted.items() if current.get(topic_id) != value}
    if changed:
        store.save_topic_cutoffs(changed)


def load(stored: StoredModel) -> label_model.LabelModel:
    """Rebuild a LabelModel from its stored arrays."""
    return label_model.LabelModel.from_bytes(stored.arrays, stored.meta.get("model"))


def training_inputs(store: Store) -> list[TagInput]:
    """Return at most ``MAX_TRAINING_ITEMS`` items, the newest by publication date, oldest first."""
    inputs = [item for batch in store.iter_tag_inputs() for item in batch]
    inputs.sort(key=lambda item: (item.published or "", item.id))
    return inputs[-MAX_TRAINING_ITEMS:]


def calibration_mask(count: int, share: float = CALIBRATION_SHARE) -> np.ndarray:
    """Return a mask holding out the last ``share`` of ``count`` time-ordered items."""
    mask = np.zeros(count, dtype=bool)
    held = int(round(count * share))
    if held:
        mask[count - held:] = True
    return mask


def train_models(inputs: Sequence[TagInput], topics: Sequence[Topic], alpha: float,
                 digest: str) -> tuple[StoredModel, StoredModel | None, list[str]]:
    """Train the topic model (weak labels) and the category model (own categories) on shared features.

    Returns both wrapped for storage (the category model is None when no category has enough items)
    and notes saying why something was not trained.
    """
    texts = [label_model.document(item.title, item.abstract) for item in inputs]
    try:
        features = label_model.featurize(texts, calibration_mask(len(inputs)))
        labeler = WeakLabeler(topics)
        labels = [labeler.labels(i.title, i.abstract, i.categories, i.gold_topics) for i in inputs]
        trained = label_model.train(features, labels, [topic.name for topic in topics], alpha)
    except ValueError as error:
        raise TaggerError(f"cannot train the topic model on {len(inputs):,} items: {error}") from None
    topic_model = _stored(TOPICS_MODEL, trained, {"digest": digest})
    rows = np.array([row for row, item in enumerate(inputs) if any(is_category(c) for c in item.categories)],
                    dtype=np.int64)
    names = category_labels([inputs[row] for row in rows])
    if not names:
        return topic_model, None, [f"no category prediction: no arXiv category has {MIN_CATEGORY_ITEMS} items "
                                   f"in the store ({len(rows):,} items have categories); run "
                                   "`paperfeed topics tag --retrain` once it has"]
    try:
        chosen = [inputs[row] for row in rows]
        trained = label_model.train_stacked(features, [item.categories for item in chosen], names, alpha, rows=rows,
                                            authors=[item.authors for item in chosen],
                                            days=[item.published or "" for item in chosen])
    except ValueError as error:
        return topic_model, None, [f"no category prediction: {error}"]
    return topic_model, _stored(CATEGORIES_MODEL, trained, {}), []


def category_labels(inputs: Sequence[TagInput], min_items: int = MIN_CATEGORY_ITEMS) -> list[str]:
    """Return arXiv categories held by at least ``min_items`` items (ACM/MSC codes left out), by name."""
    counts = Counter(c for item in inputs for c in set(item.categories) if is_category(c))
    return sorted(name for name, count in counts.items() if count >= min_items)


def _stored(name: str, trained: label_model.LabelModel, extra: dict) -> StoredModel:
    arrays = trained.to_bytes()
    trained_at = utc_now()
    version = hashlib.sha256(arrays).hexdigest()[:12]
    return StoredModel(name=name, version=version, trained_at=trained_at,
                       meta={"alpha": trained.alpha, "model": trained.meta, **extra}, arrays=arrays)


def tag_batch(batch: Sequence[TagInput], topics: label_model.LabelModel,
              categories: label_model.LabelModel | None, topic_ids: dict[str, int]) -> list[TagResult]:
    """Tag items: topics in each item's conformal set, and predicted categories for items with none."""
    texts = [label_model.document(item.title, item.abstract) for item in batch]
    features = topics.vectorize(texts)
    topic_scores = topics.scores_of(features)
    topic_sets = topics.conformal_sets(topic_scores)
    topic_probabilities = topics.probabilities(topic_scores)
    bare = [row for row, item in enumerate(batch) if not any(is_category(c) for c in item.categories)]
    results = []
    for row, item in enumerate(batch):
        chosen = [(topic_ids[topics.labels[j]], _confidence(topic_probabilities[row, j]))
                  for j in np.flatnonzero(topic_sets[row]) if topics.labels[j] in topic_ids]
        results.append(TagResult(item_id=item.id, updated_at=item.updated_at, topics=chosen))
    if categories is None or not bare:
        return results
    # Both models are trained on one shared vocabulary: tokenize once.
    authors = [batch[row].authors for row in bare]
    category_scores = (categories.scores_of(features[bare], authors) if categories.same_vocabulary(topics)
                       else categories.scores([texts[row] for row in bare], authors))
    predicted = categories.predict(category_scores)
    category_probabilities = categories.probabilities(category_scores)
    for position, row in enumerate(bare):
        results[row].categories = [(categories.labels[j], _confidence(category_probabilities[position, j]))
                                   for j in np.flatnonzero(predicted[position])]
    return results


def _confidence(value: float) -> float:
    return round(min(1.0, max(0.0, float(value))), 4)


def tag_new_items(store: Store, *, alpha: float, topics_file: str | None = None) -> TagReport | None:
    """Tag the items added since the last run with the models already trained; None when none are.

    Ingest and sync call this so new items get topics without waiting for `paperfeed topics tag`; the
    first training (minutes on a large store) stays an explicit step.
    """
    if store.load_model(TOPICS_MODEL) is None:
        return None
    return tag_store(store, alpha=alpha, topics_file=topics_file)
