# The two set-up commands: `make demo` and `make test`. Both make their own virtualenv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_DB ?= demo/demo.db
PAPERFEED ?= $(VENV)/bin/paperfeed
PORT ?= 8000
## Mail sent by the demo (subscribe, register) lands here as .eml files: no mail server needed.
DEMO_OUTBOX ?= demo/outbox

.PHONY: venv install chromium postgresql test test-fast demo demo-data bench screenshots clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

## The virtualenv alone: all `make demo` needs (no apt, no sudo).
venv: $(VENV)/.installed

## Everything `make test` needs: the virtualenv, Chromium and PostgreSQL (from apt, with sudo when not root).
install: venv chromium postgresql

## The browser tests drive Debian's Chromium; a fresh machine gets it from apt (sudo only when not root).
chromium:
	@test -x /usr/bin/chromium || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

## The PostgreSQL tests start their own throwaway server (tests/pg_server.py) from Debian's binaries; the
## package's default cluster, if its install started one, is stopped again so nothing is left running.
postgresql:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql && \
		{ $$SUDO pg_lsclusters -h 2>/dev/null | while read version name rest; do \
			$$SUDO pg_ctlcluster "$$version" "$$name" stop 2>/dev/null; done; true; }; }

## Every test, slow and end-to-end ones included.
test: install
	PAPERFEED_REQUIRE_BROWSER=1 PAPERFEED_REQUIRE_POSTGRES=1 $(PY) -m pytest -q

## The quick suite for the edit-test loop (no subprocess/kill tests).
test-fast: install
	$(PY) -m pytest -q -m "not slow"

## Ingest the bundled real corpus into a fresh SQLite store, tag it, and show what it holds. Each step brings
## the search indexes up to date itself (pipeline.after_ingest), so search finds the papers at once.
demo-data: venv
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	rm -rf $(DEMO_DB).search
	$(PAPERFEED) --db $(DEMO_DB) ingest demo/data
	$(PAPERFEED) --db $(DEMO_DB) topics tag
	$(PAPERFEED) --db $(DEMO_DB) stats

## The demo: the corpus above, served on 127.0.0.1:$(PORT) (`make demo PORT=8080`), mail into $(DEMO_OUTBOX).
demo: demo-data
	@mkdir -p $(DEMO_OUTBOX)
	PAPERFEED_MAIL_OUTBOX=$(DEMO_OUTBOX) PAPERFEED_DIGEST_FROM=digest@paperfeed.example.org \
		PAPERFEED_BASE_URL=http://127.0.0.1:$(PORT) \
		$(PAPERFEED) --db $(DEMO_DB) serve --host 127.0.0.1 --port $(PORT)

## Screenshots of the main pages for the README: the demo corpus, browsed by tests/test_demo_pages.py.
screenshots: install
	PAPERFEED_SCREENSHOT_DIR=docs/screenshots $(PY) -m pytest -q -p no:cacheprovider tests/test_demo_pages.py

## Benchmarks over ../shared/data (figures go to docs/benchmarks.md).
bench: install
	$(PY) bench/ingest.py ../shared/data/arxiv-daily-listings/arxiv_daily_listings_2025-03-18_to_2026-02-28.tar.xz
	$(PY) bench/search.py --listings ../shared/data/arxiv-daily-listings/arxiv_daily_listings_2025-03-18_to_2026-02-28.tar.xz \
		--hf ../shared/data/hf-daily-papers/hf_daily_papers_2024-05-27_to_2026-02-27.tar.xz
	$(PY) bench/topics.py ../shared/data/arxiv-daily-listings/arxiv_daily_listings_2025-03-18_to_2026-02-28.tar.xz
	$(PY) bench/sync.py ../shared/data/arxiv-daily-listings/arxiv_daily_listings_2025-03-18_to_2026-02-28.tar.xz
	$(PY) bench/web.py ../shared/data/arxiv-daily-listings/arxiv_daily_listings_2025-03-18_to_2026-02-28.tar.xz --workers 2
	$(PY) bench/backends.py ../shared/data/arxiv-daily-listings/arxiv_daily_listings_2025-03-18_to_2026-02-28.tar.xz \
		--hf ../shared/data/hf-daily-papers/hf_daily_papers_2024-05-27_to_2026-02-27.tar.xz --workers 2 --seconds 20
	$(PY) bench/store_sizes.py ../shared/data/arxiv-daily-listings/arxiv_daily_listings_2025-03-18_to_2026-02-28.tar.xz
	$(PY) bench/daily_pick.py --listings ../shared/data/arxiv-daily-listings/arxiv_daily_listings_2025-03-18_to_2026-02-28.tar.xz \
		--hf ../shared/data/hf-daily-papers/hf_daily_papers_2024-05-27_to_2026-02-27.tar.xz --train-until 2025-12-31
	$(PY) bench/merge_quality.py --dblp ../shared/data/er-dblp-acm/DBLP2.csv --acm ../shared/data/er-dblp-acm/ACM.csv \
		--mapping ../shared/data/er-dblp-acm/DBLP-ACM_perfectMapping.csv \
		--listings ../shared/data/arxiv-daily-listings/arxiv_daily_listings_2025-03-18_to_2026-02-28.tar.xz \
		--hf ../shared/data/hf-daily-papers/hf_daily_papers_2024-05-27_to_2026-02-27.tar.xz
	$(PY) bench/tldr.py ../shared/data/hf-daily-papers/hf_daily_papers_2024-05-27_to_2026-02-27.tar.xz

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
