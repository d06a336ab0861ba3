"""The web app in a real browser: Debian's headless Chromium driven by Playwright against `paperfeed serve`.

Screenshots go to a temporary folder, or to $PAPERFEED_SCREENSHOT_DIR when set (`make screenshots` writes
docs/screenshots/ that way).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from paperfeed.library import Accounts, save_item
from paperfeed.storage import open_store

from smtp_server import SMTPServer
from live_server import free_port, serving
from web_data import KNOWN_ARXIV, KNOWN_TITLE, TOPIC_SLUG, XSS_ARXIV, build_store

READER = "reader@example.org"
MATH_ARXIV = "2602.23163"  # its abstract has "$\\mathcal{V}$" (titles keep no TeX: normalize.py makes it Unicode)
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"  # axe-core 4.14.1 (MPL-2.0), test-only

CHROMIUM = "/usr/bin/chromium"
# No network beyond loopback here: without these Chromium keeps trying Google's services at every start.
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-default-apps", "--disable-extensions", "--metrics-recording-only",
                 "--no-default-browser-check", "--disable-dev-shm-usage"]

# `make test` installs Chromium and sets PAPERFEED_REQUIRE_BROWSER, so there a missing browser fails
# the run instead of skipping it; a bare `pytest` on a machine without Chromium skips these.
_NO_BROWSER = not Path(CHROMIUM).exists() and not os.environ.get("PAPERFEED_REQUIRE_BROWSER")
pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(_NO_BROWSER, reason="needs Debian's chromium (make install)")]


@pytest.fixture(scope="module")
def smtp():
    """A real SMTP server on loopback, for the subscribe box's confirmation mail."""
    mail = SMTPServer().start()
    yield mail
    mail.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The web test store, with an account that has saved a paper under a tag (its library has content)."""
    settings = build_store(tmp_path_factory.mktemp("browser"))
    with open_store(settings.db) as store:
        accounts = Accounts(store)
        user_id = accounts.create(READER, "reader-pass-1")
        save_item(store, user_id, KNOWN_ARXIV, ["geometry"])
        session = accounts.open_session(user_id)
    return settings, session


@pytest.fixture(scope="module")
def server(site, smtp):
    """`paperfeed serve` on a free loopback port, over the web test store."""
    settings, _ = site
    port = free_port()
    with serving(settings, port, {"PAPERFEED_SMTP_HOST": "127.0.0.1", "PAPERFEED_SMTP_PORT": str(smtp.port),
                                  "PAPERFEED_SMTP_SECURITY": "none",
                                  "PAPERFEED_DIGEST_FROM": "digest@paperfeed.example.org"}) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


class Watched:
    """What a page did wrong while a test drove it: script errors, console errors (CSP refusals among them),
    a sub-resource (stylesheet, script, font, icon) that failed, and any request beyond loopback (no CDN)."""

    def __init__(self, page) -> None:
        self.problems: list[str] = []
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        page.on("console", self._console)
        page.on("response", self._response)
        page.route("**/*", self._guard)

    def _console(self, message) -> None:
        # A page answering 4xx (the 404 page) makes Chromium log its own document's status: that is no fault.
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.problems.append(f"console: {message.text}")

    def _response(self, response) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            self.problems.append(f"{response.status} for {response.url}")

    def _guard(self, route) -> None:
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "data:")):
            route.continue_()
        else:
            self.problems.append(f"outside request: {url}")
            route.abort()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    opened = context.new_page()
    watched = Watched(opened)
    yield opened
    assert not watched.problems, watched.problems
    context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    wanted = os.environ.get("PAPERFEED_SCREENSHOT_DIR")
    folder = Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_browse_search_to_item_to_author(server, page, shots):
    page.goto(server + "/")
    page.fill("#site-q", "quadrifocal tensor")
    page.press("#site-q", "Enter")
    page.wait_for_url("**/search?q=quadrifocal*")
    assert page.locator("ol.items li.item").count() >= 1
    assert page.locator("ol.items mark").count() >= 1
    page.screenshot(path=str(shots / "search.png"), full_page=False)
    page.click(f"text={KNOWN_TITLE}")
    page.wait_for_url("**/items/*")
    assert page.locator("h1").inner_text() == KNOWN_TITLE
    assert page.locator("table.sources tbody tr").count() >= 1
    assert "eprint = {" + KNOWN_ARXIV + "}" in page.locator("pre.bibtex").inner_text()
    page.screenshot(path=str(shots / "item.png"), full_page=False)
    page.click("p.authors a >> text=Gilad Lerman")
    page.wait_for_url("**/authors/*")
    assert page.locator("h1").inner_text() == "Gilad Lerman"
    assert page.locator(f"text={KNOWN_TITLE}").count() == 1
    page.screenshot(path=str(shots / "author.png"), full_page=False)


def test_browse_daily_to_topic_to_item(server, page, shots):
    page.goto(server + "/")
    assert page.locator("h1").inner_text() == "Daily Papers"
    page.screenshot(path=str(shots / "daily.png"), full_page=False)
    page.click("nav.dates a[rel=prev]")  # date navigation to the Hugging Face day
    page.wait_for_url("**/papers/2024-05-27")
    assert page.locator("ol.cards li.card").count() > 0
    page.click("header nav >> text=Topics")
    page.click("text=Large Language Model")
    page.wait_for_url(f"**/topics/{TOPIC_SLUG}")
    assert page.locator("h2#authors-h").inner_text() == "Collaborating Authors"
    assert page.locator("text=arXiv.org Machine Learning").count() >= 1
    # the trend chart is drawn into the page, with a text alternative
    assert page.locator("figure.trend svg[role=img]").count() == 1
    assert "items per week" in page.locator("figure.trend svg title").first.text_content()
    page.screenshot(path=str(shots / "topic.png"), full_page=False)
    first = page.locator("ol.items li.item h3 a").first
    title = first.inner_text()
    first.click()
    page.wait_for_url("**/items/*")
    assert page.locator("h1").inner_text() == title


def test_search_filters_in_the_form(server, page):
    page.goto(server + "/search")
    page.fill("#q", "trump")
    page.select_option("#kind", "news")
    page.select_option("#mode", "keyword")
    page.click("form.search-form button[type=submit]")
    page.wait_for_url("**/search?*kind=news*")
    badges = page.locator("ol.items li.item .badge.news")
    assert badges.count() == page.locator("ol.items li.item").count() > 0


def test_xss_payload_in_a_title_stays_inert(server, page):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{server}/items/{XSS_ARXIV}")
    page.wait_for_load_state("load")
    heading = page.locator("h1").inner_text()
    assert heading.startswith("<script>window.__xss = 1</script>Adversarial <img")
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("main script, main img, main iframe").count() == 0
    page.goto(f"{server}/search?q=adversarial+titles+transformer")
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("main script, main img[src=x]").count() == 0
    assert not dialogs


def test_keyboard_skip_link_and_focus(server, page):
    page.goto(server + "/topics")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    page.keyboard.press("Tab")
    # the next Tab lands inside the main content, past the header's links
    assert page.evaluate("document.activeElement.closest('main') !== null")


CHART_TEXT = """svg => {
  const box = svg.getBoundingClientRect();
  return [...svg.querySelectorAll('text')].map(text => {
    const r = text.getBoundingClientRect();
    return {text: text.textContent, size: parseFloat(getComputedStyle(text).fontSize), left: r.left, right: r.right,
            top: r.top, height: r.height, tick: text.classList.contains('tick'), svgLeft: box.left,
            svgRight: box.right, svgWidth: box.width};
  });
}"""


@pytest.fixture(scope="module")
def trend_server(tmp_path_factory):
    """`paperfeed serve` over a store whose one topic has dated items over months: the three real Hugging Face
    days of tests/data/hf (May 2024, December 2024, January 2025), every paper filed under "Trend Test"."""
    from paperfeed.config import Settings
    from paperfeed.ingest import Ingester
    from paperfeed.storage import TagResult, TopicRow, open_store

    from datafiles import DATA

    directory = tmp_path_factory.mktemp("trend")
    settings = Settings.load(db=str(directory / "store.db"), embedder="none", secret_key="test-secret-key")
    with open_store(settings.db) as store:
        assert not Ingester(store).ingest_paths([DATA / "hf"]).failed
        topic_id = store.save_topics([TopicRow(name="Trend Test", origin="user")])["Trend Test"]
        rows = store.read_rows("SELECT id, updated_at FROM items ORDER BY id")
        store.write_tags("test", [TagResult(item_id, updated, topics=[(topic_id, 0.9)]) for item_id, updated in rows])
    with serving(settings, free_port()) as base:
        yield base


@pytest.mark.parametrize("width", [375, 1280])
def test_trend_chart_labels_are_readable_at_every_width(trend_server, browser, shots, width):
    context = browser.new_context(viewport={"width": width, "height": 900}, device_scale_factor=1)
    page = context.new_page()
    try:
        page.goto(f"{trend_server}/topics/trend-test")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (width, overflow)
        assert page.locator("figure.trend svg rect.bar").count() == 26  # the last 26 weeks
        texts = page.eval_on_selector("figure.trend svg", CHART_TEXT)
        page.locator("figure.trend").screenshot(path=str(shots / f"trend-{width}.png"))
    finally:
        context.close()
    assert texts[0]["text"].endswith("items per week") and texts[0]["size"] >= 15
    assert len(texts) >= 6  # title, two grid counts, three dates under the axis, the axis' note
    for text in texts:
        # 12 px or more as drawn (the chart is never scaled), and inside the chart, not cut off at its edges
        assert text["size"] >= 12 and text["height"] >= 12, (width, text)
        assert text["left"] >= text["svgLeft"] - 1 and text["right"] <= text["svgRight"] + 1, (width, text)
    assert texts[0]["svgWidth"] <= width
    dates = sorted((t for t in texts if t["tick"] and not t["text"].isdigit()), key=lambda t: t["left"])
    for before, after in zip(dates, dates[1:]):  # the date labels under the axis never overlap
        assert before["right"] <= after["left"], (width, before["text"], after["text"])


def test_api_docs_page(server, page, shots):
    page.goto(server + "/docs")
    assert page.locator("code", has_text="/api/v1/search").count() >= 1
    page.screenshot(path=str(shots / "api-docs.png"), full_page=False)


def test_csrf_cookie_reaches_the_browser_with_its_flags(server, page):
    page.goto(server + "/")
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    cookie = cookies["pf_csrf"]
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"
    assert page.evaluate("document.cookie") == ""  # HttpOnly: scripts cannot read it


def test_register_save_and_tag_see_a_recommendation_and_subscribe(server, page, smtp, shots):
    page.goto(server + "/register")
    page.fill("#email", "browser@example.org")
    page.click("form.account-form button[type=submit]")
    page.wait_for_selector("text=A mail is on its way to browser@example.org")
    [mail] = smtp.handler.to("browser@example.org")
    link = re.search(r"http://127\.0\.0\.1:\d+/register/confirm\?\S+", mail.get_body(("plain",)).get_content())
    page.goto(link.group(0))
    page.fill("#password", "browser-pass-1")
    page.click("form.account-form button[type=submit]")
    page.wait_for_url("**/library")
    page.goto(f"{server}/items/{KNOWN_ARXIV}")
    page.fill("#tags", "geometry")
    page.click("form.save-form button[type=submit]")
    page.wait_for_selector("text=Saved with tags: geometry.")
    page.click("header nav >> text=Library")
    page.wait_for_url("**/library")
    assert KNOWN_TITLE in page.locator("ol.saved").inner_text()
    assert page.locator("ol.recommendations li").count() >= 1
    assert page.locator("p.reason").first.inner_text().startswith("Why: matches your 'geometry' papers on")
    page.screenshot(path=str(shots / "library.png"), full_page=False)
    page.goto(server + "/")
    assert page.input_value("#subscribe-email") == "browser@example.org"
    page.click("section.subscribe button[type=submit]")
    page.wait_for_selector("text=confirmation link is on its way")
    assert len(smtp.handler.to("browser@example.org")) == 2  # the registration link, then the digest's


def test_chromium_is_the_debian_one():
    assert shutil.which("chromium") == CHROMIUM or Path(CHROMIUM).exists()


# -- every page, at desktop and phone width, light and dark: axe-core and overflow ------------------------

def _pages(server: str) -> list[tuple[str, str, bool]]:
    """(name, address, signed in) of every kind of page the route table has (routes/pages.py, account.py,
    library.py, follows.py, docs.py and the error pages)."""
    return [
        ("daily", "/", False),
        ("daily-week", "/papers/2024-05-27?span=week", False),
        ("daily-month", "/papers/2026-02-27?span=month", False),
        ("item", f"/items/{KNOWN_ARXIV}", False),
        ("item-math", f"/items/{MATH_ARXIV}", False),
        ("search", "/search?q=transformer", False),
        ("search-form", "/search", False),
        ("topics", "/topics", False),
        ("topic", f"/topics/{TOPIC_SLUG}", False),
        ("authors", "/authors?name=Lee", False),
        ("person", "/authors?name=Gilad+Lerman", False),
        ("library-signed-out", "/library", False),
        ("register", "/register", False),
        ("register-confirm", "/register/confirm?email=a%40example.org&token=x.y", False),
        ("login", "/login", False),
        ("docs", "/docs", False),
        ("digest-confirm", "/digest/confirm?token=x.y", False),
        ("not-found", "/no/such/page", False),
        ("status", "/status", False),
        ("library", "/library", True),
        ("item-signed-in", f"/items/{KNOWN_ARXIV}", True),
        ("follows", "/follows", True),
        ("topic-signed-in", f"/topics/{TOPIC_SLUG}", True),
    ]


AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.filter(v => v.impact === "serious" || v.impact === "critical").map(v =>
    `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", ")}`);
}"""


