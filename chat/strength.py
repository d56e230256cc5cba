"""How guessable a configured secret is, for a hosted instance's start-up checks.

Length alone let `xxxx…` or a sentence of dictionary words through. zxcvbn (Dropbox's
estimator: dictionaries, repeats, sequences, keyboard walks) estimates the guesses needed;
on top, a secret mostly made of such patterns is refused whatever its length, since an
estimate for "words joined by dashes" depends on which words an attacker tries first.
"""

from __future__ import annotations

from zxcvbn import zxcvbn

# Guessable patterns (everything zxcvbn finds except brute force) may cover at most this
# share of a secret. Random keys (token_urlsafe, hex) stay well under it.
MAX_PATTERN_SHARE = 0.5
_PATTERNS = {"dictionary", "repeat", "sequence", "spatial", "date", "regex"}


def weak_secret_reason(secret: str, *, min_guesses_log10: float) -> str | None:
    """A short reason when the secret is guessable, else None."""
    sample = secret[:128]  # zxcvbn is quadratic in length; a prefix decides
    if not sample:
        return "it is empty"
    result = zxcvbn(sample)
    covered = sum(
        len(match["token"]) for match in result["sequence"] if match["pattern"] in _PATTERNS
    )
    if covered / len(sample) >= MAX_PATTERN_SHARE:
        kinds = sorted({m["pattern"] for m in result["sequence"] if m["pattern"] in _PATTERNS})
        names = {"dictionary": "dictionary words", "repeat": "repeated characters"}
        return "it is mostly " + " and ".join(names.get(kind, kind) for kind in kinds)
    if float(result["guesses_log10"]) < min_guesses_log10:
        return "it is too easy to guess"
    return None
