"""Topics: taxonomy, weak labels, conformal thresholds, the tagger on a real store, evaluate, trends, CLI."""

from __future__ import annotations

import itertools
import shutil
import time
import xml.etree.ElementTree as ElementTree

import numpy as np
import orjson
import pytest
from click.testing import CliRunner

from datafiles import DATA, TOPIC, TOPIC_PAGE
from paperfeed.authors import collaborating_authors, people_named, person_profile
from paperfeed.cli import cli
from paperfeed.ingest import Ingester
from paperfeed.storage import open_store
from paperfeed.topics import conformal, tagger
from paperfeed.topics.chart import weekly_svg
from paperfeed.topics.model import COVERAGE_MIN_POSITIVES, NEVER_SCORE, LabelModel, featurize, train
from paperfeed.topics.taxonomy import (TaxonomyError, Topic, default_taxonomy, make_topic, parse_taxonomy,
                                       weak_labels)
from paperfeed.topics.trends import week_start, weekly_counts

TOPICS = DATA / "topics"
TRAIN = TOPICS / "listings-2025-06-02_to_06.tar.gz"  # five real listing days, 1,735 papers
LATER_DAY = TOPICS / "listing-2025-06-09.tar.gz"
NEWS = DATA / "news"

REQUIRED = ["Large Language Model", "Reinforcement Learning", "Computer Vision", "Speech & Audio", "Robotics",
            "AI Safety & Alignment", "Uncertainty & Calibration", "Efficient Inference", "Scaling Laws",
            "Agents & Tool Use", "Graph Learning", "Generative Models", "Federated & Private Learning",
            "Learning Theory", "AI & Society"]


# -- taxonomy and weak labels ---------------------------------------------------------------


def test_the_shipped_taxonomy_has_every_required_topic_with_hints_and_phrases():
    topics = {topic.name: topic for topic in default_taxonomy()}
    assert set(REQUIRED) <= set(topics)
    for name in REQUIRED:
        assert topics[name].description and topics[name].phrases, name
    assert "cs.CV" in topics["Computer Vision"].categories


def test_a_bad_taxonomy_names_the_file_and_the_topic():
    with pytest.raises(TaxonomyError, match=r"mine\.toml: topic 2 \('Bad'\): not arXiv categories: I\.2\.7"):
        parse_taxonomy('[[topic]]\nname = "Ok"\nphrases = ["x"]\n\n[[topic]]\nname = "Bad"\ncategories = ["I.2.7"]\n',
                       "mine.toml")
    with pytest.raises(TaxonomyError, match="mine.toml: not valid TOML"):
        parse_taxonomy("[[topic]\n", "mine.toml")
    with pytest.raises(TaxonomyError, match="at least one arXiv category or seed phrase"):
        make_topic("Empty", "", [], [])


def test_weak_labels_use_whole_phrases_primary_categories_and_gold():
    llm = Topic("LLM", phrases=("LLMs", "language model"))
    vision = Topic("Vision", categories=("cs.CV",))
    topics = [llm, vision]
    assert weak_labels(topics, "Scaling LLMs", "", []) == ["LLM"]
    assert weak_labels(topics, "The fullmsg protocol", "", []) == []  # no match inside a word
    assert weak_labels(topics, "Segmentation", "", ["cs.CV", "cs.AI"]) == ["Vision"]
    assert weak_labels(topics, "Segmentation", "", ["cs.AI", "cs.CV"]) == []  # a cross-list is not enough
    assert weak_labels(topics, "Anything", "", [], gold=["Vision"]) == ["Vision"]
    # A longer phrase of one topic starting where a shorter one of another does hides neither.
    policy = [Topic("Society", phrases=("policy",)), Topic("RL", phrases=("policy optimization",))]
    assert weak_labels(policy, "Proximal policy optimization", "", []) == ["RL", "Society"]
    assert weak_labels(policy, "Policymakers", "", []) == []


# -- conformal thresholds -------------------------------------------------------------------


def test_conformal_threshold_is_the_k_th_lowest_positive_score():
    scores = np.arange(1, 20, dtype=float)  # n = 19 -> k = floor(0.1 * 20) = 2
    assert conformal.conformal_threshold(scores[::-1], 0.1) == 2.0
    assert conformal.conformal_threshold(scores[:8], 0.1) == float("-inf")  # too few: no finite threshold
    assert conformal.min_calibration_positives(0.1) == 9
    assert conformal.conformal_threshold(scores[:9], 0.1) == 1.0


def test_conformal_threshold_misses_at_most_alpha_of_new_true_items():
    rng = np.random.default_rng(7)
    misses = []
    for _ in range(300):
        calibration, fresh = rng.normal(size=200), rng.normal(size=2000)
        misses.append(np.mean(fresh < conformal.conformal_threshold(calibration, 0.1)))
    # The guarantee is on average over calibration draws: E[miss] <= k/(n+1) = 20/201.
    assert np.mean(misses) <= 20 / 201 + 0.005
    assert np.mean(misses) > 0.08  # and it is not trivially conservative


