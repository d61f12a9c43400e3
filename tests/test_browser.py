"""The built book, opened page by page in headless Chromium (run after `make book`).

Fails on console errors, failed requests, images that do not load, a chapter without its
figures (or with figures that have no alt text), a chapter without its Binder, Colab and
Thebe launch buttons, chapter 1 without audio players, or pages whose widget state did
not render.
A screenshot of every page is kept in ``_build/screenshots/`` for review.
Run with ``python -m pytest -m browser tests/test_browser.py`` (``make test`` does).
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
PAGES = sorted(p.relative_to(HTML).as_posix() for p in (HTML / "book").glob("*.html")) if HTML.is_dir() else []
CHAPTERS = [p for p in PAGES if p.split("/")[-1][:2].isdigit()]
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.browser


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site():
    if not (HTML / "index.html").is_file():
        pytest.fail(f"no built book at {HTML}: run `make book` first")
    handler = functools.partial(QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's chromium is not installed (apt-get install chromium)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def open_page(browser, site, page_name):
    """Load a page; return it with the console errors and failed requests seen."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    page.goto(f"{site}/{page_name}", wait_until="networkidle")
    page.wait_for_timeout(500)
    return page, problems


def test_the_book_has_its_chapters():
    assert "book/intro.html" in PAGES
    assert any(p.startswith("book/01_") for p in CHAPTERS) and any(p.startswith("book/02_") for p in CHAPTERS)


@pytest.mark.parametrize("page_name", PAGES)
def test_page_loads_cleanly(browser, site, page_name):
    page, problems = open_page(browser, site, page_name)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / (Path(page_name).stem + ".png")), full_page=True)
    broken = page.eval_on_selector_all(
        "img", "images => images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
    has_widget_state = page.locator('script[type="application/vnd.jupyter.widget-state+json"]').count()
    rendered_widgets = page.locator(".jupyter-widgets").count()
    page.close()
    assert not problems, "\n".join(problems)
    assert not broken, f"images that did not load: {broken}"
    if has_widget_state:
        assert rendered_widgets > 0, "the page holds widget state but no widget rendered"


@pytest.mark.parametrize("page_name", CHAPTERS)
def test_chapter_shows_its_figures(browser, site, page_name):
    page, _ = open_page(browser, site, page_name)
    made = page.locator(".cell_output img").count()
    shown = page.eval_on_selector_all(
        ".cell_output img", "images => images.filter(i => i.complete && i.naturalWidth > 0).length")
    # Images drawn by the widget manager from saved widget state carry no alt text of their
    # own (it has no way to set one); every image the page itself holds must have one.
    without_alt = page.eval_on_selector_all(
        ".cell_output img", "images => images.filter(i => !i.closest('.jupyter-widgets'))"
                            ".map(i => i.alt).filter(a => !a || a.endsWith('.png'))")
    audio = page.locator("audio").count()
    math = page.locator("mjx-container").count()
    launchers = {name: page.locator(selector).count() for name, selector in (
        ("Binder", 'a[href*="mybinder.org"]'), ("Colab", 'a[href*="colab.research.google.com"]'),
        ("Thebe (Live Code)", "button.btn-launch-thebe"))}
    page.close()
    assert made >= 1, f"{page_name}: the chapter shows no figure"
    assert shown == made, f"{page_name} shows {shown} of its {made} figures"
    assert not without_alt, f"{page_name}: {len(without_alt)} figures without a description (alt text)"
    assert all(launchers.values()), f"{page_name}: launch buttons missing: {launchers}"
    if page_name.startswith("book/01_"):
        assert audio >= 10, f"chapter 1 has {audio} audio players, one per scene class expected"
        assert math > 0, "chapter 1's equations were not typeset (MathJax did not load)"
