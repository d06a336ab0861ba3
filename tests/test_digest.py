"""Digests end to end against a real SMTP server (aiosmtpd on 127.0.0.1) and the real link endpoints."""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import signal
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import date
from wsgiref.simple_server import WSGIRequestHandler, make_server

import httpx
import pytest
from click.testing import CliRunner

from paperfeed.cli import cli
from paperfeed.config import Settings
from paperfeed.digest import DigestError, confirm, send_digests, subscribe
from paperfeed.digest.links import make_app
from paperfeed.ingest import Ingester
from paperfeed.library import Accounts, save_item
from paperfeed.storage import open_store

from datafiles import DATA
from smtp_server import SMTPServer, free_port

DAILY = DATA / "daily"
DAY = date(2026, 2, 27)


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def smtp():
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def world(backend_url, smtp):
    """A store with two real days, settings pointing at the SMTP server, and the link endpoints served."""
    db = backend_url
    with open_store(db) as store:
        Ingester(store).ingest_paths([DAILY / "2026-02-26.jsonl", DAILY / "2026-02-27.jsonl",
                                      DAILY / "hf_2026-02-26.json", DAILY / "hf_2026-02-27.json"])
    port = free_port()
    settings = replace(Settings.load(db=str(db)), smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_security="none",
                       digest_from="digest@paperfeed.example.org", base_url=f"http://127.0.0.1:{port}",
                       embedder="none", secret_key="")
    web = make_server("127.0.0.1", port, make_app(lambda: open_store(db), settings), handler_class=_Quiet)
    thread = threading.Thread(target=web.serve_forever, daemon=True)
    thread.start()
    store = open_store(db)
    yield store, settings, smtp.handler
    store.close()
    web.shutdown()
    web.server_close()


def link(message, pattern: str) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(pattern, text).group(0)


def subscribe_and_confirm(store, settings, handler, email: str, user: str | None = None) -> None:
    subscribe(store, settings, email, user)
    url = link(handler.to(email)[-1], r"http://\S+/digest/confirm\?token=\S+")
    page = httpx.get(url)
    assert page.status_code == 200 and "<form method=\"post\"" in page.text  # GET changes nothing
    assert store.subscriber(store.subscribers()[-1].id).status == "pending"
    token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
    done = httpx.post(url.split("?")[0], data={"token": token})
    assert done.status_code == 200 and "Subscribed" in done.text


