"""Self-tests of the fake E-utilities server, through the real Bio.Entrez request path.

``Bio.Entrez.urlopen`` is replaced by a wrapper that only rewrites NCBI's base URL to the fake
server's and calls the real ``urllib.request.urlopen``; requests are built by Bio.Entrez and
answers parsed by ``Bio.Entrez.read(..., validate=True)``. Documents are also validated in full
against Biopython's bundled DTDs with lxml (Bio.Entrez only checks element names).
"""

from __future__ import annotations

import http.client
import io
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from Bio import Entrez
from Bio.Entrez import Parser
from lxml import etree

from fake_eutils import (
    PAGING_CAP,
    FakeEutils,
    Fault,
    RecordSpec,
    RequestLog,
    article_set,
    fake_eutils,  # noqa: F401 (the fixture)
    make_article,
    max_in_window,
)

NCBI = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
DTDS = Path(Entrez.__file__).parent / "DTDs"
API_KEY = "selftest-key"
CLIENT = {"timeout": 10.0}


def dtd_valid(data: bytes, dtd: str) -> bool:
    """Full DTD validation (content models, attributes) with lxml.

    libxml2 rejects elink.dtd itself (LinkSet's content model is not deterministic), so eLink
    documents are checked against that model's neighbor branch by hand.
    """
    parser = etree.XMLParser(load_dtd=False, no_network=True, resolve_entities=False)
    root = etree.fromstring(data, parser)
    if dtd == "elink.dtd":
        assert root.tag == "eLinkResult"
        assert re.fullmatch(r"(LinkSet )*(ERROR )?", "".join(f"{c.tag} " for c in root))
        for linkset in root.iter("LinkSet"):
            shape = "".join(f"{c.tag} " for c in linkset)
            assert re.fullmatch(r"DbFrom (IdList )?(LinkSetDb )*", shape), shape
            for db in linkset.iter("LinkSetDb"):
                assert re.fullmatch(r"DbTo LinkName (Link )*", "".join(f"{c.tag} " for c in db))
                assert all([c.tag for c in link] == ["Id"] for link in db.iter("Link"))
            assert all(i.text and i.text.isdigit() for i in linkset.iter("Id"))
        return True
    validator = etree.DTD(str(DTDS / dtd))
    ok = validator.validate(root)
    assert ok, validator.error_log.filter_from_errors()
    return ok


def read(data: bytes) -> Any:
    return Entrez.read(io.BytesIO(data), validate=True)


@pytest.fixture
def entrez(monkeypatch: pytest.MonkeyPatch, fake_eutils: FakeEutils) -> Iterator[FakeEutils]:  # noqa: F811
    """Bio.Entrez, unchanged except that its requests reach the fake server (which must not
    have hit an internal error by the end of the test)."""
    real_urlopen = urllib.request.urlopen

    def to_fake(request: urllib.request.Request, *args: Any, **kwargs: Any) -> Any:
        request.full_url = request.full_url.replace(NCBI, fake_eutils.base_url)
        kwargs.setdefault("timeout", CLIENT["timeout"])
        return real_urlopen(request, *args, **kwargs)

    monkeypatch.setattr(Entrez, "urlopen", to_fake)
    monkeypatch.setattr(Entrez, "email", "selftest@example.org")
    monkeypatch.setattr(Entrez, "api_key", API_KEY)  # Bio.Entrez then spaces requests 0.1 s apart
    monkeypatch.setattr(Entrez, "max_tries", 1)  # see each fault as the first attempt meets it
    monkeypatch.setattr(Entrez, "sleep_between_tries", 0)
    yield fake_eutils
    assert fake_eutils.errors == []


