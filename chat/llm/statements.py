"""What a user has stated, found by plain text analysis: no list of kinds of fact.

The offline model answers "Where does my daughter go to school?" by ranking the user's
earlier statements against the question (BM25 over Snowball stems, from the bm25s and
snowballstemmer libraries) and quoting the best ones; its summariser and the user-memory
extractor keep the same statements. Nothing here knows what a name, a pet or a deadline is:
it works on any fact a person writes as a sentence about themselves.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import snowballstemmer
from langchain_core.messages import BaseMessage


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")
_WORD = re.compile(r"[^\W_]+(?:['’.-][^\W_]+)*")
# English function words: what carries no fact. (Grammar, not a list of facts.)
STOPWORDS = _wordset(
    """a about above after again against all also am an and any are aren't as at be because
    been before being below between both but by can can't cannot could couldn't did didn't do
    does doesn't doing don't down during each few for from further had hadn't has hasn't have
    haven't having he he'd he'll he's her here here's hers herself him himself his how how's
    i i'd i'll i'm i've if in into is isn't it it's its itself just let's me more most mustn't
    my myself no nor not now of off on once only or other ought our ours ourselves out over own
    same shan't she she'd she'll she's should shouldn't so some such than that that's the their
    theirs them themselves then there there's these they they'd they'll they're they've this
    those through to too under until up very was wasn't we we'd we'll we're we've were weren't
    what what's when when's where where's which while who who's whom why why's will with won't
    would wouldn't you you'd you'll you're you've your yours yourself yourselves again still
    really actually please thanks thank ok okay yes yeah"""
)
# Words of asking, not of the thing asked about ("do you remember what my ... is").
ASKING = _wordset("remember recall remind tell know again said say told mention mentioned")
_ABOUT_ME = _wordset(
    "i i'm i've i'd i'll me my mine myself we we're we've we'd our ours us ourselves"
)
_QUESTION_START = _wordset(
    """what what's who who's whom whose where where's when when's which why how how's do does
    did is are am was were can could would will shall should have has had"""
)
# How a request to the assistant starts ("Give me...", "Can you..."): not a statement.
_REQUEST_START = re.compile(
    r"^(?:please\b|(?:can|could|would|will)\s+you\b|give\b|tell\b|explain\b|summari[sz]e\b"
    r"|list\b|show\b|help\b|write\b|describe\b|suggest\b|recommend\b|let'?s\b|i'?d\s+like\b"
    r"|i\s+want\s+you\b|any\s+(?:advice|tips|ideas)\b)",
    re.IGNORECASE,
)


def normalise(text: str) -> str:
    return text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')


_ABBREVIATION = re.compile(  # "Dr. Ito", "St. Paul's", "J. R. R.", "e.g." end no sentence
    r"(?:^|\s)(?:mrs?|ms|dr|st|prof|sr|jr|mt|vs|etc|e\.g|i\.e|a\.m|p\.m|[A-Z])\.$",
    re.IGNORECASE,
)


def sentences(text: str) -> list[str]:
    """The sentences of `text` (and its lines), trimmed, in order. A period after a title
    or an initial ("St. Paul's", "Dr. Ito") does not end a sentence."""
    out: list[str] = []
    for line in normalise(text).splitlines():
        joined: list[str] = []
        for piece in _SENTENCE_END.split(line):
            piece = piece.strip()
            if piece and joined and _ABBREVIATION.search(joined[-1]):
                joined[-1] = f"{joined[-1]} {piece}"
            elif piece:
                joined.append(piece)
        out += joined
    return out


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(normalise(text))]


@cache
def _stemmer() -> snowballstemmer.Stemmer:
    return snowballstemmer.stemmer("english")


def terms(text: str, *, drop: frozenset[str] = frozenset()) -> list[str]:
    """The stemmed content words of `text` (function words dropped), in order."""
    kept = [w.removesuffix("'s") for w in words(text) if w not in STOPWORDS and w not in drop]
    return list(_stemmer().stemWords([w for w in kept if w]))


def is_question(sentence: str) -> bool:
    first = next(iter(words(sentence)), "")
    return sentence.rstrip().endswith("?") or first in _QUESTION_START


def is_request(sentence: str) -> bool:
    return bool(_REQUEST_START.match(sentence.strip()))


def about_the_user(sentence: str) -> bool:
    """Whether the sentence speaks of the user (I, my, we, our...)."""
    return any(word in _ABOUT_ME for word in words(sentence))


def is_statement(sentence: str) -> bool:
    """A declarative sentence of a few words: something the user states, not asks or asks for."""
    return len(words(sentence)) >= 3 and not is_question(sentence) and not is_request(sentence)


_EMBEDDED = re.compile(r"(?:\bthat|:)\s+(?P<clause>.+)$", re.IGNORECASE)


def statements_in(text: str) -> list[str]:
    """The statements of `text`, including one a request carries ("Please remember that
    my locker is number 12." -> "my locker is number 12.")."""
    found: list[str] = []
    for sentence in sentences(text):
        if is_statement(sentence):
            found.append(sentence)
        elif is_request(sentence) and (embedded := _EMBEDDED.search(sentence)):
            clause = embedded.group("clause").strip()
            if about_the_user(clause) and is_statement(clause):
                found.append(clause)
    return found


# "How do I brew tea?", "Should we book early?": asking for advice, not about the user.
_ADVICE = re.compile(
    r"^\W*(?:how\s+(?:do|can|could|should|would)|should|can|could|shall)\s+(?:i|we)\b",
    re.IGNORECASE,
)


def asks_about_the_user(text: str) -> bool:
    """A question about something of the user's ("Where does my daughter go to school?"),
    not one asking for advice ("How do I brew oolong tea?")."""
    return any(
        is_question(s) and about_the_user(s) and not _ADVICE.match(s) for s in sentences(text)
    )


_BLOCK_HEADING = re.compile(r"^[^\n]{0,80}:$")  # "Summary of the earlier conversation:"


def _is_user_voice(message: BaseMessage) -> bool:
    """Human and system messages (summaries, user memory, profile) state the user's facts;
    the assistant's words do not count."""
    role = getattr(message, "role", None)
    return message.type in ("human", "system") or role in ("user", "system")


def user_statements(messages: Sequence[BaseMessage]) -> list[str]:
    """Every statement in the user's voice, oldest first (block headings and the topics
    line of a summary are not statements)."""
    found: list[str] = []
    for message in messages:
        if not _is_user_voice(message):
            continue
        for line in message.text.splitlines():
            line = line.strip().removeprefix("- ").strip()
            if not line or _BLOCK_HEADING.match(line) or line.startswith("Recent topics:"):
                continue
            found += statements_in(line)
    return found


# --- conflicts: the newest statement wins -------------------------------------------------


def _frame(tokens: list[str]) -> tuple[list[str], str, str] | None:
    """A statement's frame: its first run of content words, the function word after it and
    the word after that (the value): "I live in Lisbon" -> (["live"], "in", "lisbon")."""
    start = next((i for i, w in enumerate(tokens) if w not in STOPWORDS), None)
    if start is None:
        return None
    end = start
    while end < len(tokens) and tokens[end] not in STOPWORDS:
        end += 1
    if end + 1 >= len(tokens):
        return None
    return tokens[start:end], tokens[end], tokens[end + 1]


def supersedes(newer: str, older: str) -> bool:
    """Whether `newer` restates `older` with another value ("My coach is Ana." ->
    "My new coach is Ben."; "I live in Lyon." -> "I live in Porto now."): the
    older's frame recurs in the newer statement, followed by another word."""
    frame = _frame(words(older))
    if frame is None:
        return False
    lead, anchor, value = frame
    tokens = words(newer)
    n = len(lead)
    for i in range(len(tokens) - n - 1):
        if tokens[i : i + n] == lead and tokens[i + n] == anchor:
            return tokens[i + n + 1] != value
    return False


def keep_newest(statements: Sequence[str]) -> list[str]:
    """`statements` (oldest first) without those a later one superseded, or repeated."""
    kept: list[str] = []
    for statement in statements:
        key = statement.lower()
        kept = [s for s in kept if s.lower() != key and not supersedes(statement, s)]
        kept.append(statement)
    return kept


# --- ranking ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    text: str
    order: int  # position among the candidates: higher is newer
    score: float
    coverage: float  # share of the question's words (families) the text contains


_POSSESSOR = re.compile(r"\b(?:my|our|your)\s+((?:[^\W_]+\s+)?[^\W_]+(?:'s)?)", re.IGNORECASE)


def _same_family(a: str, b: str) -> bool:
    """Stems of one word family that stemming alone leaves apart ("teach", "teacher"): a
    common prefix of five letters, or one a prefix of the other (four letters at least)."""
    if a == b:
        return True
    if len(a) >= 5 and len(b) >= 5 and a[:5] == b[:5]:
        return True
    return min(len(a), len(b)) >= 4 and (a.startswith(b) or b.startswith(a))


def question_terms(question: str) -> list[str]:
    """The question's content stems; what it says is the user's ("my sister's name")
    counts twice, being what the question is about."""
    query = terms(question, drop=ASKING)
    for possessed in _POSSESSOR.findall(normalise(question)):
        query += terms(possessed, drop=ASKING)[:1]
    return query


def rank(question: str, candidates: Sequence[str], *, limit: int = 3) -> list[Match]:
    """The candidates most relevant to `question`, best first (BM25 over stems, word
    families matched); only those sharing at least one word family with it."""
    asked = question_terms(question)
    corpus = [terms(text) for text in candidates]
    if not asked or not any(corpus):
        return []
    vocabulary = {t for doc in corpus for t in doc}
    query = [v for q in asked for v in vocabulary if _same_family(q, v)]
    if not query:
        return []
    import bm25s  # its import takes a third of a second: paid at the first question only

    index = bm25s.BM25()
    index.index([doc or ["\x00"] for doc in corpus], show_progress=False)
    scores = np.asarray(index.get_scores(query), dtype=float)
    order = sorted(range(len(candidates)), key=lambda i: (-scores[i], -i))
    distinct = set(asked)
    return [
        Match(
            candidates[i],
            i,
            float(scores[i]),
            sum(any(_same_family(q, t) for t in corpus[i]) for q in distinct) / len(distinct),
        )
        for i in order[:limit]
        if scores[i] > 0
    ]


def best_recollection(question: str, candidates: Sequence[str]) -> list[Match]:
    """What to say in answer: among the statements nearly as relevant as the best one, the
    newest first (a later statement wins over what it superseded), then the best one if
    it is another; at most two."""
    found = rank(question, candidates, limit=5)
    if not found:
        return []
    top = found[0].score
    close = [m for m in found if m.score >= 0.75 * top]
    newest = max(close, key=lambda m: m.order)
    chosen = [newest]
    if found[0] is not newest and not supersedes(newest.text, found[0].text):
        chosen.append(found[0])
    return chosen
