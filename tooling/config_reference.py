"""The configuration reference, generated from the settings models: `python -m tooling.docs --write` puts it in
docs/configuration.md and docs/configuration-workloads.md, and a test keeps those pages in sync."""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from stacks.errors import PROJECT
from stacks.settings import StackSettings

_UNIONS = (typing.Union, types.UnionType)


@dataclass(frozen=True)
class KeyDoc:
    path: str
    type: str
    default: str
    description: str


def iter_keys(model: type[BaseModel] = StackSettings, prefix: str = f"{PROJECT}:") -> Iterator[KeyDoc]:
    """Every key of the configuration, depth first, in declaration order."""
    for name, field in model.model_fields.items():
        path = prefix + (field.alias or name)
        yield KeyDoc(path, _type_text(field), _default_text(field), field.description or "")
        for nested, suffix in _nested_models(field.annotation):
            condition = _variant_condition(nested)
            for doc in iter_keys(nested, f"{path}{suffix}."):
                described = f"{condition}{doc.description}" if condition and doc.path.count(".") else doc.description
                yield KeyDoc(doc.path, doc.type, doc.default, described)


def markdown() -> str:
    rows = ["| Key | Type | Default | Meaning |", "| --- | --- | --- | --- |"]
    for doc in iter_keys():
        cells = [f"`{doc.path}`", doc.type, doc.default, doc.description]
        rows.append("| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |")
    return "\n".join(rows)


def _nested_models(annotation: Any) -> Iterator[tuple[type[BaseModel], str]]:
    annotation = _unannotate(annotation)
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation, ""
    elif origin in (list, tuple):
        for inner, suffix in _nested_models(typing.get_args(annotation)[0]):
            yield inner, "[]" + suffix
    elif origin is dict:
        for inner, suffix in _nested_models(typing.get_args(annotation)[1]):
            yield inner, ".<name>" + suffix
    elif origin in _UNIONS:
        for member in typing.get_args(annotation):
            yield from _nested_models(member)


def _variant_condition(model: type[BaseModel]) -> str:
    for name, field in model.model_fields.items():
        args = typing.get_args(field.annotation)
        if typing.get_origin(field.annotation) is typing.Literal and len(args) == 1:
            return f"(when `{field.alias or name}: {args[0]}`) "
    return ""


def _unannotate(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _type_text(field: FieldInfo) -> str:
    text = _annotation_text(field.annotation)
    bounds = []
    for meta in field.metadata:
        for kind, attribute, symbol in ((Ge, "ge", ">="), (Gt, "gt", ">"), (Le, "le", "<="), (Lt, "lt", "<")):
            if isinstance(meta, kind):
                bounds.append(f"{symbol} {getattr(meta, attribute)}")
        if isinstance(meta, MinLen):
            bounds.append(f"at least {meta.min_length} items")
        if isinstance(meta, MaxLen):
            bounds.append(f"at most {meta.max_length} items")
    return text + (f" ({', '.join(bounds)})" if bounds else "")


def _annotation_text(annotation: Any) -> str:
    annotation = _unannotate(annotation)
    origin = typing.get_origin(annotation)
    if annotation is SecretStr:
        return "secret string"
    if origin is typing.Literal:
        return " | ".join(f"`{value}`" for value in typing.get_args(annotation))
    if origin in _UNIONS:
        members = [m for m in typing.get_args(annotation) if m is not type(None)]
        return " or ".join(_annotation_text(m) for m in members)
    if origin in (list, tuple):
        return f"list of {_annotation_text(typing.get_args(annotation)[0])}"
    if origin is dict:
        key, value = typing.get_args(annotation)
        return f"map of {_annotation_text(key)} to {_annotation_text(value)}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    return getattr(annotation, "__name__", str(annotation))


def _default_text(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default
    if value is PydanticUndefined:
        return "required"
    if isinstance(value, BaseModel):
        return "see below"
    if isinstance(value, list) and value and isinstance(value[0], BaseModel):
        return f"{len(value)} item(s), see below"
    if value is None:
        return "unset"
    return f"`{json.dumps(value, default=str)}`"
