"""Checks on text typed by a user, with sentences a user can act on.

Accepted text is stored exactly as typed; refused text is never silently altered (the page
offers it back so nothing is lost).
"""

from __future__ import annotations

from chat.errors import InvalidInput


def validate_message(text: str | None, *, max_chars: int) -> str:
    if text is None or not text.strip():
        raise InvalidInput("Type a message first: it is empty.")
    if len(text) > max_chars:
        raise InvalidInput(
            f"Your message is {len(text):,} characters long; the limit is {max_chars:,}. "
            "Shorten it and send it again."
        )
    if "\x00" in text:
        raise InvalidInput(
            "Your message contains a NUL character (\\0), which cannot be stored. "
            "Remove it and send it again."
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(
            "Your message contains an invalid character (an unpaired surrogate). "
            "Remove it and send it again."
        ) from exc
    return text


def validate_title(text: str | None, *, max_chars: int = 200) -> str:
    title = " ".join((text or "").split())
    if not title:
        raise InvalidInput("A title cannot be empty.")
    if len(title) > max_chars:
        raise InvalidInput(f"A title can be at most {max_chars} characters.")
    if "\x00" in title:
        raise InvalidInput("A title cannot contain a NUL character (\\0).")
    return title


def displayable(text: str) -> str:
    """Text that can always be sent to the browser (unpaired surrogates shown as escapes)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
