"""The first run: `make demo`'s steps on the bundled corpus, search current at once, and mail into the outbox.

The demo's steps run through make itself (the `demo-data` target, with the venv step skipped and this
checkout's paperfeed), so the test follows the Makefile rather than a copy of it.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest

from paperfeed.config import Settings
from paperfeed.digest import DigestError, confirm, send_digests, subscribe
from paperfeed.digest.outbox import Outbox
from paperfeed.ingest import Ingester
from paperfeed.search import open_search
from paperfeed.storage import open_store

from datafiles import LISTING
from live_server import free_port, serving

ROOT = Path(__file__).parent.parent
MAKE = shutil.which("make")
needs_make = pytest.mark.skipif(MAKE is None, reason="needs make")


def _make(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([MAKE, "-C", str(ROOT), *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **env})


@needs_make
def test_demo_installs_nothing_with_apt_and_takes_the_port():
    planned = _make("-n", "demo", "PORT=8123", "VENV=/nonexistent-venv")
    assert planned.returncode == 0, planned.stderr
    assert "apt-get" not in planned.stdout and "sudo" not in planned.stdout
    assert "--port 8123" in planned.stdout and "PAPERFEED_BASE_URL=http://127.0.0.1:8123" in planned.stdout
    assert "PAPERFEED_MAIL_OUTBOX=demo/outbox" in planned.stdout
    # `make test` still gets the browser and the database server
    assert "chromium" in _make("-n", "install", "VENV=/nonexistent-venv").stdout


@needs_make
@pytest.mark.slow
def test_demo_steps_leave_search_current_and_subscribing_writes_to_the_outbox(tmp_path):
    db = tmp_path / "demo.db"
    # A leftover index of an earlier demo store must not survive into the new one.
    (tmp_path / "demo.db.search").mkdir()
    (tmp_path / "demo.db.search" / "stale").write_text("from an earlier run")
    paperfeed = f"{sys.executable} -m paperfeed"
    built = _make("-o", "venv", "demo-data", f"DEMO_DB={db}", f"PAPERFEED={paperfeed}", PAPERFEED_EMBEDDER="none")
    assert built.returncode == 0, built.stdout + built.stderr
    assert not (tmp_path / "demo.db.search" / "stale").exists()
    settings = Settings.load(db=str(db), embedder="none", secret_key="demo-test-key")
    with open_store(db) as store:
        [row] = store.db.rows("SELECT id, title FROM items WHERE kind = 'paper' ORDER BY id LIMIT 1")
        search = open_search(store, settings)
        assert search.behind("keyword") == {}
        words = " ".join(re.findall(r"[A-Za-z]{4,}", row[1])[:4])
        found = search.search(words, mode="keyword", limit=20)
        assert row[0] in [hit.id for hit in found.hits], (words, [hit.title for hit in found.hits])

    outbox = tmp_path / "outbox"
    port = free_port()
    with serving(settings, port, {"PAPERFEED_MAIL_OUTBOX": str(outbox),
                                  "PAPERFEED_DIGEST_FROM": "digest@paperfeed.example.org"}) as base:
        with httpx.Client(base_url=base, timeout=30) as client:
            home = client.get("/")
            token = re.search(r'name="csrf_token" value="([^"]+)"', home.text).group(1)
            # The cookie is Secure (browsers keep such cookies on loopback over plain HTTP; httpx does not).
            client.headers["Cookie"] = f"pf_csrf={home.cookies['pf_csrf']}"
            answer = client.post("/digest/subscribe", data={"email": "reader@example.org", "csrf_token": token})
            assert answer.status_code == 200 and "confirmation link is on its way" in answer.text
            [written] = sorted(outbox.glob("*.eml"))
            mail = email.message_from_bytes(written.read_bytes(), policy=email.policy.default)
            assert mail["To"] == "reader@example.org" and mail["Subject"] == "Confirm your paperfeed digest"
            link = re.search(rf"{re.escape(base)}(/digest/confirm\?token=\S+)",
                             mail.get_body(("plain",)).get_content()).group(1)
            shown = client.get(link)
            assert "Press the button to confirm." in shown.text
            done = client.post("/digest/confirm", data={"token": unquote(link.split("token=")[1]),
                                                         "csrf_token": token})
            assert done.status_code == 200 and "Subscribed: reader@example.org" in done.text
    assert not list(outbox.glob(".*.part"))


def test_outbox_takes_digests_and_says_when_the_folder_is_unusable(tmp_path):
    db = tmp_path / "store.db"
    settings = Settings.load(db=str(db), embedder="none", secret_key="k", digest_from="digest@paperfeed.example.org",
                             mail_outbox=str(tmp_path / "mail"))
    with open_store(db) as store:
        Ingester(store).ingest_paths([LISTING])
        for address in ("one@example.org", "two@example.org"):
            subscriber = subscribe(store, settings, address)
            confirmation = sorted((tmp_path / "mail").glob(f"*{address}*.eml"))[-1].read_text()
            from paperfeed.digest import tokens
            token = tokens.make_token(settings.secret_key, tokens.CONFIRM, subscriber.id, subscriber.email)
            assert "Confirm" in confirmation
            confirm(store, settings, token)
        day = date.fromisoformat(store.db.value("SELECT max(published) FROM items")[:10])
        report = send_digests(store, settings, day)
        assert sorted(report.sent) == ["one@example.org", "two@example.org"], report
        assert len(list((tmp_path / "mail").glob("*.eml"))) == 4  # two confirmations, two digests
        assert send_digests(store, settings, day).sent == []  # at most once a day, as over SMTP
        blocked = tmp_path / "a-file"
        blocked.write_text("not a folder")
        with pytest.raises(DigestError, match="mail_outbox"):
            subscribe(store, replace(settings, mail_outbox=str(blocked)), "three@example.org")


def test_outbox_never_overwrites(tmp_path):
    from email.message import EmailMessage

    box = Outbox(tmp_path)
    for _ in range(3):
        message = EmailMessage()
        message["To"] = "../../etc/passwd@example.org"
        message.set_content("hello")
        box.send_message(message)
    assert len(set(box.written)) == 3 and all(path.parent == tmp_path for path in box.written)


@pytest.mark.slow
def test_serve_names_the_outbox_when_it_starts(tmp_path):
    port = free_port()
    env = {**os.environ, "PAPERFEED_MAIL_OUTBOX": str(tmp_path / "outbox"), "PAPERFEED_EMBEDDER": "none",
           "PAPERFEED_SYNC_INTERVAL": "0"}
    process = subprocess.Popen([sys.executable, "-m", "paperfeed", "--db", str(tmp_path / "s.db"), "serve",
                                "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    try:
        lines = [process.stderr.readline() for _ in range(2)]
    finally:
        process.terminate()
        process.wait(10)
    assert f"is written to {tmp_path / 'outbox'}/ as .eml files" in lines[1], lines