def test_clustered_thresholds_pool_rare_labels_and_keep_coverage_per_group():
    rng = np.random.default_rng(11)
    # Label 0 is frequent; labels 1-4 are rare with two different positive-score profiles (1, 2 high; 3, 4 low);
    # label 5 has no positive in the calibration rows.
    rates = np.array([0.4, 0.01, 0.01, 0.01, 0.01, 0.0])
    centres = np.array([0.7, 0.8, 0.8, 0.3, 0.3, 0.5])

    def draw(n):
        truth = rng.random((n, 6)) < rates
        probabilities = np.clip(np.where(truth, rng.normal(centres, 0.1, (n, 6)), rng.random((n, 6)) * 0.5), 0, 1)
        return probabilities, truth

    probabilities, truth = draw(3000)
    cuts = conformal.clustered_thresholds(probabilities, truth, 0.1, min_positives=200, clusters=2)
    # The frequent label keeps its own label-wise threshold; rare labels of one profile share one.
    assert cuts[0] == conformal.conformal_threshold(probabilities[truth[:, 0], 0], 0.1)
    assert cuts[1] == cuts[2] and cuts[3] == cuts[4] and cuts[1] > cuts[3]
    assert np.isfinite(cuts[5]) and cuts[5] <= cuts[1]
    # Each group's fresh positives are missed at about alpha, not more.
    fresh, fresh_truth = draw(200_000)
    for group in ([0], [1, 2], [3, 4]):
        kept = np.concatenate([fresh[fresh_truth[:, j], j] >= cuts[j] for j in group])
        assert kept.mean() >= 0.85


def test_recent_labelwise_thresholds_follow_drift_and_make_no_claim_for_labels_rare_lately():
    rng = np.random.default_rng(5)
    n = 4000
    newest = np.arange(n) >= 3000  # rows are in time order; the last quarter is the newest block
    truth = np.zeros((n, 2), dtype=bool)
    truth[:, 0] = rng.random(n) < 0.3  # frequent; its positives score lower lately (drift)
    truth[rng.choice(3000, 200, replace=False), 1] = True  # frequent once, fewer than 50 positives lately
    truth[3000 + rng.choice(1000, 30, replace=False), 1] = True
    probabilities = rng.random((n, 2)) * 0.4
    probabilities[:, 0] = np.where(truth[:, 0], np.where(newest, rng.normal(0.5, 0.1, n), rng.normal(0.8, 0.1, n)),
                                   probabilities[:, 0])
    cuts = conformal.recent_labelwise_thresholds(probabilities, truth, newest, 0.1, min_positives=50)
    # The frequent label is held to its newest positives, so its new true items are still kept at 1 - alpha.
    assert cuts[0] == conformal.conformal_threshold(probabilities[truth[:, 0] & newest, 0], 0.1)
    fresh = rng.normal(0.5, 0.1, 100_000)
    assert (fresh >= cuts[0]).mean() >= 0.88
    assert (fresh >= conformal.conformal_threshold(probabilities[truth[:, 0], 0], 0.1)).mean() < 0.8  # all rows: not
    assert np.isnan(cuts[1])  # 30 positives lately: no coverage claim


def test_a_category_label_without_enough_positives_enters_sets_at_its_f1_cutoff(tagged):
    url, _ = tagged
    with open_store(url) as store:
        model = tagger.load(store.load_model("categories"))
    unclaimed = set(model.meta["no_coverage_claim"])
    positives = model.meta["positives"]
    # Every label with fewer positives in all than the claim needs in the newest block makes no claim.
    assert {name for name in model.labels if positives[name] < COVERAGE_MIN_POSITIVES} <= unclaimed
    assert unclaimed and len(unclaimed) < len(model.labels)
    scores = np.linspace(-6, 6, 400)[:, None] * np.ones((1, len(model.labels)))
    sets, probabilities = model.conformal_sets(scores), model.probabilities(scores)
    for row, name in enumerate(model.labels):
        if name in unclaimed:  # exactly the items whose calibrated probability reaches the F1 cut-off
            clear = np.abs(probabilities[:, row] - model.decide[row]) > 1e-6
            assert np.array_equal(sets[clear, row], probabilities[clear, row] >= model.decide[row])
    # The thresholds kept per miss rate are the model's own at its alpha ("never" kept as such, not "always").
    kept = model.meta["conformal_by_alpha"]["0.1"]
    assert all((t is None and c == -np.inf) or (t >= NEVER_SCORE and c == np.inf) or abs(t - c) < 1e-5
               for t, c in zip(kept, model.conformal))


