"""The raw-bytes pre-filter of a topic run (``RelevanceFilter.may_match_raw`` and
:mod:`ingest.pubmed_raw`): articles ruled out before lxml sees them, and never one the rule admits.

The records are invented here, or read from the real sample files of
``../shared/fixtures/pubmed-bulk`` (those tests skip when the folder is absent).
"""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from test_bulk_ingest import irrelevant, relevant, with_mesh_ui, write_file

from conftest import shared_path
from fake_eutils import article_set, make_article
from ingest.errors import ParseError
from ingest.pubmed import PubmedArticle, SkippedRecord, parse_pubmed_bytes, parse_pubmed_xml
from ingest.pubmed_raw import RawFilterReader
from ingest.relevance import RelevanceFilter
from kb.topic import load_topic

TOPICS = ("calcinosis", "ssc-ild", "pyoderma-gangrenosum")
_ARTICLE = re.compile(rb"<PubmedArticle>.*?</PubmedArticle>", re.S)


def titled(pmid: str, title_xml: str, abstract: str = "None.") -> str:
    """An article whose ArticleTitle holds ``title_xml`` as written (markup and references kept)."""
    xml = make_article(pmid, title="PLACEHOLDER", abstract=abstract)
    return xml.replace("<ArticleTitle>PLACEHOLDER</ArticleTitle>", f"<ArticleTitle>{title_xml}</ArticleTitle>")


#: Articles the calcinosis rule admits whose bytes do not spell what the rule reads.
TRICKY = {
    "a key split by inline markup": titled("41000001", "Calci<i>nosis</i> cutis treated"),
    "a key in capitals": titled("41000002", "CALCINOSIS CUTIS IN TWO SISTERS"),
    "a key spelt with a character reference": titled("41000003", "Calcin&#111;sis of the fingers"),
    "a key spelt with a hexadecimal reference": titled("41000004", "&#x43;alcinosis universalis"),
    "a key in a section label": make_article(
        "41000005", title="A case", abstract={"CALCINOSIS": "Deposits in the skin were treated."}
    ),
    "an abbreviation": make_article("41000006", title="A case", abstract="CUA in a patient on dialysis."),
    "a descriptor UI": with_mesh_ui(
        make_article("41000007", title="A case", abstract="Deposits.", mesh=["Calcinosis"]), "Calcinosis", "D002114"
    ),
    "a descriptor UI spelt with a character reference": with_mesh_ui(
        make_article("41000008", title="A case", abstract="Deposits.", mesh=["Calcinosis"]), "Calcinosis", "D00211&#52;"
    ),
    "a key split by MathML": titled(
        "41000009",
        '<mml:math xmlns:mml="http://www.w3.org/1998/Math/MathML"><mml:mi>calci</mml:mi> '
        "<mml:mi>nosis</mml:mi></mml:math> in a case",
    ),
    "a key in the abstract only": relevant("41000010", title="Sodium thiosulfate in two patients"),
}


def test_every_tricky_article_the_rule_admits_passes_the_raw_test_and_is_built() -> None:
    rule = RelevanceFilter(load_topic("calcinosis"))
    for why, xml in TRICKY.items():
        (record,) = parse_pubmed_bytes(article_set([xml]))
        assert isinstance(record, PubmedArticle)
        assert rule.match(record) is not None, why  # the rule admits it ...
        assert rule.may_match_raw(xml.encode()), why  # ... and its bytes are let through
        (built,) = parse_pubmed_xml(article_set([xml]), select=rule.may_match, raw_select=rule.may_match_raw)
        assert isinstance(built, PubmedArticle) and built.pmid == record.pmid, why


def test_unrelated_articles_are_ruled_out_on_their_bytes() -> None:
    rule = RelevanceFilter(load_topic("calcinosis"))
    ruled_out = {
        "unrelated": irrelevant("41000101"),
        "markup but no key": titled("41000102", "Sleep in <i>Drosophila</i> larvae"),
        "a reference but no key": titled("41000103", "Caf&#233; workers and sleep"),
        "a longer word's part only": titled("41000104", "Calcium intake in adolescents"),
    }
    for why, xml in ruled_out.items():
        assert not rule.may_match_raw(xml.encode()), why
        (record,) = parse_pubmed_xml(article_set([xml]), select=rule.may_match, raw_select=rule.may_match_raw)
        assert isinstance(record, SkippedRecord) and record.index == 1, why


def _real_documents() -> list[bytes]:
    folder = shared_path("fixtures", "pubmed-bulk")
    return [gzip.decompress(p.read_bytes()) for p in sorted(folder.glob("*.xml.gz"))]