def raw_get(fake: FakeEutils, query: str, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """A bare GET (no Bio.Entrez pacing) returning status, headers and body, errors included."""
    try:
        with urllib.request.urlopen(f"{fake.base_url}/{query}", timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


# -- synthetic records ---------------------------------------------------------------------


def test_generated_records_validate_and_carry_what_was_asked_for() -> None:
    retracted = make_article(
        "123",
        title='Drug <X> & "Y" \x07in adults',
        year=2019,
        refs=["5", "7"],
        mesh=["Hypertension*/drug therapy*", "Humans", "Invented Descriptor/therapy"],
        abstract={"BACKGROUND": "Why.", "Results": "What > expected."},
        publication_types=["Randomized Controlled Trial"],
        doi="10.5555/a&b",
        retracted=True,
        edat="2019/05/02",
        mdat="2021/02/03",
    )
    bare = make_article("124", mesh=(), abstract="", doi="", publication_types=())
    data = article_set([retracted, bare])
    assert data.startswith(b'<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC')
    assert b"pubmed_250101.dtd" in data
    assert dtd_valid(data, "pubmed_250101.dtd")

    first, second = read(data)["PubmedArticle"]
    citation, pubmed = first["MedlineCitation"], first["PubmedData"]
    assert citation["PMID"] == "123" and citation["PMID"].attributes["Version"] == "1"
    assert citation["Article"]["ArticleTitle"] == 'Drug <X> & "Y" in adults'
    assert citation["Article"]["Journal"]["JournalIssue"]["PubDate"]["Year"] == "2019"
    assert [str(t) for t in citation["Article"]["Abstract"]["AbstractText"]] == ["Why.", "What > expected."]
    types = citation["Article"]["PublicationTypeList"]
    assert [(str(t), t.attributes["UI"]) for t in types] == [
        ("Randomized Controlled Trial", "D016449"),
        ("Retracted Publication", "D016441"),
    ]
    (correction,) = citation["CommentsCorrectionsList"]
    assert correction.attributes["RefType"] == "RetractionIn" and correction["PMID"] == "50000123"
    headings = citation["MeshHeadingList"]
    assert headings[0]["DescriptorName"].attributes == {"UI": "D006973", "MajorTopicYN": "Y"}
    assert headings[0]["QualifierName"][0].attributes["MajorTopicYN"] == "Y"
    assert citation["DateRevised"] == {"Year": "2021", "Month": "02", "Day": "03"}
    assert {d.attributes["PubStatus"] for d in pubmed["History"]} == {"entrez", "medline", "pubmed"}
    ids = {i.attributes["IdType"]: str(i) for i in pubmed["ArticleIdList"]}
    assert ids == {"pubmed": "123", "doi": "10.5555/a&b"}
    references = pubmed["ReferenceList"][0]["Reference"]
    assert [str(r["ArticleIdList"][0]) for r in references] == ["5", "7"]
    assert all(r["Citation"] for r in references)

    other = second["MedlineCitation"]
    assert other.attributes["Status"] == "PubMed-not-MEDLINE"
    assert "Abstract" not in other["Article"] and "MeshHeadingList" not in other
    assert [str(i) for i in second["PubmedData"]["ArticleIdList"]] == ["124"]


def test_many_default_records_validate_and_are_deterministic() -> None:
    parts = [make_article(str(30000000 + n), refs=[str(29000000 + n)]) for n in range(60)]
    data = article_set(parts)
    assert dtd_valid(data, "pubmed_250101.dtd")
    assert len(read(data)["PubmedArticle"]) == 60
    assert make_article("30000001") == make_article("30000001")
    assert make_article("30000001") != make_article("30000002")
    assert b"\n" not in make_article("30000001").encode()  # one line per record, as NCBI sends


def test_record_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="PMID"):
        make_article("12a")
    with pytest.raises(ValueError, match="edat"):
        make_article("1", edat="15 Jan 2020")
    with pytest.raises(TypeError):
        RecordSpec(refs="123")  # type: ignore[arg-type]
    assert article_set([]).endswith(b"<PubmedArticleSet></PubmedArticleSet>\n")


# -- ESearch -------------------------------------------------------------------------------

SEARCH_IDS = [str(32000001 + n) for n in range(10)]


@pytest.fixture
def searchable(entrez: FakeEutils) -> FakeEutils:
    for n, pmid in enumerate(SEARCH_IDS):  # entered 2020/01/10 .. 2020/10/10, modified a year later
        entrez.add_record(pmid, edat=f"2020/{n + 1:02d}/10", mdat=f"2021/{n + 1:02d}/20", year=2020 if n < 5 else 2019)
    entrez.set_search("aspirin AND stroke", SEARCH_IDS)
    return entrez


def esearch(**params: Any) -> tuple[Any, bytes]:
    with Entrez.esearch(db="pubmed", retmode="xml", **params) as handle:
        data = handle.read()
    return read(data), data


def test_esearch_returns_the_terms_ids_in_order_with_defaults(searchable: FakeEutils) -> None:
    record, data = esearch(term="aspirin AND stroke")
    assert dtd_valid(data, "esearch.dtd")
    assert record["Count"] == "10" and record["RetMax"] == "10" and record["RetStart"] == "0"
    assert list(record["IdList"]) == SEARCH_IDS
    assert record["QueryTranslation"] == "(aspirin AND stroke)"
    (logged,) = searchable.requests
    assert logged.endpoint == "esearch" and logged.method == "GET" and logged.status == 200
    assert logged.params["term"] == ["aspirin AND stroke"] and logged.params["api_key"] == [API_KEY]


def test_esearch_filters_by_date_window_and_type(searchable: FakeEutils) -> None:
    record, data = esearch(term="aspirin AND stroke", datetype="edat", mindate="2020/03/10", maxdate="2020/05/31")
    assert list(record["IdList"]) == SEARCH_IDS[2:5] and record["Count"] == "3"
    assert record["QueryTranslation"].endswith("AND 2020/03/10:2020/05/31[Date - Entry]")
    assert dtd_valid(data, "esearch.dtd")

    record, _ = esearch(term="aspirin AND stroke", datetype="edat", mindate="2020/03/11", maxdate="2020/05")
    assert list(record["IdList"]) == SEARCH_IDS[3:5]  # both bounds inclusive; YYYY/MM ends the month
    record, _ = esearch(term="aspirin AND stroke", datetype="mdat", mindate="2021", maxdate="2021/02/20")
    assert list(record["IdList"]) == SEARCH_IDS[:2]
    record, _ = esearch(term="aspirin AND stroke", datetype="pdat", mindate="2019", maxdate="2019")
    assert list(record["IdList"]) == SEARCH_IDS[5:]
    record, _ = esearch(term="aspirin AND stroke", datetype="edat", mindate="2021", maxdate="2022")
    assert record["Count"] == "0" and list(record["IdList"]) == []
    assert list(record["WarningList"]["OutputMessage"]) == ["No items found."]


def test_esearch_pages_with_retstart_and_retmax(searchable: FakeEutils) -> None:
    record, _ = esearch(term="aspirin AND stroke", retstart=2, retmax=3)
    assert (record["Count"], record["RetMax"], record["RetStart"]) == ("10", "3", "2")
    assert list(record["IdList"]) == SEARCH_IDS[2:5]
    record, _ = esearch(term="aspirin AND stroke", retstart=8, retmax=5)
    assert list(record["IdList"]) == SEARCH_IDS[8:] and record["RetMax"] == "2"
    record, _ = esearch(term="aspirin AND stroke", retmax=0)
    assert record["Count"] == "10" and list(record["IdList"]) == []


def test_esearch_unknown_term_finds_nothing(searchable: FakeEutils) -> None:
    record, data = esearch(term="no such phrase")
    assert record["Count"] == "0" and list(record["IdList"]) == []
    assert list(record["ErrorList"]["PhraseNotFound"]) == ["no such phrase"]
    assert dtd_valid(data, "esearch.dtd")


def test_esearch_serves_only_the_first_9999_records(entrez: FakeEutils) -> None:
    ids = [str(40000000 + n) for n in range(10050)]
    entrez.set_search("big", ids)

    record, data = esearch(term="big", retmax=20000)
    assert record["Count"] == "10050" and record["RetMax"] == str(PAGING_CAP)
    assert list(record["IdList"]) == ids[:PAGING_CAP]
    assert "Restrictions achieved" in record["WarningList"]["OutputMessage"][0]
    assert dtd_valid(data, "esearch.dtd")

    record, _ = esearch(term="big", retstart=9990, retmax=100)  # clamped at the cap, no error
    assert list(record["IdList"]) == ids[9990:PAGING_CAP]
    record, _ = esearch(term="big", retstart=9998, retmax=1)
    assert list(record["IdList"]) == [ids[9998]]

    with Entrez.esearch(db="pubmed", term="big", retstart=9999, retmax=20) as handle:
        assert handle.status == 200
        data = handle.read()
    assert dtd_valid(data, "esearch.dtd")
    with pytest.raises(RuntimeError, match="'retstart' cannot be larger than 9998"):
        read(data)


# -- EFetch --------------------------------------------------------------------------------


def efetch_ids(data: bytes) -> list[str]:
    return [str(a["MedlineCitation"]["PMID"]) for a in read(data)["PubmedArticle"]]


def test_efetch_get_returns_known_ids_in_request_order(entrez: FakeEutils) -> None:
    for pmid in ("101", "102", "103"):
        entrez.add_record(pmid, title=f"Paper {pmid}")
    with Entrez.efetch(db="pubmed", id=["103", "99999999", "101"], retmode="xml") as handle:
        assert handle.headers.get_content_type() == "text/xml"
        data = handle.read()
    assert efetch_ids(data) == ["103", "101"]
    assert dtd_valid(data, "pubmed_250101.dtd")
    (logged,) = entrez.requests
    assert logged.method == "GET" and logged.params["id"] == ["103,99999999,101"]
    assert logged.ids == ["103", "99999999", "101"]

    with Entrez.efetch(db="pubmed", id="99999998", retmode="xml") as handle:
        assert handle.read().rstrip().endswith(b"<PubmedArticleSet></PubmedArticleSet>")


def test_efetch_posts_many_ids(entrez: FakeEutils) -> None:
    ids = [str(33000000 + n) for n in range(250)]
    for pmid in ids:
        entrez.add_record(pmid)
    asked = list(reversed(ids))
    with Entrez.efetch(db="pubmed", id=asked, retmode="xml") as handle:  # >= 200 ids: Bio.Entrez POSTs
        data = handle.read()
    assert efetch_ids(data) == asked
    (logged,) = entrez.requests
    assert logged.method == "POST" and logged.ids == asked
    assert logged.params["db"] == ["pubmed"] and logged.params["retmode"] == ["xml"]


def test_efetch_refuses_malformed_ids_and_oversized_requests(entrez: FakeEutils) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        Entrez.efetch(db="pubmed", id="12,abc", retmode="xml")
    assert info.value.code == 400
    assert b"<ERROR>ID list is empty! Possibly it has no correct IDs.</ERROR>" in info.value.read()

    with pytest.raises(urllib.error.HTTPError) as info:
        Entrez.efetch(db="pubmed", id=[str(n) for n in range(1, 10_002)], retmode="xml")
    assert info.value.code == 414
    assert [r.status for r in entrez.requests] == [400, 414]


def test_query_string_and_form_body_are_both_logged(fake_eutils: FakeEutils) -> None:  # noqa: F811
    fake_eutils.add_record("7")
    request = urllib.request.Request(
        f"{fake_eutils.base_url}/efetch.fcgi?db=pubmed&tool=x", data=b"id=7%2C8&retmode=xml", method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert efetch_ids(response.read()) == ["7"]
    (logged,) = fake_eutils.requests
    assert logged.params == {"db": ["pubmed"], "tool": ["x"], "id": ["7,8"], "retmode": ["xml"]}
    assert logged.path == "/entrez/eutils/efetch.fcgi" and logged.method == "POST"


# -- ELink ---------------------------------------------------------------------------------


@pytest.fixture
def linked(entrez: FakeEutils) -> FakeEutils:
    entrez.add_record("100", refs=["90", "80"])
    entrez.add_record("110", refs=["90", "100"])
    entrez.add_record("90")
    entrez.add_record("80", cited_by=["120"])  # a citation known only from this side
    return entrez


def elink(ids: Any, linkname: str | None = "pubmed_pubmed_refs") -> tuple[list[Any], bytes]:
    params = {"dbfrom": "pubmed", "db": "pubmed", "cmd": "neighbor", "id": ids}
    if linkname:
        params["linkname"] = linkname
    with Entrez.elink(**params) as handle:
        data = handle.read()
    return read(data), data


def links(linkset: Any) -> dict[str, list[str]]:
    return {db["LinkName"]: [str(link["Id"]) for link in db["Link"]] for db in linkset["LinkSetDb"]}


def test_elink_per_id_form_gives_one_set_per_id(linked: FakeEutils) -> None:
    sets, data = elink(["100", "110", "90", "5"])
    assert dtd_valid(data, "elink.dtd")
    assert [list(s["IdList"]) for s in sets] == [["100"], ["110"], ["90"], ["5"]]
    assert [s["DbFrom"] for s in sets] == ["pubmed"] * 4
    assert links(sets[0]) == {"pubmed_pubmed_refs": ["90", "80"]}
    assert links(sets[1]) == {"pubmed_pubmed_refs": ["100", "90"]}  # highest PMID first
    assert sets[2]["LinkSetDb"] == [] and sets[3]["LinkSetDb"] == []  # no refs / unknown id
    assert linked.requests[0].params["id"] == ["100", "110", "90", "5"]

    sets, _ = elink(["90", "100", "80"], "pubmed_pubmed_citedin")
    assert [links(s) for s in sets] == [
        {"pubmed_pubmed_citedin": ["110", "100"]},
        {"pubmed_pubmed_citedin": ["110"]},
        {"pubmed_pubmed_citedin": ["120", "100"]},
    ]
    sets, _ = elink(["120"])
    assert links(sets[0]) == {"pubmed_pubmed_refs": ["80"]}


def test_elink_comma_joined_ids_merge_into_one_set(linked: FakeEutils) -> None:
    sets, data = elink("100,110")
    assert dtd_valid(data, "elink.dtd")
    (merged,) = sets
    assert list(merged["IdList"]) == ["100", "110"]
    assert links(merged) == {"pubmed_pubmed_refs": ["100", "90", "80"]}
    (merged,), _ = elink("90,80", "pubmed_pubmed_citedin")
    assert links(merged) == {"pubmed_pubmed_citedin": ["120", "110", "100"]}


def test_elink_without_linkname_gives_both_link_sets(linked: FakeEutils) -> None:
    (linkset,), _ = elink(["100"], linkname=None)
    assert links(linkset) == {"pubmed_pubmed_citedin": ["110"], "pubmed_pubmed_refs": ["90", "80"]}


def test_einfo_answers_as_a_ping(entrez: FakeEutils) -> None:
    entrez.add_record("1")
    with Entrez.einfo(db="pubmed") as handle:
        data = handle.read()
    assert dtd_valid(data, "einfo.dtd")
    (info,) = read(data)["DbInfo"]
    assert info["DbName"] == "pubmed" and info["Count"] == "1"
    with Entrez.einfo() as handle:
        assert list(read(handle.read())["DbList"]) == ["pubmed"]


# -- faults --------------------------------------------------------------------------------


def test_too_many_requests_with_and_without_retry_after(entrez: FakeEutils) -> None:
    entrez.inject("esearch", Fault.too_many(retry_after=2), Fault.too_many(retry_after=None))
    for expected in ("2", None):
        with pytest.raises(urllib.error.HTTPError) as info:
            Entrez.esearch(db="pubmed", term="x")
        assert info.value.code == 429
        assert info.value.headers.get("Retry-After") == expected
        assert info.value.headers.get_content_type() == "application/json"
        assert json.loads(info.value.read()) == {
            "error": "API rate limit exceeded",
            "api-key": API_KEY,
            "count": "4",
            "limit": "3",
        }
    record, _ = esearch(term="x")  # each fault served one request; service is back to normal
    assert record["Count"] == "0"
    assert [(r.status, r.fault) for r in entrez.requests] == [(429, "too_many"), (429, "too_many"), (200, None)]


def test_bio_entrez_retries_a_429_and_gets_through(entrez: FakeEutils, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Entrez, "max_tries", 2)
    entrez.inject("efetch", Fault.too_many(retry_after=0.1))
    entrez.add_record("5")
    with Entrez.efetch(db="pubmed", id="5", retmode="xml") as handle:
        assert efetch_ids(handle.read()) == ["5"]
    assert [r.status for r in entrez.requests] == [429, 200]


@pytest.mark.parametrize("code", [500, 502, 503])
def test_server_errors(entrez: FakeEutils, code: int) -> None:
    entrez.inject("efetch", Fault.server_error(code))
    with pytest.raises(urllib.error.HTTPError) as info:
        Entrez.efetch(db="pubmed", id="1", retmode="xml")
    assert info.value.code == code
    assert info.value.headers.get_content_type() == "text/html"
    assert info.value.read().lstrip().lower().startswith(b"<!doctype html")


def test_html_page_with_200(entrez: FakeEutils) -> None:
    entrez.inject("efetch", Fault.html_200())
    with Entrez.efetch(db="pubmed", id="1", retmode="xml") as handle:
        assert handle.status == 200 and handle.headers.get_content_type() == "text/html"
        data = handle.read()
    assert b"Service unavailable" in data
    with pytest.raises(Parser.NotXMLError):
        read(data)


def test_in_band_errors_raise_runtime_error_in_entrez_read(entrez: FakeEutils) -> None:
    entrez.inject("esearch", Fault.error_200("Search Backend failed: timeout"))
    entrez.inject("elink", Fault.error_200("Unable to obtain query #1"))
    entrez.inject("einfo", Fault.error_200("Database is offline"))
    with Entrez.esearch(db="pubmed", term="x") as handle:
        data = handle.read()
    assert dtd_valid(data, "esearch.dtd")
    with pytest.raises(RuntimeError, match="Search Backend failed: timeout"):
        read(data)
    with Entrez.elink(dbfrom="pubmed", db="pubmed", id="1") as handle, pytest.raises(RuntimeError, match="query #1"):
        Entrez.read(handle, validate=True)
    with Entrez.einfo(db="pubmed") as handle, pytest.raises(RuntimeError, match="offline"):
        Entrez.read(handle, validate=True)


def test_efetch_in_band_error_has_ncbis_efetch_doctype(entrez: FakeEutils, monkeypatch: pytest.MonkeyPatch) -> None:
    entrez.inject("efetch", Fault.error_200("Unable to obtain query #1"))
    with Entrez.efetch(db="pubmed", id="1", retmode="xml") as handle:
        assert handle.status == 200
        data = handle.read()
    root = etree.fromstring(data, etree.XMLParser(load_dtd=False, no_network=True))
    assert root.tag == "eFetchResult" and root.findtext("ERROR") == "Unable to obtain query #1"
    # Biopython does not bundle efetch.dtd and would download it: prove that is all that stands
    # between the document and the usual RuntimeError, without touching the network.
    tried: list[str] = []

    def offline(url: str, *args: Any, **kwargs: Any) -> Any:
        tried.append(url)
        raise OSError("offline")

    monkeypatch.setattr(Parser, "urlopen", offline)
    with pytest.raises(RuntimeError, match=r"efetch\.dtd"):
        read(data)
    assert tried == ["https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20131226/efetch.dtd"]


def test_truncated_body_with_full_content_length(entrez: FakeEutils) -> None:
    for pmid in ("11", "12", "13"):
        entrez.add_record(pmid)
    entrez.inject("efetch", Fault.truncated())
    with Entrez.efetch(db="pubmed", id="11,12,13", retmode="xml") as handle:
        declared = int(handle.headers["Content-Length"])
        with pytest.raises(http.client.IncompleteRead) as info:
            handle.read()
    partial = info.value.partial
    assert len(partial) == int(declared * 0.6) and info.value.expected == declared - len(partial)
    assert partial.count(b"<PubmedArticle>") > partial.count(b"</PubmedArticle>")  # cut mid-record
    assert entrez.requests[0].status == 200 and entrez.requests[0].fault == "truncated"


def test_truncated_body_with_honest_content_length(entrez: FakeEutils) -> None:
    for pmid in ("11", "12", "13"):
        entrez.add_record(pmid)
    entrez.inject("efetch", Fault.truncated(honest_length=True))
    with Entrez.efetch(db="pubmed", id="11,12,13", retmode="xml") as handle:
        data = handle.read()
        assert len(data) == int(handle.headers["Content-Length"])
    assert data.startswith(b"<?xml") and not data.rstrip().endswith(b"</PubmedArticleSet>")
    with pytest.raises(Parser.CorruptedXMLError):
        read(data)
    with Entrez.efetch(db="pubmed", id="11,12,13", retmode="xml") as handle:
        assert efetch_ids(handle.read()) == ["11", "12", "13"]


def test_slow_answer_trips_a_client_timeout(entrez: FakeEutils, monkeypatch: pytest.MonkeyPatch) -> None:
    entrez.add_record("21")
    entrez.inject("efetch", Fault.slow(1.5))
    monkeypatch.setitem(CLIENT, "timeout", 0.3)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        Entrez.efetch(db="pubmed", id="21", retmode="xml")
    assert time.monotonic() - started < 1.2
    with Entrez.efetch(db="pubmed", id="21", retmode="xml") as handle:  # the next one is prompt
        assert efetch_ids(handle.read()) == ["21"]

    monkeypatch.setitem(CLIENT, "timeout", 10.0)
    entrez.inject("efetch", Fault.slow(0.5))
    started = time.monotonic()
    with Entrez.efetch(db="pubmed", id="21", retmode="xml") as handle:
        assert efetch_ids(handle.read()) == ["21"]
    assert time.monotonic() - started >= 0.5


def test_missing_ids_are_left_out_once(entrez: FakeEutils) -> None:
    for pmid in ("31", "32", "33"):
        entrez.add_record(pmid, refs=["1"])
    entrez.inject("efetch", Fault.missing_ids("32"))
    entrez.inject("elink", Fault.missing_ids("31"))
    for expected in (["31", "33"], ["31", "32", "33"]):
        with Entrez.efetch(db="pubmed", id="31,32,33", retmode="xml") as handle:
            assert efetch_ids(handle.read()) == expected
    sets, _ = elink(["31", "32"])
    assert [list(s["IdList"]) for s in sets] == [["32"]]
    assert entrez.requests[0].fault == "missing_ids" and entrez.requests[1].fault is None


def test_reset_closes_without_an_answer(entrez: FakeEutils) -> None:
    entrez.inject("einfo", Fault.reset(), Fault.reset(rst=True))
    with pytest.raises(http.client.RemoteDisconnected):
        Entrez.einfo()
    with pytest.raises(ConnectionResetError) as info:
        Entrez.einfo()
    assert not isinstance(info.value, http.client.RemoteDisconnected)  # a real TCP reset
    with Entrez.einfo() as handle:
        assert read(handle.read())["DbList"] == ["pubmed"]
    assert [(r.status, r.fault) for r in entrez.requests] == [(None, "reset"), (None, "reset"), (200, None)]


def test_any_status_fault(entrez: FakeEutils) -> None:
    entrez.inject("efetch", Fault.respond(414), Fault(kind="status", status=400, body="bad"))
    for code in (414, 400):
        with pytest.raises(urllib.error.HTTPError) as info:
            Entrez.efetch(db="pubmed", id="1", retmode="xml")
        assert info.value.code == code


def test_faults_are_fifo_per_endpoint_and_star_matches_any(entrez: FakeEutils) -> None:
    entrez.inject("*", Fault.error_200("first"))
    entrez.inject("efetch", Fault.server_error(503))
    entrez.inject("*", Fault.error_200("third"))
    with Entrez.esearch(db="pubmed", term="x") as handle, pytest.raises(RuntimeError, match="first"):
        Entrez.read(handle, validate=True)
    with pytest.raises(urllib.error.HTTPError):
        Entrez.efetch(db="pubmed", id="1", retmode="xml")
    with Entrez.elink(dbfrom="pubmed", id="1") as handle, pytest.raises(RuntimeError, match="third"):
        Entrez.read(handle, validate=True)
    assert entrez.pending_faults() == []
    record, _ = esearch(term="x")
    assert record["Count"] == "0"
    with pytest.raises(ValueError, match="endpoint"):
        entrez.inject("esummary", Fault.reset())
    with pytest.raises(ValueError, match="kind"):
        Fault(kind="explode")


# -- pacing: the server's rate limit, the window count, latency ---------------------------


def test_the_window_check_rejects_a_burst_beyond_the_limit() -> None:
    with FakeEutils(rate_limit=3) as fake:
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda _: raw_get(fake, "einfo.fcgi"), range(8)))
        accepted = [a for a in answers if a[0] == 200]
        rejected = [a for a in answers if a[0] == 429]
        assert len(accepted) == 3 and len(rejected) == 5  # all eight arrived within one second
        for _, headers, body in rejected:
            assert "Retry-After" not in headers
            assert headers["Content-Type"] == "application/json"
            message = json.loads(body)
            assert message["error"] == "API rate limit exceeded" and message["limit"] == "3"
            assert message["api-key"] == "127.0.0.1" and int(message["count"]) > 3
        assert sum(r.rejected for r in fake.requests) == len(rejected)
        assert all(r.fault == "rate_limit" and r.status == 429 for r in fake.requests if r.rejected)
        assert fake.max_requests_in_any_window(1.0) == 8
        assert fake.max_requests_in_any_window(1.0, accepted_only=True) == len(accepted)

        time.sleep(1.05)  # the window is empty again: requests paced at the rate all get through
        for _ in range(4):
            assert raw_get(fake, "einfo.fcgi")[0] == 200
            time.sleep(1.02 / 3)


