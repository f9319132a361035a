"""A real HTTP stand-in for NCBI's E-utilities, for tests and benchmarks.

:class:`FakeEutils` is a :class:`http.server.ThreadingHTTPServer` on 127.0.0.1 (ephemeral port)
that answers ``esearch.fcgi``, ``efetch.fcgi``, ``elink.fcgi`` and ``einfo.fcgi`` under
``/entrez/eutils`` in the formats NCBI uses for PubMed, from synthetic records held in memory.
Faults (429, 5xx, HTML pages, in-band ``<ERROR>``, truncated bodies, slow answers, dropped
ids, dropped connections) can be queued per endpoint, and every request is logged with its
arrival time so that tests can check how a client paces itself.

The records are invented by :func:`make_article`. Every XML document served (EFetch sets,
ESearch, ELink and EInfo results, their ``<ERROR>`` forms) is accepted by
``Bio.Entrez.read(..., validate=True)`` with the DTDs Biopython bundles, except EFetch's
``<ERROR>`` document: it names efetch.dtd, as NCBI's does, which Biopython does not bundle.

Typical use::

    with FakeEutils() as fake:
        fake.add_record("31000001", title="A trial", refs=["31000000"], edat="2021/03/15")
        fake.set_search("calcinosis", ["31000001"])
        fake.inject("efetch", Fault.too_many(retry_after=1))
        ...  # point the client at fake.base_url
        assert fake.max_requests_in_any_window(1.0) <= 3

or the function-scoped ``fake_eutils`` pytest fixture defined here.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import random
import re
import socket
import struct
import sys
import threading
import time
import traceback
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape as _escape
from xml.sax.saxutils import quoteattr

import pytest

__all__ = [
    "DEFAULT_MESH",
    "EUTILS_PATH",
    "PAGING_CAP",
    "PAGING_CAP_MESSAGE",
    "FakeEutils",
    "Fault",
    "RecordSpec",
    "RequestLog",
    "article_set",
    "fake_eutils",
    "make_article",
    "max_in_window",
]

EUTILS_PATH = "/entrez/eutils"
ENDPOINTS = ("esearch", "efetch", "elink", "einfo")

#: PubMed's ESearch serves records 1..9,999 of a result set and no further.
PAGING_CAP = 9999
#: The in-band error for ``retstart`` past the cap (as NCBI words it).
PAGING_CAP_MESSAGE = (
    "Search Backend failed: Exception:\n'retstart' cannot be larger than 9998. For PubMed, ESearch can only "
    "retrieve the first 9,999 records matching the query. To obtain more than 9,999 PubMed records, consider "
    "using EDirect that contains additional logic to batch PubMed search results automatically so that an "
    "arbitrary number can be retrieved. For details see https://www.ncbi.nlm.nih.gov/books/NBK25499/"
)
#: EFetch's answer to an id list with nothing usable in it (sent with HTTP 400).
EFETCH_NO_IDS_MESSAGE = "ID list is empty! Possibly it has no correct IDs."

#: More ids than this in one EFetch/ELink request, or a longer URL/body, gets HTTP 414.
MAX_IDS = 10_000
MAX_URL_LENGTH = 16_384
MAX_BODY_LENGTH = 2_000_000

PUBMED_DOCTYPE = (
    '<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
    '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">'
)
_ESEARCH_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE eSearchResult PUBLIC "-//NLM//DTD esearch 20060628//EN" '
    '"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd">\n'
)
_ELINK_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE eLinkResult PUBLIC "-//NLM//DTD elink 20101123//EN" '
    '"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20101123/elink.dtd">\n'
)
_EINFO_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE eInfoResult PUBLIC "-//NLM//DTD einfo 20190110//EN" '
    '"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20190110/einfo.dtd">\n'
)
# NCBI's EFetch error documents really do name the doctype "eEfetchResult" while the root is
# "eFetchResult". Biopython does not bundle efetch.dtd, so Bio.Entrez.read would try to download it.
_EFETCH_ERROR_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE eEfetchResult PUBLIC "-//NLM//DTD efetch 20131226//EN" '
    '"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20131226/efetch.dtd">\n'
)
_XML = "text/xml; charset=UTF-8"
_HTML = "text/html; charset=UTF-8"
_TEXT = "text/plain; charset=UTF-8"

LINKNAMES = ("pubmed_pubmed_citedin", "pubmed_pubmed_refs")
_DATE_LABELS = {"edat": "Date - Entry", "mdat": "Date - Modification", "pdat": "Date - Publication"}


# ---------------------------------------------------------------------------------------------
# Synthetic records
# ---------------------------------------------------------------------------------------------

DEFAULT_MESH: tuple[str, ...] = ("Humans", "Treatment Outcome")

# Identifiers of a few common MeSH descriptors/qualifiers and publication types, so that the
# usual ones carry their real UI; anything else gets a stable synthetic one.
_DESCRIPTOR_UI = {
    "Adolescent": "D000293",
    "Adult": "D000328",
    "Aged": "D000368",
    "Asthma": "D001249",
    "Child": "D002648",
    "Depressive Disorder, Major": "D003865",
    "Diabetes Mellitus, Type 2": "D003924",
    "Double-Blind Method": "D004311",
    "Female": "D005260",
    "Humans": "D006801",
    "Hypertension": "D006973",
    "Male": "D008297",
    "Middle Aged": "D008875",
    "Migraine Disorders": "D008881",
    "Randomized Controlled Trials as Topic": "D016032",
    "Treatment Outcome": "D016896",
}
_QUALIFIER_UI = {
    "administration & dosage": "Q000008",
    "adverse effects": "Q000009",
    "drug therapy": "Q000188",
    "epidemiology": "Q000453",
    "mortality": "Q000401",
    "surgery": "Q000601",
    "therapeutic use": "Q000627",
    "therapy": "Q000628",
}
_PUBLICATION_TYPE_UI = {
    "Case Reports": "D002363",
    "Clinical Trial": "D016430",
    "Clinical Trial, Phase I": "D017426",
    "Clinical Trial, Phase II": "D017427",
    "Clinical Trial, Phase III": "D017428",
    "Clinical Trial, Phase IV": "D017429",
    "Comment": "D016420",
    "Comparative Study": "D003160",
    "Controlled Clinical Trial": "D018848",
    "Editorial": "D016421",
    "Guideline": "D016431",
    "Journal Article": "D016428",
    "Letter": "D016422",
    "Meta-Analysis": "D017418",
    "Multicenter Study": "D016448",
    "Observational Study": "D064888",
    "Practice Guideline": "D017065",
    "Randomized Controlled Trial": "D016449",
    "Research Support, Non-U.S. Gov't": "D013485",
    "Retracted Publication": "D016441",
    "Retraction of Publication": "D016440",
    "Review": "D016454",
    "Systematic Review": "D000078182",
}
_NLM_CATEGORIES = {"BACKGROUND", "OBJECTIVE", "METHODS", "RESULTS", "CONCLUSIONS", "UNASSIGNED"}

# Invented vocabulary for titles, abstracts, authors and journals.
_DRUGS = (
    "zelvoprine",
    "tamsadil",
    "orvexamab",
    "cilbrotide",
    "parnetrol",
    "quovelant",
    "dristatin",
    "melvoxane",
    "harbicept",
    "lunotrexate",
    "fenquadol",
    "sorabimod",
)
_COMPARATORS = ("placebo", "usual care", "a sham procedure", "standard therapy", "no treatment", "watchful waiting")
_CONDITIONS = (
    "hypertension",
    "type 2 diabetes",
    "asthma",
    "migraine",
    "knee osteoarthritis",
    "atrial fibrillation",
    "major depression",
    "plaque psoriasis",
    "chronic low back pain",
    "heart failure",
    "gout",
    "insomnia",
)
_OUTCOMES = (
    "symptom remission",
    "all-cause mortality",
    "hospital readmission",
    "quality of life",
    "pain intensity",
    "relapse",
    "exacerbation rate",
    "functional recovery",
)
_DESIGNS = (
    "a randomised controlled trial",
    "a multicentre open-label trial",
    "a prospective cohort study",
    "a pragmatic randomised trial",
    "a crossover study",
    "a systematic review and meta-analysis",
)
_HARMS = ("rare", "mild", "similar in both groups", "more frequent with treatment")
_SYLLABLES = ("var", "nel", "tor", "mi", "ka", "so", "len", "dri", "ost", "amb", "el", "qui", "run", "fal", "be", "zo")
_FORENAMES = ("Ana", "Lena", "Tomas", "Ravi", "Mei", "Jonas", "Ines", "Kofi", "Sara", "Piotr", "Yuki", "Omar")
_JOURNALS = (
    ("Journal of Synthetic Evidence", "J Synth Evid", "2999-0011", "9990011"),
    ("Invented Clinical Trials Review", "Invent Clin Trials Rev", "2999-0022", "9990022"),
    ("Annals of Made-up Therapeutics", "Ann Madeup Ther", "2999-0033", "9990033"),
    ("Placeholder Medicine", "Placeholder Med", "2999-0044", "9990044"),
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: object) -> str:
    """Character data, escaped, with characters XML 1.0 forbids removed."""
    return _escape(_CONTROL_CHARS.sub("", str(value)))


def _attr(value: object) -> str:
    return quoteattr(_CONTROL_CHARS.sub("", str(value)))


def _check_pmid(pmid: object) -> str:
    text = str(pmid).strip()
    if not text.isdigit() or int(text) <= 0:
        raise ValueError(f"a PMID is a positive whole number, got {pmid!r}")
    return str(int(text))


def _parse_ymd(value: str | date, what: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return datetime.strptime(value.strip().replace("-", "/"), "%Y/%m/%d").date()
    except ValueError:
        raise ValueError(f"{what} must be YYYY/MM/DD, got {value!r}") from None


def _synthetic_ui(prefix: str, name: str) -> str:
    return f"{prefix}9{zlib.crc32(name.encode('utf-8')) % 100_000:05d}"


def _word(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(parts)).capitalize()


def synthetic_title(pmid: str) -> str:
    """The invented title :func:`make_article` gives ``pmid`` when no title is passed."""
    rng = random.Random(f"title:{pmid}")
    drug, comparator = rng.choice(_DRUGS), rng.choice(_COMPARATORS)
    condition, design = rng.choice(_CONDITIONS), rng.choice(_DESIGNS)
    return f"{drug.capitalize()} versus {comparator} for {condition}: {design}."


def synthetic_abstract(pmid: str) -> str:
    """The invented abstract :func:`make_article` gives ``pmid`` when no abstract is passed."""
    rng = random.Random(f"abstract:{pmid}")
    drug, comparator = rng.choice(_DRUGS), rng.choice(_COMPARATORS)
    condition, outcome = rng.choice(_CONDITIONS), rng.choice(_OUTCOMES)
    n, weeks = rng.randint(40, 2400), rng.choice((8, 12, 24, 52))
    treated, control = rng.randint(20, 80), rng.randint(15, 75)
    ratio = (treated + 1) / (control + 1)
    return (
        f"We assigned {n} adults with {condition} to {drug} or {comparator}. "
        f"After {weeks} weeks, the {outcome} endpoint was met in {treated}% versus {control}% of participants "
        f"(risk ratio {ratio:.2f}; 95% CI {ratio * 0.8:.2f} to {ratio * 1.25:.2f}; P < 0.05 & n > 0). "
        f"Adverse events were {rng.choice(_HARMS)}. "
        f"These invented data exist only to exercise a parser."
    )


def _authors(pmid: str) -> list[tuple[str, str]]:
    rng = random.Random(f"authors:{pmid}")
    return [(_word(rng, rng.randint(2, 3)), rng.choice(_FORENAMES)) for _ in range(rng.randint(1, 6))]


def _mesh_heading(item: str) -> str:
    descriptor, *qualifiers = (part.strip() for part in item.split("/"))
    major = descriptor.endswith("*")
    descriptor = descriptor.rstrip("*").strip()
    if not descriptor:
        raise ValueError(f"empty MeSH descriptor in {item!r}")
    ui = _DESCRIPTOR_UI.get(descriptor) or _synthetic_ui("D", descriptor)
    out = [f"<MeshHeading><DescriptorName UI={_attr(ui)} MajorTopicYN={_attr('Y' if major else 'N')}>"]
    out.append(f"{_text(descriptor)}</DescriptorName>")
    for qualifier in qualifiers:
        q_major = qualifier.endswith("*")
        name = qualifier.rstrip("*").strip()
        q_ui = _QUALIFIER_UI.get(name) or _synthetic_ui("Q", name)
        out.append(f"<QualifierName UI={_attr(q_ui)} MajorTopicYN={_attr('Y' if q_major else 'N')}>")
        out.append(f"{_text(name)}</QualifierName>")
    out.append("</MeshHeading>")
    return "".join(out)


def _abstract(abstract: str | Mapping[str, str] | None, pmid: str) -> str:
    if abstract is None:
        abstract = synthetic_abstract(pmid)
    if isinstance(abstract, str):
        return f"<Abstract><AbstractText>{_text(abstract)}</AbstractText></Abstract>" if abstract else ""
    if not abstract:
        return ""
    parts = []
    for label, text in abstract.items():
        category = label.upper() if label.upper() in _NLM_CATEGORIES else "UNASSIGNED"
        parts.append(f"<AbstractText Label={_attr(label)} NlmCategory={_attr(category)}>{_text(text)}</AbstractText>")
    return f"<Abstract>{''.join(parts)}</Abstract>"


def _ymd(tag: str, day: date) -> str:
    return f"<{tag}><Year>{day.year}</Year><Month>{day.month:02d}</Month><Day>{day.day:02d}</Day></{tag}>"


def _history_date(status: str, day: date, hour: int) -> str:
    return (
        f'<PubMedPubDate PubStatus="{status}"><Year>{day.year}</Year><Month>{day.month}</Month>'
        f"<Day>{day.day}</Day><Hour>{hour}</Hour><Minute>0</Minute></PubMedPubDate>"
    )


def publication_date(year: int, edat: date) -> date:
    """The date a record is filed under for ``datetype=pdat``: the entry date if it falls in the
    publication year, else 1 January of that year."""
    return edat if edat.year == year else date(year, 1, 1)


def make_article(
    pmid: str,
    *,
    title: str | None = None,
    year: int = 2020,
    refs: Sequence[str] = (),
    mesh: Sequence[str] = DEFAULT_MESH,
    abstract: str | Mapping[str, str] | None = None,
    publication_types: Sequence[str] = ("Journal Article",),
    doi: str | None = None,
    retracted: bool | str = False,
    erratum: str | None = None,
    edat: str = "2020/01/15",
    mdat: str | None = None,
) -> str:
    """One ``<PubmedArticle>`` element (a single line of XML text) for an invented paper.

    Args:
        pmid: the PMID (digits).
        title: the ArticleTitle; ``None`` invents one (see :func:`synthetic_title`).
        year: publication year (PubDate).
        refs: PMIDs this paper cites; they become its ``ReferenceList``.
        mesh: MeSH headings, each ``"Descriptor"`` with optional ``"/qualifier"`` parts; a
            trailing ``*`` marks a major topic (``"Hypertension*/drug therapy"``). Empty: no
            MeshHeadingList, and the citation is "PubMed-not-MEDLINE".
        abstract: text of a single AbstractText; a mapping label -> text gives a structured
            abstract; ``None`` invents one; ``""`` leaves the Abstract out.
        publication_types: PublicationType names (real UI for the common ones).
        doi: the DOI; ``None`` invents ``10.5555/synth.<pmid>``; ``""`` leaves it out.
        retracted: ``True`` (or the PMID of the retraction notice, as a string) adds
            ``CommentsCorrections RefType="RetractionIn"`` and the "Retracted Publication" type.
            With ``True`` the notice's PMID is ``pmid + 50,000,000``.
        erratum: the PMID of an erratum notice: adds ``CommentsCorrections RefType="ErratumIn"``.
        edat: Entrez date, YYYY/MM/DD (History entrez/pubmed).
        mdat: modification date (DateRevised, History medline); defaults to ``edat``.
    """
    pmid = _check_pmid(pmid)
    entered = _parse_ymd(edat, "edat")
    modified = _parse_ymd(mdat, "mdat") if mdat else entered
    published = publication_date(year, entered)
    rng = random.Random(f"article:{pmid}")
    journal, abbrev, issn, nlm_id = rng.choice(_JOURNALS)
    title = synthetic_title(pmid) if title is None else title
    doi = f"10.5555/synth.{pmid}" if doi is None else doi
    types = list(dict.fromkeys(publication_types or ("Journal Article",)))
    if retracted and "Retracted Publication" not in types:
        types.append("Retracted Publication")
    status = "MEDLINE" if mesh else "PubMed-not-MEDLINE"
    first_page = rng.randint(1, 900)

    out = [f'<PubmedArticle><MedlineCitation Status="{status}" Owner="NLM">']
    out.append(f'<PMID Version="1">{pmid}</PMID>')
    if status == "MEDLINE":
        out.append(_ymd("DateCompleted", modified))
    out.append(_ymd("DateRevised", modified))
    out.append('<Article PubModel="Print-Electronic"><Journal>')
    out.append(f'<ISSN IssnType="Electronic">{issn}</ISSN><JournalIssue CitedMedium="Internet">')
    out.append(f"<Volume>{max(1, year - 1980)}</Volume><Issue>{1 + int(pmid) % 12}</Issue>")
    out.append(f"<PubDate><Year>{year}</Year><Month>{_MONTHS[published.month - 1]}</Month></PubDate>")
    out.append(f"</JournalIssue><Title>{_text(journal)}</Title><ISOAbbreviation>{_text(abbrev)}</ISOAbbreviation>")
    out.append(f"</Journal><ArticleTitle>{_text(title)}</ArticleTitle>")
    out.append(f"<Pagination><StartPage>{first_page}</StartPage><EndPage>{first_page + rng.randint(4, 14)}</EndPage>")
    out.append("</Pagination>")
    if doi:
        out.append(f'<ELocationID EIdType="doi" ValidYN="Y">{_text(doi)}</ELocationID>')
    out.append(_abstract(abstract, pmid))
    out.append('<AuthorList CompleteYN="Y">')
    for last, fore in _authors(pmid):
        out.append(
            f'<Author ValidYN="Y"><LastName>{_text(last)}</LastName><ForeName>{_text(fore)}</ForeName>'
            f"<Initials>{_text(fore[0])}</Initials></Author>"
        )
    out.append("</AuthorList><Language>eng</Language><PublicationTypeList>")
    for name in types:
        ui = _PUBLICATION_TYPE_UI.get(name) or _synthetic_ui("D", name)
        out.append(f"<PublicationType UI={_attr(ui)}>{_text(name)}</PublicationType>")
    out.append("</PublicationTypeList></Article>")
    out.append(
        f"<MedlineJournalInfo><Country>United States</Country><MedlineTA>{_text(abbrev)}</MedlineTA>"
        f"<NlmUniqueID>{nlm_id}</NlmUniqueID><ISSNLinking>{issn}</ISSNLinking></MedlineJournalInfo>"
    )
    if status == "MEDLINE":
        out.append("<CitationSubset>IM</CitationSubset>")
    notices = []
    if retracted:
        notices.append(("RetractionIn", retracted if isinstance(retracted, str) else str(int(pmid) + 50_000_000)))
    if erratum:
        notices.append(("ErratumIn", erratum))
    if notices:
        out.append("<CommentsCorrectionsList>")
        for ref_type, notice in notices:
            out.append(
                f'<CommentsCorrections RefType="{ref_type}">'
                f"<RefSource>{_text(abbrev)}. {year + 1} Jan;{max(1, year - 1979)}:1</RefSource>"
                f'<PMID Version="1">{_check_pmid(notice)}</PMID></CommentsCorrections>'
            )
        out.append("</CommentsCorrectionsList>")
    if mesh:
        out.append("<MeshHeadingList>")
        out.extend(_mesh_heading(item) for item in mesh)
        out.append("</MeshHeadingList>")
    out.append("</MedlineCitation><PubmedData><History>")
    out.append(_history_date("pubmed", entered, 6))
    out.append(_history_date("medline", modified, 6))
    out.append(_history_date("entrez", entered, 6))
    out.append("</History><PublicationStatus>ppublish</PublicationStatus><ArticleIdList>")
    out.append(f'<ArticleId IdType="pubmed">{pmid}</ArticleId>')
    if doi:
        out.append(f'<ArticleId IdType="doi">{_text(doi)}</ArticleId>')
    out.append("</ArticleIdList>")
    if refs:
        out.append("<ReferenceList>")
        for ref in refs:
            ref = _check_pmid(ref)
            ref_rng = random.Random(f"citation:{ref}")
            _, ref_abbrev, _, _ = ref_rng.choice(_JOURNALS)
            last, fore = _authors(ref)[0]
            citation = (
                f"{last} {fore[0]}, et al. {synthetic_title(ref)} {ref_abbrev}. "
                f"{ref_rng.randint(1990, max(1990, year))};{ref_rng.randint(1, 60)}:{ref_rng.randint(1, 999)}."
            )
            out.append(
                f"<Reference><Citation>{_text(citation)}</Citation><ArticleIdList>"
                f'<ArticleId IdType="pubmed">{ref}</ArticleId></ArticleIdList></Reference>'
            )
        out.append("</ReferenceList>")
    out.append("</PubmedData></PubmedArticle>")
    return "".join(out)


def article_set(xml_parts: Iterable[str | bytes]) -> bytes:
    """A complete EFetch document (declaration, DOCTYPE, ``PubmedArticleSet``) around the parts.

    With no parts this is ``<PubmedArticleSet></PubmedArticleSet>``, as NCBI sends when none of
    the requested ids exist (the DTD itself wants at least one article).
    """
    parts = [p.decode("utf-8") if isinstance(p, bytes) else p for p in xml_parts]
    body = "\n".join(parts)
    inner = f"\n{body}\n" if body else ""
    return f'<?xml version="1.0" ?>\n{PUBMED_DOCTYPE}\n<PubmedArticleSet>{inner}</PubmedArticleSet>\n'.encode()


@dataclass(frozen=True)
class RecordSpec:
    """What the fake PubMed holds for one PMID: :func:`make_article` arguments plus extra
    ``cited_by`` PMIDs (citations not expressed as ``refs`` of another stored record)."""

    title: str | None = None
    year: int = 2020
    refs: tuple[str, ...] = ()
    mesh: tuple[str, ...] = DEFAULT_MESH
    abstract: str | Mapping[str, str] | None = None
    publication_types: tuple[str, ...] = ("Journal Article",)
    doi: str | None = None
    retracted: bool | str = False
    erratum: str | None = None
    edat: str = "2020/01/15"
    mdat: str | None = None
    cited_by: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("refs", "mesh", "publication_types", "cited_by"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise TypeError(f"{name} must be a sequence of strings, not a string")
            object.__setattr__(self, name, tuple(str(v) for v in value))
        object.__setattr__(self, "refs", tuple(_check_pmid(r) for r in self.refs))
        object.__setattr__(self, "cited_by", tuple(_check_pmid(r) for r in self.cited_by))
        _parse_ymd(self.edat, "edat")
        if self.mdat:
            _parse_ymd(self.mdat, "mdat")

    def article_kwargs(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "cited_by"}

    @functools.cached_property
    def dates(self) -> dict[str, date]:
        """The record's dates by ESearch ``datetype``."""
        entered = _parse_ymd(self.edat, "edat")
        return {
            "edat": entered,
            "mdat": _parse_ymd(self.mdat, "mdat") if self.mdat else entered,
            "pdat": publication_date(self.year, entered),
        }


