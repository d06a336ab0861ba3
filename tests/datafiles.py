"""Paths of the test inputs in tests/data and facts about them that several test modules assert."""

from pathlib import Path

DATA = Path(__file__).parent / "data"
BAD = DATA / "bad"
LISTING = DATA / "jsonl" / "2026-02-27.jsonl"
LISTING_LINES = 300
LISTING_UNIQUE = 247  # 53 of the 300 lines are exact repeats (cross-listed papers appear twice in the dump)
LIBRARY = DATA / "bibtex" / "library.bib"
HF_DAY = DATA / "hf" / "2024-05-27.json"
TOPIC_PAGE = DATA / "captures" / "topic-page_large-language-model.txt"
SHAPE3 = DATA / "captures" / "topic-page_shape3_fixture.txt"
DAILY_PAGE = DATA / "captures" / "daily-papers-page.txt"
TOPIC = "Large Language Model"
PASSWD_MARKERS = ("root:x:0:0", "root:", "/bin/bash", "/usr/sbin/nologin", "daemon:")
