"""Case-insensitive cue patterns that run at the speed of case-sensitive ones.

Python's regular-expression engine matches an ``IGNORECASE`` pattern several times slower than
the same pattern without the flag (it folds every character it compares, and cannot skip ahead
to a literal prefix). Cue patterns are written in lower case, so a :class:`Cue` matches the
*lower-cased* text with a case-sensitive twin of the pattern instead: the same matches at the
same offsets, two to four times faster. Two things keep that exact:

* a pattern with an upper-case letter outside an escape (``[A-Z]``, ``MEDLINE``) is matched as
  written, with the flag, on the original text;
* a text whose lower-cased form has another length (a few Unicode letters lower-case to two
  characters) is matched as written too, so offsets always refer to the original text.

Groups of a folded match read in lower case; callers read numbers and words from them, never
text to show.

A cue that can only start with a few characters ("report|present|describe": ``r``, ``p``,
``d``) is also given a lookahead naming them, so the engine passes over other positions at
the cost of one character test instead of trying every alternative (two to three times faster
on the patterns that start with a count). The characters are read from the parsed pattern; a
pattern whose start cannot be read that way is used as written.

Most cues match few sentences. A cue every match of which must contain one of a few literal
words ("improv", "reduc", … or "patient", "case", …) first asks whether the text holds any of
them (``in``, a plain substring test, is far cheaper than a regular-expression search), and
answers "no match" at once when it holds none. The words are read from the parsed pattern too
(:func:`_required_words`); a pattern without such words is always searched.

A cue searching a whole text asks its RE2 prefilter instead (:mod:`ingest.extraction.prefilter`):
one linear pass that rules out a match only where Python's engine would find none, and costs
less than the word test and the failed search together. A cue with no prefilter, or searching
from an offset, keeps the word test.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Iterator
from functools import lru_cache
from typing import Any, Final

from ingest.extraction.prefilter import prefilter

_UPPER_OUTSIDE_ESCAPE: Final = re.compile(r"(?<!\\)[A-Z]")
#: The most characters a start lookahead names (beyond that it saves little).
_MAX_START_CHARACTERS: Final = 24


@lru_cache(maxsize=512)
def _lower(text: str) -> str:
    return text.lower()


class Cue:
    """A compiled pattern; case-insensitive ones match lower-cased text (see the module)."""

    __slots__ = ("_folded", "_pattern", "_prefilter", "_words", "flags", "pattern")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = pattern
        self.flags = flags
        fast = _with_start_lookahead(pattern, flags)
        self._pattern = re.compile(fast, flags)
        foldable = bool(flags & re.IGNORECASE) and not _UPPER_OUTSIDE_ESCAPE.search(_without_escapes(pattern))
        self._folded = re.compile(fast, flags & ~re.IGNORECASE) if foldable else None
        # Words one of which every match holds; tested on the lower-cased text, so only for
        # folded cues (a cue matched as written keeps its own case rules).
        self._words = _required_words(pattern, flags) if self._folded is not None else None
        # The RE2 test of the pattern a text is searched with (the folded one, when there is one).
        found = prefilter(self._folded if self._folded is not None else self._pattern)
        self._prefilter = found.may_match if found is not None else None

    def _target(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> tuple[re.Pattern[str], str] | None:
        """The compiled pattern and the text to run it on; None when no match is possible."""
        may_match = self._prefilter if not pos and endpos >= len(text) else None
        if self._folded is not None:
            low = _lower(text)
            if len(low) == len(text):
                if may_match is not None:
                    if not may_match(low):
                        return None
                else:
                    words = self._words
                    if words is not None and not any(map(low.__contains__, words)):
                        return None
                return self._folded, low
            return self._pattern, text
        if may_match is not None and not may_match(text):
            return None
        return self._pattern, text

    def search(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        """As :meth:`re.Pattern.search`."""
        target = self._target(text, pos, endpos)
        return None if target is None else target[0].search(target[1], pos, endpos)

    def match(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        """As :meth:`re.Pattern.match`."""
        target = self._target(text, pos, endpos)
        return None if target is None else target[0].match(target[1], pos, endpos)

    def finditer(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> Iterator[re.Match[str]]:
        """As :meth:`re.Pattern.finditer`."""
        target = self._target(text, pos, endpos)
        return iter(()) if target is None else target[0].finditer(target[1], pos, endpos)

    def findall(self, text: str) -> list[str]:
        """As :meth:`re.Pattern.findall` (lower-cased when folded)."""
        target = self._target(text)
        return [] if target is None else target[0].findall(target[1])

    def sub(self, replacement: str, text: str) -> str:
        """Each match replaced by ``replacement`` (a plain string); the rest of ``text`` is kept
        as written, in its own case."""
        found = self._target(text)
        if found is None:
            return text
        pattern, target = found
        if target is text:
            return pattern.sub(lambda _: replacement, text)
        parts: list[str] = []
        last = 0
        for m in pattern.finditer(target):
            parts.extend((text[last : m.start()], replacement))
            last = m.end()
        parts.append(text[last:])
        return "".join(parts)

    def __repr__(self) -> str:
        return f"Cue({self.pattern!r}, folded={self._folded is not None})"


def _without_escapes(pattern: str) -> str:
    """The pattern with escaped characters (``\\S``, ``\\B``, ``\\N{…}``) and group syntax
    (``(?P<name>``, ``(?P=name)``) removed: what is left of its letters are literals."""
    return re.sub(r"\\N\{[^}]*\}|\\.|\(\?P<\w+>|\(\?P=\w+\)", "", pattern)


def _with_start_lookahead(pattern: str, flags: int) -> str:
    """``pattern`` behind a lookahead naming the characters a match can start with, when they
    are few and can be read from the parsed pattern; else ``pattern`` as it is."""
    try:
        parser = importlib.import_module("re._parser")  # the standard library's own (private: guarded)
        parsed = parser.parse(pattern, flags)
        first = _first_characters(list(parsed))
    except Exception:  # an optimisation only: any failure leaves the pattern as it is
        return pattern
    if not first or len(first) > _MAX_START_CHARACTERS:
        return pattern
    return "(?=[" + "".join(sorted(first)) + "])(?:" + pattern + ")"


def _first_characters(items: list[Any]) -> set[str] | None:
    """Class members (escaped) that can begin a match of the parsed items, or None if unknown."""
    c: Any = importlib.import_module("re._constants")

    for op, arg in items:
        if op is c.AT or op is c.ASSERT_NOT or (op is c.ASSERT and arg[0] == -1):
            continue  # \b, ^, (?!…), (?<=…): zero-width, look at what follows
        if op is c.LITERAL:
            return {f"\\x{{{arg:x}}}" if arg > 0xFF else f"\\x{arg:02x}"}
        if op is c.IN:
            out: set[str] = set()
            for kind, value in arg:
                if kind is c.LITERAL:
                    out.add(f"\\x{{{value:x}}}" if value > 0xFF else f"\\x{value:02x}")
                elif kind is c.CATEGORY and value is c.CATEGORY_DIGIT:
                    out.add("\\d")
                elif kind is c.RANGE and value[1] - value[0] < _MAX_START_CHARACTERS:
                    out.update(f"\\x{v:02x}" for v in range(value[0], value[1] + 1) if v <= 0xFF)
                else:
                    return None  # a negated class, \w, \s, a wide range: too many to name
            return out
        if op is c.SUBPATTERN:
            return _first_characters(list(arg[-1]))
        if op is c.ASSERT and arg[0] == 1:
            return _first_characters(list(arg[1]))  # a lookahead already names them
        if op is c.BRANCH:
            union: set[str] = set()
            for branch in arg[1]:
                first = _first_characters(list(branch))
                if first is None:
                    return None
                union |= first
            return union
        if op in (c.MAX_REPEAT, c.MIN_REPEAT) and arg[0] >= 1:
            return _first_characters(list(arg[2]))
        return None  # optional items, groups references, anything else: unknown
    return None


#: Required words shorter than this are in nearly every sentence: not worth testing.
_MIN_WORD = 3
#: More required words than this cost more to test than the search they would save (tested on
#: whole abstracts too, where a long list costs more than it saves).
_MAX_WORDS = 40


def _required_words(pattern: str, flags: int) -> tuple[str, ...] | None:
    """Literal strings (lower case) one of which every match of ``pattern`` contains, when the
    parsed pattern shows a useful set of them; None otherwise."""
    try:
        parser = importlib.import_module("re._parser")  # the standard library's own (private: guarded)
        words = _required(list(parser.parse(pattern, flags)))
    except Exception:  # an optimisation only: any failure leaves the cue always searched
        return None
    if not words or len(words) > _MAX_WORDS or min(len(w) for w in words) < _MIN_WORD:
        return None
    return tuple(sorted(words, key=lambda w: (len(w), w)))  # shorter words first: more often there, found sooner


def _required(items: list[Any]) -> set[str] | None:
    """For a sequence of parsed items: a set of literal strings one of which every match holds
    (the most selective the items offer), or None when none is known."""
    c: Any = importlib.import_module("re._constants")
    best: set[str] | None = None

    def consider(candidate: set[str] | None) -> None:
        nonlocal best
        if candidate and (best is None or _better(candidate, best)):
            best = candidate

    run: list[str] = []
    for op, arg in items:
        if op is c.LITERAL:
            run.append(chr(arg).lower())
            continue
        consider({"".join(run)} if run else None)
        run = []
        if op is c.SUBPATTERN:
            consider(_required(list(arg[-1])))
        elif op is c.BRANCH:
            union: set[str] = set()
            for branch in arg[1]:
                found = _required(list(branch))
                if not found:
                    union = set()
                    break
                union |= found
            consider(union or None)
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT) and arg[0] >= 1:
            consider(_required(list(arg[2])))
        # anything else (classes, optional items, assertions, anchors) requires nothing known
    consider({"".join(run)} if run else None)
    return best


def _better(a: set[str], b: set[str]) -> bool:
    """Whether required set ``a`` is the more selective: longer shortest word, then fewer words."""
    return (min(map(len, a)), -len(a)) > (min(map(len, b)), -len(b))


def cue(pattern: str, flags: int = 0) -> Cue:
    """A :class:`Cue` for ``pattern`` (compiled once; fold-matched when it can be)."""
    return Cue(pattern, flags)
