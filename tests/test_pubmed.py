"""The PubMed XML parser: synthetic fixtures field by field, hostile input, malformed input,
and conformance with ``Bio.Entrez.read`` on real NCBI data read from ``../shared`` at run time
(those tests skip when it is absent).

The synthetic fixtures in ``tests/fixtures/pubmed/`` were written for these tests (invented
PMIDs 90000001-90000008 and text); the valid ones pass Biopython's validating reader against
the bundled PubMed DTD.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from Bio import Entrez

from conftest import REPO, shared_path
from ingest.errors import ParseError
from ingest.pubmed import (
    AbstractSection,
    Author,
    Chemical,
    CommentCorrection,
    DeletedCitations,
    MeshHeading,
    PubmedArticle,
    Qualifier,
    parse_pubmed_bytes,
    parse_pubmed_xml,
    to_article_record,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "pubmed"
DOCTYPE = (
    '<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
    '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">'
)


def parse(name: str) -> list[PubmedArticle | DeletedCitations]:
    return list(parse_pubmed_xml(FIXTURES / name))


def articles(records: list[PubmedArticle | DeletedCitations]) -> list[PubmedArticle]:
    return [r for r in records if isinstance(r, PubmedArticle)]


# -- synthetic fixtures, field by field ----------------------------------------------------


@pytest.mark.parametrize("name", ["rich.xml", "book.xml", "deleted.xml"])
def test_valid_fixtures_pass_the_pubmed_dtd(name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    assert DOCTYPE.encode() in data
    record = Entrez.read(io.BytesIO(data), validate=True)
    ours = parse(name)
    assert len(record["PubmedArticle"]) + len(record["PubmedBookArticle"]) == len(articles(ours))


def test_rich_article_every_field() -> None:
    a = articles(parse("rich.xml"))[0]
    assert a.pmid == "90000001"
    assert a.curie == "pubmed:90000001"
    assert a.pmid_version == 1
    assert a.is_book is False
    assert a.status == "MEDLINE"
    assert a.doi == "10.5555/synth.2024.001"
    assert a.pmcid == "PMC9000001"
    assert a.pii == "S9999-0001(24)00001-X"
    # <i>, <sup> and MathML become plain text; no tag is left.
    assert a.title == "Effect of Testus syntheticus on x2 outcomes: a β-blocker trial."
    assert a.vernacular_title == "Effet de Testus syntheticus sur des résultats inventés."
    assert a.abstract_sections == (
        AbstractSection("BACKGROUND", "BACKGROUND", "An invented background sentence about imaginary calcinosis."),
        AbstractSection("METHODS", "METHODS", "We measured V2 in 12 invented participants."),
        AbstractSection("RESULTS", "RESULTS", "Response in 3 of 12 (P < 0.05); CO2 fell by 10 mg."),
        AbstractSection("CONCLUSIONS", "CONCLUSIONS", "Nothing here is real."),
    )
    assert a.abstract == (
        "BACKGROUND: An invented background sentence about imaginary calcinosis.\n\n"
        "METHODS: We measured V2 in 12 invented participants.\n\n"
        "RESULTS: Response in 3 of 12 (P < 0.05); CO2 fell by 10 mg.\n\n"
        "CONCLUSIONS: Nothing here is real."
    )
    assert "résumé" not in a.abstract  # OtherAbstract is not the abstract
    assert a.copyright == "© 2024 The Invented Authors."
    assert a.journal == "Journal of synthetic test records"
    assert a.journal_iso == "J Synth Test Rec"
    assert a.issn == "9999-0001"
    assert (a.volume, a.issue, a.pages) == ("12", "3", "101-9")
    assert a.pub_year == 2024
    assert a.pub_date == "2024 Mar 18"
    assert a.article_dates == (("Electronic", "2024-02-29"),)
    assert a.history == (
        ("received", "2023-11-01"),
        ("accepted", "2024-01-15"),
        ("pubmed", "2024-03-01"),
        ("retracted", "2025-01-06"),
    )
    assert a.date_revised == "2025-01-07"
    assert a.authors == (
        Author(
            "Testperson",
            "Ada B",
            "AB",
            None,
            None,
            ("Department of Synthetic Data, Nowhere University, Atlantis.", "Fixture Institute, Utopia."),
            (("ORCID", "0000-0002-1825-0097"),),  # the ROR id belongs to the affiliation, not the author
            True,
        ),
        Author("Example", "Carl", "C", "Jr", None, (), (), True),
        Author("Misspelt", "Dora", "D", None, None, (), (), False),
        Author(None, None, None, None, "Invented Trial Group", (), (), True),
    )  # the InvestigatorList is not authors
    assert a.languages == ("eng",)
    assert a.publication_types == (("D016428", "Journal Article"), ("D016441", "Retracted Publication"))
    assert a.mesh_headings == (
        MeshHeading(
            "D002114",
            "Calcinosis",
            False,
            (Qualifier("Q000188", "drug therapy", True), Qualifier("Q000473", "pathology", False)),
        ),
        MeshHeading("D012595", "Scleroderma, Systemic", True, ()),
        MeshHeading("D006801", "Humans", False, ()),
    )
    assert a.chemicals == (
        Chemical("0", "D999901", "Inventamycin"),
        Chemical("9999-99-9", "D999902", "Placeboside"),
    )
    assert a.keywords == ("synthetic data", "test fixture")
    assert a.references == ("90000011", "90000012")  # DOI-only and bare references have no PMID
    assert a.comments_corrections == (
        CommentCorrection("RetractionIn", "90000099", "J Synth Test Rec. 2025 Jan;13(1):1"),
        CommentCorrection("CommentIn", None, "Invented Letters. 2024;2:3"),
    )
    assert a.is_retracted is True


def test_minimal_article_fields() -> None:
    a = articles(parse("rich.xml"))[1]
    assert (a.pmid, a.pmid_version, a.status) == ("90000002", 2, "PubMed-not-MEDLINE")
    assert a.doi == "10.5555/synth.2023.002"  # from the valid ELocationID; the invalid one is skipped
    assert a.pmcid is None and a.pii is None
    assert a.abstract is None and a.abstract_sections == () and a.copyright is None
    assert a.pub_date == "2023 Nov-Dec" and a.pub_year == 2023  # MedlineDate
    assert a.pages == "e17-e19"  # StartPage-EndPage when there is no MedlinePgn
    assert a.languages == ("fre", "eng")
    assert a.authors == (Author("Solo", None, "H", None, None, (), (), True),)
    assert a.mesh_headings == a.chemicals == a.keywords == a.references == a.history == ()
    assert a.is_retracted is False


def test_retraction_from_a_retraction_in_link_alone() -> None:
    data = (FIXTURES / "rich.xml").read_bytes().replace(b"Retracted Publication", b"Clinical Trial")
    a = articles(parse_pubmed_bytes(data))[0]
    assert ("D016441", "Clinical Trial") in a.publication_types
    assert a.is_retracted is True  # the RetractionIn entry is enough


def test_book_article() -> None:
    [book] = parse("book.xml")
    assert isinstance(book, PubmedArticle)
    assert book.is_book is True
    assert book.pmid == "90000003" and book.curie == "pubmed:90000003"
    assert book.title == "Invented Calcinosis Syndrome"
    assert book.journal == "Synthetic Reviews®"  # the book holding the chapter
    assert book.doi == "10.5555/book.chapter.3"
    assert book.pub_year == 2021 and book.pub_date == "2021 Jun"
    assert book.abstract == (
        "CLINICAL CHARACTERISTICS: An invented summary of an invented condition.\n\n"
        "MANAGEMENT: Invented advice, not to be followed."
    )
    assert book.copyright == "Copyright © 2021, Invented Press."
    # Editors are not authors.
    assert book.authors == (Author("Chapterwriter", "Finn", "F", None, None, ("Invented Hospital, Utopia",), (), True),)
    assert book.languages == ("eng",)
    assert book.publication_types == (("D016454", "Review"),)
    assert book.date_revised == "2023-04-13"
    assert book.history == (("pubmed", "2021-06-10"),)
    assert book.status is None and book.mesh_headings == ()


def test_book_without_chapter_title_takes_the_book_title() -> None:
    data = re.sub(rb"<ArticleTitle[^>]*>.*?</ArticleTitle>", b"", (FIXTURES / "book.xml").read_bytes())
    [book] = articles(parse_pubmed_bytes(data))
    assert book.title == "Synthetic Reviews®" and book.journal is None


def test_delete_citation() -> None:
    records = parse("deleted.xml")
    assert [type(r) for r in records] == [PubmedArticle, DeletedCitations]
    assert records[1] == DeletedCitations(("90000901", "90000902", "90000903"))


def test_legacy_medline_citation_set() -> None:
    records = parse("legacy.xml")
    [a] = articles(records)
    assert a.pmid == "90000005" and a.doi == "10.5555/legacy.5" and a.history == ()
    assert a.abstract == "One invented unlabelled paragraph."
    assert a.mesh_headings == (MeshHeading("D002114", "Calcinosis", True, ()),)
    assert records[-1] == DeletedCitations(("90000906",))


def test_to_article_record() -> None:
    a = articles(parse("rich.xml"))[0]
    row = to_article_record(a)
    assert row.id == "pubmed:90000001" and row.pmid == "90000001"
    assert (row.doi, row.pmcid) == ("10.5555/synth.2024.001", "PMC9000001")
    assert row.title == a.title and row.abstract == a.abstract
    assert row.journal == "Journal of synthetic test records"
    assert row.year == 2024
    # "Family Initials"; the name flagged invalid is left out, the group kept as named.
    assert row.authors == ["Testperson AB", "Example C", "Invented Trial Group"]
    assert row.language == "eng"
    assert row.publication_types == ["Journal Article", "Retracted Publication"]
    assert row.mesh_terms == ["Calcinosis", "Scleroderma, Systemic", "Humans"]
    assert row.retracted is True
    assert row.url is None
    minimal = to_article_record(articles(parse("rich.xml"))[1])
    assert minimal.authors == ["Solo H"] and minimal.language == "fre" and minimal.mesh_terms == []


def test_records_are_frozen_typed_and_hashable() -> None:
    a = articles(parse("rich.xml"))[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.title = "changed"  # type: ignore[misc]
    assert not hasattr(a, "__dict__")  # slots
    for f in dataclasses.fields(a):
        assert not isinstance(getattr(a, f.name), list), f.name
        assert "  # " in _field_comment(f.name), f"{f.name} has no describing comment"
    assert hash(a) == hash(articles(parse("rich.xml"))[0])
    assert a == articles(parse("rich.xml"))[0]


def _field_comment(name: str) -> str:
    """The source line declaring a PubmedArticle field (each carries a describing comment)."""
    source = (REPO / "ingest" / "pubmed_records.py").read_text()
    match = re.search(rf"^    {name}: .*$", source, re.MULTILINE)
    return match.group(0) if match else ""


# -- sources -------------------------------------------------------------------------------


class _ReadOnly:
    """A minimal binary stream: read() only, no peek, no seek (a socket or pipe)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._data.read(size)

    def readable(self) -> bool:
        return True


