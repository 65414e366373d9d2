"""The sensitive-word engine: Aho-Corasick over normalised text, so it works on Chinese (no
word boundaries) and sees through the usual evasions.

Normalising a text, one character at a time:
- NFKD, so full-width letters and digits become ASCII (ＶＩＰ → VIP) and accented letters
  split into a letter and marks;
- case folding;
- only letters and digits are kept: zero-width and other format characters, spaces,
  punctuation, symbols, emoji and every combining mark (accents, strike-through, keycaps, the
  variation selector most emoji carry) go, so "赌 博", "赌.博", "赌🙂博", "赌❤️博" and
  "v\u0336i\u0336p" read 赌博 and vip.

Every kept character remembers where it came from, so a hit is reported with its span in the
original text. Words and allowlisted terms are normalised the same way; a hit that lies inside
an allowlisted term (e.g. 打击赌博 around 赌博) is not a hit.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate

import ahocorasick

# Letters and digits carry meaning; everything else is noise between them. Combining marks are
# dropped too: they are how strike-through, keycaps and emoji variants hide a word, and words
# are folded the same way, so 是 and café still match themselves.
_KEPT = ("L", "N")


@lru_cache(maxsize=8192)
def _fold(char: str) -> str:
    """What one original character becomes: "" when it is noise."""
    folded = unicodedata.normalize("NFKD", char).casefold()
    return "".join(piece for piece in folded if unicodedata.category(piece)[0] in _KEPT)


def normalize(text: str) -> tuple[str, list[int]]:
    """The normalised text, and for each of its characters the index it came from."""
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        folded = _fold(char)
        if folded:
            out.append(folded)
            origin.extend([index] * len(folded))
    return "".join(out), origin


def normalize_word(word: str) -> str:
    return normalize(word)[0]


@dataclass(frozen=True)
class Entry:
    word: str
    category: str
    action: str


@dataclass(frozen=True)
class Hit:
    word: str
    category: str
    action: str
    start: int  # in the original text
    end: int
    matched: str  # the original characters, evasions and all


# Which action wins when several words hit: block over review over warn.
ACTION_WEIGHT = {"block": 3, "review": 2, "warn": 1}


class Matcher:
    """A compiled lexicon. Build once per lexicon version; ``scan`` is thread-safe."""

    def __init__(self, entries: Iterable[Entry], allowed: Iterable[str] = ()):
        self._automaton = ahocorasick.Automaton()
        words: dict[str, list[Entry]] = {}
        for entry in entries:
            key = normalize_word(entry.word)
            if key:
                words.setdefault(key, []).append(entry)
        allowed_keys = {key for key in map(normalize_word, allowed) if key}
        for key, listed in words.items():
            # A term both listed and allowed is simply allowed.
            kind = "allow" if key in allowed_keys else "word"
            self._automaton.add_word(key, (kind, len(key), tuple(listed)))
        for key in allowed_keys - words.keys():
            self._automaton.add_word(key, ("allow", len(key), ()))
        self.size = sum(len(listed) for listed in words.values())
        self._empty = len(self._automaton) == 0
        if not self._empty:
            self._automaton.make_automaton()

    def scan(self, text: str) -> list[Hit]:
        if self._empty or not text:
            return []
        normalized, origin = normalize(text)
        if not normalized:
            return []
        return self.scan_normalized(text, normalized, origin)

    def scan_normalized(self, text: str, normalized: str, origin: list[int]) -> list[Hit]:
        found: list[tuple[int, int, tuple[Entry, ...]]] = []
        allowed: list[tuple[int, int]] = []
        for last, (kind, length, entries) in self._automaton.iter(normalized):
            if kind == "allow":
                allowed.append((last - length + 1, last))
            else:
                found.append((last - length + 1, last, entries))
        # Is a hit inside an allowed span? Spans sorted by start, with the furthest end reached
        # so far: one binary search per hit instead of a look at every span.
        allowed.sort()
        starts = [a_first for a_first, _a_last in allowed]
        reach = list(accumulate((a_last for _a_first, a_last in allowed), max))
        hits: list[Hit] = []
        for first, last, entries in found:
            before = bisect_right(starts, first)
            if before and reach[before - 1] >= last:
                continue
            start, end = origin[first], origin[last] + 1
            while end < len(text) and unicodedata.category(text[end])[0] == "M":
                end += 1  # a combining mark belongs to the letter before it
            hits.extend(Hit(entry.word, entry.category, entry.action, start, end, text[start:end]) for entry in entries)
        return sorted(hits, key=lambda hit: (hit.start, -hit.end, hit.word))

    def count(self, normalized: str) -> int:
        """How many words occur in already normalised text (for measuring raw matching speed)."""
        return sum(1 for _last, (kind, _length, _entries) in self._automaton.iter(normalized) if kind == "word")


def strongest(hits: Iterable[Hit]) -> str | None:
    """The action the hits call for together (block > review > warn), or None."""
    best = max(hits, key=lambda hit: ACTION_WEIGHT.get(hit.action, 0), default=None)
    return best.action if best else None