@pytest.mark.parametrize("width, scheme", [(1280, "light"), (1280, "dark"), (375, "light"), (375, "dark")],
                         ids=["desktop-light", "desktop-dark", "phone-light", "phone-dark"])
def test_every_page_is_accessible_and_fits(server, browser, site, shots, width, scheme):
    """axe-core finds no serious or critical violation, and nothing is wider than the window."""
    _, session = site
    phone = width < 600
    context = browser.new_context(viewport={"width": width, "height": 800 if phone else 900}, color_scheme=scheme,
                                  is_mobile=phone, has_touch=phone, device_scale_factor=1)
    page = context.new_page()
    watched = Watched(page)
    axe_source = AXE.read_text(encoding="utf-8")
    found: list[str] = []
    try:
        for name, path, signed_in in _pages(server):
            if signed_in:
                context.add_cookies([{"name": "pf_session", "value": session, "url": server, "secure": True,
                                      "httpOnly": True, "sameSite": "Lax"}])
            page.goto(server + path)
            page.wait_for_load_state("load")
            # Against the layout viewport: on a phone (is_mobile) Chromium widens innerWidth to fit a page
            # that overflows (the /docs page measured 397 = 397 there), so innerWidth would hide the overflow.
            overflow = page.evaluate("document.scrollingElement.scrollWidth - document.documentElement.clientWidth")
            if overflow > 0:
                found.append(f"{name} ({path}): {overflow} px wider than the window")
            # Evaluated through the DevTools protocol, so the page's CSP (script-src 'self') does not apply.
            page.evaluate(axe_source + "\n;0")
            found += [f"{name} ({path}): {violation}" for violation in page.evaluate(AXE_RUN)]
            if name in ("daily", "item-math", "topic", "docs") and scheme == "dark":
                page.screenshot(path=str(shots / f"{name}-{'phone' if phone else 'desktop'}-dark.png"))
            elif name == "topic" and phone:
                page.screenshot(path=str(shots / "topic-phone.png"))
        assert not found, "\n".join(found)
        assert not watched.problems, watched.problems
    finally:
        context.close()


