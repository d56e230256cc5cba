"""What the chat page does in the browser itself, from one small script of the app's own
(no user text reaches it; it runs under the app's Content-Security-Policy, which already
allows inline scripts for Streamlit): a Copy button on every message, the scroll to a
search result, and, on a phone, the sidebar closing once a conversation is picked.

Installed once per browser tab (it watches the page as Streamlit redraws it); a run of the
page costs one hidden element."""

from __future__ import annotations

from pages.support.page_scripts import draw_page_script

_SCRIPT = """<style>
.chat-copy { position: absolute; top: 0.5rem; right: 0.5rem; opacity: 0; border: none;
  background: transparent; color: inherit; font-size: 0.8rem; cursor: pointer;
  padding: 0.1rem 0.4rem; border-radius: 0.25rem; }
[data-testid="stChatMessage"] { position: relative; }
[data-testid="stChatMessage"]:hover .chat-copy, .chat-copy:focus { opacity: 0.75; }
.chat-copy:hover { background: rgba(128, 128, 128, 0.15); }
.st-key-found-message [data-testid="stChatMessage"] {
  outline: 2px solid rgba(47, 111, 237, 0.8); }
</style>
<script>
(function () {
  const doc = window.parent && window.parent.document ? window.parent.document : document;
  const win = doc.defaultView || window;
  if (win.__chatPageScript) return;
  win.__chatPageScript = true;

  function addCopyButtons() {
    doc.querySelectorAll('[data-testid="stChatMessage"]').forEach((message) => {
      const copy = message.querySelector(":scope > .chat-copy");
      // Still arriving (its Stop can be drawn just after the message itself): no Copy yet.
      if (message.querySelector('[class*="st-key-stop-"]')) {
        if (copy) copy.remove();
        return;
      }
      if (copy) return;
      const button = doc.createElement("button");
      button.className = "chat-copy";
      button.type = "button";
      button.textContent = "Copy";
      button.setAttribute("aria-label", "Copy this message");
      button.addEventListener("click", () => {
        const body = message.querySelector(
          '[data-testid="stChatMessageContent"] [data-testid="stMarkdown"]'
        );
        const text = body ? body.innerText : "";
        win.navigator.clipboard.writeText(text).then(
          () => { button.textContent = "Copied"; },
          () => { button.textContent = "Copy failed"; }
        );
        win.setTimeout(() => { button.textContent = "Copy"; }, 1500);
      });
      message.appendChild(button);
    });
  }

  let scrolledFor = null;
  function scrollToSearchResult() {
    const wanted = new URLSearchParams(win.location.search).get("m");
    if (!wanted || wanted === scrolledFor) return;
    const found = doc.querySelector(".st-key-found-message, .earlier-message.found");
    if (!found) return;
    scrolledFor = wanted;
    found.scrollIntoView({ block: "center" });
  }

  doc.addEventListener("click", (event) => {
    const row = event.target.closest && event.target.closest('[class*="st-key-conv-"] button');
    if (!row || win.innerWidth >= 768) return;
    const close = doc.querySelector('[data-testid="stSidebarCollapseButton"] button');
    if (close) win.setTimeout(() => close.click(), 50);
  }, true);

  const observer = new win.MutationObserver(() => {
    addCopyButtons();
    scrollToSearchResult();
  });
  observer.observe(doc.body, { childList: true, subtree: true });
  addCopyButtons();
  scrollToSearchResult();
})();
</script>"""


def draw_chat_script() -> None:
    draw_page_script("chat-page-script", _SCRIPT)
