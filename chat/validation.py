"""Checks on text typed by a user, with sentences a user can act on.

Every service that stores or searches typed text goes through `clean`, so the rules are the
same everywhere: text is kept as typed (a message exactly; a one-line field or a paragraph
loses the spaces at its ends, and in a one-line field line breaks, tabs and runs of spaces
become one space), or refused
with a sentence that says what to change. Refused text is never silently altered: the page
offers it back so nothing is lost. tests/data/bad_input.json holds the cases.

Two things PostgreSQL cannot store are refused before any query runs: the NUL character
(text columns refuse it, and psycopg would raise mid-transaction) and unpaired surrogates
(they have no UTF-8 encoding). Text that did not come from a keyboard (a model's answer, a
login name that matches no account) is made storable instead (`storable`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from chat.errors import InvalidInput

# Characters that draw nothing: a text made only of these and spaces is blank.
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
_DROP_INVISIBLE = str.maketrans("", "", INVISIBLE)
# In a one-line field: any line break or tab, or a run of spaces (the page would show one).
_LINE_SPACE = re.compile(r"\s*[\t\n\v\f\r\x1c\x1d\x1e\x85\u2028\u2029]\s*|\s{2,}")
REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

MAX_TITLE_CHARS = 200
MAX_QUERY_CHARS = 200
MAX_SYSTEM_PROMPT_CHARS = 4_000
MAX_DISPLAY_NAME_CHARS = 200
MAX_LANGUAGE_CHARS = 40
MAX_ABOUT_CHARS = 1_000


@dataclass(frozen=True)
class TextField:
    """One kind of typed text: how sentences name it, its limit, and its shape.

    `exact` text is stored as typed (a message: its spaces and line breaks are content);
    `line` is a one-line label (ends trimmed, line breaks, tabs and runs of spaces become
    one space, as a browser shows them); `block` is a paragraph of free text (ends
    trimmed). Blank optional fields are stored empty."""

    name: str
    max_chars: int
    shape: Literal["exact", "line", "block"] = "exact"
    required: bool = True
    when_empty: str = ""
    purpose: str = "saved"  # ends "…, which cannot be <purpose>."

    def refuse_empty(self) -> InvalidInput:
        return InvalidInput(self.when_empty or f"{self.name} cannot be empty.")


def message_field(max_chars: int) -> TextField:
    return TextField("Your message", max_chars, when_empty="Type a message first: it is empty.")


TITLE = TextField("The title", MAX_TITLE_CHARS, shape="line")
SEARCH = TextField(
    "Your search", MAX_QUERY_CHARS, shape="line", required=False, purpose="searched for"
)
# A blank system prompt is stored empty: the conversation then uses the default one.
SYSTEM_PROMPT = TextField(
    "The system prompt", MAX_SYSTEM_PROMPT_CHARS, shape="block", required=False
)
DISPLAY_NAME = TextField("Your display name", MAX_DISPLAY_NAME_CHARS, shape="line")
LANGUAGE = TextField("The language name", MAX_LANGUAGE_CHARS, shape="line", required=False)
ABOUT = TextField("“About me”", MAX_ABOUT_CHARS, shape="block", required=False)


def is_blank(text: str) -> bool:
    """Nothing a reader could see: only spaces, line breaks and zero-width characters."""
    return not text.translate(_DROP_INVISIBLE).strip()


def is_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def unstorable_reason(text: str) -> str | None:
    """What PostgreSQL could not store in `text`, as the middle of a sentence; None if it
    can store all of it."""
    if "\x00" in text:
        return "contains a NUL character (\\0)"
    if not is_encodable(text):
        return "contains an invalid character (an unpaired surrogate)"
    return None


def normalise(text: str, shape: str) -> str:
    """What is stored for text of this shape (see TextField)."""
    if shape == "exact":
        return text
    if is_blank(text):
        return ""
    if shape == "line":
        return _LINE_SPACE.sub(" ", text).strip()
    return text.strip()


def clean(text: str | None, field: TextField) -> str:
    """The text to store for `field`, or InvalidInput with a sentence for the user."""
    value = text or ""
    reason = unstorable_reason(value)
    if reason is not None:
        raise InvalidInput(
            f"{field.name} {reason}, which cannot be {field.purpose}. Remove it and try again."
        )
    value = normalise(value, field.shape)
    if is_blank(value):
        if field.required:
            raise field.refuse_empty()
        if field.shape != "exact":
            return ""
    if len(value) > field.max_chars:
        raise InvalidInput(
            f"{field.name} can be at most {field.max_chars:,} characters; this one has "
            f"{len(value):,}. Shorten it and try again."
        )
    return value


def validate_message(text: str | None, *, max_chars: int) -> str:
    return clean(text, message_field(max_chars))


def validate_title(text: str | None) -> str:
    return clean(text, TITLE)


def storable(text: str) -> str:
    """Text that did not come from a keyboard (a model's answer or title), made storable:
    NUL and unpaired surrogates become U+FFFD, the usual mark of an unreadable character."""
    if unstorable_reason(text) is None:
        return text
    return _UNSTORABLE.sub(REPLACEMENT, text)


def unsendable_reason(text: str) -> str | None:
    """A sentence when typed text arrived with a character the browser could not send
    (half an emoji, a damaged paste: it arrives as U+FFFD, see chat/web/websocket_text.py);
    the page then offers the text back instead of sending it altered."""
    if REPLACEMENT not in text:
        return None
    return (
        "Your message has a character your browser could not send (shown as \ufffd: often "
        "half of an emoji or a damaged paste), so nothing was sent. Copy your text from "
        "below, fix or remove that character, and send it again."
    )


def displayable(text: str) -> str:
    """Text that can always be sent to the browser (unpaired surrogates shown as escapes)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