def test_every_kind_of_source_gives_the_same_records(tmp_path: Path) -> None:
    plain = (FIXTURES / "rich.xml").read_bytes()
    packed = gzip.compress(plain)
    expected = parse_pubmed_bytes(plain)
    (tmp_path / "plain.xml").write_bytes(plain)
    (tmp_path / "packed.xml.gz").write_bytes(packed)
    (tmp_path / "packed-without-suffix.xml").write_bytes(packed)  # gzip is recognised by its magic bytes
    (tmp_path / "plain-with-suffix.xml.gz").write_bytes(plain)
    sources: list[Any] = [
        plain,
        packed,
        str(tmp_path / "plain.xml"),
        tmp_path / "packed.xml.gz",
        tmp_path / "packed-without-suffix.xml",
        tmp_path / "plain-with-suffix.xml.gz",
        io.BytesIO(plain),
        io.BytesIO(packed),
        _ReadOnly(plain),
        _ReadOnly(packed),
    ]
    for source in sources:
        assert list(parse_pubmed_xml(source)) == expected, source
    with (tmp_path / "packed.xml.gz").open("rb") as handle:
        assert list(parse_pubmed_xml(handle)) == expected


def test_source_name_defaults() -> None:
    bad = b"<PubmedArticleSet><PubmedArticle>"
    with pytest.raises(ParseError, match=r"^<bytes>: "):
        list(parse_pubmed_xml(bad))
    with pytest.raises(ParseError, match=r"^response: "):
        parse_pubmed_bytes(bad)
    with pytest.raises(ParseError, match=r"^efetch of 3 ids: "):
        parse_pubmed_bytes(bad, source_name="efetch of 3 ids")
    with pytest.raises(ParseError, match=r"truncated\.xml: "):
        list(parse_pubmed_xml(FIXTURES / "truncated.xml"))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc (Linux)")