def test_tuned_thresholds_score_at_least_as_well_as_one_shared_cut():
    rng = np.random.default_rng(3)
    truth = rng.random((600, 6)) < np.array([0.5, 0.3, 0.1, 0.05, 0.03, 0.02])
    probabilities = np.clip(truth * 0.35 + rng.random(truth.shape) * 0.65, 0, 1)
    cuts = conformal.tune_thresholds(probabilities, truth)

    def objective(predicted):
        tp, fp, fn = (truth & predicted).sum(0), (~truth & predicted).sum(0), (truth & ~predicted).sum(0)
        micro = 2 * tp.sum() / (2 * tp.sum() + fp.sum() + fn.sum())
        return micro + 0.25 * np.mean(2 * tp / np.maximum(1, 2 * tp + fp + fn))

    assert objective(probabilities >= cuts) >= objective(probabilities >= 0.5)
    assert objective(probabilities >= cuts) > objective(probabilities >= 0.5) + 0.01


def test_platt_scaling_orders_like_the_scores():
    scores = np.linspace(-2, 2, 200)
    truth = scores + np.random.default_rng(1).normal(scale=0.8, size=200) > 0
    a, b = conformal.platt(scores, truth)
    assert a > 0 and abs(b) < 1
    # The same optimum as a plain logistic regression on the smoothed targets.
    from sklearn.linear_model import LogisticRegression

    high, low = (truth.sum() + 1) / (truth.sum() + 2), 1 / ((~truth).sum() + 2)
    target = np.where(truth, high, low)
    reference = LogisticRegression(C=1e6).fit(np.concatenate([scores, scores]).reshape(-1, 1),
                                              np.r_[np.ones(200), np.zeros(200)],
                                              sample_weight=np.r_[target, 1 - target])
    assert a == pytest.approx(reference.coef_[0, 0], rel=1e-3)
    assert b == pytest.approx(reference.intercept_[0], abs=1e-3)


# -- the model ------------------------------------------------------------------------------


def _toy_training() -> tuple:
    rng = np.random.default_rng(0)
    texts, labels = [], []
    for i in range(400):
        kind = ["vision", "speech", "both"][i % 3]
        words = {"vision": "image pixels segmentation camera", "speech": "audio speech waveform speaker",
                 "both": "image audio video soundtrack"}[kind]
        noise = " ".join(rng.choice(["model", "data", "method", "results", "train"], size=5))
        texts.append(f"{words} {noise} item{i}")
        labels.append({"vision": ["V"], "speech": ["S"], "both": ["V", "S"]}[kind])
    return featurize(texts, tagger.calibration_mask(len(texts))), labels


def test_a_model_round_trips_through_plain_arrays():
    features, labels = _toy_training()
    model = train(features, labels, ["V", "S", "Never"], alpha=0.1)
    assert model.labels == ["V", "S"] and model.meta["dropped"] == ["Never"]
    again = LabelModel.from_bytes(model.to_bytes())
    texts = ["image segmentation of pixels", "a speaker and their waveform"]
    assert np.allclose(model.scores(texts), again.scores(texts))
    predicted = again.predict(again.scores(texts))
    assert predicted.tolist() == [[True, False], [False, True]]


def test_a_model_file_with_pickled_objects_is_refused():
    import io

    buffer = io.BytesIO()
    np.savez(buffer, labels=np.array([object()], dtype=object))
    with pytest.raises(ValueError, match="allow_pickle"):
        LabelModel.from_bytes(buffer.getvalue())


# -- the tagger on a real store -------------------------------------------------------------


_copies = itertools.count(1)


@pytest.fixture(scope="module")
def build_tagged(request, tmp_path_factory):
    """Build (once per backend and module) a store of five real listing days, a topic page capture and news
    feeds, trained and tagged; return its URL and the tagging report."""
    built: dict[str, tuple[str, tagger.TagReport]] = {}

    def build(backend: str) -> tuple[str, tagger.TagReport]:
        if backend not in built:
            if backend == "sqlite":
                url = str(tmp_path_factory.mktemp("topics") / "store.db")
            else:
                url = request.getfixturevalue("pg_server").create_database("paperfeed_topics_tagged")
            with open_store(url) as store:
                Ingester(store).ingest_paths([TRAIN, TOPIC_PAGE, NEWS])
                built[backend] = url, tagger.tag_store(store, alpha=0.1)
        return built[backend]

    return build


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def tagged(request, build_tagged):
    """The tagged store (URL, report) on each backend in turn; tests that change it work on a ``copy_store``."""
    return build_tagged(request.param)


def copy_store(url: str, tmp_path) -> str:
    """A private copy of a closed store, so the shared tagged one stays as it is."""
    if not url.startswith("postgresql://"):
        copy = tmp_path / "copy.db"
        shutil.copyfile(url, copy)  # the store is closed, its WAL checkpointed
        return str(copy)
    import psycopg

    source = url.rsplit("/", 1)[1]
    name = f"{source}_copy_{next(_copies)}"
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        # A database is copied from a template nobody is connected to; a just-closed session may take a moment.
        for attempt in range(50):
            try:
                admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
                break
            except psycopg.errors.ObjectInUse:
                if attempt == 49:
                    raise
                time.sleep(0.1)
    return url.rsplit("/", 1)[0] + f"/{name}"


