"""The user's theme (Account page: system, light or dark), applied in their browser.

Streamlit has no call that sets a session's theme. Its frontend picks the theme once, as the
page loads, from the browser's localStorage: the key `stActiveTheme-<path the page was
loaded at>-v2` holds "System", "Light" or "Dark" (absent: "System"). With [theme.light] and
[theme.dark] in .streamlit/config.toml those name the app's two themes, and "System" follows
the browser's prefers-color-scheme, live. (Streamlit's own theme menu writes the same key;
the app hides that menu: client.toolbarMode is "minimal".)

So a small script, drawn on every signed-in page, compares the theme the page was loaded
with to the user's choice. When they agree (every page view but the first after a change) it
does nothing. Otherwise it writes the choice under every such key of this origin and reloads
the page once; the reloaded page comes up in the chosen theme. The reload costs nothing the
app keeps: the sign-in is in a cookie, the conversations and any answer in flight in
PostgreSQL. A browser that cannot keep the choice (no localStorage, or a URL that forces a
theme with ?embed_options=) is reloaded at most once per tab for it (a sessionStorage mark).

The script is the app's own text (no user input reaches it) and runs under the app's
Content-Security-Policy as it is: inline scripts are already allowed for Streamlit itself
(chat/web/headers.py), and it loads nothing.
"""

from __future__ import annotations

import json

from chat.auth.accounts import Account
from chat.auth.preferences import Preferences, Theme
from chat.services import Services
from pages.support.page_scripts import draw_page_script

# What Streamlit's frontend stores for each choice.
STORED_NAME: dict[Theme, str] = {"system": "System", "light": "Light", "dark": "Dark"}

_SCRIPT = """<script>
(function () {
  const wanted = %s;
  const mark = "chat-theme-reloaded-for";
  const keyOf = (path) => "stActiveTheme-" + path + "-v2";
  try {
    const entry = performance.getEntriesByType("navigation")[0];
    const loadedAt = entry ? new URL(entry.name).pathname : window.location.pathname;
    let shown = "System";
    try {
      shown = JSON.parse(localStorage.getItem(keyOf(loadedAt)) || '"System"');
    } catch (unreadable) {
      shown = null;
    }
    if (shown === wanted) {
      sessionStorage.removeItem(mark);
      return;
    }
    const keys = new Set([keyOf(loadedAt), keyOf(window.location.pathname)]);
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (key && key.startsWith("stActiveTheme-") && key.endsWith("-v2")) keys.add(key);
    }
    keys.forEach((key) => localStorage.setItem(key, JSON.stringify(wanted)));
    if (sessionStorage.getItem(mark) === wanted) return;
    sessionStorage.setItem(mark, wanted);
    window.location.reload();
  } catch (noStorage) {
    // Storage refused: the page keeps the theme it has.
  }
})();
</script>"""


def draw_theme(theme: Theme) -> None:
    """Make this browser show `theme` (a reload when it shows another one)."""
    script = _SCRIPT % json.dumps(STORED_NAME[theme])
    draw_page_script("chat-theme-choice", script)


def apply_saved_theme(services: Services, account: Account) -> Preferences:
    """The signed-in user's preferences (one primary-key read), with their theme applied in
    this browser; returned so the page can use them without reading them again."""
    preferences = services.preferences.get(user_id=account.id)
    draw_theme(preferences.theme)
    return preferences
