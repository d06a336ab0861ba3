"""Daily Papers: the trending score (pure) and day/week/month pages over real listing and Hugging Face days."""

from __future__ import annotations

import json
import math
import threading
from datetime import date

import pytest
from click.testing import CliRunner

from paperfeed.cli import cli
from paperfeed.daily import TrendingWeights, daily_page, date_range, explain, rank, rank_explained, trending_score
from paperfeed.ingest import Ingester
from paperfeed.inputs import iter_inputs
from paperfeed.library import Accounts, submit_paper, vote
from paperfeed.storage import DailySignals, open_store

from datafiles import DATA

DAILY = DATA / "daily"
DAY = date(2026, 2, 27)


@pytest.fixture
def daily_store(store):
    report = Ingester(store).ingest_paths([DAILY / "2026-02-26.jsonl", DAILY / "2026-02-27.jsonl",
                                           DAILY / "hf_2026-02-26.json", DAILY / "hf_2026-02-27.json"])
    assert not report.failed
    return store


def signals(**values) -> DailySignals:
    base = {"item_id": 1, "first_day": "2026-02-27", "days": ["2026-02-27"]}
    return DailySignals(**{**base, **values})


# -- the score is the documented formula -------------------------------------------------------

def test_score_is_one_plus_weighted_signals_times_half_life_decay():
    weights = TrendingWeights(hf=1.0, local=2.0, source=0.5, submission=0.25, half_life=3.0)
    fresh = signals(hf_upvotes=10, local_upvotes=3, sources=3, submitted=True)
    expected = 1 + math.log1p(10) + 2 * math.log1p(3) + 0.5 * 2 + 0.25
    assert trending_score(fresh, weights) == pytest.approx(expected)
    three_days_old = signals(hf_upvotes=10, local_upvotes=3, sources=3, submitted=True, first_day="2026-02-24")
    assert trending_score(three_days_old, weights) == pytest.approx(expected / 2)
    no_decay = TrendingWeights(half_life=0)
    assert trending_score(signals(first_day="2025-01-01"), no_decay) == pytest.approx(1.0)


def test_weights_are_tunable_and_local_votes_are_weighted_apart_from_hugging_face():
    hf_heavy, local_heavy = signals(item_id=1, hf_upvotes=20), signals(item_id=2, local_upvotes=5)
    assert [s.item_id for s, _ in rank([hf_heavy, local_heavy])] == [1, 2]
    favour_local = TrendingWeights(hf=0.1, local=3.0)
    assert [s.item_id for s, _ in rank([hf_heavy, local_heavy], favour_local)] == [2, 1]


def test_ties_go_to_more_sources_then_the_newer_item():
    a, b, c = signals(item_id=1, sources=1), signals(item_id=2, sources=1), signals(item_id=3, sources=2)
    weights = TrendingWeights(source=0.0)
    assert [s.item_id for s, _ in rank([a, b, c], weights)] == [3, 2, 1]


def test_date_ranges_are_iso_weeks_and_calendar_months():
    assert date_range(date(2026, 2, 27), "week") == (date(2026, 2, 23), date(2026, 3, 1))
    assert date_range(date(2026, 2, 27), "month") == (date(2026, 2, 1), date(2026, 2, 28))
    with pytest.raises(ValueError):
        date_range(DAY, "year")


# -- pages over real data ------------------------------------------------------------------------

def test_day_page_ranks_hugging_face_picks_by_upvotes_and_lists_the_whole_listing(daily_store):
    page = daily_page(daily_store, DAY, limit=None)
    hf = json.loads((DAILY / "hf_2026-02-27.json").read_text())
    listing = {json.loads(line)["id"] for line in (DAILY / "2026-02-27.jsonl").read_text().splitlines()}
    assert page.total == len(listing | {item["paper"]["id"] for item in hf})
    top = page.entries[0]
    assert (top.arxiv_id, top.signals.hf_upvotes, top.signals.sources) == ("2602.23152", 66, 2)
    assert set(top.signals.date_kinds) == {"announced", "picked"}
    # Every picked paper outranks every paper with no upvotes and one source.
    last_picked = max(e.rank for e in page.entries if e.signals.hf_upvotes > 0)
    first_plain = min(e.rank for e in page.entries if e.signals.hf_upvotes == 0 and e.signals.sources == 1)
    assert last_picked < first_plain