def test_the_window_check_counts_arrivals_in_any_sliding_second() -> None:
    """Four requests spread over 0.9 s: no fixed clock second need hold four, the sliding
    window does, and the fourth is refused (NCBI counts per second wherever it starts)."""
    with FakeEutils(rate_limit=3) as fake:
        statuses = []
        for _ in range(4):
            statuses.append(raw_get(fake, "einfo.fcgi")[0])
            time.sleep(0.3)
        assert statuses == [200, 200, 200, 429]
        assert fake.requests[-1].rejected and fake.max_requests_in_any_window(1.0) == 4


def test_max_requests_in_any_window_counts_a_sliding_half_open_window() -> None:
    fake = FakeEutils()
    times = [0.0, 0.2, 0.4, 0.99, 1.0, 1.5, 2.6]
    fake.requests = [RequestLog(time=t, endpoint="efetch", method="GET", params={}) for t in times]
    fake.requests[1].endpoint = "esearch"
    fake.requests[2].rejected = True
    assert fake.max_requests_in_any_window(1.0) == 4  # [0, 1) and [0.2, 1.2) hold four each
    assert fake.max_requests_in_any_window(0.5) == 3
    assert fake.max_requests_in_any_window(2.0) == 6
    assert fake.max_requests_in_any_window(0.01) == 1
    assert fake.max_requests_in_any_window(1.0, endpoint="efetch") == 3
    assert fake.max_requests_in_any_window(1.0, accepted_only=True) == 3
    assert max_in_window([]) == 0
    assert max_in_window([5.0, 4.0, 4.0, 4.5], 1.0) == 3  # 5.0 is outside [4.0, 5.0)
    assert max_in_window([5.0, 4.0, 4.0, 4.5], 1.01) == 4


