"""Keyboard and screen-reader aids for the signed-in pages, applied in the browser.

Streamlit draws the page, and some of what it draws is hard to use without a mouse or
without sight:
- The message box is the page's main control, yet nothing focuses it: a keyboard user
  tabs through the sidebar to reach it, on every page load and after opening a
  conversation. The aids focus it when the chat page appears, when another conversation
  (or a new chat) is opened, and when the control just used disappears (the Stop button
  once the answer stopped), unless the user is typing in another field or a dialog is
  open. Not on touch screens: there, focus would raise the on-screen keyboard over the
  conversation.
- A button with an icon and no label (the ⋮ menu by a conversation's title) is announced by
  its icon's name ("more_vert icon"): Streamlit draws icons as text ligatures. Icon text is kept
  out of every accessible name (aria-hidden), and icon-only buttons get a name: the one
  given below for their element key, else one for their icon. (Not their help text, which
  Streamlit draws only while the pointer hovers. A menu's name does not list what is in it
  either: "Delete" must name one control, for a person who says "click Delete" to voice
  control as for a test that looks a button up by its name.)
- Every heading carries a "Link to heading" anchor: one more tab stop and one more
  announcement per heading, for links nobody here needs: they are not drawn (the heading
  itself stays).
- Streamlit's running indicator can offer a "Stop" of its own, which ends the page's run
  and not the answer (the answer goes on, in the worker): it is hidden while the page shows
  the app's own Stop, and otherwise named for what it does. (With client.toolbarMode
  "minimal" Streamlit 1.67 does not draw the indicator at all; the rule is there for a
  configuration or a version that does.)

One hidden element per run; the script installs itself once per document (a flag on
window), watches Streamlit's redraws with one MutationObserver, and does its work at most
once per animation frame. It is the app's own text (no user input reaches it) and runs under
the app's Content-Security-Policy as it is (chat/web/headers.py). Streamlit's sanitizer drops
a script whose text holds "<" before a letter or "/" (it looks like markup), silently: the
script never says so, not even in a comment.
"""

from __future__ import annotations

import json

from pages.support.page_scripts import draw_page_script

# Names for icon-only controls, by the start of their element key (Streamlit marks an
# element's container with the class st-key-<key>). Checked before the names by icon.
LABELS_BY_KEY: dict[str, str] = {
    "actions-": "Conversation actions",  # the ⋮ by a conversation's title
}
# Names by Material icon, for icon-only controls without a key above.
LABELS_BY_ICON: dict[str, str] = {
    "more_vert": "More actions",
    "more_horiz": "More actions",
    "menu": "Menu",
    "close": "Close",
    "add": "Add",
    "delete": "Delete",
    "edit": "Edit",
    "tune": "Settings",
    "settings": "Settings",
    "search": "Search",
    "content_copy": "Copy",
    "refresh": "Try again",
    "stop_circle": "Stop",
    "send": "Send",
}
# The app's own Stop button for an answer (pages/parts/messages.py keys it stop-<id>).
OWN_STOP_KEY = "stop-"
RUNNING_INDICATOR_STOP = "Stop running the page"

