"""A fast decoder of a reading (topics.TopicReading), derived from its pydantic model: msgspec structs with the
same fields, types and constraints, decoded straight from the JSON bytes.

The pydantic model stays the contract. The structs are a fast path that is never more permissive than it: a
payload the fast decoder refuses goes to the pydantic model, whose answer (a value, or the ValidationError
a dead letter reports) stands. msgspec is stricter in places (no "12" for an int, only RFC 3339 times), and a
constraint it cannot express exactly makes the derivation refuse the model (`Unsupported`), so the reading
has no fast path at all. tests/test_fast_reading.py checks both on valid and hostile payloads.

The structs are frozen and untracked by the cyclic garbage collector (they hold only strings, numbers, times,
enum members and other such structs): a consumer holding tens of thousands of them costs the collector
nothing.

A time with more than six digits of fraction is left to the model too (msgspec rounds it, pydantic
truncates). String patterns are checked after decoding, not by msgspec (which runs a Python regular expression per
value, the larger part of its time): each value that passed its pattern is remembered, and the same values
come back all the time (tenants, agents, tips). A stripped string (the envelope's id) passes the fast path
only as ASCII with no white space at either end (else pydantic decides, and strips it).
"""

from __future__ import annotations

import enum
import re
import types
import typing
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, Union

import annotated_types
import msgspec
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic.functional_validators import AfterValidator
from pydantic_core import PydanticUndefined

from .envelope import _require_timezone


class Unsupported(TypeError):
    """A field of the model has a type or constraint the fast decoder cannot check exactly as pydantic does."""