def test_memory_stays_flat_as_input_grows() -> None:
    """Peak RSS of a fresh interpreter parsing 2,000 and then 20,000 records, streamed."""
    script = f"""
import sys
sys.path.insert(0, {str(REPO)!r})
from ingest.pubmed import parse_pubmed_xml
data = open({str(FIXTURES / "rich.xml")!r}, "rb").read()
head, rest = data.split(b"<PubmedArticleSet>")
record = rest.split(b"</PubmedArticleSet>")[0]
class Stream:
    def __init__(self, n):
        self.parts = iter([head, b"<PubmedArticleSet>", *([record] * n), b"</PubmedArticleSet>"])
        self.buffer = b""
    def read(self, size=-1):
        while len(self.buffer) < size:
            part = next(self.parts, None)
            if part is None:
                break
            self.buffer += part
        out, self.buffer = self.buffer[:size], self.buffer[size:]
        return out
n = int(sys.argv[1])
count = sum(1 for _ in parse_pubmed_xml(Stream(n)))
assert count == 2 * n, count
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent across exec.
print(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])
"""
    peaks = [
        int(subprocess.run([sys.executable, "-c", script, str(n)], capture_output=True, text=True, check=True).stdout)
        for n in (1_000, 10_000)
    ]
    assert peaks[1] - peaks[0] < 15_000, peaks  # KiB: 20,000 records cost no more than 2,000