def test_tagging_trains_both_models_and_tags_every_item(tagged):
    url, report = tagged
    assert report.trained == ["topics", "categories"]
    with open_store(url) as store:
        assert report.tagged == store.item_count() > 1000
        models = {name: store.load_model(name) for name in ("topics", "categories")}
        assert models["topics"].meta["model"]["calibration_items"] > 200
        version = f"{models['topics'].version}+{models['categories'].version}"
        assert store.count_due(version) == 0
        # Most required topics have enough examples even in five days; the tagger says which do not.
        assert {"Large Language Model", "Computer Vision", "Robotics"} <= set(
            models["topics"].meta["model"]["positives"])


def test_every_tag_has_a_confidence_and_papers_and_news_get_topics(tagged):
    url, _ = tagged
    with open_store(url) as store:
        items = list(store.iter_items())
        news = [item for item in items if item["kind"] == "news"]
        confidences = store.item_topic_confidences([item["id"] for item in items])
        tagged_news = [item for item in news if any(by == "tagger" for _, by, _ in confidences.get(item["id"], []))]
        assert len(tagged_news) >= len(news) // 4
        values = [c for entries in confidences.values() for _, _, c in entries]
        assert values and all(0 <= c <= 1 for c in values)
        assert len({round(c, 2) for c in values}) > 20  # calibrated values, not a constant


def test_a_captures_topic_header_stays_a_gold_label(tagged):
    url, _ = tagged
    with open_store(url) as store:
        llm = next(row for row in store.topics() if row.name == TOPIC)
        gold = [item_id for item_id, confidence, _ in store.topic_item_authors(llm.id) if confidence == 1.0]
        assert len(gold) >= 10
        entries = store.item_topic_confidences(gold)
        assert all(any(by == "source" and name == TOPIC for name, by, _ in entries[i]) for i in gold)


def test_items_without_categories_get_predicted_ones(tagged):
    url, _ = tagged
    with open_store(url) as store:
        items = list(store.iter_items())
        bare = [item["id"] for item in items if not item["categories"]]
        labelled = [item["id"] for item in items if item["categories"]]
        predicted = store.predicted_categories(bare + labelled)
        assert bare and all(predicted.get(item_id) for item_id in bare)
        assert not any(item_id in predicted for item_id in labelled)  # own categories are never overwritten
        assert all(category.startswith(("cs.", "eess.", "stat.", "math.")) for entries in predicted.values()
                   for category, _ in entries)


def test_retagging_visits_only_new_and_changed_items(tagged, tmp_path):
    url, _ = tagged
    copy = copy_store(url, tmp_path)
    with open_store(copy) as store:
        again = tagger.tag_store(store, alpha=0.1)
        assert again.trained == [] and again.tagged == 0
        before = store.item_count()
        Ingester(store).ingest_paths([LATER_DAY])
        grown = store.item_count() - before
        later = tagger.tag_store(store, alpha=0.1)
        assert later.trained == []
        # New items plus the re-listed ones whose fields changed; never the whole store.
        assert grown <= later.tagged < grown + 200 < store.item_count()


def test_a_user_topic_is_learned_after_a_retrain(tagged, tmp_path):
    url, _ = tagged
    copy = copy_store(url, tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", copy, "topics", "add", "Medical Imaging", "--description",
                                 "Images in medicine", "--phrases", "medical, clinical, MRI", "--categories", "eess.IV"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["--db", copy, "topics", "tag", "--json"])
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.output)
    assert report["trained"] == ["topics", "categories"]
    listed = orjson.loads(runner.invoke(cli, ["--db", copy, "topics", "list", "--json"]).output)
    medical = next(row for row in listed if row["name"] == "Medical Imaging")
    assert medical["origin"] == "user" and medical["items"] > 10


# -- evaluate -------------------------------------------------------------------------------


def test_evaluate_prints_one_json_line_of_scores(tagged):
    url, _ = tagged
    result = CliRunner().invoke(cli, ["--db", url, "topics", "evaluate", str(LATER_DAY)])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    figures = orjson.loads(lines[0])
    assert figures["records"] > 150 and figures["alpha"] == 0.1
    # Five days of training already learn the big categories; the conformal sets keep most true labels of
    # the categories that make a coverage claim; the rest are named (they enter sets at their F1 cut-off).
    assert 0.45 < figures["micro_f1"] <= 1 and 0 < figures["macro_f1"] <= 1
    assert figures["coverage_claimed_labels"] >= 0.8 and figures["coverage"] >= 0.6
    assert figures["no_coverage_claim"] and "cs.CV" not in figures["no_coverage_claim"]
    assert figures["per_label"]["cs.CV"]["support"] > 50
    assert figures["records_already_in_store"] == 0  # a later day: none of its papers were trained on