def test_a_paper_picked_after_its_announcement_counts_its_age_from_the_pick(daily_store):
    page = daily_page(daily_store, DAY, limit=None)
    late = next(e for e in page.entries if e.arxiv_id == "2602.21760")  # announced 02-26, picked 02-27
    assert late.signals.first_day == "2026-02-26" and late.signals.days == ["2026-02-27"]
    assert late.signals.first_picked == "2026-02-27"
    on_its_day = trending_score(DailySignals(late.signals.item_id, "2026-02-27", ["2026-02-27"],
                                             hf_upvotes=8, sources=2))
    assert late.score == pytest.approx(on_its_day)
    assert late.breakdown.age_reason == "picked" and "picked by Hugging Face on 2026-02-27" in late.breakdown.age_note()


def test_a_week_late_pick_with_37_upvotes_ranks_above_fresh_picks_with_2():
    # The demo's day 2025-12-29: a paper announced on 12-22 and picked on 12-29 with 37 upvotes sat 10th,
    # below papers with 2 upvotes, decayed by 0.5 ** (7 / 3) for the week between announcement and pick.
    late = signals(item_id=1, first_day="2025-12-22", first_picked="2025-12-29", days=["2025-12-29"],
                   date_kinds=["picked"], hf_upvotes=37, sources=2)
    fresh = signals(item_id=2, first_day="2025-12-29", first_picked="2025-12-29", days=["2025-12-29"],
                    date_kinds=["announced", "picked"], hf_upvotes=2, sources=2)
    assert [s.item_id for s, _ in rank([fresh, late])] == [1, 2]
    assert explain(late).age_days == 0 and explain(late).age_from == "2025-12-29"


def test_a_paper_announced_again_still_decays_from_its_first_day():
    # A cross-list or replacement a week on is not news: it decays from its first appearance, and a paper
    # picked once and listed again later decays from its pick.
    again = signals(first_day="2026-02-20", days=["2026-02-27"], date_kinds=["announced"], hf_upvotes=5,
                    first_picked="2026-02-20")
    breakdown = explain(again)
    assert breakdown.age_days == 7 and breakdown.decay == pytest.approx(0.5 ** (7 / 3))
    assert breakdown.score == pytest.approx((1 + math.log1p(5)) * 0.5 ** (7 / 3)) == trending_score(again)
    assert "7 days since it first appeared on 2026-02-20" in breakdown.age_note()
    picked_twice = signals(first_day="2026-02-20", first_picked="2026-02-21", days=["2026-02-27"],
                           date_kinds=["picked"])
    assert explain(picked_twice).age_days == 6


def test_breakdown_terms_add_up_to_the_score_rank_uses():
    weights = TrendingWeights(hf=1.0, local=2.0, source=0.5, submission=0.25, half_life=3.0)
    items = [signals(item_id=n, hf_upvotes=n * 3, local_upvotes=n % 3, sources=1 + n % 2, submitted=n == 2,
                     first_day=f"2026-02-{20 + n}") for n in range(1, 7)]
    explained = rank_explained(items, weights)
    assert [(s.item_id, b.score) for s, b in explained] == [(s.item_id, score) for s, score in rank(items, weights)]
    for _, breakdown in explained:
        assert (1 + sum(t.points for t in breakdown.terms)) * breakdown.decay == pytest.approx(breakdown.score)
        assert breakdown.to_dict()["summary"].startswith(f"Score {breakdown.score:.2f} = ")


def test_weekend_says_so_and_navigation_points_to_days_with_papers(daily_store):
    page = daily_page(daily_store, date(2026, 2, 28))
    assert page.entries == [] and "Saturday" in page.empty_reason and "weekends" in page.empty_reason
    assert (page.previous, page.next) == ("2026-02-27", None)
    assert daily_page(daily_store, DAY).previous == "2026-02-26"


def test_week_page_holds_both_days_once_each(daily_store):
    week = daily_page(daily_store, DAY, "week", limit=None)
    days = [daily_page(daily_store, date(2026, 2, d), limit=None) for d in (26, 27)]
    ids = {e.signals.item_id for page in days for e in page.entries}
    assert week.total == len(ids) == len({e.signals.item_id for e in week.entries})