# -- hostile input -------------------------------------------------------------------------


class _Listener:
    """A TCP server on 127.0.0.1 that records every connection made to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self.connections: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    self.connections.append(conn.recv(4096))
                    conn.sendall(b'HTTP/1.0 200 OK\r\n\r\n<!ENTITY leaked "LEAKED">LEAKED-CONTENT')
                except OSError:
                    self.connections.append(b"")

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[_Listener]:
    server = _Listener()
    try:
        yield server
    finally:
        server.close()


def _check_hostile(records: Iterator[PubmedArticle | DeletedCitations]) -> None:
    first = next(records)
    assert isinstance(first, PubmedArticle) and first.pmid == "90000006"
    # Escaped markup stays text; nothing was fetched, read from disk or expanded.
    assert first.title == '<script>alert("x")</script> Hostile & invented title &ext;'
    assert first.abstract == "Local file: &local; end."
    hostname = Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").exists() else None
    if hostname:
        assert hostname not in (first.abstract or "")
    # The second record references the top of a billion-laughs chain: refused, not expanded.
    with pytest.raises(ParseError, match="billion laughs"):
        next(records)


def test_hostile_fixture_fetches_nothing_and_expands_nothing(listener: _Listener) -> None:
    data = (FIXTURES / "hostile.xml").read_bytes().replace(b"127.0.0.1:9/", f"127.0.0.1:{listener.port}/".encode())
    assert data.count(f":{listener.port}/".encode()) == 3  # the DTD, an entity and a parameter entity
    start = time.monotonic()
    _check_hostile(parse_pubmed_xml(data, source_name="hostile"))
    assert time.monotonic() - start < 5
    time.sleep(0.3)  # give a (wrongly) started connection time to arrive
    assert listener.connections == []


def test_hostile_fixture_as_written_is_quick() -> None:
    # Port 9 on 127.0.0.1: nothing listens there; a fetch attempt would fail, not hang, but
    # none is made. The whole document is refused quickly and in bounded memory.
    start = time.monotonic()
    _check_hostile(parse_pubmed_xml(FIXTURES / "hostile.xml"))
    with pytest.raises(ParseError, match=r"hostile\.xml: refused"):
        parse_pubmed_bytes((FIXTURES / "hostile.xml").read_bytes(), source_name="hostile.xml")
    assert time.monotonic() - start < 5


def test_small_entity_chains_are_not_expanded_either() -> None:
    data = (
        b'<?xml version="1.0"?>\n<!DOCTYPE PubmedArticleSet SYSTEM "pubmed.dtd" [\n<!ENTITY a "lol">\n'
        b'<!ENTITY b "&a;&a;&a;&a;">\n<!ENTITY c "&b;&b;&b;&b;">\n]>\n'
        b'<PubmedArticleSet><PubmedArticle><MedlineCitation Status="MEDLINE"><PMID Version="1">90000010</PMID>'
        b"<Article><ArticleTitle>Chain &c; and &alpha;-helix</ArticleTitle></Article></MedlineCitation>"
        b"</PubmedArticle></PubmedArticleSet>"
    )
    [a] = parse_pubmed_bytes(data)
    assert isinstance(a, PubmedArticle)
    # User entities stay as written; a standard character name (the PubMed DTD's MathML
    # character entities, not loaded here) becomes its character.
    assert a.title == "Chain &c; and α-helix"
    assert "lollol" not in (a.title or "")


def test_a_local_dtd_named_by_the_document_is_never_read(tmp_path: Path) -> None:
    dtd = tmp_path / "evil.dtd"
    dtd.write_text('<!ENTITY secret "CONTENTS-OF-A-LOCAL-FILE">', encoding="utf-8")
    data = (
        f'<?xml version="1.0"?>\n<!DOCTYPE PubmedArticleSet SYSTEM "{dtd.as_uri()}">\n'.encode()
        + b'<PubmedArticleSet><PubmedArticle><MedlineCitation Status="MEDLINE"><PMID Version="1">90000011</PMID>'
        b"<Article><ArticleTitle>Title &secret; here</ArticleTitle></Article></MedlineCitation>"
        b"</PubmedArticle></PubmedArticleSet>"
    )
    titles = [r.title for r in parse_pubmed_bytes(data) if isinstance(r, PubmedArticle)]
    assert titles and "CONTENTS-OF-A-LOCAL-FILE" not in (titles[0] or "")


# -- malformed and foreign documents -------------------------------------------------------


def test_truncated_file_yields_complete_records_then_raises() -> None:
    records = parse_pubmed_xml(FIXTURES / "truncated.xml")
    first = next(records)
    assert isinstance(first, PubmedArticle) and first.title == "A complete record before the cut."
    with pytest.raises(ParseError) as raised:
        next(records)
    message = str(raised.value)
    assert str(FIXTURES / "truncated.xml") in message
    assert re.search(r"at line 6, column \d+", message)
    assert "truncated" in message and "download it again" in message


def test_truncated_bytes_raise_without_partial_records() -> None:
    with pytest.raises(ParseError, match=r"efetch: XML is malformed at line 6, column \d+"):
        parse_pubmed_bytes((FIXTURES / "truncated.xml").read_bytes(), source_name="efetch")


def test_truncated_gzip_raises() -> None:
    packed = gzip.compress((FIXTURES / "rich.xml").read_bytes())
    with pytest.raises(ParseError, match=r"cut\.xml\.gz: the gzip data is corrupt or truncated"):
        list(parse_pubmed_xml(io.BytesIO(packed[: len(packed) // 2]), source_name="cut.xml.gz"))
    with pytest.raises(ParseError, match="gzip data is corrupt or truncated"):
        parse_pubmed_bytes(packed[: len(packed) // 2])


def test_malformed_xml_names_the_position() -> None:
    data = b"<?xml version='1.0'?>\n<PubmedArticleSet>\n<PubmedArticle>\n  <MedlineCitation></Oops>\n"
    with pytest.raises(ParseError, match=r"bad\.xml: XML is malformed at line 4, column \d+: .*Oops"):
        parse_pubmed_bytes(data, source_name="bad.xml")
    # An undefined entity in a document without an external DTD is not well-formed either.
    data = b"<?xml version='1.0'?>\n<PubmedArticleSet>\n<PubmedArticle>\n  <X>&nowhere;</X>"
    with pytest.raises(ParseError, match=r"bad\.xml: XML is malformed at line 4, column \d+: Entity 'nowhere'"):
        parse_pubmed_bytes(data, source_name="bad.xml")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "the document is empty"),
        (b"  \n", "the document is empty"),
        (
            b"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>503</title></head><body>busy</body></html>",
            r"an HTML page, not PubMed XML \(malformed at line 2, column \d+",
        ),
        (b"<html><body><p>Service unavailable</p></body></html>", r"found <html> at line 1 \(an HTML page"),
        (
            b'<?xml version="1.0"?>\n<eFetchResult>\n\t<ERROR>Empty id list - nothing todo</ERROR>\n</eFetchResult>\n',
            r"expected a PubmedArticleSet, found <eFetchResult> at line 2: NCBI says Empty id list - nothing todo",
        ),
        (b"<eSearchResult><Count>0</Count></eSearchResult>", r"found <eSearchResult> at line 1"),
    ],
)
def test_foreign_documents_are_refused(data: bytes, expected: str) -> None:
    with pytest.raises(ParseError, match=rf"^efetch of 2 ids: .*{expected}"):
        parse_pubmed_bytes(data, source_name="efetch of 2 ids")


def test_empty_set_is_no_records() -> None:
    assert parse_pubmed_bytes(b"<PubmedArticleSet></PubmedArticleSet>") == []
    assert parse_pubmed_bytes(b"<PubmedArticleSet/>") == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("pubmed3.html", r"found <html> at line 1 \(an HTML page"),
        ("epost2.xml", r"found <ePostResult> at line 3: NCBI says Invalid db name specified: nothing"),
        ("esummary8.xml", r"found <eSummaryResult> at line 3: NCBI says Neither query_key nor id specified"),
        ("einfo4.xml", r"XML is malformed at line 40, column 1: .*truncated"),
        ("efetch_pmc.xml", r"found <pmc-articleset> at line 3"),
    ],
)
def test_real_foreign_responses_are_refused(name: str, expected: str) -> None:
    path = shared_path("fixtures", "eutils", name)
    with pytest.raises(ParseError, match=rf"^{re.escape(str(path))}: .*{expected}"):
        list(parse_pubmed_xml(path))


# -- conformance with Bio.Entrez on real NCBI data -----------------------------------------

EUTILS_FILES = ["pubmed1.xml", "pubmed2.xml", "pubmed4.xml", "pubmed5.xml", "pubmed6.xml", "pubmed7.xml"]
BULK_FILES = [
    "pubmedsample_2019.xml.gz",
    "pubmedsample18n0001.xml.gz",
    "pubmed26n1334.xml.gz",
    "pubmed26n1335.xml.gz",
]
# Bio.Entrez keeps inline markup as text: <i>, <sup> … and MathML (<math>, <mi>, …).
_MARKUP = re.compile(r"</?(?:i|b|u|sup|sub|DispFormula|(?:mml:)?(?:m[a-z]+|none))(?:\s[^>]*)?/?>")


def _bio_text(value: Any) -> str | None:
    if value is None:
        return None
    return " ".join(_MARKUP.sub("", str(value)).split()) or None


def _same_text(ours: str | None, bio: Any) -> bool:
    if bio is not None and re.search(r"<(?:mml:)?math", str(bio)):
        # MathML: Bio keeps the layout whitespace between tokens, we drop it.
        return "".join((ours or "").split()) == "".join((_bio_text(bio) or "").split())
    return (" ".join(ours.split()) if ours else None) == _bio_text(bio)


def _ymd(d: Any) -> str:
    return f"{d['Year']}-{str(d['Month']).zfill(2)}-{str(d['Day']).zfill(2)}"


def _bio_references(reference_lists: Any) -> list[str]:
    out: list[str] = []
    for rl in reference_lists or []:
        for ref in rl.get("Reference", []):
            out.extend(str(i).strip() for i in ref.get("ArticleIdList", []) if i.attributes.get("IdType") == "pubmed")
        out.extend(_bio_references(rl.get("ReferenceList")))
    return out


def _bio_read(path: Path) -> Any:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    # The pmparser samples name the DTD with http://, which Bio.Entrez refuses; it is the same
    # file Biopython bundles.
    data = data.replace(b'"http://dtd.nlm.nih.gov/', b'"https://dtd.nlm.nih.gov/', 1)
    return Entrez.read(io.BytesIO(data), validate=False)


def _compare(ours: PubmedArticle, bio: Any) -> list[str]:
    """Disagreements between our record and Bio.Entrez's, as 'field: ours != bio' lines."""
    problems: list[str] = []

    def check(field: str, mine: Any, theirs: Any) -> None:
        if mine != theirs:
            problems.append(f"{ours.pmid} {field}: {mine!r} != {theirs!r}")

    def check_text(field: str, mine: str | None, theirs: Any) -> None:
        if not _same_text(mine, theirs):
            problems.append(f"{ours.pmid} {field}: {mine!r} != {_bio_text(theirs)!r}")

    mc, data = bio["MedlineCitation"], bio.get("PubmedData", {})
    art = mc["Article"]
    check("pmid", ours.pmid, str(mc["PMID"]))
    check("pmid_version", ours.pmid_version, int(mc["PMID"].attributes["Version"]))
    check("status", ours.status, mc.attributes.get("Status"))
    check_text("title", ours.title, art.get("ArticleTitle"))
    check_text("vernacular_title", ours.vernacular_title, art.get("VernacularTitle"))
    sections = art.get("Abstract", {}).get("AbstractText", [])
    check("abstract labels", [(s.label, s.nlm_category) for s in ours.abstract_sections],
          [(s.attributes.get("Label"), s.attributes.get("NlmCategory")) for s in sections])  # fmt: skip
    for mine, theirs in zip(ours.abstract_sections, sections, strict=False):
        check_text("abstract section", mine.text, theirs)
    blocks = [f"{s.attributes['Label']}: {s}" if s.attributes.get("Label") else str(s) for s in sections]
    check_text("abstract", ours.abstract, "\n\n".join(b for b in blocks if _bio_text(b)) or None)
    check_text("copyright", ours.copyright, art.get("Abstract", {}).get("CopyrightInformation"))
    journal = art["Journal"]
    issue = journal["JournalIssue"]
    check_text("journal", ours.journal, journal.get("Title"))
    check("journal_iso", ours.journal_iso, journal.get("ISOAbbreviation"))
    check("issn", ours.issn, journal.get("ISSN"))
    check("volume/issue", (ours.volume, ours.issue), (issue.get("Volume"), issue.get("Issue")))
    check("pub_date", ours.pub_date, " ".join(str(v) for v in issue["PubDate"].values()))
    check("pages", ours.pages, art.get("Pagination", {}).get("MedlinePgn") or ours.pages)
    check("languages", list(ours.languages), [str(x) for x in art.get("Language", [])])
    check("publication_types", list(ours.publication_types),
          [(p.attributes.get("UI"), str(p)) for p in art["PublicationTypeList"]])  # fmt: skip
    check("mesh", [(m.descriptor_ui, m.descriptor, m.major, [(q.ui, q.name, q.major) for q in m.qualifiers])
                   for m in ours.mesh_headings],
          [(h["DescriptorName"].attributes["UI"], str(h["DescriptorName"]),
            h["DescriptorName"].attributes.get("MajorTopicYN") == "Y",
            [(q.attributes["UI"], str(q), q.attributes.get("MajorTopicYN") == "Y") for q in h.get("QualifierName", [])])
           for h in mc.get("MeshHeadingList", [])])  # fmt: skip
    check("chemicals", [(c.registry_number, c.ui, c.name) for c in ours.chemicals],
          [(str(c["RegistryNumber"]), c["NameOfSubstance"].attributes["UI"], str(c["NameOfSubstance"]))
           for c in mc.get("ChemicalList", [])])  # fmt: skip
    bio_keywords = [_bio_text(k) for kl in mc.get("KeywordList", []) for k in kl]
    check("keywords", list(ours.keywords), [k for k in bio_keywords if k])
    check("references", list(ours.references), _bio_references(data.get("ReferenceList")))
    check("comments_corrections",
          [(c.ref_type, c.pmid, c.ref_source) for c in ours.comments_corrections],
          [(c.attributes["RefType"], str(c["PMID"]) if "PMID" in c else None, _bio_text(c["RefSource"]))
           for c in mc.get("CommentsCorrectionsList", [])])  # fmt: skip
    ids = {i.attributes.get("IdType"): str(i) for i in reversed(data.get("ArticleIdList", []))}
    elocations = {
        e.attributes["EIdType"]: str(e)
        for e in reversed(art.get("ELocationID", []))
        if e.attributes.get("ValidYN") != "N"
    }
    check("doi", ours.doi, ids.get("doi") or elocations.get("doi"))
    check("pmcid", ours.pmcid, ids.get("pmc"))
    check("pii", ours.pii, ids.get("pii") or elocations.get("pii"))
    check("history", list(ours.history), [(d.attributes["PubStatus"], _ymd(d)) for d in data.get("History", [])])
    check("date_revised", ours.date_revised, _ymd(mc["DateRevised"]) if "DateRevised" in mc else None)
    check("article_dates", list(ours.article_dates),
          [(d.attributes.get("DateType"), _ymd(d)) for d in art.get("ArticleDate", [])])  # fmt: skip
    authors = list(art.get("AuthorList", []))
    check("author count", len(ours.authors), len(authors))
    for mine, theirs in zip(ours.authors, authors, strict=False):
        names = ("LastName", "ForeName", "Initials")
        check("author name", (mine.last_name, mine.fore_name, mine.initials, mine.suffix),
              (*(theirs.get(n) for n in names), _bio_text(theirs.get("Suffix"))))  # fmt: skip
        check_text("collective name", mine.collective_name, theirs.get("CollectiveName"))
        check("affiliations", list(mine.affiliations),
              [t for i in theirs.get("AffiliationInfo", []) if (t := _bio_text(i.get("Affiliation")))])  # fmt: skip
        check("identifiers", list(mine.identifiers),
              [(i.attributes["Source"], str(i)) for i in theirs.get("Identifier", [])])  # fmt: skip
        check("valid", mine.valid, theirs.attributes.get("ValidYN", "Y") == "Y")
    retracted = any(str(p) == "Retracted Publication" for p in art["PublicationTypeList"]) or any(
        c.attributes["RefType"] == "RetractionIn" for c in mc.get("CommentsCorrectionsList", [])
    )
    check("is_retracted", ours.is_retracted, retracted)
    record = to_article_record(ours)
    check("record", (record.id, record.pmid, record.year), (f"pubmed:{mc['PMID']}", str(mc["PMID"]), ours.pub_year))
    return problems


