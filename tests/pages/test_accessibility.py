"""The accessibility script as the browser gets it: one script that Streamlit's sanitizer
keeps whole. What it does is checked in a real browser (tests/e2e/test_keyboard.py)."""

from __future__ import annotations

import re

from pages.support.accessibility import SCRIPT


def test_one_script_the_sanitizer_keeps() -> None:
    """Streamlit runs st.html through DOMPurify, which silently drops an element whose text
    holds "<" before a letter, "/" or "!" (markup inside text): the script would never run."""
    assert SCRIPT.count("<script>") == 1 and SCRIPT.count("</script>") == 1
    script = SCRIPT.split("<script>", 1)[1].split("</script>", 1)[0]
    style = SCRIPT.split("<style>", 1)[1].split("</style>", 1)[0]
    for text in (script, style):
        assert re.search(r"<[/\w!]", text) is None


def test_the_script_installs_itself_once_per_document() -> None:
    script = SCRIPT.split("<script>", 1)[1]
    guard = script.index("if (window.chatAccessibility) return;")
    assert guard < script.index("MutationObserver")