def test_evaluate_reports_bad_inputs_and_bad_alpha(tagged, tmp_path):
    url, _ = tagged
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", url, "topics", "evaluate", str(NEWS)])
    assert result.exit_code == 1 and "no record with arXiv categories" in result.output
    missing = tmp_path / "nope.jsonl"
    result = runner.invoke(cli, ["--db", url, "topics", "evaluate", str(LATER_DAY), str(missing)])
    assert result.exit_code == 1 and f"FAILED {missing}" in result.output
    assert orjson.loads(result.output.strip().splitlines()[-1])["failed_files"] == 1
    result = runner.invoke(cli, ["--db", url, "topics", "evaluate", "--alpha", "1.5", str(LATER_DAY)])
    assert result.exit_code == 2 and "alpha must be between 0 and 1" in result.output
    assert "Traceback" not in result.output


def test_a_bad_topics_file_is_one_clear_error(tagged, tmp_path, monkeypatch):
    url, _ = tagged
    bad = tmp_path / "topics.toml"
    bad.write_text('[[topic]]\nname = "X"\ncategories = ["not a category"]\n')
    monkeypatch.setenv("PAPERFEED_TOPICS_FILE", str(bad))
    result = CliRunner().invoke(cli, ["--db", url, "topics", "list"])
    assert result.exit_code == 2
    assert f"{bad}: topic 1 ('X'): not arXiv categories: not a category" in result.output


# -- topic page, trends, chart --------------------------------------------------------------


def test_topic_page_has_items_collaborating_authors_and_a_trend(tagged, tmp_path):
    url, _ = tagged
    svg = tmp_path / "trend.svg"
    result = CliRunner().invoke(cli, ["--db", url, "topics", "show", "computer-vision", "--json",
                                      "--svg", str(svg), "--limit", "5"])
    assert result.exit_code == 0, result.output
    page = orjson.loads(result.output)
    assert page["name"] == "Computer Vision" and len(page["items"]) == 5
    dates = [item["published"] for item in page["items"]]
    assert dates == sorted(dates, reverse=True)  # newest first
    assert all(item["sources"] for item in page["items"])
    people = page["collaborating_authors"]
    assert len(people["authors"]) == 15
    activity = [person["activity"] for person in people["authors"]]
    assert activity == sorted(activity, reverse=True)
    ids = {person["key"] for person in people["authors"]}
    assert people["edges"] and all(e["source"] in ids and e["target"] in ids for e in people["edges"])
    assert sum(point["items"] for point in page["trend"]) > 100
    root = ElementTree.parse(svg).getroot()
    assert root.tag.endswith("svg") and len(root.findall("{http://www.w3.org/2000/svg}rect")) == len(page["trend"])


# -- calibrated cut-offs --------------------------------------------------------------------


def _listed_by_hand(store, topic) -> set[int]:
    """The items a topic should list at its cut-off, worked out from every item's own topic confidences."""
    held = [item_id for item_id, _, _ in store.topic_item_authors(topic.id, 0.0)]
    entries = store.item_topic_confidences(held)
    return {item_id for item_id in held
            if any(name == topic.name and (by != "tagger" or confidence >= topic.cutoff)
                   for name, by, confidence in entries[item_id])}


def _split_topic(store):
    """The learned topic with the most items below its cut-off."""
    rows = [row for row in store.topics() if row.cutoff is not None]
    return max(rows, key=lambda row: (lambda c: c[1] - c[0])(store.topic_counts(row.id)))


def test_each_learned_topic_gets_a_calibrated_cutoff_and_an_estimated_precision(tagged):
    url, _ = tagged
    with open_store(url) as store:
        learned = store.load_model("topics").meta["model"]["cutoffs"]
        rows = {row.name: row for row in store.topics()}
        assert len(learned) >= 5
        for name, (cutoff, precision) in learned.items():
            assert (rows[name].cutoff, rows[name].cutoff_precision) == (cutoff, precision)
            assert 0 < cutoff <= 1 and (precision is None or 0 <= precision <= 1)
        assert len({row.cutoff for row in rows.values() if row.cutoff is not None}) > 3  # per topic, not one cut


def test_a_topic_lists_items_at_or_above_its_cutoff_and_keeps_the_rest(tagged):
    url, _ = tagged
    with open_store(url) as store:
        topic = _split_topic(store)
        filed, held = store.topic_counts(topic.id)
        assert 0 < filed < held  # the cut leaves some out: the test below can fail
        listed = store.topic_items(topic.id, limit=10_000)
        everything = store.topic_items(topic.id, limit=10_000, min_confidence=0.0)
        assert {item["id"] for item in listed} == _listed_by_hand(store, topic)
        assert len(listed) == filed and len(everything) == held
        assert min(item["confidence"] for item in listed) >= topic.cutoff
        assert store.topic_item_counts()[topic.id] == filed
        assert store.topic_item_counts(0.0)[topic.id] == held
        assert sum(point[1] for point in store.topic_day_counts(topic.id)) <= filed