def test_on_the_real_files_the_raw_test_keeps_every_article_the_element_test_keeps() -> None:
    documents = _real_documents()
    ruled_out = total = 0
    for topic in TOPICS:
        rule = RelevanceFilter(load_topic(topic))
        for data in documents:
            for raw in _ARTICLE.findall(data):
                total += 1
                alone = b"<PubmedArticleSet>" + raw + b"</PubmedArticleSet>"
                (record,) = parse_pubmed_xml(alone, select=rule.may_match)
                if isinstance(record, PubmedArticle):  # the element test let it through
                    assert rule.may_match_raw(raw), (topic, record.pmid)
                elif not rule.may_match_raw(raw):
                    ruled_out += 1
    assert total > 1000
    assert ruled_out > 0.8 * total  # most records never reach lxml


def test_parsing_with_the_raw_filter_yields_the_same_records_as_without() -> None:
    synthetic = article_set([irrelevant("41000201"), *TRICKY.values(), irrelevant("41000202")])
    for topic in TOPICS:
        rule = RelevanceFilter(load_topic(topic))
        for data in [synthetic, *_real_documents()]:
            plain = list(parse_pubmed_xml(data, select=rule.may_match))
            raw = list(parse_pubmed_xml(data, select=rule.may_match, raw_select=rule.may_match_raw))
            assert raw == plain  # the same articles, skips (by position), deletions and refusals


def test_errors_after_ruled_out_articles_keep_their_line_numbers_and_truncation_is_found() -> None:
    rule = RelevanceFilter(load_topic("calcinosis"))
    lines = "\n".join(irrelevant(str(41000300 + i)).replace("><", ">\n<") for i in range(3))
    # The fault is outside the articles ruled out (inside one, it would go unnoticed: never parsed).
    fault = '<DeleteCitation><PMID Version="1">1</PMD></DeleteCitation>'
    bad = f'<?xml version="1.0"?>\n<PubmedArticleSet>\n{lines}\n{fault}\n</PubmedArticleSet>\n'
    with pytest.raises(ParseError) as plain:
        list(parse_pubmed_xml(bad.encode(), source_name="f.xml"))
    with pytest.raises(ParseError) as raw:
        list(parse_pubmed_xml(bad.encode(), source_name="f.xml", raw_select=rule.may_match_raw))
    line = re.search(r"line (\d+)", str(plain.value))
    assert line is not None and f"line {line[1]}" in str(raw.value)
    truncated = article_set([irrelevant("41000310"), relevant("41000311")])[:-60]
    with pytest.raises(ParseError, match=r"truncated|malformed"):
        list(parse_pubmed_xml(truncated, raw_select=rule.may_match_raw))


def test_a_comment_between_articles_turns_the_raw_filter_off_for_the_rest() -> None:
    rule = RelevanceFilter(load_topic("calcinosis"))
    # An end tag inside a comment is not an end tag: cutting there would break the document.
    data = article_set(
        [irrelevant("41000401"), "<!-- </PubmedArticle> -->", irrelevant("41000402"), relevant("41000403")]
    )
    reader = RawFilterReader(_blocks(data, 7), rule.may_match_raw)
    out = b""
    while block := reader.read(7):
        out += block
    assert reader.skipped == 1  # only the article before the comment
    assert out.endswith(data[data.index(b"<!--") :])
    records = list(parse_pubmed_xml(data, select=rule.may_match, raw_select=rule.may_match_raw))
    assert [type(r).__name__ for r in records] == ["SkippedRecord", "SkippedRecord", "PubmedArticle"]


def _blocks(data: bytes, size: int) -> Callable[[int], bytes]:
    """A read function handing out ``data`` in blocks of ``size`` bytes (tags cut anywhere)."""
    view = iter(range(0, len(data), size))

    def read(_: int) -> bytes:
        start = next(view, None)
        return b"" if start is None else data[start : start + size]

    return read


_LEXICON_SCRIPT = """
import sys
from ingest.bulk_work import FileTask, run_file
from ingest.extraction.resources import general_knowledge
from kb.topic import load_topic

task = FileTask(sys.argv[1], "f.xml.gz", (str(load_topic("calcinosis").path),))
result = run_file(task, lambda chunk: None)
print(result.articles, result.kept, general_knowledge.cache_info().currsize)
"""


def test_a_file_without_a_relevant_article_never_loads_the_lexicon(tmp_path: Path) -> None:
    # A fresh interpreter: nothing loaded by another test. The drug dictionary and the general
    # tables (general_knowledge) are loaded for the first article a rule admits, not before.
    unrelated = write_file(tmp_path / "a.xml.gz", [irrelevant("41000501"), irrelevant("41000502")])
    with_one = write_file(tmp_path / "b.xml.gz", [irrelevant("41000503"), relevant("41000504")])
    seen = {}
    for path in (unrelated, with_one):
        done = subprocess.run(
            [sys.executable, "-c", _LEXICON_SCRIPT, str(path)], capture_output=True, text=True, check=True, timeout=300
        )
        seen[path.name] = done.stdout.split()
    assert seen == {"a.xml.gz": ["2", "0", "0"], "b.xml.gz": ["2", "1", "1"]}
