"""Article text for extraction: cleaning that keeps offsets, sentences and clauses.

Abstracts arrive with artefacts of how they were stored: literal ``\\n`` sequences, mojibake
(``Â`` before a non-breaking space), narrow no-break spaces, PDF hyphenation at line ends
and section headings run into the text (``reviewReview``). :func:`clean` repairs these
*without changing the length of the text*, so every span found in the cleaned text is also
a span of the original and an evidence sentence can be quoted exactly as published.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass

#: Characters replaced one for one: spaces of other widths by a space; apostrophes that
#: Unicode counts as letters ("Crohnʼs" with U+02BC would otherwise be one word) by "'".
_SPACE_LIKE: tuple[tuple[str, str], ...] = (
    *((c, " ") for c in "\u00a0\u202f\u2009\u2007\u200a\u2002\u2003\t\r\n\u00c2"),
    *((c, "'") for c in "\u02bc\u02bb\u02b9\u02bd"),
)
_LITERAL_NEWLINE = re.compile(r"\\[nrt]")


def clean(text: str) -> str:
    """Repair storage artefacts in ``text`` keeping its length, so offsets stay valid."""
    text = _LITERAL_NEWLINE.sub("  ", text)
    # One str.replace a character the text holds: several times faster than str.translate
    # with a table, which looks up every character of the text.
    for character, replacement in _SPACE_LIKE:
        if character in text:
            text = text.replace(character, replacement)
    return text


def blanked(text: str, start: int, end: int) -> str:
    """``text`` with ``text[start:end]`` replaced by spaces: read without that part, its
    offsets unchanged."""
    return text[:start] + " " * (end - start) + text[end:]


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence of a cleaned text, with its offsets in that text."""

    index: int
    start: int
    end: int
    text: str
    section: str = ""

    def clauses(self) -> list[tuple[int, int]]:
        """Offsets (relative to the sentence) of its clauses, split at contrastive joints."""
        bounds = [0]
        for m in _CLAUSE_BREAK.finditer(self.text):
            bounds.append(m.start())
        bounds.append(len(self.text))
        return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


# Contrastive joints between clauses; a semicolon inside parentheses ("(57%; 12/21)") is not one.
_CLAUSE_BREAK = re.compile(r"[;,]\s+(?:whereas|while|but|however|although|though)\b|;\s(?![^()]*\))")

# Abbreviations after which a full stop does not end a sentence.
_NO_BREAK_BEFORE = re.compile(
    r"(?:\b(?:e\.g|i\.e|et al|vs|approx|ca|cf|Dr|Drs|Mr|Mrs|Ms|Prof|Fig|Figs|No|Nos|Ref|Refs|St|mg|ml|resp|incl|min|max"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)|\b[A-Z])$"
)
# A sentence ends at . ! or ? followed by space and a capital or digit; at a blank line;
# or where a stored copy lost the space after a full stop ("patients.We established").
#: (The leading lookahead names the characters every alternative starts with or looks at: the
#: engine then passes over other positions at the cost of one test, not three lookbehinds.)
_BREAK = re.compile(
    r"(?=[\"'”’)\]\sA-Z])"
    r"(?:(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])|(?<=[a-z0-9)])\s{2,}(?=[A-Z])|(?<=[a-z]{3}\.)(?=[A-Z][a-z]))"
)
#: What ends a label not in the list of headings: a colon, or a full stop and a dash
#: ("Background and Design.—").
_LABEL_END = re.compile(r"\s*(?::|\.\s*[—–-])")
_DASH_AFTER_LABEL = re.compile(r"[—–]+\s*")  # an em or en dash (a hyphen may be a minus sign)
#: Structured-abstract labels: "Results:", "METHODS:", "(3) Results:", "Introduction.".
SECTION_LABEL = re.compile(r"^\s*(?:\(\d\)\s*)?(?P<label>[A-Z][A-Za-z]+(?:[ /&-]+[A-Za-z]+){0,4})\s*[:.]\s*")
_HEADINGS = {
    "background",
    "introduction",
    "objective",
    "objectives",
    "aim",
    "aims",
    "purpose",
    "purpose of review",
    "what is known and objective",
    "objective and methods",
    "methods",
    "method",
    "materials and methods",
    "patients and methods",
    "design",
    "case",
    "case report",
    "case presentation",
    "case study",
    "case summary",
    "case characteristics",
    "observation",
    "observations",
    "outcome",
    "outcomes",
    "results",
    "findings",
    "recent findings",
    "methods and results",
    "results and discussion",
    "discussion",
    "conclusion",
    "conclusions",
    "what is new and conclusion",
    "message",
    "summary",
    "limitations",
}
_FAMILIES = (
    ("background", ("background", "introduction", "objective", "aim", "purpose", "known")),
    ("results", ("result", "finding", "case", "observation", "outcome")),
    ("methods", ("method", "design")),
    ("conclusions", ("conclusion", "discussion", "summary", "message", "new", "limitation")),
)