def test_local_upvotes_and_submissions_count_but_stay_apart_from_hugging_face(daily_store):
    accounts = Accounts(daily_store)
    voters = [accounts.create(f"voter{n}@example.org", "correct horse battery") for n in range(3)]
    page = daily_page(daily_store, DAY, limit=None)
    plain = next(e for e in reversed(page.entries) if e.signals.hf_upvotes == 0)
    for user_id in voters:
        vote(daily_store, user_id, str(plain.signals.item_id))
    vote(daily_store, voters[0], str(plain.signals.item_id))  # a second vote by the same user counts once
    after = next(e for e in daily_page(daily_store, DAY, limit=None).entries
                 if e.signals.item_id == plain.signals.item_id)
    assert (after.signals.local_upvotes, after.signals.hf_upvotes) == (3, 0)
    assert after.rank < plain.rank
    # A paper from another day, submitted to Saturday's list by URL, makes Saturday non-empty.
    item_id, new = submit_paper(daily_store, voters[1], "https://arxiv.org/abs/2602.23152v2", date(2026, 2, 28))
    assert new and not submit_paper(daily_store, voters[2], "2602.23152", date(2026, 2, 28))[1]
    saturday = daily_page(daily_store, date(2026, 2, 28))
    assert [e.signals.item_id for e in saturday.entries] == [item_id]
    assert saturday.entries[0].signals.submitted and saturday.entries[0].signals.date_kinds == ["submitted"]


def test_cli_daily_json_and_errors(daily_store, backend_url):
    db = backend_url
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", db, "daily", "--date", "2026-02-27", "--json", "--limit", "5"])
    assert result.exit_code == 0, result.output
    page = json.loads(result.output)
    assert page["total"] > 5 and len(page["entries"]) == 5 and page["entries"][0]["arxiv_id"] == "2602.23152"
    result = runner.invoke(cli, ["--db", db, "daily", "--date", "2026-02-28"])
    assert result.exit_code == 0 and "Saturday" in result.output
    result = runner.invoke(cli, ["--db", db, "daily", "--date", "27/02/2026"])
    assert result.exit_code == 2 and "--date" in result.output and "Traceback" not in result.output


# -- several writers at once (web workers and a digest job share one store) --------------------------------------

WRITERS = 6


def at_once(url: str, steps) -> list[list]:
    """Run each step in WRITERS threads, each on its own store (its own connection), all released together.

    Returns ``results[step][writer]``. Every writer waits at a barrier before each step, so the steps race.
    """
    barrier = threading.Barrier(WRITERS)
    results = [[None] * WRITERS for _ in steps]
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with open_store(url, migrate=False) as own:
                for index, step in enumerate(steps):
                    barrier.wait(timeout=60)
                    results[index][n] = step(own, n)
        except BaseException as error:  # noqa: BLE001 - reported below, with the others
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    return results


def test_concurrent_writers_leave_exactly_one_row_each(daily_store, backend_url):
    store = daily_store
    user = store.create_user("ada@example.org", "hash")
    items = store.item_ids_after(0, 4)
    subscriber = store.add_subscriber("carol@example.org", None).id
    dated = store.read_rows("SELECT count(*) FROM source_records WHERE format <> 'bibtex'")[0][0]
    # Ingest wrote the calendar; forget it, so that every refreshing writer below finds work and they race for it.
    assert store.read_rows("SELECT count(*) FROM daily_dates")[0][0] == dated
    store.db.run("DELETE FROM daily_dates")
    store.db.run("DELETE FROM app_state WHERE name = 'daily_dates_cursor'")
    steps = [
        lambda own, n: own.refresh_daily_dates(),  # the calendar is empty: every writer has work
        lambda own, n: [own.set_vote(user, item, True) for item in items],
        lambda own, n: [own.add_submission(item, "2026-02-28", user) for item in items],
        lambda own, n: own.create_user("Bob@example.org" if n % 2 else "bob@EXAMPLE.org", f"hash{n}"),
        lambda own, n: own.add_subscriber("Dave@example.org" if n % 2 else "dave@example.org", None).id,
        lambda own, n: own.begin_digest(subscriber, "2026-02-27", f"<digest-{n}@example.org>"),
        lambda own, n: own.app_secret("race", lambda: f"secret-{n}"),
        lambda own, n: own.set_library_state(user, items[0], "saved", [f"tag{n % 2}"]),
    ]
    refreshed, votes, submitted, new_users, subscribers, logged, secrets, _ = at_once(backend_url, steps)

    def rows(sql: str) -> int:
        return store.read_rows(sql)[0][0]

    # Each calendar row was added once, by one writer, and none is missing.
    assert sum(refreshed) == dated == rows("SELECT count(*) FROM daily_dates")
    assert rows("SELECT count(DISTINCT record_id) FROM daily_dates") == dated
    # One upvote per user and item, one submission per item and day: exactly one writer was told it counted.
    assert [sum(counted[i] for counted in votes) for i in range(len(items))] == [1] * len(items)
    assert store.local_upvotes(items) == {item: 1 for item in items} and rows("SELECT count(*) FROM votes") == 4
    assert [sum(new[i] for new in submitted) for i in range(len(items))] == [1] * len(items)
    assert rows("SELECT count(*) FROM submissions") == len(items)
    # One account and one subscriber per address (case-insensitively), one sent-log row, one secret.
    assert len([u for u in new_users if u is not None]) == 1 and rows("SELECT count(*) FROM users") == 2
    assert len(set(subscribers)) == 1 and rows("SELECT count(*) FROM subscribers") == 2
    assert logged.count(True) == 1 and rows("SELECT count(*) FROM digest_log") == 1
    assert len(set(secrets)) == 1 and secrets[0].startswith("secret-")
    assert [(e.item_id, e.tags) for e in store.library_entries(user)] == [(items[0], ["tag0", "tag1"])]


