"""Reference pages generated from the code itself: the Python API and the data dictionary."""

from __future__ import annotations

import ast
import inspect
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kb import models

__all__ = ["api_reference", "data_dictionary"]


def api_reference() -> list[dict[str, str]]:
    """Every public name of :mod:`queries` (its ``__all__``) with its signature and documentation.

    A function's documentation is its docstring; a constant's is the string literal that
    follows its assignment in the source (the convention Sphinx reads).
    """
    import queries

    constants = _attribute_docs()
    items = []
    for name in queries.__all__:
        value = getattr(queries, name)
        if callable(value):
            items.append({"name": name, "signature": name + _signature(value), "doc": inspect.getdoc(value) or ""})
        else:
            items.append({"name": name, "signature": f"{name} = {value!r}", "doc": constants.get(name, "")})
    return items


class _AsWritten(str):
    """An annotation shown as written in the source, without the quotes of its repr."""

    def __repr__(self) -> str:
        return str(self)


def _signature(function: Callable[..., object]) -> str:
    signature = inspect.signature(function)

    def written(annotation: object) -> object:
        return _AsWritten(annotation) if isinstance(annotation, str) else annotation

    parameters = [p.replace(annotation=written(p.annotation)) for p in signature.parameters.values()]
    return str(signature.replace(parameters=parameters, return_annotation=written(signature.return_annotation)))


def _attribute_docs() -> dict[str, str]:
    """Docstrings of the queries package's module-level constants, by name."""
    docs: dict[str, str] = {}
    for path in sorted(Path(__file__).parent.glob("*.py")):
        body = ast.parse(path.read_text(encoding="utf-8")).body
        for node, following in itertools.pairwise(body):
            if not (isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)):
                continue
            doc = following.value.value
            targets = node.targets if isinstance(node, ast.Assign) else []
            if isinstance(node, ast.AnnAssign):
                targets = [node.target]
            if isinstance(doc, str):
                docs |= {t.id: inspect.cleandoc(doc) for t in targets if isinstance(t, ast.Name)}
    return docs


def data_dictionary() -> list[dict[str, Any]]:
    """Every table with its fields, types and descriptions, from the models."""
    tables = []
    for model in (
        models.Topic,
        models.Article,
        models.ArticleSource,
        models.Citation,
        models.Finding,
        models.Intervention,
        models.InterventionClass,
        models.InterventionComponent,
        models.Condition,
        models.DiseaseContext,
        models.ConditionContext,
    ):
        table = model.__table__  # type: ignore[attr-defined,union-attr]
        fields = []
        for name, info in model.model_fields.items():
            column = table.columns.get(name)
            fields.append(
                {
                    "name": name,
                    "type": str(column.type) if column is not None else "",
                    "key": bool(column is not None and column.primary_key),
                    "description": info.description or "",
                }
            )
        tables.append({"name": table.name, "doc": (model.__doc__ or "").strip(), "fields": fields})
    return tables