def test_the_captures_topic_keeps_every_item_the_captures_gave_it(tagged, tmp_path):
    url, _ = tagged
    copy = copy_store(url, tmp_path)
    with open_store(copy) as store:
        llm = next(row for row in store.topics() if row.name == TOPIC)
        # The strictest cut there is: only gold labels (and tags at confidence 1) stay listed.
        store.save_topic_cutoffs({llm.id: (1.0, None)})
        llm = next(row for row in store.topics() if row.name == TOPIC)
        entries = store.item_topic_confidences([i for i, _, _ in store.topic_item_authors(llm.id, 0.0)])
        gold = {item_id for item_id, found in entries.items()
                if any(name == TOPIC and by == "source" for name, by, _ in found)}
        tagged_only = {item_id for item_id, found in entries.items() if item_id not in gold
                       and any(name == TOPIC and by == "tagger" and c < 1 for name, by, c in found)}
        assert len(gold) >= 10 and tagged_only
        listed = {item["id"] for item in store.topic_items(llm.id, limit=10_000)}
        assert gold <= listed and not listed & tagged_only
        assert listed == _listed_by_hand(store, llm)


def test_topics_show_lists_the_filed_items_and_all_of_them_with_all(tagged):
    url, _ = tagged
    with open_store(url) as store:
        topic = _split_topic(store)
        filed, held = store.topic_counts(topic.id)

    def show(*flags):
        result = CliRunner().invoke(cli, ["--db", url, "topics", "show", topic.slug, "--limit", "1000", *flags])
        assert result.exit_code == 0, result.output
        return result.output

    page = orjson.loads(show("--json"))
    assert (page["filed_items"], page["below_cutoff"]) == (filed, held - filed)
    assert page["cutoff"] == topic.cutoff and len(page["items"]) == min(filed, 1000)
    assert all(item["confidence"] >= topic.cutoff for item in page["items"])
    assert len(orjson.loads(show("--json", "--all"))["items"]) == min(held, 1000)
    text = show()
    assert f"{filed:,} items at or above the cut-off {topic.cutoff:.2f}" in text
    from paperfeed.sources import format_names
    sources = {source for item in page["items"] for source in item["sources"]}
    assert sources and not sources & set(format_names())  # sources in words, never a format name
    assert f"{held - filed:,} below it (--all lists them)" in text


def test_the_topic_page_links_to_the_items_below_the_cutoff(tagged):
    from fastapi.testclient import TestClient

    from paperfeed.config import Settings
    from paperfeed.web import create_app

    url, _ = tagged
    with open_store(url) as store:
        topic = _split_topic(store)
        filed, held = store.topic_counts(topic.id)
        newest_below = next(item for item in store.topic_items(topic.id, limit=10_000, min_confidence=0.0)
                            if item["confidence"] < topic.cutoff and item["title"])
    settings = Settings.load(db=url, embedder="none", secret_key="test-secret-key")
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        page = client.get(f"/topics/{topic.slug}")
        assert page.status_code == 200
        link = f'<a href="/topics/{topic.slug}?all=1">Show {held - filed} more below the cut-off</a>'
        assert link in page.text
        assert f"estimated precision {topic.cutoff_precision * 100:.0f}%" in page.text
        everything = client.get(f"/topics/{topic.slug}?all=1")
        assert everything.status_code == 200 and link not in everything.text
        assert f"and {held - filed} below it" in everything.text
        api = client.get(f"/api/v1/topics/{topic.slug}", params={"limit": 200}).json()
        assert api["filed_items"] == filed and api["cutoff"] == topic.cutoff
        assert all(item["confidence"] >= topic.cutoff for item in api["items"])
        assert newest_below["id"] not in {item["id"] for item in api["items"]}
        api_all = client.get(f"/api/v1/topics/{topic.slug}", params={"limit": 200, "all": "1"}).json()
        assert len(api_all["items"]) == min(200, held)
        assert client.get(f"/api/v1/topics/{topic.slug}", params={"all": "maybe"}).status_code == 422


def _identity_labels(store, identity_ids) -> dict[int, tuple[str, ...]]:
    """Each merged author by all its spellings: which spelling names it is decided by author id on a tie."""
    members = store.identity_members(sorted(set(identity_ids)))
    names = store.author_names(sorted({a for ids in members.values() for a in ids}))
    return {identity: tuple(sorted(names[a] for a in ids)) for identity, ids in members.items()}