def test_a_record_with_a_nul_in_its_text_still_gets_its_day(store, tmp_path):
    # PostgreSQL's jsonb refuses a document holding \u0000 anywhere: one such record must not stop the calendar.
    record = json.loads((DAILY / "2026-02-26.jsonl").read_text().splitlines()[0])
    record.update(title=record["title"] + " with a NUL\x00inside", comment="12 pages\x00")
    listing = tmp_path / "2026-02-26.jsonl"
    listing.write_text(json.dumps(record) + "\n", encoding="utf-8")
    assert not Ingester(store).ingest_paths([listing]).failed
    assert store.read_rows("SELECT count(*) FROM daily_dates")[0][0] == 1  # dated by the ingest itself
    assert store.refresh_daily_dates() == 0
    assert store.latest_daily_day() == "2026-02-26"
    assert store.recent_item_ids("2026-02-26", "2026-02-26") == [store.find_item(record["id"])]


# -- the calendar is written by ingest; reading it never writes ------------------------------------------------

def _snapshot(store) -> dict[str, list[tuple]]:
    """Every table a Daily Papers read could touch, as rows in a fixed order."""
    return {name: sorted(map(tuple, store.read_rows(f"SELECT * FROM {name}")), key=repr)
            for name in ("daily_dates", "app_state", "votes", "submissions", "items", "source_records")}


def test_dates_appear_with_the_ingest_and_reading_the_daily_page_writes_nothing(store, monkeypatch):
    assert store.latest_daily_day() is None
    assert not Ingester(store).ingest_paths([DAILY / "2026-02-26.jsonl", DAILY / "hf_2026-02-27.json"]).failed
    # Right after the ingest, with no refresh and no page view in between, the days are there.
    assert store.latest_daily_day() == "2026-02-27"
    assert store.daily_neighbours("2026-02-27") == ("2026-02-26", None)
    assert store.recent_item_ids("2026-02-26", "2026-02-26") and store.daily_signals("2026-02-27", "2026-02-27")
    cursor = store.read_rows("SELECT value FROM app_state WHERE name = 'daily_dates_cursor'")
    assert cursor == [(str(store.read_rows("SELECT max(id) FROM source_records")[0][0]),)]
    assert store.refresh_daily_dates() == 0
    # Wind the cursor back, as on a store whose calendar is behind: a reader that refreshed would now write.
    store.db.run("UPDATE app_state SET value = '0' WHERE name = 'daily_dates_cursor'")

    before = _snapshot(store)
    changes = store.db.connection.total_changes if store.db.dialect.name == "sqlite" else None

    def refuse(*args, **kwargs):
        raise AssertionError("a Daily Papers read tried to write")

    # A reader that opened a write transaction or ran a write statement would fail here.
    monkeypatch.setattr(store.db, "transaction", refuse)
    monkeypatch.setattr(store.db, "run", refuse)
    monkeypatch.setattr(store.db, "run_many", refuse)
    for span in ("day", "week", "month"):
        daily_page(store, date(2026, 2, 27), span, limit=None)
    daily_page(store, date(2026, 2, 28))
    store.daily_signals("2026-02-01", "2026-02-28")
    store.daily_neighbours("2026-02-26")
    store.latest_daily_day("2026-02-27")
    store.recent_item_ids("2026-02-01", "2026-02-28", limit=5)
    store.sample_item_ids(5, seed=1)
    monkeypatch.undo()
    assert _snapshot(store) == before
    if changes is not None:
        assert store.db.connection.total_changes == changes  # not one row written, not even an ignored one

    # The next ingest's dates commit with its records: the listing's days appear, with no reader's help.
    assert "announced" not in {kind for s in store.daily_signals("2026-02-27", "2026-02-27") for kind in s.date_kinds}
    assert not Ingester(store).ingest_paths([DAILY / "2026-02-27.jsonl"]).failed
    assert "announced" in {kind for s in store.daily_signals("2026-02-27", "2026-02-27") for kind in s.date_kinds}
    assert store.read_rows("SELECT count(*) FROM daily_dates")[0][0] > len(before["daily_dates"])


