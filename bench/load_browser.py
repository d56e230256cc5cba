"""The browser side of the server load: page helpers for Playwright's async API and the
clocks stamped inside the page. See bench/load_server.py."""

from __future__ import annotations

from playwright.async_api import Page
from playwright.async_api import expect as expect_async

PASSWORD = "a load password"
ANSWER_TIMEOUT_MS = 60_000
IDLE = (
    '[data-testid="stApp"][data-test-script-state="notRunning"]'
    '[data-test-connection-state="CONNECTED"]'
)
# Stamped inside the page: when Enter goes down on the chat input, and when the first answer
# text appears after the message carrying window.__watch (the question's marker).
PAGE_CLOCKS = """
window.__enterAt = null; window.__watch = null; window.__firstAt = null;
document.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && e.target.closest('[data-testid="stChatInput"]'))
    window.__enterAt = performance.now();
}, true);
window.__toasts = [];
new MutationObserver((changes) => {
  for (const change of changes)
    for (const node of change.addedNodes)
      if (node.nodeType === 1)
        for (const toast of [node, ...node.querySelectorAll('[data-testid="stToast"]')])
          if (toast.matches('[data-testid="stToast"]')) window.__toasts.push(toast);
  const marker = window.__watch;
  if (!marker || window.__firstAt !== null) return;
  const all = [...document.querySelectorAll('[data-testid="stChatMessage"]')];
  const asked = all.findIndex(
    (m) => m.textContent.includes(marker) && !m.textContent.includes('Echo:'));
  if (asked >= 0 && all[asked + 1] && all[asked + 1].textContent.includes('Echo:'))
    window.__firstAt = performance.now();
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


async def idle(page: Page) -> None:
    await page.locator(IDLE).wait_for(timeout=ANSWER_TIMEOUT_MS)


async def log_in(page: Page, base_url: str, username: str) -> None:
    await page.goto(base_url, timeout=ANSWER_TIMEOUT_MS)
    form = page.get_by_test_id("stForm").filter(has_text="Log in").first
    await form.get_by_label("Username").fill(username, timeout=ANSWER_TIMEOUT_MS)
    await form.get_by_label("Password", exact=True).fill(PASSWORD)
    await form.get_by_role("button", name="Log in").click()
    await expect_async(page.get_by_role("button", name="New chat")).to_be_visible(
        timeout=ANSWER_TIMEOUT_MS
    )
    await idle(page)


async def submit(page: Page, asked: str) -> bool:
    """Type and press Enter; True once the emptied input confirms the app took it (a rerun
    landing while typing can clear the box: type again, as tests/support/browser.send)."""
    box = page.get_by_test_id("stChatInputTextArea")
    button = page.get_by_test_id("stChatInputSubmitButton")
    for _ in range(3):
        await idle(page)
        await box.fill(asked)
        try:
            await expect_async(button).to_be_enabled(timeout=3_000)
        except AssertionError:
            continue
        await box.press("Enter")
        try:
            await expect_async(box).to_have_value("", timeout=5_000)
            return True
        except AssertionError:
            continue
    return False
