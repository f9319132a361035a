"""Outbound links: the one place a URL is built from a value the KB holds.

Every link to another site (PubMed, DOI, PubMed Central, MeSH; an article's own URL in the
bibliographies) is built here, by :func:`external_url`, which accepts only an ``http`` or
``https`` base with a host and percent-encodes every value put into it. The result holds no
character Markdown or HTML could read as syntax: no space, quote, bracket, parenthesis,
``<`` or ``>``. The identifier builders also check the value's shape
(:mod:`kb.identifiers`) and give None for one that does not fit, so a template shows such a
value as text and links nowhere. No template writes a raw value into a link.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from urllib.parse import quote, urlencode, urlsplit

from kb.identifiers import is_doi, is_pmcid, is_pmid

__all__ = ["doi_url", "external_url", "mesh_url", "pmc_url", "pubmed_url", "safe_url"]

_SCHEMES = ("http", "https")
# The characters left as they are in a path or a query: RFC 3986's unreserved ones. Anything
# else, "/" inside a value included, is percent-encoded.
_UNRESERVED = "-._~"


def external_url(
    base: str, *segments: str, query: Mapping[str, str] | None = None, trailing_slash: bool = False
) -> str:
    """``base`` followed by ``segments`` (each percent-encoded, ``/`` included) and ``query``.

    Args:
        base: an ``http://`` or ``https://`` URL with a host (its own path is encoded too).
        segments: path segments to append; a segment that is ``.`` or ``..`` is refused.
        query: parameters, percent-encoded.
        trailing_slash: end the path with ``/`` (PubMed's and PMC's canonical form).

    Raises:
        ValueError: the base is not http(s) with a host, or a segment is a dot segment.
    """
    parts = urlsplit(base)
    if parts.scheme.lower() not in _SCHEMES or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"an outbound link must start http:// or https:// with a host, not {base[:60]!r}")
    for segment in segments:
        if segment in ("", ".", ".."):
            raise ValueError(f"{segment!r} is not a path segment")
    host = parts.netloc.encode("idna").decode("ascii") if not parts.netloc.isascii() else parts.netloc
    path = quote(parts.path, safe="/" + _UNRESERVED)
    path = path.rstrip("/") + "".join("/" + quote(s, safe=_UNRESERVED) for s in segments)
    if trailing_slash:
        path += "/"
    url = f"{parts.scheme.lower()}://{quote(host, safe=':@[]' + _UNRESERVED)}{path}"
    if query:
        url += "?" + urlencode(query, quote_via=quote, safe=_UNRESERVED)
    return url


def _text(value: object) -> str | None:
    """A value from the KB or a DataFrame as text; None when missing (None, NaN, NA, '')."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        text = str(value).strip()
    except TypeError:  # pandas.NA refuses bool(); its str is "<NA>"
        return None
    return text if text and text != "<NA>" else None


@functools.lru_cache(maxsize=65536)
def _pubmed(pmid: str) -> str | None:
    return external_url("https://pubmed.ncbi.nlm.nih.gov", pmid, trailing_slash=True) if is_pmid(pmid) else None


def pubmed_url(pmid: object) -> str | None:
    """The PubMed page of ``pmid``, or None when it is missing or not a PMID."""
    text = _text(pmid)
    return _pubmed(text) if text else None


@functools.lru_cache(maxsize=65536)
def _doi(doi: str) -> str | None:
    if not is_doi(doi):
        return None
    prefix, _, suffix = doi.partition("/")
    if suffix in (".", "..") or any(part in (".", "..") for part in suffix.split("/")):
        return None  # a browser would resolve it away from the DOI
    # The suffix is one segment: its "/" are encoded, which doi.org resolves like a "/".
    return external_url("https://doi.org", prefix) + "/" + quote(suffix, safe="/" + _UNRESERVED)


def doi_url(doi: object) -> str | None:
    """The doi.org resolver link of ``doi``, or None when it is missing or not a DOI."""
    text = _text(doi)
    return _doi(text) if text else None


def pmc_url(pmcid: object) -> str | None:
    """The PubMed Central page of ``pmcid``, or None when it is missing or not a PMC id."""
    text = _text(pmcid)
    if not text or not is_pmcid(text):
        return None
    return external_url("https://pmc.ncbi.nlm.nih.gov/articles", text, trailing_slash=True)


def mesh_url(ui: object) -> str | None:
    """The MeSH browser page of a descriptor or supplementary UI (``D002114``), or None."""
    text = _text(ui)
    if not text or not text.isascii() or not text[:1].isalpha() or not text[1:].isdigit():
        return None
    return external_url("https://meshb.nlm.nih.gov/record/ui", query={"ui": text})


def safe_url(url: object) -> str | None:
    """A URL the KB holds (an article's own ``url``), if it is http(s) with a host; else None.

    Characters a URL may not contain as they are (spaces, quotes, brackets …) are
    percent-encoded; ``%`` escapes already present are kept.
    """
    text = _text(url)
    if not text:
        return None
    parts = urlsplit(text)
    if parts.scheme.lower() not in _SCHEMES or not parts.hostname:
        return None
    return quote(text, safe="/?&=#%:@+,;" + _UNRESERVED)