def _person_labels(store, refs, key) -> dict[tuple, tuple]:
    """Each person by its spellings and its first paper (by record id): person and author ids are each backend's
    own. A name not yet decided into people is labelled by its identity's spellings."""
    labels = {}
    identities = _identity_labels(store, [ref["author_id"] for ref in refs if ref["id"] is None])
    for ref in refs:
        if ref["id"] is None:
            labels[(None, ref["author_id"])] = ("name", identities[ref["author_id"]])
            continue
        slots = store.person_slots(ref["id"])
        names = store.author_names(sorted({author for _, _, author in slots}))
        labels[(ref["id"], ref["author_id"])] = (tuple(sorted(set(names.values()))),
                                                 min(key[item] for item, _, _ in slots))
    return labels


def _ref(ref) -> tuple:
    return (ref["id"], ref["author_id"]) if ref["id"] is not None else (None, ref["author_id"])


def _tagging_outcome(url: str) -> dict:
    """What tagging put in a store, with every id replaced by names or a record id: author ids are each
    backend's own (SQLite inserts a batch's new names in set order, PostgreSQL sorted)."""
    with open_store(url) as store:
        items = list(store.iter_items())
        key = {item["id"]: (item["sources"][0]["format"], item["sources"][0]["record_id"]) for item in items}
        predicted = store.predicted_categories(list(key))
        topics = store.topics()
        counts = store.topic_item_counts(0.5)
        names = {row.id: row.name for row in topics}
        pages = {}
        for row in topics:
            page = store.topic_items(row.id, limit=30, min_confidence=0.5)
            # Everyone, not the top 15: ties in activity are broken by author id, and author ids are each
            # backend's own (names are inserted in a different order), so a cut could fall between namesakes.
            people = collaborating_authors(store, row.id, limit=10 ** 6, min_confidence=0.5)
            labels = _person_labels(store, people["authors"], key)
            by_key = {person["key"]: labels[_ref(person)] for person in people["authors"]}
            pages[row.name] = {
                "items": [{**entry, "id": key[entry["id"]]} for entry in page],
                "days": store.topic_day_counts(row.id, 0.5),
                "authors": sorted((-person["activity"], by_key[person["key"]], person["papers"])
                                  for person in people["authors"]),
                "edges": sorted((tuple(sorted((by_key[e["source"]], by_key[e["target"]]))), e["papers"])
                                for e in people["edges"]),
            }
        authors = {}
        for name in ("Yang Liu", "Wei Wang", "Sergey Levine", "Yu Zhang"):
            for ref in people_named(store, name):
                profile = person_profile(store, ref["id"])
                labels = _person_labels(store, [ref] + profile["collaborators"], key)
                authors[(name, labels[_ref(ref)])] = {
                    **profile, "id": None, "author_id": None, "name": None, "variants": sorted(profile["variants"]),
                    "papers": [key[paper["id"]] for paper in profile["papers"]],
                    "collaborators": sorted((labels[_ref(c)], c["count"]) for c in profile["collaborators"])}
        return {
            "items": {key[item["id"]]: (sorted((t["name"], t["assigned_by"], t["confidence"]) for t in item["topics"]),
                                        predicted.get(item["id"], [])) for item in items},
            "topics": [(row.name, row.slug, row.origin, row.description, row.categories, row.phrases,
                        counts.get(row.id, 0)) for row in topics],
            "topic_names": sorted(names.values()),
            "pages": pages,
            "authors": authors,
        }


@pytest.mark.postgres
def test_tagging_topic_pages_and_author_pages_are_the_same_on_both_backends(build_tagged, pg_url):
    sqlite_url, sqlite_report = build_tagged("sqlite")
    # Training is not repeatable to the last bit (two trainings on one backend differ in the 4th decimal of a
    # few confidences), so this PostgreSQL store is tagged by the SQLite store's trained models: everything
    # else (inputs read, tags written, pages and author identities computed) must then come out the same.
    with open_store(sqlite_url) as trained, open_store(pg_url) as store:
        Ingester(store).ingest_paths([TRAIN, TOPIC_PAGE, NEWS])
        for name in ("topics", "categories"):
            store.save_model(trained.load_model(name))
        pg_report = tagger.tag_store(store, alpha=0.1)
    assert pg_report.trained == [] and pg_report.tagged == sqlite_report.tagged
    assert pg_report.identities_merged == sqlite_report.identities_merged
    on_sqlite, on_postgres = _tagging_outcome(sqlite_url), _tagging_outcome(pg_url)
    assert on_sqlite["authors"], "pick authors that are in the training days"
    assert sum(len(page["items"]) for page in on_sqlite["pages"].values()) > 200
    for part in ("topics", "topic_names", "authors", "items"):
        assert on_postgres[part] == on_sqlite[part], part
    for name, page in on_sqlite["pages"].items():
        for part in ("items", "days", "authors", "edges"):
            assert on_postgres["pages"][name][part] == page[part], (name, part)


def test_an_unknown_topic_is_one_clear_error(tagged):
    url, _ = tagged
    result = CliRunner().invoke(cli, ["--db", url, "topics", "show", "no-such-topic"])
    assert result.exit_code == 1 and "no topic 'no-such-topic'" in result.output


