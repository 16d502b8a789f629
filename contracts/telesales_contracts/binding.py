"""The CloudEvents Kafka protocol binding: which content mode a record is in, and a binary-mode record read as
its structured equivalent, so that every consumer parses one form.

- Structured mode: the record's value is the whole event as JSON (`content-type: application/cloudevents+json`).
  A record with no `content-type` and no `ce_` header is read as structured too: the platform has always
  taken such records, and a value that is not a CloudEvent is refused by its contract anyway.
- Binary mode: the value is the event's `data`; every other attribute is a header `ce_<name>` (UTF-8 text),
  the `content-type` header is `datacontenttype`. A record is in binary mode when it has a `ce_` header and its
  `content-type` is not a CloudEvents media type (the binding's rule, with the platform's default above).

Refused, with the reason (BindingError): the batch mode and event formats other than JSON, a header that is
not UTF-8, a `ce_` header whose name is no CloudEvents attribute name (lowercase ASCII letters and digits:
`ce_tenant_id` is refused rather than ignored, which would put the event in the default tenant), `ce_data`, an
attribute given twice with different values, data that is not JSON, or whose content type is not JSON.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import msgspec

from .envelope import is_json_media_type

HEADER_PREFIX = "ce_"
_PREFIXES = ("ce_", "CE_", "Ce_", "cE_")
_ATTRIBUTE_NAME = re.compile(r"[a-z0-9]+")
_CLOUDEVENTS = "application/cloudevents"
_JSON_FORMATS = ("application/cloudevents", "application/cloudevents+json")
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode

Headers = Iterable[tuple[str, Any]] | None


class BindingError(ValueError):
    """A record the binding cannot read as a CloudEvent; `error_type` as dead letters name it."""

    def __init__(self, message: str, error_type: str = "schema_error") -> None:
        super().__init__(message)
        self.error_type = error_type


def _text(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        raise BindingError(f"header {name!r} has no value")
    try:
        return bytes(value).decode("utf-8")
    except (UnicodeDecodeError, TypeError):
        raise BindingError(f"header {name!r} is not UTF-8 text (the Kafka binding's header values are)") from None


def has_attribute_headers(headers: Headers) -> bool:
    """Whether a record has a `ce_` header: then it may be in binary mode and only structured_value can say
    (a consumer with a fast path for structured values leaves such records to it)."""
    if headers:  # a plain loop: metrics asks for every record
        for name, _ in headers:
            if name.startswith(_PREFIXES):
                return True
    return False


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def structured_value(value: bytes | None, headers: Headers) -> bytes | None:
    """The record as a structured-mode CloudEvent (JSON bytes): its value as it is in structured mode, or the
    event assembled from its `ce_` headers and its value (the data) in binary mode. Raises BindingError."""
    if not headers:
        return value
    content_type: str | None = None
    ce_headers: list[tuple[str, Any]] = []
    for name, raw in headers:
        lowered = name.lower()
        if lowered == "content-type":
            text = _text(name, raw)
            if content_type is not None and text != content_type:
                raise BindingError(f"header 'content-type' is given twice, as {content_type!r} and {text!r}")
            content_type = text
        elif lowered.startswith(HEADER_PREFIX):
            ce_headers.append((name, raw))
    media = _media_type(content_type) if content_type is not None else ""
    if media.startswith(_CLOUDEVENTS):
        if media in _JSON_FORMATS:
            return value  # structured mode, JSON format (ce_ headers beside it are allowed, and not read)
        if media.startswith(f"{_CLOUDEVENTS}-batch"):
            raise BindingError(f"content-type {content_type!r}: the Kafka binding has no batch mode; send one "
                               "event per record")
        raise BindingError(f"content-type {content_type!r}: only the JSON event format is read here "
                           f"(application/cloudevents+json), or binary mode")
    if not ce_headers:
        return value  # structured JSON without a content-type header
    return _assemble(value, content_type, _attributes(ce_headers))


def _attributes(ce_headers: list[tuple[str, Any]]) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for name, raw in ce_headers:
        attribute = name.lower()[len(HEADER_PREFIX):]
        if attribute == "data":
            raise BindingError(f"header {name!r}: in binary mode the event's data is the record's value")
        if not _ATTRIBUTE_NAME.fullmatch(attribute):
            raise BindingError(f"header {name!r} names no CloudEvents attribute (after {HEADER_PREFIX!r}: "
                               "lowercase ASCII letters and digits only)")
        text = _text(name, raw)
        if attributes.get(attribute, text) != text:
            raise BindingError(f"attribute {attribute!r} is given twice, as {attributes[attribute]!r} and {text!r}")
        attributes[attribute] = text
    return attributes


def _assemble(value: bytes | None, content_type: str | None, attributes: dict[str, str]) -> bytes:
    if content_type is not None:
        given = attributes.get("datacontenttype", content_type)
        if given != content_type:
            raise BindingError(f"datacontenttype is given twice, as {given!r} (ce_datacontenttype) and "
                               f"{content_type!r} (content-type)")
        attributes["datacontenttype"] = content_type
    data_type = attributes.get("datacontenttype")
    if data_type is not None and not is_json_media_type(data_type):
        raise BindingError(f"binary mode: the data's content type is {data_type!r}; the data of this platform's "
                           "events is JSON (application/json)")
    event: dict[str, Any] = dict(attributes)
    if value is not None:  # no value: an event without data (which its contract refuses, saying so)
        try:
            event["data"] = _decode(value)
        except msgspec.DecodeError as error:
            raise BindingError(f"binary mode: the record's value (the event's data) is not JSON: {error}",
                               error_type="json_error") from None
    return _encode(event)
