"""What a failed browser test leaves behind for inspection: every open page's screenshot,
address and HTML, in test-artifacts/<test name>/ (git-ignored).

A test may drive several pages at once (two users, two tabs): the page that failed an
assertion is not always the one that explains the failure, so all of them are kept.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from playwright.sync_api import Browser, Page
from playwright.sync_api import Error as PlaywrightError

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def folder_for(test_name: str) -> Path:
    """test-artifacts/<test name>, brackets and slashes of parametrised names made safe."""
    return ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name).strip("_")


# Streamlit scrolls inside its own containers, so a "full page" screenshot of the document
# is only the viewport: measure the tallest scrolled container instead.
_CONTENT_HEIGHT = """() => {
    let height = document.documentElement.scrollHeight;
    for (const element of document.querySelectorAll("*")) {
        const overflow = getComputedStyle(element).overflowY;
        if ((overflow === "auto" || overflow === "scroll")
                && element.scrollHeight > element.clientHeight + 1) {
            // what sits below the container (e.g. the chat input) keeps its own room
            const box = element.getBoundingClientRect();
            const below = Math.max(0, window.innerHeight - box.bottom);
            height = Math.max(height, Math.ceil(box.top + element.scrollHeight + below));
        }
    }
    return height;
}"""

_TO_TOP = """() => {
    for (const element of document.querySelectorAll("*")) {
        if (element.scrollTop > 0) element.scrollTop = 0;
    }
}"""


def screenshot_everything(page: Page, path: Path, *, max_height: int = 10_000) -> None:
    """A PNG of the whole app, not just the viewport: the viewport is made as tall as the
    content (up to `max_height` pixels) and scrolled to the top for the shot, then its
    size is put back (the scroll position is not: this is for a test's end)."""
    viewport = page.viewport_size or {"width": 1280, "height": 900}
    height = min(max_height, max(viewport["height"], int(page.evaluate(_CONTENT_HEIGHT))))
    page.set_viewport_size({"width": viewport["width"], "height": height})
    try:
        page.evaluate(_TO_TOP)
        page.screenshot(path=str(path), timeout=15_000)
    finally:
        page.set_viewport_size(viewport)


def save_open_pages(browser: Browser, folder: Path) -> list[Path]:
    """Save a PNG as seen (page-N.png), one of the whole app (page-N-full.png), the URL and
    the HTML of every page open in `browser`.

    Returns the files written. A page that cannot be captured (closed, crashed) is noted in
    index.txt with the reason instead of hiding the test's own failure behind ours."""
    shutil.rmtree(folder, ignore_errors=True)  # only this run's pages, never a stale one
    folder.mkdir(parents=True)
    written: list[Path] = []
    notes: list[str] = []
    pages = [page for context in browser.contexts for page in context.pages]
    for number, page in enumerate(pages, start=1):
        stem = folder / f"page-{number}"
        try:
            url = page.url
            page.screenshot(path=f"{stem}.png", timeout=15_000)
            written.append(stem.with_suffix(".png"))
            screenshot_everything(page, folder / f"page-{number}-full.png")
            written.append(folder / f"page-{number}-full.png")
            stem.with_suffix(".html").write_text(page.content(), encoding="utf-8")
            written.append(stem.with_suffix(".html"))
            notes.append(f"page-{number}: {url}")
        except PlaywrightError as exc:
            notes.append(f"page-{number}: not captured ({exc.message.splitlines()[0]})")
    if not pages:
        notes.append("no page was open when the test failed")
    index = folder / "index.txt"
    index.write_text("\n".join(notes) + "\n", encoding="utf-8")
    return [index, *written]
