"""The candidate pool behind recommendations: featurized once per store version, shared by tags and users."""

from __future__ import annotations

import pytest

from paperfeed.library import recommend
from paperfeed.ingest import Ingester
from paperfeed.library import Accounts, save_item
from paperfeed.library.recommend import recommend_for_tag

from datafiles import HF_DAY, LISTING

PASSWORD = "correct horse battery"
AGENT_PAPERS = ["2602.22302", "2602.22406", "2602.22425", "2602.22442"]


@pytest.fixture
def builds(monkeypatch):
    """Count the pools built (the expensive step) while leaving the real builder in charge."""
    monkeypatch.setattr(recommend, "_pools", type(recommend._pools)())
    counted = []
    real = recommend._build_pool

    def counting(*args, **kwargs):
        counted.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(recommend, "_build_pool", counting)
    return counted


def test_tags_and_users_share_one_pool_until_the_store_changes(store, builds):
    Ingester(store).ingest_paths([LISTING])
    accounts = Accounts(store)
    ada, bob = accounts.create("ada@example.org", PASSWORD), accounts.create("bob@example.org", PASSWORD)
    for reference in AGENT_PAPERS[:2]:
        save_item(store, ada, reference, ["agents"])
    for reference in AGENT_PAPERS[2:]:
        save_item(store, bob, reference, ["bots"])
    day = store.recent_item_ids("2026-02-27", "2026-02-27")

    first = recommend_for_tag(store, ada, "agents", None, candidate_ids=day, limit=5)
    again = recommend_for_tag(store, ada, "agents", None, candidate_ids=day, limit=5)
    other = recommend_for_tag(store, bob, "bots", None, candidate_ids=day, limit=5)
    assert len(builds) == 1
    assert [r.item_id for r in again] == [r.item_id for r in first] and len(first) == 5
    saved_by_bob = {store.find_item(reference) for reference in AGENT_PAPERS[2:]}
    assert other and not saved_by_bob & {r.item_id for r in other}  # each user's own library is left out

    Ingester(store).ingest_paths([HF_DAY])  # new items: the vocabulary and candidates may differ now
    recommend_for_tag(store, ada, "agents", None, candidate_ids=day, limit=5)
    assert len(builds) == 2
    recommend_for_tag(store, ada, "agents", None, candidate_ids=day[:30], limit=5)  # another window
    assert len(builds) == 3 and len(recommend._pools) == recommend.CACHED_POOLS