def test_weekly_counts_fill_empty_weeks_from_monday():
    assert week_start("2025-06-08") == "2025-06-02"  # a Sunday belongs to the week that began on Monday
    series = weekly_counts([("2025-06-02", 3), ("2025-06-06", 2), ("2025-06-23", 1), ("bad", 9)])
    assert series == [{"week": "2025-06-02", "items": 5}, {"week": "2025-06-09", "items": 0},
                      {"week": "2025-06-16", "items": 0}, {"week": "2025-06-23", "items": 1}]
    assert weekly_counts([("2025-06-02", 3), ("2025-06-23", 1)], weeks=2) == [
        {"week": "2025-06-16", "items": 0}, {"week": "2025-06-23", "items": 1}]


def test_the_chart_escapes_its_title_and_draws_one_bar_per_week():
    svg = weekly_svg("Speech & <Audio>", [{"week": "2025-06-02", "items": 4}, {"week": "2025-06-09", "items": 0}])
    root = ElementTree.fromstring(svg)
    assert len(root.findall("{http://www.w3.org/2000/svg}rect")) == 2
    assert "Speech &amp; &lt;Audio&gt;" in svg
    assert "no dated items" in weekly_svg("Empty", [])


def test_a_store_too_small_to_learn_from_says_so(store):
    Ingester(store).ingest_paths([NEWS])
    result = CliRunner().invoke(cli, ["--db", store.url, "topics", "tag"])
    assert result.exit_code == 1
    assert "cannot train the topic model on 90 items: not enough labelled items" in result.output
    assert "Traceback" not in result.output


def test_ingest_tags_new_items_once_a_tagger_is_trained_and_search_filters_by_topic(tmp_path):
    """After `topics tag` has trained, later ingests tag their new items, and the topic filter finds them."""
    import json as json_module

    from click.testing import CliRunner

    from paperfeed.cli import cli

    from datafiles import HF_DAY, LISTING

    db = str(tmp_path / "store.db")

    def run(*args):
        return CliRunner().invoke(cli, ["--db", db, *args], env={"CI": "1"}, catch_exceptions=False)

    first = run("ingest", "--no-vectors", str(LISTING))
    assert first.exit_code == 0 and "topics:" not in first.stdout  # nothing trained yet: no tagging
    assert run("topics", "tag").exit_code == 0
    later = run("ingest", "--no-vectors", str(HF_DAY))
    assert later.exit_code == 0, later.output
    tagged_line = next(line for line in later.stdout.splitlines() if line.startswith("topics: tagged "))
    assert int(tagged_line.split()[2].replace(",", "")) > 0
    with open_store(db) as store:
        hf_items = [item for item in store.iter_items() if any(s["format"] == "hf-daily" for s in item["sources"])]
        tagged = [item for item in hf_items if any(t["assigned_by"] == "tagger" for t in item["topics"])]
        assert len(tagged) >= len(hf_items) // 2, (len(tagged), len(hf_items))
        name = next(t["name"] for t in tagged[0]["topics"] if t["assigned_by"] == "tagger")
    found = run("search", "--mode", "keyword", "--json", "--limit", "1000", f'topic:"{name}"')
    assert tagged[0]["id"] in [hit["id"] for hit in json_module.loads(found.stdout)]


def test_ingest_tags_new_items_once_a_tagger_is_trained_on_each_backend(backend_url):
    """The tagging half of the test above on both backends (its search half is about search indexes)."""
    from datafiles import HF_DAY, LISTING

    def run(*args):
        return CliRunner().invoke(cli, ["--db", backend_url, *args], env={"CI": "1"}, catch_exceptions=False)

    first = run("ingest", "--no-index", str(LISTING))
    assert first.exit_code == 0 and "topics:" not in first.stdout  # nothing trained yet: no tagging
    trained = run("topics", "tag", "--json")
    assert trained.exit_code == 0, trained.output
    assert orjson.loads(trained.stdout)["trained"] == ["topics", "categories"]
    later = run("ingest", "--no-index", str(HF_DAY))
    assert later.exit_code == 0, later.output
    tagged_line = next(line for line in later.stdout.splitlines() if line.startswith("topics: tagged "))
    assert int(tagged_line.split()[2].replace(",", "")) > 0
    with open_store(backend_url) as store:
        hf_items = [item for item in store.iter_items() if any(s["format"] == "hf-daily" for s in item["sources"])]
        tagged = [item for item in hf_items if any(t["assigned_by"] == "tagger" for t in item["topics"])]
        assert len(tagged) >= len(hf_items) // 2, (len(tagged), len(hf_items))
        item_id = tagged[0]["id"]
    shown = orjson.loads(run("topics", "item", str(item_id), "--json").stdout)
    assert shown["id"] == item_id and any(entry["assigned_by"] == "tagger" for entry in shown["topics"])
    confidences = [entry["confidence"] for entry in shown["topics"]]
    assert confidences == sorted(confidences, reverse=True)