# ---------------------------------------------------------------------------------------------
# Faults and the request log
# ---------------------------------------------------------------------------------------------

_FAULT_KINDS = (
    "too_many",
    "server_error",
    "html_200",
    "error_200",
    "truncated",
    "slow",
    "missing_ids",
    "reset",
    "status",
)


@dataclass(frozen=True)
class Fault:
    """One misbehaviour, applied to exactly one request. Build with the class methods.

    ``delay`` (seconds) is slept before any fault acts, on top of the server's latency.
    """

    kind: str
    retry_after: float | None = None
    delay: float = 0.0
    drop_ids: tuple[str, ...] = ()
    status: int | None = None
    body: bytes | str | None = None
    content_type: str | None = None
    honest_length: bool = False
    fraction: float = 0.6
    rst: bool = False

    def __post_init__(self) -> None:
        if self.kind not in _FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {', '.join(_FAULT_KINDS)}")
        if not 0.0 < self.fraction < 1.0:
            raise ValueError("fraction must be between 0 and 1")
        object.__setattr__(self, "drop_ids", tuple(_check_pmid(p) for p in self.drop_ids))

    @classmethod
    def too_many(cls, retry_after: float | None = None) -> Fault:
        """HTTP 429 with NCBI's JSON body, and ``Retry-After`` when given."""
        return cls("too_many", retry_after=retry_after, status=429)

    @classmethod
    def server_error(cls, code: int = 500) -> Fault:
        """HTTP 500/502/503 (any 5xx) with a small HTML page."""
        if not 500 <= code <= 599:
            raise ValueError(f"server_error wants a 5xx code, got {code}")
        return cls("server_error", status=code)

    @classmethod
    def html_200(cls, body: str | None = None) -> Fault:
        """HTTP 200 with an HTML page (a maintenance or proxy page) instead of XML."""
        return cls("html_200", status=200, body=body)

    @classmethod
    def error_200(cls, message: str) -> Fault:
        """HTTP 200 with an in-band ``<ERROR>message</ERROR>`` under the endpoint's root element."""
        return cls("error_200", status=200, body=message)

    @classmethod
    def truncated(cls, *, honest_length: bool = False, fraction: float = 0.6) -> Fault:
        """The real body cut after ``fraction`` of its bytes, then the connection is closed.

        By default the headers announce the full length (the client's ``read()`` raises
        ``http.client.IncompleteRead``); with ``honest_length`` they announce the cut length, so
        HTTP is well formed and only the XML is cut off mid-record.
        """
        return cls("truncated", honest_length=honest_length, fraction=fraction)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Answer normally, but only after ``seconds``."""
        return cls("slow", delay=seconds)

    @classmethod
    def missing_ids(cls, *pmids: str) -> Fault:
        """Answer normally, but leave these PMIDs out (EFetch records, ELink link sets)."""
        return cls("missing_ids", drop_ids=tuple(pmids))

    @classmethod
    def reset(cls, *, rst: bool = False) -> Fault:
        """Close the connection without answering: the client sees ``RemoteDisconnected``.

        With ``rst`` the socket is closed with SO_LINGER 0, so the peer gets a TCP reset
        (``ConnectionResetError``) instead of an orderly end of stream.
        """
        return cls("reset", rst=rst)

    @classmethod
    def respond(cls, status: int, body: bytes | str | None = None, content_type: str | None = None) -> Fault:
        """Any status with any body (default: a one-line text body), e.g. 400 or 414."""
        return cls("status", status=status, body=body, content_type=content_type)


@dataclass
class RequestLog:
    """One request as the server saw it.

    ``time`` is ``time.monotonic()`` when the request line and headers had been read (before any
    body, latency or fault); ``params`` merges the query string and a form-encoded body.
    ``status`` is what was sent (``None`` when the connection was dropped without an answer);
    ``fault`` the kind of fault applied, ``"rate_limit"`` for a request the server's own rate
    limit rejected (then ``rejected`` is true too).
    """

    time: float
    endpoint: str
    method: str
    params: dict[str, list[str]]
    path: str = ""
    status: int | None = None
    fault: str | None = None
    rejected: bool = False

    @property
    def ids(self) -> list[str]:
        """Every id in the ``id`` parameters, comma lists split."""
        return [i.strip() for value in self.params.get("id", []) for i in value.split(",") if i.strip()]


def max_in_window(times: Iterable[float], window: float = 1.0) -> int:
    """The most of ``times`` that fit in any half-open interval ``[t, t + window)``."""
    ordered = sorted(times)
    best = start = 0
    for end, t in enumerate(ordered):
        while t - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


# ---------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------


class _Response:
    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(self, status: int, body: bytes, content_type: str = _XML, headers: Sequence[tuple[str, str]] = ()):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = list(headers)


class _BadRequest(Exception):
    def __init__(self, response: _Response) -> None:
        super().__init__(response.status)
        self.response = response


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeEutils/1.0"
    sys_version = ""
    timeout = 120
    server: _Server

    def do_GET(self) -> None:
        self.server.owner._handle(self, "GET")

    def do_POST(self) -> None:
        self.server.owner._handle(self, "POST")

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # FakeEutils.stop() wakes, unblocks and joins the handlers itself
    request_queue_size = 128

    def __init__(self, owner: FakeEutils) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection, args=(request, client_address), daemon=True, name="fake-eutils-conn"
        )
        with self.owner._lock:
            self.owner._connections.add(request)
            self.owner._threads.add(thread)
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self.owner._lock:
                self.owner._connections.discard(request)
                self.owner._threads.discard(threading.current_thread())

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(_current_exception(), OSError):
            return  # the client went away (timeout, reset): nothing to report
        self.owner.errors.append(traceback.format_exc())


def _current_exception() -> BaseException | None:
    return sys.exc_info()[1]


def _xml_error(endpoint: str, message: str) -> bytes:
    text = _text(message)
    if endpoint == "esearch":
        return f"{_ESEARCH_HEAD}<eSearchResult><ERROR>{text}</ERROR></eSearchResult>\n".encode()
    if endpoint == "elink":
        return f"{_ELINK_HEAD}<eLinkResult>\n\t<ERROR>{text}</ERROR>\n</eLinkResult>\n".encode()
    if endpoint == "einfo":
        return f"{_EINFO_HEAD}<eInfoResult>\n\t<ERROR>{text}</ERROR>\n</eInfoResult>\n".encode()
    return f"{_EFETCH_ERROR_HEAD}<eFetchResult>\n\t<ERROR>{text}</ERROR>\n</eFetchResult>\n".encode()


def _html_page(title: str, message: str) -> bytes:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>'
        f"{_text(title)}</title></head>\n<body><h1>{_text(title)}</h1><p>{_text(message)}</p>"
        "<p>(fake E-utilities test server)</p></body></html>\n"
    ).encode()


_MAINTENANCE_PAGE = _html_page(
    "Service unavailable",
    "The E-utilities back end is busy or down for maintenance. Please try your request again later.",
)


def _parse_limit_date(value: str, *, upper: bool) -> date:
    """ESearch's mindate/maxdate: YYYY, YYYY/MM or YYYY/MM/DD (an upper bound is the period's end)."""
    parts = value.strip().replace("-", "/").split("/")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise ValueError(value)
    numbers = [int(p) for p in parts]
    year = numbers[0]
    if len(numbers) == 1:
        return date(year, 12, 31) if upper else date(year, 1, 1)
    month = numbers[1]
    if len(numbers) == 2:
        if not upper:
            return date(year, month, 1)
        following = date(year + month // 12, month % 12 + 1, 1)
        return following - timedelta(days=1)
    return date(year, month, numbers[2])


_TERM_RANGE = r"(\d{4}/\d{2}/\d{2}):(\d{4}/\d{2}/\d{2})\[(edat|mdat|pdat)\]"
_TERM_WITH_RANGES = re.compile(rf"^\((?P<base>.*)\) AND \((?P<ranges>{_TERM_RANGE}(?: OR {_TERM_RANGE})*)\)$", re.I)


def _split_date_ranges(term: str) -> tuple[str, list[tuple[str, date, date]]]:
    """A term ``(BASE) AND (FROM:TO[edat] OR FROM:TO[mdat] …)`` as BASE and its date ranges.

    This is the one form of PubMed's in-query date ranges the fake understands (records match
    when any of their dates falls in its range); any other term is returned unchanged.
    """
    match = _TERM_WITH_RANGES.match(term.strip())
    if not match:
        return term, []
    ranges = [
        (datetype.lower(), _parse_ymd(low, "range start"), _parse_ymd(high, "range end"))
        for low, high, datetype in re.findall(_TERM_RANGE, match.group("ranges"), re.I)
    ]
    return match.group("base").strip(), ranges


def _int_param(params: Mapping[str, list[str]], name: str, default: int) -> int:
    values = params.get(name)
    if not values or not values[0].strip():
        return default
    try:
        return max(0, int(values[0]))
    except ValueError:
        return default


def _first(params: Mapping[str, list[str]], name: str, default: str = "") -> str:
    values = params.get(name)
    return values[0].strip() if values and values[0].strip() else default


def _format_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


class FakeEutils:
    """A real E-utilities server for PubMed on 127.0.0.1 (see the module docs).

    Args:
        records: initial records, PMID -> :class:`RecordSpec` (or a mapping of its fields).
        rate_limit: requests the server accepts in any sliding second, as NCBI counts them:
            a request arriving when ``rate_limit`` requests (accepted or not) arrived in the
            second before it gets 429, and is logged as ``rejected``. ``None``: no limit.
        latency: seconds every answer is held back (slept in the handler thread, so concurrent
            requests overlap as they do at NCBI).
        rate_limit_retry_after: ``Retry-After`` seconds on rate-limit 429s (default: none).
    """

    def __init__(
        self,
        *,
        records: Mapping[str, RecordSpec | Mapping[str, Any]] | None = None,
        rate_limit: float | None = None,
        latency: float = 0.0,
        rate_limit_retry_after: float | None = None,
    ) -> None:
        if rate_limit is not None and rate_limit <= 0:
            raise ValueError("rate_limit must be positive (or None for no limit)")
        self.rate_limit = rate_limit
        self.rate_limit_retry_after = rate_limit_retry_after
        self.latency = float(latency)
        self.requests: list[RequestLog] = []
        #: Tracebacks of unexpected server-side errors (answered with 500); tests can assert it is empty.
        self.errors: list[str] = []
        self._lock = threading.RLock()
        self._records: dict[str, RecordSpec] = {}
        self._xml_cache: dict[str, str] = {}
        self._cited_in: dict[str, set[str]] = {}  # pmid -> stored records whose refs include it
        self._also_cites: dict[str, set[str]] = {}  # pmid -> stored records whose cited_by include it
        self._searches: dict[str, tuple[str, ...]] = {}
        self._faults: list[tuple[str, Fault]] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._connections: set[Any] = set()
        self._threads: set[threading.Thread] = set()
        for pmid, spec in (records or {}).items():
            self._put(pmid, spec if isinstance(spec, RecordSpec) else RecordSpec(**spec))

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeEutils:
        """Bind 127.0.0.1 on a free port and serve in a daemon thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name="fake-eutils"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections, wake sleeping handlers and join them. Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        with self._lock:
            connections, threads = list(self._connections), list(self._threads)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + 5.0
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None

    def __enter__(self) -> FakeEutils:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeEutils is not running: call start() or use it as a context manager")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/entrez/eutils`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}{EUTILS_PATH}"

    # -- content --------------------------------------------------------------------------

    def add_record(self, pmid: str, **kwargs: Any) -> None:
        """Store (or replace) a record: :func:`make_article` keyword arguments, plus ``cited_by``."""
        self._put(pmid, RecordSpec(**kwargs))

    def _put(self, pmid: str, spec: RecordSpec) -> None:
        pmid = _check_pmid(pmid)
        with self._lock:
            old = self._records.get(pmid)
            if old is not None:
                for ref in old.refs:
                    self._cited_in.get(ref, set()).discard(pmid)
                for citer in old.cited_by:
                    self._also_cites.get(citer, set()).discard(pmid)
            self._records[pmid] = spec
            self._xml_cache.pop(pmid, None)
            for ref in spec.refs:
                self._cited_in.setdefault(ref, set()).add(pmid)
            for citer in spec.cited_by:
                self._also_cites.setdefault(citer, set()).add(pmid)

    @property
    def records(self) -> Mapping[str, RecordSpec]:
        """A snapshot of the stored records."""
        with self._lock:
            return dict(self._records)

    def article_xml(self, pmid: str) -> str | None:
        """The ``<PubmedArticle>`` EFetch serves for ``pmid`` (``None`` if not stored)."""
        pmid = _check_pmid(pmid)
        with self._lock:
            spec = self._records.get(pmid)
            cached = self._xml_cache.get(pmid)
        if spec is None:
            return None
        if cached is None:
            cached = make_article(pmid, **spec.article_kwargs())
            with self._lock:
                if self._records.get(pmid) is spec:
                    self._xml_cache[pmid] = cached
        return cached

    def refs_of(self, pmid: str) -> list[str]:
        """What ``pubmed_pubmed_refs`` answers for ``pmid``: its refs, and the records listing it
        in ``cited_by``, highest PMID first."""
        with self._lock:
            spec = self._records.get(pmid)
            out = set(spec.refs) if spec else set()
            out.update(self._also_cites.get(pmid, ()))
        out.discard(pmid)
        return sorted(out, key=int, reverse=True)

    def cited_in(self, pmid: str) -> list[str]:
        """What ``pubmed_pubmed_citedin`` answers for ``pmid``: records whose refs include it, plus
        its own ``cited_by``, highest PMID first."""
        with self._lock:
            out = set(self._cited_in.get(pmid, ()))
            spec = self._records.get(pmid)
            if spec:
                out.update(spec.cited_by)
        out.discard(pmid)
        return sorted(out, key=int, reverse=True)

    def set_search(self, term: str, pmids: Sequence[str]) -> None:
        """What ESearch finds for ``term`` (exact text, surrounding spaces ignored), in this
        order, before the date window is applied."""
        with self._lock:
            self._searches[term.strip()] = tuple(_check_pmid(p) for p in pmids)

    # -- faults and the log ---------------------------------------------------------------

    def inject(self, endpoint: str, *faults: Fault) -> None:
        """Queue faults, each for one later request to ``endpoint`` (``"*"``: any endpoint).

        A request takes the earliest-queued fault for its endpoint or ``"*"``. Requests the
        rate limit rejects take none.
        """
        if endpoint != "*" and endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint must be one of {', '.join(ENDPOINTS)} or '*', got {endpoint!r}")
        with self._lock:
            self._faults.extend((endpoint, f) for f in faults)

    def pending_faults(self) -> list[tuple[str, Fault]]:
        with self._lock:
            return list(self._faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, endpoint: str) -> Fault | None:
        for n, (target, fault) in enumerate(self._faults):
            if target in (endpoint, "*"):
                del self._faults[n]
                return fault
        return None

    def requests_to(self, endpoint: str) -> list[RequestLog]:
        with self._lock:
            return [r for r in self.requests if r.endpoint == endpoint]

    def max_requests_in_any_window(
        self, window: float = 1.0, *, endpoint: str | None = None, accepted_only: bool = False
    ) -> int:
        """The most requests that arrived within any ``window`` seconds (half-open, sliding)."""
        with self._lock:
            times = [
                r.time
                for r in self.requests
                if (endpoint is None or r.endpoint == endpoint) and not (accepted_only and r.rejected)
            ]
        return max_in_window(times, window)

    # -- request handling -----------------------------------------------------------------

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _recent(self, now: float) -> int:
        """Requests that arrived in the second before ``now`` (the one arriving excluded); call
        with the lock held. Every arrival counts, rejected or not: NCBI counts what it receives."""
        count = 0
        for entry in reversed(self.requests):  # in the order the lock was taken: nearly arrival order
            age = now - entry.time
            if age >= 2.0:
                break
            if 0.0 <= age < 1.0:
                count += 1
        return count

    def _admit(self, now: float) -> bool:
        """The sliding-window check: under the limit in the second before ``now``? (Lock held.)"""
        return self.rate_limit is None or self._recent(now) < self.rate_limit

    def _handle(self, handler: _Handler, method: str) -> None:
        arrival = time.monotonic()
        split = urlsplit(handler.path)
        path = split.path
        endpoint = path.rsplit("/", 1)[-1].removesuffix(".fcgi") if path.startswith(EUTILS_PATH + "/") else path
        body = b""
        oversized = len(handler.path) > MAX_URL_LENGTH
        if method == "POST":
            length = int(handler.headers.get("Content-Length") or 0)
            if length > MAX_BODY_LENGTH:
                oversized = True
                handler.close_connection = True
            else:
                body = handler.rfile.read(length)
        params = parse_qs(split.query, keep_blank_values=True)
        if body:
            for key, values in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items():
                params.setdefault(key, []).extend(values)
        entry = RequestLog(time=arrival, endpoint=endpoint, method=method, params=params, path=path)
        with self._lock:
            admitted = self._admit(arrival)
            recent = self._recent(arrival) + 1
            self.requests.append(entry)
            fault = self._take_fault(endpoint) if admitted and endpoint in ENDPOINTS else None

        try:
            if not admitted:
                entry.fault, entry.rejected = "rate_limit", True
                self._sleep(self.latency)
                key = _first(params, "api_key") or handler.client_address[0]
                limit = self.rate_limit or 0
                headers = []
                if self.rate_limit_retry_after is not None:
                    headers.append(("Retry-After", _format_seconds(self.rate_limit_retry_after)))
                self._send(handler, entry, self._too_many(key, recent, limit, headers))
                return
            if fault is not None:
                entry.fault = fault.kind
            self._sleep(self.latency + (fault.delay if fault else 0.0))
            if fault is not None and fault.kind == "reset":
                self._drop(handler, rst=fault.rst)
                return
            if oversized:
                response = _Response(414, b"Request-URI Too Long\n", _TEXT)
            else:
                response = self._fault_response(endpoint, params, handler, fault)
                if response is None:
                    response = self._answer(endpoint, params, fault.drop_ids if fault else ())
            if fault is not None and fault.kind == "truncated":
                self._send_truncated(handler, entry, response, fault)
            else:
                self._send(handler, entry, response)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            handler.close_connection = True
        except Exception:
            self.errors.append(traceback.format_exc())
            handler.close_connection = True
            with contextlib.suppress(OSError):
                self._send(handler, entry, _Response(500, b"fake_eutils internal error\n", _TEXT))

    def _fault_response(
        self, endpoint: str, params: Mapping[str, list[str]], handler: _Handler, fault: Fault | None
    ) -> _Response | None:
        if fault is None or fault.kind in ("slow", "missing_ids", "truncated"):
            return None
        if fault.kind == "too_many":
            headers = [] if fault.retry_after is None else [("Retry-After", _format_seconds(fault.retry_after))]
            key = _first(params, "api_key") or handler.client_address[0]
            return self._too_many(key, int(self.rate_limit or 3) + 1, self.rate_limit or 3, headers)
        if fault.kind == "server_error":
            code = fault.status or 500
            page = _html_page(f"{code} {_reason(code)}", "The server could not complete the request.")
            return _Response(code, page, _HTML)
        if fault.kind == "html_200":
            page = fault.body.encode() if isinstance(fault.body, str) else (fault.body or _MAINTENANCE_PAGE)
            return _Response(200, page, _HTML)
        if fault.kind == "error_200":
            return _Response(200, _xml_error(endpoint, str(fault.body or "")), _XML)
        # kind == "status"
        code = fault.status or 500
        payload = fault.body if fault.body is not None else f"{code} {_reason(code)}\n"
        data = payload.encode() if isinstance(payload, str) else payload
        retry = [] if fault.retry_after is None else [("Retry-After", _format_seconds(fault.retry_after))]
        return _Response(code, data, fault.content_type or _TEXT, retry)

    @staticmethod
    def _too_many(key: str, count: int, limit: float, headers: Sequence[tuple[str, str]]) -> _Response:
        body = json.dumps(
            {"error": "API rate limit exceeded", "api-key": key, "count": str(count), "limit": _format_seconds(limit)},
            separators=(",", ":"),
        ).encode()
        return _Response(429, body + b"\n", "application/json", headers)

    def _rate_headers(self) -> list[tuple[str, str]]:
        if self.rate_limit is None:
            return []
        with self._lock:
            remaining = max(0, int(self.rate_limit) - self._recent(time.monotonic()))
        return [("X-RateLimit-Limit", _format_seconds(self.rate_limit)), ("X-RateLimit-Remaining", str(remaining))]

    def _send(self, handler: _Handler, entry: RequestLog, response: _Response) -> None:
        entry.status = response.status
        handler.send_response(response.status)
        handler.send_header("Content-Type", response.content_type)
        handler.send_header("Content-Length", str(len(response.body)))
        for name, value in [*response.headers, *self._rate_headers()]:
            handler.send_header(name, value)
        if handler.close_connection:
            handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(response.body)

    def _send_truncated(self, handler: _Handler, entry: RequestLog, response: _Response, fault: Fault) -> None:
        cut = min(len(response.body) - 1, max(1, int(len(response.body) * fault.fraction)))
        partial = response.body[:cut]
        entry.status = response.status
        handler.close_connection = True
        handler.send_response(response.status)
        handler.send_header("Content-Type", response.content_type)
        handler.send_header("Content-Length", str(len(partial) if fault.honest_length else len(response.body)))
        handler.end_headers()
        handler.wfile.write(partial)
        handler.wfile.flush()

    @staticmethod
    def _drop(handler: _Handler, *, rst: bool) -> None:
        handler.close_connection = True
        if rst:
            conn = handler.connection
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    # -- the endpoints --------------------------------------------------------------------

    def _answer(self, endpoint: str, params: Mapping[str, list[str]], drop: Sequence[str]) -> _Response:
        db = _first(params, "db", "pubmed") if endpoint != "elink" else _first(params, "dbfrom", "pubmed")
        if endpoint in ENDPOINTS and db != "pubmed":
            return _Response(200, _xml_error(endpoint, f"Invalid db name specified: {db}"))
        try:
            if endpoint == "esearch":
                return self._esearch(params)
            if endpoint == "efetch":
                return self._efetch(params, set(drop))
            if endpoint == "elink":
                return self._elink(params, set(drop))
            if endpoint == "einfo":
                return self._einfo(params)
        except _BadRequest as exc:
            return exc.response
        return _Response(404, f"{endpoint}: no such E-utility on this server\n".encode(), _TEXT)

    def _esearch(self, params: Mapping[str, list[str]]) -> _Response:
        term = _first(params, "term")
        if not term:
            return _Response(200, _xml_error("esearch", "Empty term and query_key - nothing todo"))
        retstart = _int_param(params, "retstart", 0)
        asked = _int_param(params, "retmax", 20)
        retmax = min(asked, PAGING_CAP)
        if retstart > PAGING_CAP - 1:
            return _Response(200, _xml_error("esearch", PAGING_CAP_MESSAGE))
        datetype = _first(params, "datetype", "pdat").lower()
        mindate, maxdate = _first(params, "mindate"), _first(params, "maxdate")
        reldate = _first(params, "reldate")
        window: tuple[date, date] | None = None
        try:
            if mindate and maxdate:
                window = (_parse_limit_date(mindate, upper=False), _parse_limit_date(maxdate, upper=True))
            elif reldate:
                today = date.today()
                window = (today - timedelta(days=int(reldate)), today)
        except ValueError:
            return _Response(200, _xml_error("esearch", f"Invalid date range: {mindate or reldate}:{maxdate}"))
        if window is not None and datetype not in _DATE_LABELS:
            return _Response(200, _xml_error("esearch", f"Invalid datetype: {datetype}"))

        term, in_term = _split_date_ranges(term)
        with self._lock:
            known = term in self._searches
            candidates = self._searches.get(term, ())
            hits = []
            for pmid in candidates:
                spec = self._records.get(pmid)
                if window is not None and (spec is None or not window[0] <= spec.dates[datetype] <= window[1]):
                    continue
                if in_term and (spec is None or not any(lo <= spec.dates[dt] <= hi for dt, lo, hi in in_term)):
                    continue
                hits.append(pmid)
        count = len(hits)
        end = min(retstart + retmax, count, PAGING_CAP)
        page = hits[retstart:end] if retstart < end else []
        translation = f"({term})"
        if window is not None:
            translation += f" AND {window[0]:%Y/%m/%d}:{window[1]:%Y/%m/%d}[{_DATE_LABELS[datetype]}]"
        ids = "".join(f"<Id>{p}</Id>\n" for p in page)
        out = [f"{_ESEARCH_HEAD}<eSearchResult><Count>{count}</Count><RetMax>{len(page)}</RetMax>"]
        out.append(f"<RetStart>{retstart}</RetStart>")
        out.append(f"<IdList>\n{ids}</IdList>" if page else "<IdList/>")
        out.append(f"<TranslationSet/><QueryTranslation>{_text(translation.strip())}</QueryTranslation>")
        if not known:
            out.append(f"<ErrorList><PhraseNotFound>{_text(term)}</PhraseNotFound></ErrorList>")
        warnings = []
        if count == 0:
            warnings.append("No items found.")
        elif retstart + asked > PAGING_CAP and count > PAGING_CAP:
            warnings.append(f"Restrictions achieved. start and count adjusted to {retstart}, {len(page)}")
        if warnings:
            out.append("<WarningList>")
            out.extend(f"<OutputMessage>{_text(w)}</OutputMessage>" for w in warnings)
            out.append("</WarningList>")
        out.append("</eSearchResult>\n")
        return _Response(200, "".join(out).encode())

    @staticmethod
    def _id_groups(params: Mapping[str, list[str]], endpoint: str) -> list[list[str]]:
        """The ``id`` parameters, each split at commas and checked; 400/414 when unusable."""
        groups = [[i.strip() for i in value.split(",") if i.strip()] for value in params.get("id", [])]
        groups = [g for g in groups if g]
        total = sum(len(g) for g in groups)
        if total > MAX_IDS:
            raise _BadRequest(_Response(414, f"Too many ids ({total}); the limit is {MAX_IDS}\n".encode(), _TEXT))
        bad = [i for g in groups for i in g if not i.isdigit() or int(i) == 0]
        if bad or (endpoint == "efetch" and total == 0):
            if endpoint == "efetch":
                raise _BadRequest(_Response(400, _xml_error("efetch", EFETCH_NO_IDS_MESSAGE)))
            raise _BadRequest(_Response(400, _xml_error(endpoint, f"Invalid uid {bad[0]}")))
        return [[str(int(i)) for i in g] for g in groups]

    def _efetch(self, params: Mapping[str, list[str]], drop: set[str]) -> _Response:
        wanted = dict.fromkeys(p for g in self._id_groups(params, "efetch") for p in g)
        parts = [xml for p in wanted if p not in drop and (xml := self.article_xml(p)) is not None]
        return _Response(200, article_set(parts))

    def _elink(self, params: Mapping[str, list[str]], drop: set[str]) -> _Response:
        cmd = _first(params, "cmd", "neighbor")
        if cmd != "neighbor":
            return _Response(200, _xml_error("elink", f"cmd={cmd} is not supported by this test server"))
        db = _first(params, "db", "pubmed")
        groups = self._id_groups(params, "elink")
        if not groups:
            return _Response(200, _xml_error("elink", "Empty id list - nothing todo"))
        linkname = _first(params, "linkname")
        names = [linkname] if linkname else list(LINKNAMES)
        out = [f"{_ELINK_HEAD}<eLinkResult>\n"]
        for group in groups:
            ids = [p for p in group if p not in drop]
            if not ids:
                continue
            out.append("<LinkSet>\n\t<DbFrom>pubmed</DbFrom>\n\t<IdList>\n")
            out.extend(f"\t\t<Id>{p}</Id>\n" for p in ids)
            out.append("\t</IdList>\n")
            for name in names:
                if db != "pubmed" or name not in LINKNAMES:
                    continue
                targets: set[str] = set()
                for pmid in ids:
                    targets.update(self.refs_of(pmid) if name == "pubmed_pubmed_refs" else self.cited_in(pmid))
                if not targets:
                    continue
                out.append(f"\t<LinkSetDb>\n\t\t<DbTo>pubmed</DbTo>\n\t\t<LinkName>{_text(name)}</LinkName>\n")
                ordered = sorted(targets, key=int, reverse=True)
                out.extend(f"\t\t<Link>\n\t\t\t<Id>{t}</Id>\n\t\t</Link>\n" for t in ordered)
                out.append("\t</LinkSetDb>\n")
            out.append("</LinkSet>\n")
        out.append("</eLinkResult>\n")
        return _Response(200, "".join(out).encode())

    def _einfo(self, params: Mapping[str, list[str]]) -> _Response:
        if not _first(params, "db"):
            db_list = "<DbList>\n\t<DbName>pubmed</DbName>\n</DbList>"
            return _Response(200, f"{_EINFO_HEAD}<eInfoResult>\n{db_list}\n</eInfoResult>\n".encode())
        with self._lock:
            count = len(self._records)
        fields_xml = "".join(
            f"<Field><Name>{tag.upper()}</Name><FullName>{label}</FullName><Description>{label} (fake)</Description>"
            "<TermCount/><IsDate>Y</IsDate><IsNumerical>N</IsNumerical><SingleToken>Y</SingleToken>"
            "<Hierarchy>N</Hierarchy><IsHidden>N</IsHidden></Field>"
            for tag, label in _DATE_LABELS.items()
        )
        links_xml = "".join(
            f"<Link><Name>{name}</Name><Menu>{menu}</Menu><Description>{menu} (fake)</Description>"
            "<DbTo>pubmed</DbTo></Link>"
            for name, menu in (("pubmed_pubmed_citedin", "Cited in"), ("pubmed_pubmed_refs", "References"))
        )
        now = datetime.now()
        body = (
            f"{_EINFO_HEAD}<eInfoResult>\n<DbInfo><DbName>pubmed</DbName><MenuName>PubMed</MenuName>"
            f"<Description>PubMed bibliographic record (fake)</Description><DbBuild>Build-fake</DbBuild>"
            f"<Count>{count}</Count><LastUpdate>{now:%Y/%m/%d %H:%M}</LastUpdate>"
            f"<FieldList>{fields_xml}</FieldList><LinkList>{links_xml}</LinkList></DbInfo>\n</eInfoResult>\n"
        )
        return _Response(200, body.encode())


def _reason(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Error"


@pytest.fixture
def fake_eutils() -> Iterator[FakeEutils]:
    """A started :class:`FakeEutils` with no records, stopped after the test."""
    with FakeEutils() as server:
        yield server