@functools.lru_cache(maxsize=1024)
def section_family(label: str) -> str:
    """The family of a section label: background, methods, results, conclusions, or ''."""
    for family, words in _FAMILIES:
        if any(w in label for w in words):
            return family
    return ""


def split_sentences(text: str) -> list[Sentence]:
    """Split a cleaned text into sentences, tracking structured-abstract section labels.

    Blank-line paragraph breaks and labels such as ``Results:`` start a new sentence; a full
    stop after a common abbreviation (``e.g.``, ``et al.``, ``vs.``) or an initial does not.
    """
    sentences: list[Sentence] = []
    section = ""
    start = 0
    cuts: list[int] = []
    for m in _BREAK.finditer(text):
        before = text[max(0, m.start() - 12) : m.start()].rstrip(".!?\"'”’)] ")
        if _NO_BREAK_BEFORE.search(before) and text[m.start() - 1 : m.start()] not in "!?":
            continue
        cuts.append(m.end())
    cuts.append(len(text))
    for cut in cuts:
        chunk = text[start:cut]
        lead = len(chunk) - len(chunk.lstrip())
        body_start = start + lead
        body = text[body_start:cut].rstrip()
        while body:
            label = SECTION_LABEL.match(body)
            known = label is not None and (
                label.group("label").lower() in _HEADINGS
                or (
                    _LABEL_END.match(body, label.end("label")) is not None
                    and bool(section_family(label.group("label").lower()))
                )
            )
            if not label or not known:
                heading = _bare_heading(body)
                if heading is None:
                    break
                section, skip = heading
            else:
                section = label.group("label").lower()
                skip = label.end()
                dash = _DASH_AFTER_LABEL.match(body, skip)
                skip = dash.end() if dash else skip
            body_start += skip
            body = text[body_start : body_start + len(body) - skip]
        if body.rstrip(": ").lower() in _HEADINGS:  # a heading on a line of its own
            section = body.rstrip(": ").lower()
        elif body:
            sentences.append(Sentence(len(sentences), body_start, body_start + len(body), body, section))
        start = cut
    return sentences


def _bare_heading(body: str) -> tuple[str, int] | None:
    """A heading written without a colon at the start of a sentence ("Results Forty …")."""
    first = body.split(None, 3)  # the first words, split once: most sentences start with no heading
    for words in (3, 2, 1):
        if len(first) <= words:
            continue
        candidate = " ".join(first[:words])
        if candidate.lower() in _HEADINGS and (candidate[0].isupper()):
            rest = body.split(None, words)[words]
            if rest[:1].isupper() or rest[:1].isdigit() or rest[:1] == "(":
                offset = body.index(rest, len(candidate))
                return candidate.lower(), offset
    return None


@dataclass(frozen=True, slots=True)
class ArticleText:
    """What an extractor reads: one article's text and indexing, nothing else."""

    id: str
    title: str = ""
    abstract: str = ""
    publication_types: tuple[str, ...] = ()
    mesh: tuple[str, ...] = ()
    chemicals: tuple[str, ...] = ()