_SCRIPT = """<style>
[data-testid="stHeaderActionElements"] { display: none; }
body:has([class*="st-key-%(own_stop)s"]) [data-testid="stStatusWidget"] button { display: none; }
</style>
<script>
(function () {
  if (window.chatAccessibility) return;
  window.chatAccessibility = true;
  const labelsByKey = %(labels_by_key)s;
  const labelsByIcon = %(labels_by_icon)s;
  const indicatorStop = %(indicator_stop)s;
  const CHAT_BOX = '[data-testid="stChatInputTextArea"]';
  const ICON = '[data-testid="stIconMaterial"]';
  const TEXT_ROLES = ["textbox", "searchbox", "combobox", "spinbutton", "slider"];
  const CHOICE_INPUTS = ["button", "checkbox", "radio", "submit", "reset", "range", "color"];
  const touchScreen = window.matchMedia("(hover: none) and (pointer: coarse)").matches;
  let lastFocused = null;
  let hadBox = false;
  let shownConversation = null;
  let pending = false;

  const conversation = () => new URLSearchParams(window.location.search).get("c") || "";
  const dialogOpen = () =>
    document.querySelector('[role="dialog"], [data-testid="stPopoverBody"]') !== null;

  function typingElsewhere(box) {
    const active = document.activeElement;
    if (!active || active === document.body || active === box) return false;
    if (active.isContentEditable || active.tagName === "TEXTAREA") return true;
    if (active.tagName === "SELECT") return true;
    if (active.tagName === "INPUT") return !CHOICE_INPUTS.includes(active.type);
    return TEXT_ROLES.includes(active.getAttribute("role"));
  }

  // The focused control was taken off the page by a redraw (focus fell to the body).
  function focusLost() {
    const active = document.activeElement;
    const onBody = !active || active === document.body;
    return onBody && lastFocused !== null && !lastFocused.isConnected;
  }

  function focusTheMessageBox() {
    const box = document.querySelector(CHAT_BOX);
    const now = conversation();
    const opened = box !== null && (!hadBox || now !== shownConversation);
    if (box && !touchScreen && !dialogOpen() && (opened || focusLost())) {
      if (!typingElsewhere(box)) box.focus({ preventScroll: true });
    }
    hadBox = box !== null;
    shownConversation = now;
  }

  function keyOf(element) {
    const keyed = element.closest('[class*="st-key-"]');
    if (!keyed) return "";
    const name = [...keyed.classList].find((c) => c.startsWith("st-key-"));
    return name ? name.slice("st-key-".length) : "";
  }

  // The text a screen reader would read inside `button`, icons and hidden parts aside.
  function spokenText(button) {
    const walker = document.createTreeWalker(button, NodeFilter.SHOW_TEXT);
    let text = "";
    while (walker.nextNode()) {
      const node = walker.currentNode;
      if (!node.parentElement.closest('[aria-hidden="true"]')) text += node.textContent;
    }
    return text.trim();
  }

  function nameIconOnly(button) {
    const icon = button.querySelector(ICON);
    const spoken = spokenText(button);
    // Streamlit names an icon-only button by its icon, as in "more_vert icon".
    if (spoken !== "" && spoken !== icon.textContent.trim() + " icon") return;
    const key = keyOf(button);
    const byKey = Object.keys(labelsByKey).find((prefix) => key.startsWith(prefix));
    const ligature = icon.textContent.trim();
    const label = byKey !== undefined ? labelsByKey[byKey]
      : labelsByIcon[ligature] || ligature.replace(/_/g, " ");
    button.setAttribute("aria-label", label);
  }

  function tidy() {
    pending = false;
    document.querySelectorAll(ICON + ':not([aria-hidden="true"])').forEach((icon) => {
      icon.setAttribute("aria-hidden", "true");
    });
    document.querySelectorAll("button:not([aria-label]), [role='button']:not([aria-label])")
      .forEach((button) => { if (button.querySelector(ICON)) nameIconOnly(button); });
    document.querySelectorAll('[data-testid="stStatusWidget"] button').forEach((button) => {
      if (button.getAttribute("aria-label") !== indicatorStop) {
        button.setAttribute("aria-label", indicatorStop);
        button.setAttribute("title", indicatorStop);
      }
    });
    focusTheMessageBox();
  }

  function schedule() {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(tidy);
  }

  document.addEventListener("focusin", (event) => { lastFocused = event.target; }, true);
  new MutationObserver(schedule).observe(document.body, { childList: true, subtree: true });
  schedule();
})();
</script>"""

SCRIPT = _SCRIPT % {
    "own_stop": OWN_STOP_KEY,
    "labels_by_key": json.dumps(LABELS_BY_KEY),
    "labels_by_icon": json.dumps(LABELS_BY_ICON),
    "indicator_stop": json.dumps(RUNNING_INDICATOR_STOP),
}


def draw_accessibility_aids() -> None:
    """Once per run of a signed-in page: one hidden element; the script inside it installs
    itself once per document."""
    draw_page_script("chat-accessibility", SCRIPT)


# The login page: the Username field of the shown form has the focus once it is drawn, as
# on any sign-in page, unless the user has already put it elsewhere (and not on touch
# screens, for the reason above). Once per document.
LOGIN_SCRIPT = """<script>
(function () {
  if (window.chatLoginFocus) return;
  window.chatLoginFocus = true;
  if (window.matchMedia("(hover: none) and (pointer: coarse)").matches) return;
  const USERNAME = '[data-testid="stForm"] input[aria-label="Username"]';
  function focusUsername() {
    const field = [...document.querySelectorAll(USERNAME)]
      .find((input) => input.offsetParent !== null);
    if (!field) return false;
    const active = document.activeElement;
    if (!active || active === document.body) field.focus({ preventScroll: true });
    return true;
  }
  if (focusUsername()) return;
  const observer = new MutationObserver(() => { if (focusUsername()) observer.disconnect(); });
  observer.observe(document.body, { childList: true, subtree: true });
})();
</script>"""


def draw_login_focus() -> None:
    """On the login page: the Username field focused once the form shows."""
    draw_page_script("chat-login-focus", LOGIN_SCRIPT)
