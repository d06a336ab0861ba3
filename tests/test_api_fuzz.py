"""The JSON API and the feeds, fuzzed from their own OpenAPI document by Schemathesis against `paperfeed serve`.

Schemathesis (its `run` command, in a subprocess) reads /openapi.json from a live server on loopback and sends
every documented operation schema-valid and schema-violating requests, boundary values (its coverage phase) and
methods the document does not list. Every check it has runs: no 5xx, every status code documented, every body
matching the documented schema and content type, invalid data refused, valid data accepted, 405 with ``Allow``
for an undocumented method, security honoured. It runs twice:

- anonymously, over all operations (the signed-in ones must answer 401 or 403);
- signed in, over the signed-in operations (tags ``account`` and ``comments``), with the session cookie, the CSRF cookie and the
  X-CSRF-Token header the document declares as security schemes; it also checks that leaving them out is refused.

The bound: at most ``PAPERFEED_FUZZ_EXAMPLES`` (default 40) generated cases per operation in the fuzzing phase,
plus the coverage phase's boundary cases (a fixed set per operation, about 30 on average here): about
1,200 requests anonymously and 470 signed in, some 35 s of fuzzing (45 s with the store and the server) on two
cores. The seed is fixed
(``PAPERFEED_FUZZ_SEED``, default 17) so a run repeats exactly; set another seed, or more examples, to explore.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import httpx
import pytest

from paperfeed.authors import refresh_identities
from paperfeed.library import Accounts
from paperfeed.storage import open_store
from paperfeed.web.security import csrf_token

from live_server import free_port, serving
from web_data import KNOWN_ARXIV, TOPIC_SLUG, build_store

pytestmark = pytest.mark.slow

MAX_EXAMPLES = int(os.environ.get("PAPERFEED_FUZZ_EXAMPLES", "40"))
SEED = int(os.environ.get("PAPERFEED_FUZZ_SEED", "17"))
# A change (save, vote, …) answers 400 when a value the schema allows is refused by a rule it cannot state
# (a tag's characters; library.shelf.check_tag): documented, and so accepted for schema-valid data here.
CHANGES_EXPECT = '["2xx", "3xx", 400, 401, 403, 404, 409, 429]'
# A comment's length limit is a setting (comment_max_chars, below the schema's fixed maxLength): 413 beyond it.
COMMENTS_EXPECT = '["2xx", "3xx", 400, 401, 403, 404, 409, 413, 429]'


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`paperfeed serve` on a free loopback port over the web test store; yields (base URL, settings)."""
    settings = build_store(tmp_path_factory.mktemp("fuzz"))
    with open_store(settings.db) as store:  # people decided, as the after-ingest pipeline leaves a store
        refresh_identities(store)
    port = free_port()
    with serving(settings, port) as base:
        yield base, settings


def _sign_in(base: str, settings) -> dict[str, str]:
    """Sign an account in as a browser would; return the values of the three security schemes."""
    with open_store(settings.db) as store:
        Accounts(store).create("fuzz@example.org", "fuzzing is fun")
    with httpx.Client(base_url=base) as client:
        csrf = client.get("/").cookies["pf_csrf"]
        token = csrf_token(settings.secret_key.encode(), csrf)
        response = client.post("/login", data={"email": "fuzz@example.org", "password": "fuzzing is fun",
                                                "csrf_token": token}, headers={"Cookie": f"pf_csrf={csrf}"})
        assert response.status_code == 303, response.text
        session = response.cookies["pf_session"]
        me = client.get("/api/v1/me", headers={"Cookie": f"pf_csrf={csrf}; pf_session={session}"}).json()
        assert me["csrf_token"] == csrf_token(settings.secret_key.encode(), csrf, session)
    return {"session": session, "csrfCookie": csrf, "csrfToken": me["csrf_token"]}


def _known(base: str, item_id: int) -> dict[str, list]:
    """Values that exist in the store, per path or query parameter: random ones would only ever meet 404."""
    item = httpx.get(f"{base}/api/v1/items/{item_id}", params={"similar": 0}).json()
    link = item["author_links"][0]
    known = {"reference": [str(item_id), KNOWN_ARXIV], "item_id": [item_id], "slug": [TOPIC_SLUG],
             "author_id": [link["author_id"]], "name": [item["authors"][0]],
             "q": ["transformer", "attention author:Vaswani"]}
    if link.get("id") is not None:  # the person the name stands for, once people are decided
        known["person_id"] = [link["id"]]
    return known


def _config(known: dict[str, list], auth: dict[str, str] | None) -> str:
    """schemathesis.toml: the seed and bound, real values mixed into half the generated ones, the expected
    statuses of the change operations, and the security schemes' values when signed in."""
    lines = [f"seed = {SEED}", "[generation]", f"max-examples = {MAX_EXAMPLES}"]
    for name, values in known.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}",
                  f"[parameters.{name}]", f'dictionary = "{name}"', "probability = 0.5"]
    lines += ["[[operations]]", 'include-tag = "comments"', 'exclude-method = "GET"',
              f"checks.positive_data_acceptance.expected-statuses = {COMMENTS_EXPECT}",
              "[[operations]]", 'include-method = "POST"',
              f"checks.positive_data_acceptance.expected-statuses = {CHANGES_EXPECT}"]
    for scheme, value in (auth or {}).items():
        lines += [f"[auth.openapi.{scheme}]", f'api_key = "{value}"']
    return "\n".join(lines) + "\n"


def _fuzz(base: str, tmp_path, config: str, *selection: str) -> int:
    """Run Schemathesis with ``config``; fail with its report unless every case passed; return the case count."""
    (tmp_path / "schemathesis.toml").write_text(config, encoding="utf-8")
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(tmp_path / "schemathesis.toml"),
               "--no-color", "run", f"{base}/openapi.json", "--checks", "all",
               "--phases", "examples,coverage,fuzzing", "--no-shrink", "--continue-on-failure", *selection]
    # cwd: Schemathesis keeps its Hypothesis database and reports under the working directory.
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-20000:]
    summary = output.split("SUMMARY")[-1]
    counted = re.search(r"(\d+) generated, (\d+) passed", summary)
    assert counted and counted.group(1) == counted.group(2) and "failure" not in summary, output[-20000:]
    return int(counted.group(1))


@pytest.fixture(scope="module")
def known(server) -> dict[str, list]:
    base, settings = server
    with open_store(settings.db) as store:
        return _known(base, store.find_item(KNOWN_ARXIV))


def test_fuzz_anonymous(server, known, tmp_path):
    base, _ = server
    assert _fuzz(base, tmp_path, _config(known, None)) > 400  # all 18 operations tested, none skipped


def test_fuzz_signed_in(server, known, tmp_path):
    base, settings = server
    cases = _fuzz(base, tmp_path, _config(known, _sign_in(base, settings)), "--include-tag", "account",
                  "--include-tag", "comments")
    assert cases > 250  # the 7 signed-in operations and the 5 of comments
