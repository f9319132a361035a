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
  as the ASCII characters Python's Unicode classes hold among ASCII characters.

Two programs are compiled from that translation:

* for ASCII text (``str.isascii`` is a constant-time flag test), ``\\b`` and ``\\B`` are kept:
  on ASCII text both engines agree on the classes and on word boundaries exactly;
* for other text, a class also admits every non-ASCII character (outside brackets or in a
  positive class; a negated class excludes only what it names exactly), and word boundaries
  are dropped. A pattern that ignores case has no such program: the two engines fold
  non-ASCII letters differently, so text with them goes straight to Python's engine.

A prefilter is asked only about a whole text, searched from its start. When it says "no
match", Python's engine would have found none, so skipping the search changes no result; when
it says "maybe", the cue's own pattern is searched as before. A pattern the translation does
not cover (a backreference, a conditional group) has no prefilter.
"""

from __future__ import annotations

import importlib
import re
from typing import Any, Final

import re2

# The standard library's own parser (private; a parse this module cannot read leaves the
# pattern without a prefilter, never with a wrong one).
_c: Any = importlib.import_module("re._constants")
_parser: Any = importlib.import_module("re._parser")

#: Python's Unicode classes restricted to ASCII, as RE2 class members.
_CLASS: Final[dict[Any, str]] = {  # for text of any kind, add _NON_ASCII (see _member)
    _c.CATEGORY_SPACE: r"\x09-\x0d\x1c-\x20",
    _c.CATEGORY_NOT_SPACE: r"\x00-\x08\x0e-\x1b\x21-\x7f",
    _c.CATEGORY_WORD: r"0-9A-Za-z_",
    _c.CATEGORY_NOT_WORD: r"\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f",
    _c.CATEGORY_DIGIT: r"0-9",
    _c.CATEGORY_NOT_DIGIT: r"\x00-\x2f\x3a-\x7f",
}
#: Every character beyond ASCII, as an RE2 class member.
_NON_ASCII: Final = r"\x{80}-\x{10ffff}"
#: RE2's largest counted repeat.
_MAX_COUNT: Final = 1000
_INLINE_FLAGS: Final = ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"))
_UNANCHORED: Final = re2._re2.RE2.Anchor.UNANCHORED


class Untranslatable(ValueError):
    """The pattern uses something the prefilter translation does not cover."""


class Prefilter:
    """RE2 programs matching wherever a Python pattern can match: one for ASCII text, one
    (when the pattern allows it) for any text."""

    __slots__ = ("_ascii", "_unicode", "source", "unicode_source")

    def __init__(self, source: str, unicode_source: str | None = None) -> None:
        self.source, self.unicode_source = source, unicode_source
        self._ascii = _compile(source)
        try:
            self._unicode = _compile(unicode_source) if unicode_source is not None else None
        except Untranslatable:  # RE2 refused the wider program: other text goes to Python's engine
            self._unicode = None

    def may_match(self, text: str) -> bool:
        """False only when the Python pattern has no match anywhere in ``text``."""
        if text.isascii():
            data = text.encode("ascii")
            return bool(self._ascii.Match(data))
        program = self._unicode
        if program is None:
            return True
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: left to Python's engine
            return True
        return bool(program.Match(data))


def _compile(source: str) -> Any:
    """An RE2 set holding the one program: a set only answers whether the text matches (one
    forward pass of its automaton, no match boundaries), about half the cost of a search."""
    options = re2.Options()
    options.log_errors = False
    matcher = re2._re2.Set(_UNANCHORED, options)
    if matcher.Add(source.encode("utf-8")) != 0:  # a set says only -1: the plain program says why
        raise Untranslatable(re2._re2.RE2(source.encode("utf-8"), options).error())
    if not matcher.Compile():
        raise Untranslatable(f"RE2 could not compile a set of {source!r}")
    return matcher


def prefilter(pattern: re.Pattern[str]) -> Prefilter | None:
    """The prefilter of a compiled pattern, or None when it cannot be translated."""
    try:
        ascii_source = translate(pattern.pattern, pattern.flags)
        try:
            unicode_source: str | None = translate(pattern.pattern, pattern.flags, any_text=True)
        except Untranslatable:
            unicode_source = None
        return Prefilter(ascii_source, unicode_source)
    except Exception:  # an optimisation only: any failure leaves the cue searched as before
        return None


def translate(pattern: str, flags: int = 0, *, any_text: bool = False) -> str:
    """The RE2 source of a pattern matching a superset of ``pattern``'s matches on ASCII text,
    or with ``any_text`` on text of any kind.

    Raises:
        Untranslatable: the pattern uses a construct with no superset translation here (with
            ``any_text``, also any case-insensitive part).
    """
    parsed = _parser.parse(pattern, flags)
    if any_text and parsed.state.flags & re.IGNORECASE:
        raise Untranslatable("case-insensitive matching of non-ASCII text")
    head = "".join(letter for flag, letter in _INLINE_FLAGS if parsed.state.flags & flag)
    return (f"(?{head})" if head else "") + _Translation(any_text).sequence(list(parsed))


class _Translation:
    """One translation of a parsed pattern: for ASCII text only, or for any text."""

    def __init__(self, any_text: bool) -> None:
        self.any_text = any_text

    def sequence(self, items: list[tuple[Any, Any]]) -> str:
        return "".join(self.item(op, arg) for op, arg in items)

    def category(self, arg: Any, *, negated_class: bool = False) -> str:
        """A class's members; for any text, every non-ASCII character too, except inside a
        negated class (where leaving them out of the exclusions admits them)."""
        if arg not in _CLASS:
            raise Untranslatable(f"category {arg}")
        return _CLASS[arg] + (_NON_ASCII if self.any_text and not negated_class else "")

    def member(self, op: Any, arg: Any, *, negated_class: bool) -> str:
        if op is _c.LITERAL:
            return _literal(arg)
        if op is _c.RANGE:
            return f"{_literal(arg[0])}-{_literal(arg[1])}"
        if op is _c.CATEGORY:
            return self.category(arg, negated_class=negated_class)
        raise Untranslatable(f"class member {op}")

    def item(self, op: Any, arg: Any) -> str:
        if op is _c.LITERAL:
            return _literal(arg)
        if op is _c.NOT_LITERAL:
            return f"[^{_literal(arg)}]"
        if op is _c.ANY:
            return "."
        if op is _c.IN:
            negated = bool(arg) and arg[0][0] is _c.NEGATE
            members = "".join(self.member(o, a, negated_class=negated) for o, a in (arg[1:] if negated else arg))
            return f"[{'^' if negated else ''}{members}]"
        if op is _c.CATEGORY:
            return f"[{self.category(arg)}]"
        if op is _c.BRANCH:
            return "(?:" + "|".join(self.sequence(list(branch)) for branch in arg[1]) + ")"
        if op is _c.SUBPATTERN:
            _, added, removed, items = arg
            if self.any_text and added & re.IGNORECASE:
                raise Untranslatable("case-insensitive matching of non-ASCII text")
            on = "".join(letter for flag, letter in _INLINE_FLAGS if added & flag)
            off = "".join(letter for flag, letter in _INLINE_FLAGS if removed & flag)
            return f"(?{on}{'-' + off if off else ''}:{self.sequence(list(items))})"
        if op is _c.ATOMIC_GROUP:
            return f"(?:{self.sequence(list(arg))})"
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
            low, high, items = arg
            if low > _MAX_COUNT or (high is not _c.MAXREPEAT and high > _MAX_COUNT):
                raise Untranslatable("a counted repeat beyond RE2's limit")
            body = f"(?:{self.sequence(list(items))})"
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
            if arg in (_c.AT_BOUNDARY, _c.AT_NON_BOUNDARY):
                # RE2's word boundaries are ASCII ones: exact on ASCII text, left out otherwise.
                return "" if self.any_text else (r"\b" if arg is _c.AT_BOUNDARY else r"\B")
            if arg in (_c.AT_END, _c.AT_END_STRING):
                return ""  # Python's $ also matches before a final newline: left out
        raise Untranslatable(f"{op} {arg}")


def _literal(code: int) -> str:
    return chr(code) if chr(code).isascii() and chr(code).isalnum() else f"\\x{{{code:x}}}"
