"""The data model: every field described, content hashes stable and content-sensitive."""

from __future__ import annotations

from sqlmodel import SQLModel

import kb.models
from kb.models import FINDING_CONTENT_FIELDS, FindingRecord, finding_id


def _tables() -> list[type[SQLModel]]:
    return [
        obj
        for obj in vars(kb.models).values()
        if isinstance(obj, type) and issubclass(obj, SQLModel) and getattr(obj, "__table__", None) is not None
    ]


def test_every_field_of_every_table_is_described() -> None:
    missing = [
        f"{model.__name__}.{name}"
        for model in _tables()
        for name, info in model.model_fields.items()
        if not (info.description or "").strip()
    ]
    assert len(_tables()) >= 11
    assert missing == []


def test_every_table_is_documented() -> None:
    assert [m.__name__ for m in _tables() if not (m.__doc__ or "").strip()] == []


def _finding(**changes: object) -> FindingRecord:
    base = dict(
        article_id="pubmed:1",
        intervention_id="diltiazem",
        condition_id="calcinosis",
        response="improved",
        study_design="case_report",
        origin="curated",
        summary="One patient improved.",
    )
    return FindingRecord(**{**base, **changes})


def test_content_hash_is_stable_and_sensitive_to_each_content_field() -> None:
    a, b = _finding(), _finding()
    assert a.compute_hash() == b.compute_hash()
    assert finding_id(a.compute_hash()) == "finding:" + a.compute_hash()[:16]
    assert _finding(n_treated=3).compute_hash() != a.compute_hash()
    assert _finding(response="none").compute_hash() != a.compute_hash()
    assert "confidence" not in FINDING_CONTENT_FIELDS  # a re-scored finding is the same claim
    assert _finding(confidence=0.3).compute_hash() == a.compute_hash()