def test_window_count_over_live_requests(fake_eutils: FakeEutils) -> None:  # noqa: F811
    for _ in range(3):
        raw_get(fake_eutils, "einfo.fcgi")
    time.sleep(1.1)
    raw_get(fake_eutils, "einfo.fcgi")
    assert fake_eutils.max_requests_in_any_window(1.0) == 3
    assert fake_eutils.max_requests_in_any_window(5.0) == 4


def test_latency_delays_each_answer_but_requests_overlap() -> None:
    with FakeEutils(latency=0.4) as fake:

        def timed(_: int) -> float:
            started = time.monotonic()
            assert raw_get(fake, "einfo.fcgi")[0] == 200
            return time.monotonic() - started

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=4) as pool:
            durations = list(pool.map(timed, range(4)))
        assert min(durations) >= 0.4
        assert time.monotonic() - started < 1.2


# -- lifecycle -----------------------------------------------------------------------------


def test_stop_is_prompt_even_with_a_request_in_flight() -> None:
    fake = FakeEutils().start()
    url = fake.base_url
    assert url.startswith("http://127.0.0.1:") and url.endswith("/entrez/eutils")
    fake.inject("einfo", Fault.slow(30))
    outcome: list[object] = []
    client = threading.Thread(target=lambda: outcome.append(raw_get(fake, "einfo.fcgi", timeout=20)))
    client.start()
    while not fake.requests:
        time.sleep(0.01)
    started = time.monotonic()
    fake.stop()
    fake.stop()  # idempotent
    assert time.monotonic() - started < 3
    client.join(5)
    assert not client.is_alive()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", int(url.split(":")[2].split("/")[0])), 1):
        pass
    with pytest.raises(RuntimeError, match="not running"):
        _ = fake.base_url
    assert fake.errors == []


