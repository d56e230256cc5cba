"""Reading the bad-input corpus (tests/data/bad_input.json): one place decides how a case
becomes the text or bytes a test sends, and what outcome it expects on a given path."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

CORPUS_FILE = Path(__file__).resolve().parents[1] / "data" / "bad_input.json"


@cache
def corpus() -> dict[str, Any]:
    # json turns the file's \u0000 and lone \ud800 escapes into exactly those characters.
    return json.loads(CORPUS_FILE.read_text(encoding="utf-8"))


def text_cases() -> list[dict[str, Any]]:
    return list(corpus()["text_cases"])


def upload_cases() -> list[dict[str, Any]]:
    return list(corpus()["upload_cases"])


def text_case(case_id: str) -> dict[str, Any]:
    return next(case for case in text_cases() if case["id"] == case_id)


def size(spec: int | str, sizes: dict[str, int]) -> int:
    """`3000`, `"limit"` or `"limit+1"` (any name in `sizes`, plus or minus a number)."""
    if isinstance(spec, int):
        return spec
    for sign in ("+", "-"):
        if sign in spec:
            name, offset = spec.split(sign)
            return sizes[name] + (int(offset) if sign == "+" else -int(offset))
    return sizes[spec]


def expand(value: Any, sizes: dict[str, int]) -> Any:
    """The value with every {"repeat": text, "times": size} template written out."""
    if isinstance(value, dict):
        if "repeat" in value:
            return value["repeat"] * size(value["times"], sizes)
        return {key: expand(item, sizes) for key, item in value.items()}
    if isinstance(value, list):
        return [expand(item, sizes) for item in value]
    return value


@dataclass(frozen=True)
class Expected:
    """What one case must do on one path."""

    case_id: str
    text: str  # what is typed
    outcome: str  # round-trip | refused
    says: str  # for a refusal: part of the user's sentence
    stored: str  # for a round-trip: what is stored and shown
    search_finds: bool


def expected(case: dict[str, Any], path: str, *, limit: int, shape: str) -> Expected:
    """The case's outcome on `path` (limit and shape are the path's: see the corpus' about)."""
    rule = {
        "expect": case["expect"],
        "says": case.get("says", ""),
        **corpus()["defaults"].get(path, {}),
        **case.get("paths", {}).get(path, {}),
    }
    text = expand(case["input"], {"limit": limit})
    stored = text if shape == "exact" else case.get("stored", {}).get(shape, text)
    return Expected(
        case_id=case["id"],
        text=text,
        outcome=rule["expect"],
        says=rule.get("says", "").replace("{limit}", f"{limit:,}"),
        stored=stored,
        search_finds=bool(case.get("search_finds")),
    )


def upload_bytes(upload: dict[str, Any], sizes: dict[str, int]) -> bytes:
    """The file a user would upload for an upload case."""
    if "hex" in upload:
        data = bytes.fromhex(upload["hex"])
    elif "lines" in upload:
        lines = [json.dumps(row, ensure_ascii=False) for row in expand(upload["lines"], sizes)]
        data = "\n".join(lines).encode("utf-8")
    else:
        data = expand(upload["text"], sizes).encode("utf-8")
    data = bytes.fromhex(upload.get("prefix_hex", "")) + data
    if "pad_to" in upload:
        data += b" " * (size(upload["pad_to"], sizes) - len(data))
    return data
