"""Rendered text loads nothing: images become links, labels are plain text."""

from __future__ import annotations

from chat.markup import inert_markdown, inert_stream, plain


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
