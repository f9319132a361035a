"""Faster forms of the text machinery give what the plain forms give: sentence breaks with a
start lookahead, tokens with \\w+ where the text has no underscore, long words read from the
tokens, and cleaning by str.replace. Each plain form is written out here as it was."""

from __future__ import annotations

import json
import re

import pytest

from ingest.extraction import lexicon, text

TEXTS = [
    "Results: Eight patients improved. Two did not (p = 0.03).  Four were stable.",
    "AbstractPyoderma gangrenosum is rare.BackgroundWe report a case.Methods and results follow.",
    "e.g. Dr. Smith vs. Prof. Jones et al. described it; see Fig. 2. The ulcer healed!",
    "IL_17 blockade with secukinumab2023 and abc²defghij in x_yz_abcdefgh patients",
    "“Quoted.” (Bracketed.) [Squared.] 'Single.' Then 12 cases.",
    "Naïve Crohnʼs patients\u00a0received\u202fmethylprednisolone\\nthen\tpredonisolone\r\n.",
    "İSTANBUL: İİİ straße ﬁnal ǅungla\u2009\u2002\u2003\u00c2 done",
    "",
    "no breaks at all and no capitals",
]

_BREAK_AS_WRITTEN = re.compile(
    r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])|(?<=[a-z0-9)])\s{2,}(?=[A-Z])|(?<=[a-z]{3}\.)(?=[A-Z][a-z])"
)
_LONG_WORD_AS_WRITTEN = re.compile(r"(?<![^\W\d_])[^\W\d_]{7,}(?![^\W\d_])")
_SPACE_LIKE_TABLE = str.maketrans(
    {c: " " for c in "\u00a0\u202f\u2009\u2007\u200a\u2002\u2003\t\r\n\u00c2"}
    | {c: "'" for c in "\u02bc\u02bb\u02b9\u02bd"}
)


def _clean_as_written(value: str) -> str:
    return re.sub(r"\\[nrt]", "  ", value).translate(_SPACE_LIKE_TABLE)


def _tokens_as_written(value: str) -> list[tuple[int, int, str, str]]:
    low = value.lower()
    if len(low) != len(value):
        return [(m.start(), m.end(), m.group(), m.group().lower()) for m in re.finditer(r"[^\W_]+", value)]
    return [(m.start(), m.end(), m.group(), low[m.start() : m.end()]) for m in re.finditer(r"[^\W_]+", value)]


def _corpus_texts() -> list[str]:
    from conftest import SHARED

    corpus = SHARED / "corpus"
    if not corpus.is_dir():
        return []
    out = []
    for path in sorted(corpus.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                out.extend([record.get("title") or "", record.get("abstract") or ""])
    return out


def _check(value: str) -> None:
    cleaned = text.clean(value)
    assert cleaned == _clean_as_written(value)
    assert [m.span() for m in text._BREAK.finditer(cleaned)] == [m.span() for m in _BREAK_AS_WRITTEN.finditer(cleaned)]
    unsplit = _tokens_as_written(cleaned)
    found = lexicon.tokens(cleaned)
    if not lexicon._RUN_IN.search(cleaned):
        assert found == unsplit
    assert lexicon._long_words(cleaned, found) == set(_LONG_WORD_AS_WRITTEN.findall(cleaned))


@pytest.mark.parametrize("value", TEXTS)
def test_the_fast_forms_agree_with_the_plain_ones_on_written_texts(value: str) -> None:
    _check(value)


def test_the_fast_forms_agree_with_the_plain_ones_on_every_corpus_text() -> None:
    texts = _corpus_texts()
    if not texts:
        pytest.skip("../shared/corpus is not available")
    for value in texts:
        _check(value)