def test_subscribe_confirm_receive_and_one_click_unsubscribe(world):
    store, settings, handler = world
    Accounts(store).create("ada@example.org", "correct horse battery")
    for reference in ("2602.22897", "2602.23258", "2602.22675"):
        save_item(store, store.user_by_email("ada@example.org").id, reference, ["agents"])
    subscribe_and_confirm(store, settings, handler, "ada@example.org", user="ada@example.org")
    assert [s.status for s in store.subscribers()] == ["active"]

    report = send_digests(store, settings, DAY)
    assert report.sent == ["ada@example.org"] and report.papers > 10
    message = handler.to("ada@example.org")[-1]
    assert message["Subject"] == "Trending papers, 2026-02-27"
    assert message["From"] == "paperfeed <digest@paperfeed.example.org>"
    assert message["Message-ID"] == "<digest-2026-02-27-1@127.0.0.1>"
    # RFC 8058 on the bytes as they arrived: one plain line each, no RFC 2047 encoded words, no folding.
    header = handler.raw_to("ada@example.org")[-1].replace(b"\r\n", b"\n").split(b"\n\n", 1)[0] + b"\n"
    assert b"\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\n" in header
    found = re.search(rb"\nList-Unsubscribe: <(http://127\.0\.0\.1:\d+/digest/unsubscribe\?token=[\w.%=-]+)>"
                      rb"\n(?![ \t])", header)
    assert found, header.decode()
    unsubscribe_url = found.group(1).decode()
    assert message["List-Unsubscribe"] == f"<{unsubscribe_url}>"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    top = "The Trinity of Consistency as a Defining Principle for General World Models"
    assert text.index(top) < text.index("From Blind Spots to Gains")  # ranked by trending score
    assert top in html and "https://arxiv.org/abs/2602.23152" in html and "https://arxiv.org/abs/2602.23152" in text
    assert 'For your tag "agents":' in text and "matches your 'agents' papers on" in text
    assert unsubscribe_url in text and unsubscribe_url.replace("&", "&amp;") in html

    # RFC 8058: the mail client POSTs List-Unsubscribe=One-Click to the header's URL.
    response = httpx.post(unsubscribe_url, content=b"List-Unsubscribe=One-Click",
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200 and "Unsubscribed" in response.text
    assert store.subscribers()[0].status == "unsubscribed"
    assert send_digests(store, settings, date(2026, 2, 26)).sent == []


HOSTILE_URLS = ["javascript:alert(1)", "JaVaScRiPt:alert(2)", " javascript:alert(3)", "java\tscript:alert(4)",
                "data:text/html,<script>alert(5)</script>", "DATA:text/html;base64,PHNjcmlwdD4=", "vbscript:msgbox(6)",
                "//evil.example/7", "https://ok.example/a b\nInjected line", "https:///no-host"]


def test_only_http_links_reach_a_digest(world, tmp_path):
    store, settings, handler = world
    records = [{"id": f"hostile-{n}", "title": f"Hostile link paper {n}", "authors": ["Eve Example"], "url": url,
                "date": DAY.isoformat()} for n, url in enumerate(HOSTILE_URLS)]
    records.append({"id": "fine", "title": "A paper with a fine link", "authors": ["Ada Example"],
                    "url": "https://ok.example/paper?x=1", "date": DAY.isoformat()})
    hostile = tmp_path / "hostile.jsonl"
    hostile.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    assert not Ingester(store).ingest_paths([hostile]).failed
    subscribe_and_confirm(store, settings, handler, "a@example.org")
    settings = replace(settings, digest_size=1000)  # every paper of the day, the hostile ones included

    assert send_digests(store, settings, DAY).sent == ["a@example.org"]
    message = email.message_from_bytes(handler.raw_to("a@example.org")[-1], policy=email.policy.default)
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = message.get_body(("html",)).get_content().replace("\r\n", "\n")
    hrefs = re.findall(r'<a href="([^"]*)"', html)
    assert len(hrefs) > len(records) and all(re.match(r"https?://[^/\s]", href) for href in hrefs), hrefs
    links = re.findall(r"^ +(\S.*)$", text, re.MULTILINE)[1::2]  # each entry: authors, then its link
    assert all(re.fullmatch(r"https?://\S+", link) for link in links), links
    for needle in ("script:", "data:", "evil.example", "Injected", "no-host"):
        assert needle not in text.lower() and needle not in html.lower(), needle
    own = f"{settings.base_url}/items/"
    for number in range(len(HOSTILE_URLS)):  # a refused link falls back to the paper's page here
        title = f"Hostile link paper {number}"
        assert re.search(rf"{title}\n   Eve Example\n   {re.escape(own)}\d+\n", text), title
        assert re.search(rf'<a href="{re.escape(own)}\d+">{title}</a>', html), title
    assert "A paper with a fine link\n   Ada Example\n   https://ok.example/paper?x=1\n" in text
    assert '<a href="https://ok.example/paper?x=1">A paper with a fine link</a>' in html


@pytest.mark.parametrize("base_url", ["https://bücher.example", "https://example.org/" + "x" * 1000])
def test_a_base_url_that_cannot_make_a_one_line_unsubscribe_header_is_refused(world, base_url):
    store, settings, handler = world
    subscribe_and_confirm(store, settings, handler, "a@example.org")
    handler.clear()
    with pytest.raises(DigestError, match=r"base_url .*must be ASCII and fit one header line of 998 characters"):
        send_digests(store, replace(settings, base_url=base_url), DAY)
    assert handler.messages == [] and store.digest_status(store.subscribers()[0].id, DAY.isoformat()) is None


def test_rerun_sends_nothing_twice_and_a_refused_mail_is_retried(world):
    store, settings, handler = world
    for name in ("a", "b", "c"):
        subscribe_and_confirm(store, settings, handler, f"{name}@example.org")
    handler.clear()
    handler.refuse_next("451 4.3.0 try again later")  # the first digest of the run is refused
    first = send_digests(store, settings, DAY)
    assert len(first.refused) == 1 and first.sent == ["b@example.org", "c@example.org"]
    second = send_digests(store, settings, DAY)
    assert second.sent == ["a@example.org"] and second.skipped == ["b@example.org", "c@example.org"]
    assert sorted(m["To"] for m in handler.messages) == ["a@example.org", "b@example.org", "c@example.org"]


def test_two_digest_jobs_at_once_send_each_subscriber_one_mail(world):
    store, settings, handler = world
    for name in ("a", "b", "c", "d"):
        subscribe_and_confirm(store, settings, handler, f"{name}@example.org")
    handler.clear()
    barrier, reports, errors = threading.Barrier(2), [], []

    def job() -> None:
        try:
            with open_store(settings.db) as own:  # each job its own connection, as two cron hosts would have
                barrier.wait(timeout=30)
                reports.append(send_digests(own, settings, DAY))
        except BaseException as error:  # noqa: BLE001 - asserted below
            errors.append(error)

    jobs = [threading.Thread(target=job) for _ in range(2)]
    for thread in jobs:
        thread.start()
    for thread in jobs:
        thread.join(120)
    assert not errors, errors
    sent = [address for report in reports for address in report.sent]
    assert sorted(sent) == ["a@example.org", "b@example.org", "c@example.org", "d@example.org"]
    assert sorted(m["To"] for m in handler.messages) == sorted(sent)  # nobody got the day twice
    assert {store.digest_status(s.id, DAY.isoformat()) for s in store.subscribers()} == {"sent"}


def test_no_mail_on_a_day_with_nothing_new(world):
    store, settings, handler = world
    subscribe_and_confirm(store, settings, handler, "a@example.org")
    before = len(handler.messages)
    report = send_digests(store, settings, date(2026, 2, 28))
    assert report.nothing_new and report.sent == [] and len(handler.messages) == before


@pytest.mark.parametrize("address, reason", [
    ("victim@example.org\r\nBcc: everyone@example.org", "line break"),
    ("victim@example.org\nSubject: spam", "line break"),
    ("not an address", "not a valid e-mail address"),
    ("a@b", "not a valid e-mail address"),
])
def test_header_injection_and_malformed_addresses_are_refused(world, address, reason):
    store, settings, handler = world
    with pytest.raises(DigestError, match=reason):
        subscribe(store, settings, address)
    assert handler.messages == [] and store.subscribers() == []
    result = CliRunner().invoke(cli, ["--db", settings.db, "digest", "subscribe", address],
                                env={"PAPERFEED_DIGEST_FROM": "digest@paperfeed.example.org"})
    assert result.exit_code == 1 and reason in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_forged_or_misused_tokens_are_refused(world):
    store, settings, handler = world
    subscribe(store, settings, "a@example.org")
    token = link(handler.to("a@example.org")[-1], r"token=\S+").removeprefix("token=")
    from urllib.parse import unquote

    token = unquote(token)
    with pytest.raises(DigestError, match="signature"):
        confirm(store, settings, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    with pytest.raises(DigestError, match="not a unsubscribe token"):
        from paperfeed.digest import unsubscribe

        unsubscribe(store, settings, token)
    assert confirm(store, settings, token).status == "active"


def test_cli_send_preview_and_missing_sender(world, tmp_path):
    store, settings, handler = world
    subscribe_and_confirm(store, settings, handler, "a@example.org")
    env = {"PAPERFEED_SMTP_HOST": "127.0.0.1", "PAPERFEED_SMTP_PORT": str(settings.smtp_port),
           "PAPERFEED_SMTP_SECURITY": "none", "PAPERFEED_BASE_URL": settings.base_url, "PAPERFEED_EMBEDDER": "none"}
    runner, db = CliRunner(), settings.db
    result = runner.invoke(cli, ["--db", db, "digest", "send", "--date", "2026-02-27"], env=env)
    assert result.exit_code == 1 and "digest_from" in result.output and "Traceback" not in result.output
    env["PAPERFEED_DIGEST_FROM"] = "digest@paperfeed.example.org"
    result = runner.invoke(cli, ["--db", db, "digest", "send", "--date", "2026-02-27"], env=env)
    assert result.exit_code == 0 and "sent 1, already sent 0" in result.output
    result = runner.invoke(cli, ["--db", db, "digest", "send", "--date", "2026-02-27"], env=env)
    assert "sent 0, already sent 1" in result.output
    assert runner.invoke(cli, ["--db", db, "digest", "send", "--date", "2026-02-28"], env=env).output.strip() \
        == "2026-02-28: no papers, no mail sent"
    out = tmp_path / "preview.html"
    result = runner.invoke(cli, ["--db", db, "digest", "preview", "--date", "2026-02-27", "-o", str(out)], env=env)
    assert result.exit_code == 0 and "The Trinity of Consistency" in out.read_text()


@pytest.mark.slow
def test_a_send_killed_mid_transaction_and_rerun_delivers_no_duplicate(world):
    store, settings, handler = world
    for name in ("a", "b", "c"):
        subscribe_and_confirm(store, settings, handler, f"{name}@example.org")
    handler.clear()
    handler.stored.clear()  # set by the confirmation mails
    env = {**os.environ, "PAPERFEED_SMTP_HOST": "127.0.0.1", "PAPERFEED_SMTP_PORT": str(settings.smtp_port),
           "PAPERFEED_SMTP_SECURITY": "none", "PAPERFEED_BASE_URL": settings.base_url,
           "PAPERFEED_EMBEDDER": "none", "PAPERFEED_DIGEST_FROM": "digest@paperfeed.example.org"}
    command = [sys.executable, "-m", "paperfeed", "--db", settings.db, "digest", "send", "--date", "2026-02-27"]
    handler.hang_after_store = 30.0  # the server takes the first mail, then keeps the sender waiting for "250"
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert handler.stored.wait(30)
    process.send_signal(signal.SIGKILL)  # a crash while the SMTP transaction is open
    process.wait(10)
    handler.hang_after_store = 0.0
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    assert "sent 2, already sent 0, in doubt 1" in rerun.stdout and "a@example.org" in rerun.stderr
    assert sorted(m["To"] for m in handler.messages) == ["a@example.org", "b@example.org", "c@example.org"]


def _token(handler, email: str) -> str:
    """The token of the confirmation link mailed to ``email`` (as its URL carries it)."""
    from urllib.parse import parse_qs, urlsplit

    url = link(handler.to(email)[-1], r"http://\S+/digest/confirm\?token=\S+")
    return parse_qs(urlsplit(url).query)["token"][0]


def test_weekly_subscribers_get_the_weeks_digest_once_and_no_daily_one(world):
    store, settings, handler = world
    subscribe(store, settings, "weekly@example.org", frequency="weekly")
    subscribe_and_confirm(store, settings, handler, "daily@example.org")
    pending = [s for s in store.subscribers() if s.email == "weekly@example.org"][0]
    confirm(store, settings, _token(handler, "weekly@example.org"))
    assert {s.email: s.frequency for s in store.subscribers("active")} == {"weekly@example.org": "weekly",
                                                                           "daily@example.org": "daily"}
    assert pending.frequency == "weekly"

    daily = send_digests(store, settings, DAY)
    assert daily.sent == ["daily@example.org"]
    weekly = send_digests(store, settings, DAY, span="week")
    assert weekly.sent == ["weekly@example.org"] and weekly.day == "week:2026-02-23"
    message = handler.to("weekly@example.org")[-1]
    assert message["Subject"] == "Trending papers, week of 2026-02-23"
    text = message.get_body(("plain",)).get_content()
    assert "papers in the week of 2026-02-23" in text and "/papers/2026-02-23?span=week" in text
    assert weekly.papers > daily.papers  # two days of papers, not one
    assert send_digests(store, settings, DAY, span="week").sent == []  # once a week, however often it runs
    assert len(handler.to("weekly@example.org")) == 2  # the confirmation and the one digest
    # A form anyone can post does not change an active subscriber's frequency.
    subscribe(store, settings, "daily@example.org", frequency="weekly")
    assert {s.email: s.frequency for s in store.subscribers("active")}["daily@example.org"] == "daily"
    with pytest.raises(DigestError, match="daily or weekly"):
        subscribe(store, settings, "x@example.org", frequency="hourly")


def test_cli_sends_the_weekly_digest(world):
    store, settings, handler = world
    subscribe(store, settings, "weekly@example.org", frequency="weekly")
    confirm(store, settings, _token(handler, "weekly@example.org"))
    env = {"PAPERFEED_SMTP_HOST": "127.0.0.1", "PAPERFEED_SMTP_PORT": str(settings.smtp_port),
           "PAPERFEED_SMTP_SECURITY": "none", "PAPERFEED_DIGEST_FROM": settings.digest_from,
           "PAPERFEED_BASE_URL": settings.base_url, "PAPERFEED_EMBEDDER": "none"}
    result = CliRunner().invoke(cli, ["--db", str(settings.db), "digest", "send", "--date", "2026-02-27", "--week"],
                                env=env)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("week:2026-02-23: ") and "sent 1" in result.output