def _conformance(path: Path) -> tuple[list[PubmedArticle], list[DeletedCitations], Any]:
    records = list(parse_pubmed_xml(path))
    bio = _bio_read(path)
    ours = articles(records)
    assert [a.pmid for a in ours] == [str(b["MedlineCitation"]["PMID"]) for b in bio["PubmedArticle"]]
    assert not bio["PubmedBookArticle"]
    problems = [p for mine, theirs in zip(ours, bio["PubmedArticle"], strict=True) for p in _compare(mine, theirs)]
    assert problems == [], "\n".join(problems[:40])
    return ours, [r for r in records if isinstance(r, DeletedCitations)], bio


@pytest.mark.parametrize("name", EUTILS_FILES)
def test_conformance_with_bio_entrez_efetch(name: str) -> None:
    ours, deleted, _ = _conformance(shared_path("fixtures", "eutils", name))
    assert ours and not deleted


@pytest.mark.parametrize("name", BULK_FILES)
def test_conformance_with_bio_entrez_bulk(name: str) -> None:
    ours, deleted, bio = _conformance(shared_path("fixtures", "pubmed-bulk", name))
    expected = {"pubmedsample_2019.xml.gz": 176, "pubmedsample18n0001.xml.gz": 177}.get(name, 30)
    assert len(ours) == expected
    bio_deleted = [str(p) for p in bio.get("DeleteCitation", [])]
    assert [p for d in deleted for p in d.pmids] == bio_deleted
    assert len(bio_deleted) == {"pubmedsample_2019.xml.gz": 7, "pubmed26n1335.xml.gz": 6}.get(name, 0)