def test_records_given_to_the_constructor_and_unknown_paths() -> None:
    records = {"41": RecordSpec(title="Given"), "42": {"title": "From a mapping", "refs": ["41"]}}
    with FakeEutils(records=records) as fake:
        status, _, body = raw_get(fake, "efetch.fcgi?db=pubmed&id=41,42&retmode=xml")
        assert status == 200
        titles = [a["MedlineCitation"]["Article"]["ArticleTitle"] for a in read(body)["PubmedArticle"]]
        assert titles == ["Given", "From a mapping"]
        assert fake.cited_in("41") == ["42"]
        assert raw_get(fake, "esummary.fcgi")[0] == 404
        status, _, body = raw_get(fake, "esearch.fcgi?db=pmc&term=x")
        assert status == 200 and b"<ERROR>Invalid db name specified: pmc</ERROR>" in body
        assert fake.errors == []


def test_keep_alive_connections_are_served_and_closed_after_a_cut(fake_eutils: FakeEutils) -> None:  # noqa: F811
    fake_eutils.add_record("51")
    fake_eutils.inject("efetch", Fault.truncated(honest_length=True))
    conn = http.client.HTTPConnection("127.0.0.1", fake_eutils.port, timeout=10)
    try:
        for _ in range(2):  # two answers on one connection
            conn.request("GET", "/entrez/eutils/esearch.fcgi?db=pubmed&term=x")
            response = conn.getresponse()
            assert response.status == 200 and response.getheader("Connection") is None
            read(response.read())
        conn.request("GET", "/entrez/eutils/efetch.fcgi?db=pubmed&id=51")
        response = conn.getresponse()
        cut = response.read()
        assert response.status == 200 and len(cut) == int(response.getheader("Content-Length"))
    finally:
        conn.close()
    assert [r.fault for r in fake_eutils.requests] == [None, None, "truncated"]
    assert fake_eutils.errors == []


def test_esearch_without_a_term_is_an_in_band_error(entrez: FakeEutils) -> None:
    with Entrez.esearch(db="pubmed", term="") as handle, pytest.raises(RuntimeError, match="Empty term"):
        Entrez.read(handle, validate=True)
