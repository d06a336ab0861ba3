"""Comments in a real browser: sign in, post through the item page's form, see the Markdown rendered and a script
typed into the comment stay text, edit it without any script of ours, delete it (headless Chromium, `paperfeed
serve`)."""

from __future__ import annotations

import pytest

from paperfeed.library import Accounts
from paperfeed.storage import open_store

from live_server import free_port, serving
from test_web_browser import _NO_BROWSER, CHROMIUM, CHROMIUM_ARGS
from web_data import KNOWN_ARXIV, build_store

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(_NO_BROWSER, reason="needs Debian's chromium (make install)")]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    settings = build_store(tmp_path_factory.mktemp("comments-browser"))
    with open_store(settings.db) as store:
        Accounts(store).create("reader@example.org", "reader-pass-1")
        item_id = store.find_item(KNOWN_ARXIV)
    with serving(settings, free_port()) as base:
        yield base, item_id


def test_post_edit_and_delete_a_comment_through_the_form(server, tmp_path):
    from playwright.sync_api import sync_playwright

    base, item_id = server
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{base}/items/{item_id}")
        assert page.locator("#comments").inner_text().count("Sign in to comment") == 1
        page.click("#comments >> text=Sign in to comment")
        page.fill("#email", "reader@example.org")
        page.fill("#password", "reader-pass-1")
        page.click("form.account-form button[type=submit]")
        page.wait_for_url(f"**/items/{item_id}#comments")

        page.fill("#comment-text", "A **solid** result; see [the code](https://example.org/code).\n\n"
                                   "<script>window.__comment_xss = 1</script>")
        page.click("form.comment-form button[type=submit]")
        page.wait_for_selector("li.comment")
        comment = page.locator("li.comment").first
        assert comment.locator("strong", has_text="solid").count() == 1
        link = comment.locator(".comment-body a")
        assert link.get_attribute("href") == "https://example.org/code"
        assert link.get_attribute("rel") == "nofollow noopener ugc"
        assert "<script>window.__comment_xss = 1</script>" in comment.locator(".comment-body").inner_text()
        assert page.evaluate("window.__comment_xss") is None  # shown as text, never run
        assert "reader (you)" in comment.locator(".comment-meta").inner_text()

        comment.locator("summary", has_text="Edit").click()  # <details>: no script needed
        comment.locator("textarea").fill("Edited: *still* solid.")
        comment.locator("button", has_text="Save changes").click()
        page.wait_for_selector("li.comment em")
        assert page.locator("li.comment .comment-body").inner_text() == "Edited: still solid."
        assert "edited" in page.locator("li.comment .comment-meta").inner_text()
        comment.screenshot(path=str(tmp_path / "comments.png"))

        page.locator("li.comment button", has_text="Delete").click()
        page.wait_for_selector("text=No comments yet.")
        assert page.locator("li.comment").count() == 0
        assert not errors, errors
        browser.close()
