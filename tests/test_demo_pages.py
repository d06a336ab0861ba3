"""The demo as a visitor sees it, in a real browser: the bundled corpus built by `make demo`'s steps, served,
browsed, subscribed to. These pages are also the README's screenshots: `make screenshots` runs this file with
$PAPERFEED_SCREENSHOT_DIR=docs/screenshots (otherwise they go to a temporary folder)."""

from __future__ import annotations

import email
import email.policy
import sqlite3
import sys

import pytest

from paperfeed.config import Settings

from live_server import free_port, serving
from test_demo import MAKE, _make
from test_web_browser import Watched, _NO_BROWSER
from test_web_browser import browser, shots  # noqa: F401  (the same module fixtures: one Chromium, one folder)

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(_NO_BROWSER, reason="needs Debian's chromium (make install)"),
              pytest.mark.skipif(MAKE is None, reason="needs make")]

MATH_ABSTRACT = "$\\mathbb{S}^{d-1}$"  # in the abstract of "Semantic Grounding Index: …" (demo/data listings)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`make demo`, in a temporary folder: the demo-data steps, then the server as the demo target starts it."""
    folder = tmp_path_factory.mktemp("demo")
    db = folder / "demo.db"
    built = _make("-o", "venv", "demo-data", f"DEMO_DB={db}", f"PAPERFEED={sys.executable} -m paperfeed")
    assert built.returncode == 0, built.stdout + built.stderr
    settings = Settings.load(db=str(db), secret_key="demo-pages-key")
    outbox = folder / "outbox"
    port = free_port()
    with serving(settings, port, {"PAPERFEED_MAIL_OUTBOX": str(outbox), "PAPERFEED_EMBEDDER": "wordllama",
                                  "PAPERFEED_DIGEST_FROM": "digest@paperfeed.example.org"}) as base:
        yield base, db, outbox


def test_the_demo_pages(demo, browser, shots):
    base, db, outbox = demo
    with sqlite3.connect(db) as connection:
        math_item, = connection.execute("SELECT id FROM items WHERE instr(abstract, ?) > 0",
                                        (MATH_ABSTRACT,)).fetchone()
    context = browser.new_context(viewport={"width": 1280, "height": 860}, device_scale_factor=1)
    page = context.new_page()
    watched = Watched(page)
    try:
        page.goto(base + "/")
        assert page.locator("main a[href^='/items/']").count() >= 5
        page.screenshot(path=str(shots / "daily.png"))
        page.goto(base + "/topics")
        page.locator("main a[href^='/topics/']").first.click()
        page.wait_for_url("**/topics/*")
        page.screenshot(path=str(shots / "topic.png"))
        page.goto(f"{base}/items/{math_item}")
        page.wait_for_selector(".abstract .katex")  # the demo's TeX, rendered
        assert MATH_ABSTRACT not in page.locator(".abstract").inner_text()
        page.screenshot(path=str(shots / "item.png"))
        page.goto(base + "/search?q=diffusion+models")
        assert page.locator("p.total").inner_text().endswith("shown")  # "N results, 1–20 shown"
        assert page.locator("p.note").count() == 0  # no index is behind the store, semantic one included
        assert page.locator("h2#results-h").inner_text().startswith("Results (hybrid")
        page.screenshot(path=str(shots / "search.png"))
        page.locator("main ol.items a[href^='/items/']").first.click()
        page.locator("main a[href^='/people/']").first.click()
        page.wait_for_url("**/people/*")
        page.screenshot(path=str(shots / "author.png"))
        page.goto(base + "/docs")
        page.screenshot(path=str(shots / "api-docs.png"))
        # Subscribing on the demo: the confirmation goes to the outbox the demo names, not to "try again later".
        page.goto(base + "/")
        page.fill("#subscribe-email", "visitor@example.org")
        page.click("section.subscribe button[type=submit]")
        page.wait_for_selector("text=confirmation link is on its way")
        [written] = outbox.glob("*.eml")
        mail = email.message_from_bytes(written.read_bytes(), policy=email.policy.default)
        assert mail["To"] == "visitor@example.org" and "/digest/confirm?token=" in mail.get_body(("plain",)).get_content()
        assert not watched.problems, watched.problems
    finally:
        context.close()
    for name, options in (("daily-dark", {"viewport": {"width": 1280, "height": 860}, "color_scheme": "dark"}),
                          ("topic-phone", {"viewport": {"width": 375, "height": 760}, "is_mobile": True})):
        context = browser.new_context(device_scale_factor=1, **options)
        try:
            page = context.new_page()
            page.goto(base + ("/" if name == "daily-dark" else "/topics"))
            if name == "topic-phone":
                page.locator("main a[href^='/topics/']").first.click()
                page.wait_for_url("**/topics/*")
            page.screenshot(path=str(shots / f"{name}.png"))
        finally:
            context.close()
