"""The built site in a real browser: headless Chromium (Debian's) on pages served from 127.0.0.1.

Needs ``make html`` (``python -m tools.build_book``) first; ``make test`` does that.
Every request that leaves 127.0.0.1 is blocked and counted as a failure: the book
must work offline.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
from pathlib import Path

import pytest

from tests.conftest import all_slugs
from tools.build_book import SITE
from tools.project import LANGUAGES, repository

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> str:
    if not (SITE / "index.html").exists():
        pytest.fail("the site is not built: run `make html` (python -m tools.build_book) first")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: apt-get install chromium (see .ci/run)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


class Visit:
    """A page with everything that went wrong while loading it."""

    def __init__(self, browser, site: str) -> None:
        self.site = site
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.failed: list[str] = []
        self.external: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.failed.append(f"{r.url} ({r.failure})"))
        self.page.on("response", lambda r: self.failed.append(f"{r.url} ({r.status})") if r.status >= 400 else None)
        self.page.route("**/*", self._only_local)

    def _only_local(self, route) -> None:
        if route.request.url.startswith(self.site):
            route.continue_()
        else:
            self.external.append(route.request.url)
            route.abort()

    def open(self, path: str):
        self.page.goto(f"{self.site}/{path}", wait_until="networkidle")
        self.page.wait_for_timeout(300)  # let deferred scripts (MathJax, widgets) settle
        return self.page

    def problems(self) -> dict[str, list[str]]:
        return {k: v for k, v in {"errors": self.errors, "failed": [u for u in self.failed if
                not u.startswith("net::")], "external": self.external}.items() if v}

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser, site):
    visits = []

    def make() -> Visit:
        visits.append(Visit(browser, site))
        return visits[-1]

    yield make
    for v in visits:
        v.close()


def site_pages() -> list[str]:
    if not SITE.exists():
        return ["index.html"]
    pages = ["index.html"]
    for language in LANGUAGES:
        pages += sorted(
            str(path.relative_to(SITE)) for path in (SITE / language).glob("*.html")
            if path.name not in ("genindex.html", "search.html")
        )
    return pages


@pytest.mark.parametrize("path", site_pages())
def test_every_page_loads_offline_without_errors_and_links_its_counterpart(visit, path):
    v = visit()
    page = v.open(path)
    assert v.problems() == {}, f"{path}: {v.problems()}"
    if path == "index.html":
        return
    language, name = path.split("/", 1)
    assert page.locator("html").get_attribute("lang") == language
    href = page.locator(".attnbook-language-switch a").get_attribute("href")
    other = "en" if language == "ko" else "ko"
    assert href == f"../{other}/{name}"
    assert (SITE / other / name).exists()


@pytest.mark.parametrize("language", LANGUAGES)
def test_search_page_works_offline(visit, language):
    v = visit()
    page = v.open(f"{language}/search.html?q=softmax")
    page.wait_for_selector("#search-results", timeout=10_000)
    assert v.problems() == {}


def test_the_landing_page_picks_a_language(visit):
    v = visit()
    page = v.open("index.html")
    for language in LANGUAGES:
        link = page.locator(f'nav a[hreflang="{language}"]')
        assert link.get_attribute("href") == f"{language}/index.html"
    page.locator('nav a[hreflang="en"]').click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/en/index.html")
    assert page.locator("html").get_attribute("lang") == "en"


@pytest.mark.parametrize(("start", "lands"), [("ko/00_getting_started.html", "en/00_getting_started.html"),
                                              ("en/index.html", "ko/index.html")])
def test_the_language_link_lands_on_the_counterpart(visit, start, lands):
    v = visit()
    page = v.open(start)
    page.locator(".attnbook-language-switch a").click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/{lands}")
    assert page.locator("html").get_attribute("lang") == lands.split("/")[0]


@pytest.mark.parametrize(("language", "search", "solution"),
                         [("ko", "검색", "풀이 보기"), ("en", "Search", "Show the solution")])
def test_ui_text_is_in_the_page_language(visit, language, search, solution):
    v = visit()
    page = v.open(f"{language}/00_getting_started.html")
    assert search in page.locator(".search-button__default-text").first.inner_text()
    assert page.get_by_text(solution, exact=True).count() >= 1


@pytest.mark.parametrize("language", LANGUAGES)
def test_math_renders(visit, language):
    v = visit()
    page = v.open(f"{language}/errata.html")
    page.wait_for_selector("mjx-container", timeout=10_000)
    assert page.locator("mjx-container").count() > 10
    assert page.locator("mjx-merror").count() == 0


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_widgets_static_view_renders(visit, language):
    v = visit()
    page = v.open(f"{language}/00_getting_started.html")
    slider = page.locator(".widget-slider").first
    slider.wait_for(timeout=10_000)
    assert slider.is_visible()
    # the slider's Image widget holds the figure saved when the notebook ran
    figure = page.locator("img.widget-image").first
    figure.wait_for(timeout=10_000)
    assert figure.evaluate("img => img.naturalWidth") > 100
    assert v.problems() == {}


@pytest.mark.parametrize(("language", "label"), [("ko", "풀이 보기"), ("en", "Show the solution")])
def test_a_solution_is_hidden_until_opened(visit, language, label):
    v = visit()
    page = v.open(f"{language}/00_getting_started.html")
    solution = page.locator(".cell.tag_solution").first
    code = solution.locator(".cell_input pre").first
    assert not code.is_visible()
    solution.get_by_text(label, exact=True).click()
    code.wait_for(state="visible", timeout=5_000)
    assert "def softmax(" in code.inner_text()


@pytest.mark.parametrize("slug", all_slugs())
@pytest.mark.parametrize("language", LANGUAGES)
def test_launch_and_download_buttons(visit, site, language, slug):
    v = visit()
    page = v.open(f"{language}/{slug}.html")
    colab = [a.get_attribute("href") for a in page.locator('a[href*="colab.research.google.com"]').all()]
    assert colab == [repository().colab_url(language, slug)]
    assert re.fullmatch(
        r"https://colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/[\w.-]+/book/(ko|en)/\w+\.ipynb",
        colab[0],
    )
    download = page.locator(f'a[href$="_sources/{slug}.ipynb"]').first
    assert download.count() == 1
    response = page.request.get(f"{site}/{language}/_sources/{slug}.ipynb")
    assert response.ok and b'"cells"' in response.body()