def test_axe_reports_violations(browser):
    """The accessibility check can fail: the vendored axe-core finds what it must on a page built to fail."""
    context = browser.new_context(color_scheme="dark")
    page = context.new_page()
    try:
        page.set_content('<html><body><main><p style="color:#777;background:#888">faint</p>'
                         '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><input id="x"></main></body></html>')
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
        found = " ".join(page.evaluate(AXE_RUN))
        for rule in ("color-contrast", "image-alt", "label", "html-has-lang"):
            assert rule in found, found
    finally:
        context.close()


def test_math_renders_with_katex_and_reads_without_script(server, browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    watched = Watched(page)
    try:
        page.goto(f"{server}/items/{MATH_ARXIV}")
        page.wait_for_selector(".abstract .katex")
        abstract = page.locator(".abstract")
        assert abstract.locator(".katex-html").count() >= 1
        tex = abstract.locator("annotation").all_text_contents()
        assert "\\mathcal{V}" in tex  # the MathML keeps the TeX, for screen readers and copying
        assert "$\\mathcal{V}$" not in abstract.inner_text()
        # KaTeX's fonts come from our static files (the CSP's font-src 'self')
        assert page.evaluate("document.fonts.check('1em KaTeX_Caligraphic')")
        assert not watched.problems, watched.problems
    finally:
        context.close()
    bare = browser.new_context(java_script_enabled=False)
    try:
        page = bare.new_page()
        page.goto(f"{server}/items/{MATH_ARXIV}")
        assert "$\\mathcal{V}$" in page.locator(".abstract").inner_text()
    finally:
        bare.close()
