"""A linear-time "can this cue match here at all?" test, run before Python's engine.

Most cue searches find nothing, and Python's backtracking engine pays for a failed search at
every position of the text. RE2 (Google's automaton-based engine, ``google-re2``) answers the
same question in one pass. It cannot replace the cue: it has no lookarounds, and its ``\\w``,
``\\s`` and ``\\b`` are ASCII ones. So each cue gets an RE2 *prefilter*: a pattern that matches
wherever the cue could, and perhaps more.

* Lookarounds are dropped, and so is ``$`` (Python's also matches before a final newline):
  leaving out a condition can only let more text match.
* Possessive repeats and atomic groups become ordinary ones: again, more can match, never less.
* Classes (``\\w``, ``\\s``, ``\\d`` and their negations, inside brackets or not) are written out
  as the ASCII characters Python's Unicode classes hold among ASCII characters, and ``\\b`` is
  kept: on ASCII text both engines agree on them exactly.

A prefilter is therefore only asked about ASCII text (``str.isascii`` is a constant-time flag
test), searched from its start; anything else goes straight to Python's engine. When it says
"no match", Python's engine would have found none, so skipping the search changes no result;
when it says "maybe", the cue's own pattern is searched as before. A pattern the translation
does not cover (a backreference, a conditional group) has no prefilter.
"""

from __future__ import annotations

import importlib
import re
from typing import Any, Final

import re2

_c: Any = importlib.import_module("re._constants")  # the standard library's parser (private: guarded)
_parser: Any = importlib.import_module("re._parser")

#: Python's Unicode classes restricted to ASCII, as RE2 class members.
_CLASS: Final[dict[Any, str]] = {
    _c.CATEGORY_SPACE: r"\x09-\x0d\x1c-\x20",
    _c.CATEGORY_NOT_SPACE: r"\x00-\x08\x0e-\x1b\x21-\x7f",
    _c.CATEGORY_WORD: r"0-9A-Za-z_",
    _c.CATEGORY_NOT_WORD: r"\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f",
    _c.CATEGORY_DIGIT: r"0-9",
    _c.CATEGORY_NOT_DIGIT: r"\x00-\x2f\x3a-\x7f",
}
#: RE2's largest counted repeat.
_MAX_COUNT: Final = 1000
_INLINE_FLAGS: Final = ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"))
_UNANCHORED: Final = re2._re2.RE2.Anchor.UNANCHORED


class Untranslatable(ValueError):
    """The pattern uses something the prefilter translation does not cover."""


class Prefilter:
    """An RE2 pattern matching wherever a Python pattern can match, on ASCII text."""

    __slots__ = ("_regexp", "source")

    def __init__(self, source: str) -> None:
        options = re2.Options()
        options.log_errors = False
        self.source = source
        self._regexp = re2._re2.RE2(source.encode("ascii"), options)
        if not self._regexp.ok():
            raise Untranslatable(self._regexp.error())

    def may_match(self, text: str) -> bool:
        """False only when the Python pattern has no match in ``text`` (ASCII text only)."""
        data = text.encode("ascii")
        return self._regexp.Match(_UNANCHORED, data, 0, len(data))[0][0] != -1


def prefilter(pattern: re.Pattern[str]) -> Prefilter | None:
    """The prefilter of a compiled pattern, or None when it cannot be translated."""
    try:
        return Prefilter(translate(pattern.pattern, pattern.flags))
    except (Untranslatable, re.error, UnicodeEncodeError, KeyError):
        return None


def translate(pattern: str, flags: int = 0) -> str:
    """The RE2 source of a pattern matching a superset of ``pattern``'s matches on ASCII text.

    Raises:
        Untranslatable: the pattern uses a construct with no superset translation here.
    """
    parsed = _parser.parse(pattern, flags)
    head = "".join(letter for flag, letter in _INLINE_FLAGS if parsed.state.flags & flag)
    return (f"(?{head})" if head else "") + _sequence(list(parsed))


def _sequence(items: list[tuple[Any, Any]]) -> str:
    return "".join(_item(op, arg) for op, arg in items)


def _literal(code: int) -> str:
    return chr(code) if chr(code).isascii() and chr(code).isalnum() else f"\\x{{{code:x}}}"


def _member(op: Any, arg: Any) -> str:
    if op is _c.LITERAL:
        return _literal(arg)
    if op is _c.RANGE:
        return f"{_literal(arg[0])}-{_literal(arg[1])}"
    if op is _c.CATEGORY and arg in _CLASS:
        return _CLASS[arg]
    raise Untranslatable(f"class member {op}")


def _item(op: Any, arg: Any) -> str:
    if op is _c.LITERAL:
        return _literal(arg)
    if op is _c.NOT_LITERAL:
        return f"[^{_literal(arg)}]"
    if op is _c.ANY:
        return "."
    if op is _c.IN:
        negated = bool(arg) and arg[0][0] is _c.NEGATE
        members = "".join(_member(o, a) for o, a in (arg[1:] if negated else arg))
        return f"[{'^' if negated else ''}{members}]"
    if op is _c.CATEGORY and arg in _CLASS:
        return f"[{_CLASS[arg]}]"
    if op is _c.BRANCH:
        return "(?:" + "|".join(_sequence(list(branch)) for branch in arg[1]) + ")"
    if op is _c.SUBPATTERN:
        _, added, removed, items = arg
        on = "".join(letter for flag, letter in _INLINE_FLAGS if added & flag)
        off = "".join(letter for flag, letter in _INLINE_FLAGS if removed & flag)
        return f"(?{on}{'-' + off if off else ''}:{_sequence(list(items))})"
    if op is _c.ATOMIC_GROUP:
        return f"(?:{_sequence(list(arg))})"
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
        low, high, items = arg
        if low > _MAX_COUNT or (high is not _c.MAXREPEAT and high > _MAX_COUNT):
            raise Untranslatable("a counted repeat beyond RE2's limit")
        body = f"(?:{_sequence(list(items))})"
        if high is _c.MAXREPEAT:
            return body + ("*" if low == 0 else "+" if low == 1 else f"{{{low},}}")
        return body + f"{{{low},{high}}}"
    if op in (_c.ASSERT, _c.ASSERT_NOT):
        return ""  # a lookaround only narrows the matches: left out
    if op is _c.AT:
        if arg is _c.AT_BEGINNING:
            return "^"
        if arg is _c.AT_BEGINNING_STRING:
            return r"\A"
        if arg is _c.AT_BOUNDARY:
            return r"\b"
        if arg is _c.AT_NON_BOUNDARY:
            return r"\B"
        if arg in (_c.AT_END, _c.AT_END_STRING):
            return ""  # Python's $ also matches before a final newline: left out
    raise Untranslatable(f"{op} {arg}")