def test_real_markup_is_reduced_to_text() -> None:
    [a] = articles(list(parse_pubmed_xml(shared_path("fixtures", "eutils", "pubmed6.xml"))))
    assert a.title is not None and a.abstract is not None
    assert not re.search(r"</?[a-z:]+[ >/]", a.title + a.abstract)  # no tag left ("P < 0.001" is text)
    assert "V.O2max" in a.abstract  # a MathML formula, its tokens joined
    assert "LEmin" in a.abstract  # LE<sub>min</sub>
    [b] = articles(list(parse_pubmed_xml(shared_path("fixtures", "eutils", "pubmed4.xml"))))
    assert b.title == (
        "Leucocyte telomere length, genetic variants at the TERT gene region and risk of pancreatic cancer."
    )


def test_legacy_medline_file() -> None:
    path = shared_path("fixtures", "pubmed-bulk", "medline16n0902.xml.gz")
    records = list(parse_pubmed_xml(path))
    found = articles(records)
    deleted = [r for r in records if isinstance(r, DeletedCitations)]
    assert len(found) == 604
    assert len(set(a.pmid for a in found)) == 604
    assert deleted == [DeletedCitations(("26432306",))]
    raw = gzip.decompress(path.read_bytes())
    assert sum(len(a.mesh_headings) for a in found) == raw.count(b"<MeshHeading>")
    assert sum(len(a.authors) for a in found) == raw.count(b"<Author ")
    assert all(a.title and a.journal and a.pub_year for a in found)
    assert all(a.history == () and a.pmcid is None for a in found)  # no PubmedData in this layout