def _anchored(pattern: str) -> str:
    """The pattern as pydantic's (Rust) regex reads it under Python's re.search: `$` at the very end matches
    only the end of the text there, not also before a final newline as in Python."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        return pattern[:-1] + r"\Z"
    return pattern


class _Pattern:
    """Whether a string matches a pattern as pydantic's (Rust) regex reads it, remembering the values that did
    (up to `remember`; then it starts again)."""

    def __init__(self, pattern: str, remember: int = 100_000) -> None:
        self.search = re.compile(_anchored(pattern)).search
        self.good: set[str] = set()
        self.remember = remember

    def __call__(self, value: str) -> bool:
        if self.search(value) is None:
            return False
        if len(self.good) >= self.remember:
            self.good.clear()
        self.good.add(value)
        return True


# ASCII white space as pydantic strips it (Unicode White_Space: not the separators \x1c-\x1f that Python's
# str.strip also takes).
_ASCII_SPACE = " \t\n\x0b\x0c\r"


Check = tuple[str, Any]  # (the value's path from the outermost struct, "unstripped", "time" or its _Pattern)


def _string(metadata: list[Any], path: str, checks: list[Check]) -> Any:
    meta: dict[str, Any] = {}
    for item in metadata:
        constraints = getattr(item, "__dict__", {})
        if type(item).__name__ != "StringConstraints":
            raise Unsupported(f"string constraint {item!r}")
        if constraints.get("to_upper") or constraints.get("to_lower") or constraints.get("strict") \
                or constraints.get("ascii_only"):
            raise Unsupported(f"string constraint {item!r}")
        if constraints.get("min_length") is not None:
            meta["min_length"] = constraints["min_length"]
        if constraints.get("max_length") is not None:
            meta["max_length"] = constraints["max_length"]
        pattern = constraints.get("pattern")
        if constraints.get("strip_whitespace"):
            if pattern is not None:
                raise Unsupported("a pattern on a stripped string")
            # pydantic strips, then checks; here only strings with nothing to strip pass (the others go to
            # pydantic, which strips them).
            checks.append((path, "unstripped"))
        if pattern is not None:
            checks.append((path, _Pattern(pattern)))
    return Annotated[str, msgspec.Meta(**meta)] if meta else str


_BOUNDS = {annotated_types.Ge: "ge", annotated_types.Gt: "gt", annotated_types.Le: "le", annotated_types.Lt: "lt"}


def _number(kind: type, metadata: list[Any]) -> Any:
    meta: dict[str, Any] = {}
    for item in metadata:
        name = _BOUNDS.get(type(item))
        if name is None:
            raise Unsupported(f"number constraint {item!r}")
        meta[name] = getattr(item, name)
    return Annotated[kind, msgspec.Meta(**meta)] if meta else kind


# A time with more than 6 digits of seconds' fraction: msgspec rounds it to the microsecond, pydantic truncates.
_SUBMICROSECOND = re.compile(rb"\.[0-9]{7}")
_SUBMICROSECOND_TEXT = re.compile(r"\.[0-9]{7}")


def _datetime(metadata: list[Any]) -> Any:
    aware = False
    for item in metadata:
        if isinstance(item, AfterValidator) and item.func is _require_timezone:
            aware = True
        else:
            raise Unsupported(f"datetime constraint {item!r}")
    return Annotated[datetime, msgspec.Meta(tz=True)] if aware else datetime


def _type(annotation: Any, metadata: list[Any], structs: dict[type, type], path: str, checks: list[Check]) -> Any:
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        inner, *more = typing.get_args(annotation)
        return _type(inner, [*more, *metadata], structs, path, checks)
    if origin in (Union, types.UnionType):
        args = typing.get_args(annotation)
        if len(args) == 2 and type(None) in args:
            (inner,) = [a for a in args if a is not type(None)]
            return typing.Optional[_type(inner, metadata, structs, path, checks)]  # noqa: UP045 - built from a runtime value
        raise Unsupported(f"union {annotation!r}")
    if origin is Literal:
        if metadata or not all(isinstance(v, str) for v in typing.get_args(annotation)):
            raise Unsupported(f"literal {annotation!r}")
        return annotation
    if annotation is bool or annotation is int or annotation is float:
        if annotation is bool and metadata:
            raise Unsupported(f"bool constraint {metadata!r}")
        return _number(annotation, metadata) if annotation is not bool else bool
    if annotation is str:
        return _string(metadata, path, checks)
    if annotation is datetime:
        checks.append((path, "time"))  # not a test of the value: marks that the struct holds times
        return _datetime(metadata)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        if metadata or not all(isinstance(m.value, str) for m in annotation):
            raise Unsupported(f"enum {annotation!r}")
        return annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if metadata:
            raise Unsupported(f"model constraint {metadata!r}")
        return _struct(annotation, structs, f"{path}.", checks)
    raise Unsupported(f"type {annotation!r}")


def _field(info: FieldInfo) -> Any:
    if info.default_factory is not None:
        return msgspec.field(default_factory=info.default_factory)  # type: ignore[arg-type]
    if info.default is not PydanticUndefined:
        return info.default
    return msgspec.NODEFAULT


def _struct(model: type[BaseModel], structs: dict[type, type], prefix: str, checks: list[Check]) -> type[msgspec.Struct]:
    """The msgspec struct of a pydantic model (its fields, types and field constraints; unknown keys are
    ignored, like the readings' extra="ignore"), the checks of its values added to `checks` (with getters
    from the outermost struct, fields under `prefix`). Raises Unsupported for anything it cannot check
    exactly."""
    if model.__pydantic_decorators__.field_validators or model.__pydantic_decorators__.model_validators \
            or model.__pydantic_decorators__.validators or model.__pydantic_decorators__.root_validators:
        raise Unsupported(f"{model.__name__} has validators of its own")
    if model.model_config.get("extra") == "forbid":
        raise Unsupported(f"{model.__name__} forbids unknown fields")
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for name, info in model.model_fields.items():
        if info.alias is not None and info.alias != name:
            raise Unsupported(f"{model.__name__}.{name} has an alias")
        spec = _type(info.annotation, list(info.metadata), structs, prefix + name, checks)
        default = _field(info)
        fields.append((name, spec) if default is msgspec.NODEFAULT else (name, spec, default))
    # Required fields first: msgspec wants them before the ones with defaults (order does not matter here).
    fields.sort(key=lambda f: len(f) == 3)
    struct = structs.get(model)
    if struct is None:
        struct = structs[model] = msgspec.defstruct(f"{model.__name__}Fast", fields, frozen=True, gc=False)
    return struct


class FastDecoder:
    """Decodes a model's JSON into its msgspec struct and checks the string patterns; raises
    msgspec.ValidationError (or DecodeError) for anything the pydantic model must decide."""

    def __init__(self, model: type[BaseModel]) -> None:
        self.checks: list[Check] = []
        self.struct = _struct(model, {}, "", self.checks)
        self._decode = msgspec.json.Decoder(self.struct).decode
        self._valid = _checker(self.checks)
        self._times = any(test == "time" for _, test in self.checks)

    def decode(self, raw: bytes | str) -> Any:
        if self._times and (_SUBMICROSECOND.search(raw) if isinstance(raw, bytes) else _SUBMICROSECOND_TEXT.search(raw)):
            raise msgspec.ValidationError("a time more precise than a microsecond: the model decides")
        value = self._decode(raw)
        if not self._valid(value):
            raise msgspec.ValidationError("a string does not match its pattern")
        return value


def _checker(checks: list[Check]) -> Callable[[Any], bool]:
    """One function testing every checked value of a struct (generated: a loop over getters and tests costs
    several times more, and it runs for every event)."""
    lines, scope = ["def valid(value):"], {"space": _ASCII_SPACE}
    for n, (path, test) in enumerate(checks):
        if test == "time":
            continue
        *parents, name = path.split(".")
        lines.append("    v = value")
        for parent in parents:  # an optional model on the way may be missing: then nothing to check
            lines.append(f"    v = None if v is None else v.{parent}")
        lines.append(f"    v = None if v is None else v.{name}")
        if test == "unstripped":  # ASCII with nothing to strip (else pydantic decides, and strips)
            lines.append("    if v is not None and not (v.isascii() and (not v or (v[0] not in space "
                         "and v[-1] not in space))): return False")
        else:
            scope[f"good{n}"], scope[f"slow{n}"] = test.good, test
            lines.append(f"    if v is not None and v not in good{n} and not slow{n}(v): return False")
    lines.append("    return True")
    exec(compile("\n".join(lines), "<fast_reading checks>", "exec"), scope)  # noqa: S102 - built from field names
    return scope["valid"]  # type: ignore[no-any-return]


def decoder_of(model: type[BaseModel]) -> FastDecoder:
    return FastDecoder(model)
