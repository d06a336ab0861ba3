"""Daily Papers in a real browser: j / k move between the paper cards, o opens one; without script the page is
the same list of links. Debian's headless Chromium driven by Playwright against `paperfeed serve`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from live_server import free_port, serving
from web_data import build_store

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
                 "--disable-dev-shm-usage"]
_NO_BROWSER = not Path(CHROMIUM).exists() and not os.environ.get("PAPERFEED_REQUIRE_BROWSER")
pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(_NO_BROWSER, reason="needs Debian's chromium (make install)")]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    settings = build_store(tmp_path_factory.mktemp("dailybrowser"))
    with serving(settings, free_port()) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


def open_page(browser, **options):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **options)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return context, page, errors


def focused_card(page) -> str | None:
    return page.evaluate("() => document.activeElement.closest('[data-card]')?.id ?? null")


def test_j_and_k_move_between_cards_and_o_opens_the_current_one(server, browser):
    context, page, errors = open_page(browser)
    page.goto(server + "/")
    cards = page.locator("ol.cards li.card")
    ids = [cards.nth(n).get_attribute("id") for n in range(3)]
    assert page.locator(".keys-hint").is_visible()  # the script says which keys work
    page.keyboard.press("j")
    assert focused_card(page) == ids[0]
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert focused_card(page) == ids[2]
    assert page.locator(f"#{ids[2]}").evaluate("card => card.classList.contains('is-current')")
    page.keyboard.press("k")
    assert focused_card(page) == ids[1]
    # Typing in a field is typing: j does not move the cards.
    page.focus("#site-q")
    page.keyboard.type("jk")
    assert page.input_value("#site-q") == "jk" and focused_card(page) is None
    page.locator(f"#{ids[1]} a[data-open]").focus()
    title = page.locator(f"#{ids[1]} a[data-open]").inner_text()
    page.keyboard.press("o")
    page.wait_for_url("**/items/*")
    assert page.locator("h1").inner_text() == title
    assert not errors, errors
    context.close()


def test_without_script_the_cards_are_plain_links(server, browser):
    context, page, errors = open_page(browser, java_script_enabled=False)
    page.goto(server + "/")
    assert page.locator("ol.cards li.card").count() > 0
    assert not page.locator(".keys-hint").is_visible()
    first = page.locator("ol.cards li.card a[data-open]").first
    title = first.inner_text()
    first.click()
    page.wait_for_url("**/items/*")
    assert page.locator("h1").inner_text() == title
    context.close()
