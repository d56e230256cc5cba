"""Usernames that look alike are one name.

A username is stored as typed (lower-case letters, digits, ".", "_", "-"); its fold is what
two names are compared by, so "alice", "Alice", "ａｌｉｃｅ", "al1ce", "a.lice" and "alice_"
cannot be registered side by side to impersonate each other. The fold is stored (users.
username_fold, migration 0008); changing it needs a migration that recomputes it.
"""

from __future__ import annotations

import re
import unicodedata

# Characters drawn alike in common fonts, mapped to one of them (after NFKC and casefold).
_CONFUSABLES = str.maketrans(
    {
        "0": "o",
        "1": "l",
        "i": "l",  # i, l, 1 and I are one stroke in many fonts
        "|": "l",
        "!": "l",
        # Cyrillic and Greek letters that look Latin.
        "а": "a",
        "е": "e",
        "о": "o",
        "р": "p",
        "с": "c",
        "х": "x",
        "у": "y",
        "і": "l",
        "ј": "j",
        "ѕ": "s",
        "ԁ": "d",
        "һ": "h",
        "ӏ": "l",
        "κ": "k",
        "ο": "o",
        "α": "a",
        "ν": "v",
        "ρ": "p",
        "τ": "t",
        "ι": "l",
    }
)
_LETTER_PAIRS = (("rn", "m"), ("vv", "w"), ("cl", "d"))
_SEPARATORS = re.compile(r"[\s._\-'`\"·•,;:]+")


def fold(username: str) -> str:
    """The comparison key: NFKC, casefold, confusables mapped, separators and trailing
    punctuation dropped."""
    text = unicodedata.normalize("NFKC", username or "").casefold()
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")  # combining marks
    text = text.translate(_CONFUSABLES)
    text = _SEPARATORS.sub("", text)
    for pair, single in _LETTER_PAIRS:
        text = text.replace(pair, single)
    return text