def test_the_dates_roll_back_with_their_records(store):
    ingester = Ingester(store)
    with pytest.raises(RuntimeError):
        with store.write_group():
            assert not ingester.ingest_file(next(iter_inputs([DAILY / "2026-02-26.jsonl"]))).failed
            assert store.latest_daily_day() == "2026-02-26"  # inside the transaction: dated with the records
            raise RuntimeError("the page fails after its records were stored")
    assert store.item_count() == 0 and store.latest_daily_day() is None
    assert store.read_rows("SELECT count(*) FROM app_state WHERE name = 'daily_dates_cursor'") == [(0,)]
    assert not ingester.ingest_paths([DAILY / "2026-02-26.jsonl"]).failed
    assert store.latest_daily_day() == "2026-02-26"


CALENDAR_INPUTS = [DAILY / "2026-02-26.jsonl", DAILY / "hf_2026-02-27.json", DAILY / "library.bib",
                   DATA / "captures" / "daily-papers-page.txt",
                   DATA / "jsonl" / "arxiv-metadata-oai-snapshot.head200.json",
                   DATA / "arxiv_api" / "query_all-testing_start0_max100.xml", DATA / "oai" / "getrecord_arXivRaw.xml",
                   DATA / "news" / "guardian_us_2018-01-31.rss", DATA / "sources" / "crossref_works.json",
                   DATA / "sources" / "library.ris"]
"""Real files of formats whose records carry each kind of calendar date, and none (BibTeX: a user's library)."""


def test_catching_up_from_the_stored_records_gives_the_rows_each_batch_wrote(store):
    # Each ingest batch dates its own records as they were prepared (prepare.calendar_date); a store whose
    # calendar is behind (an older paperfeed) is caught up in one pass over the stored records' JSON. Both must
    # give the same rows.
    assert not Ingester(store).ingest_paths(CALENDAR_INPUTS).failed
    written = sorted(map(tuple, store.read_rows("SELECT record_id, item_id, kind, day FROM daily_dates")))
    assert {kind for _, _, kind, _ in written} == {"picked", "announced", "published"}
    undated = store.read_rows("SELECT count(*) FROM source_records WHERE format = 'bibtex' OR data NOT LIKE "
                              "'%\"published\"%' AND data NOT LIKE '%_date\"%'")[0][0]
    assert 0 < undated < len(written)
    assert len(written) == store.read_rows("SELECT count(*) FROM source_records")[0][0] - undated
    store.db.run("DELETE FROM daily_dates")
    store.db.run("UPDATE app_state SET value = '0' WHERE name = 'daily_dates_cursor'")
    assert store.refresh_daily_dates() == len(written)
    assert sorted(map(tuple, store.read_rows("SELECT record_id, item_id, kind, day FROM daily_dates"))) == written


def test_an_ingest_dates_the_records_an_older_writer_left_undated(store):
    # Records stored without their dates (an older paperfeed: its calendar behind) are dated by the next ingest
    # batch, from their JSON, beside the batch's own records.
    assert not Ingester(store).ingest_paths(CALENDAR_INPUTS[:5]).failed
    first = sorted(map(tuple, store.read_rows("SELECT record_id, item_id, kind, day FROM daily_dates")))
    store.db.run("DELETE FROM daily_dates")
    store.db.run("UPDATE app_state SET value = '0' WHERE name = 'daily_dates_cursor'")
    assert not Ingester(store).ingest_paths(CALENDAR_INPUTS[5:]).failed
    rows = sorted(map(tuple, store.read_rows("SELECT record_id, item_id, kind, day FROM daily_dates")))
    assert set(first) < set(rows)
    top = store.read_rows("SELECT max(id) FROM source_records")[0][0]
    assert store.read_rows("SELECT value FROM app_state WHERE name = 'daily_dates_cursor'") == [(str(top),)]
    store.db.run("DELETE FROM daily_dates")
    store.db.run("UPDATE app_state SET value = '0' WHERE name = 'daily_dates_cursor'")
    assert store.refresh_daily_dates() == len(rows)
    assert sorted(map(tuple, store.read_rows("SELECT record_id, item_id, kind, day FROM daily_dates"))) == rows
