"""The app's own scripts and styles in a page, each drawn as one element that shows nothing.

Streamlit runs a script only when st.html is told it may; every script of the app's goes
through `draw_page_script`, and none holds user or model text.
"""

from __future__ import annotations

import streamlit as st


def draw_page_script(name: str, body: str) -> None:
    """`body` (the app's own <style> and <script>) in an element marked with the class
    `name`, hidden: it draws nothing and takes no room (flex gaps skip hidden items)."""
    hide = f'div[data-testid="stElementContainer"]:has(.{name}) {{ display: none; }}'
    marked = f'<span class="{name}" hidden></span>\n<style>\n{hide}\n</style>\n{body}'
    st.html(marked, unsafe_allow_javascript=True)  # reviewed: app-made, no user text
