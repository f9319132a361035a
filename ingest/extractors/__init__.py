"""Finding extractors: pure functions from an article's text to treatment-response findings.

An extractor is a function ``(article, lexicon) -> list[Extraction]`` registered under a
name and a version with :func:`register`. It does no I/O: it reads only the
:class:`~ingest.extraction.text.ArticleText` and the topic's compiled
:class:`~ingest.extraction.lexicon.Lexicon`, so it can run anywhere, in any order, in
parallel. Every module of this package defines and registers exactly one extractor; see
``README.md`` here for adding one.

>>> from ingest.extractors import get
>>> extractor = get("rules")            # doctest: +SKIP
>>> extractor(article, lexicon)         # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ingest.errors import IngestError
from ingest.extraction.lexicon import Lexicon
from ingest.extraction.text import ArticleText


@dataclass(frozen=True, slots=True)
class Extraction:
    """One finding as an extractor sees it, before it becomes a stored Finding."""

    interventions: tuple[str, ...]  # one id, or the component ids of a combination (sorted)
    condition_id: str
    context_id: str | None
    response: str
    study_design: str
    n_treated: int | None
    n_responded: int | None
    evidence: str
    start: int  # offsets of the evidence sentence in the abstract as given
    end: int
    confidence: float
    intervention_text: str = ""
    condition_text: str = ""
    age_group: str = "unknown"  # adults, children, mixed or unknown (ingest.extraction.fields)
    outcome: str | None = None  # the outcome measure the evidence sentence reports
    adverse_events: str | None = None  # harms or withdrawals as written, or "none reported"


class Extractor(Protocol):
    """A registered extractor: callable, with a name and a version."""

    name: str
    version: str

    def __call__(self, article: ArticleText, lexicon: Lexicon) -> list[Extraction]: ...


_REGISTRY: dict[str, Extractor] = {}


def register(name: str, version: str) -> Callable[[Callable[[ArticleText, Lexicon], list[Extraction]]], Extractor]:
    """Register a function as the extractor ``name`` at ``version``.

    Bump the version whenever the output can change: re-running a new version replaces
    the findings of the old one, and stored findings name the version that made them.
    """

    def wrap(fn: Callable[[ArticleText, Lexicon], list[Extraction]]) -> Extractor:
        if name in _REGISTRY:
            raise IngestError(f"extractor {name!r} is registered twice")
        fn.name = name  # type: ignore[attr-defined]
        fn.version = version  # type: ignore[attr-defined]
        _REGISTRY[name] = fn  # type: ignore[assignment]
        return fn  # type: ignore[return-value]

    return wrap


def _discover() -> None:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def available() -> list[str]:
    """Names of every registered extractor."""
    _discover()
    return sorted(_REGISTRY)


def get(name: str) -> Extractor:
    """The extractor called ``name``.

    Raises:
        IngestError: no extractor has that name (the message lists those that exist).
    """
    _discover()
    if name not in _REGISTRY:
        raise IngestError(f"no extractor {name!r}; available: {', '.join(sorted(_REGISTRY)) or 'none'}")
    return _REGISTRY[name]


DEFAULT_EXTRACTOR = "rules"
