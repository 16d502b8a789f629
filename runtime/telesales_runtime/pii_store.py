"""Personal fields of stored documents, sealed at the store boundary (pii_crypto): a store seals a document before
it writes it and opens what it reads, so the domain code sees plain values and the database holds none.

A sealed field keeps its name (its value is the ciphertext); a field with a blind index kind gets a sibling
`<field>_bidx` that look-ups and unique indexes use; `pii_kid` lists the key ids the document's sealed values
use (a later partial write, e.g. a touch appended by a replica not yet restarted with the new key, adds its
own), so the rotation job finds the documents with a value under an older key (or never sealed: legacy
plaintext) with one indexed query. A legacy document (plain values) reads as it is."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pymongo import ASCENDING, IndexModel

from .pii_crypto import Keyring, key_id_of

Doc = dict[str, Any]
KID_FIELD = "pii_kid"


def bidx_field(name: str) -> str:
    return f"{name}_bidx"


@dataclass(frozen=True)
class PiiFields:
    """The personal fields of one kind of document: top-level names and their blind index kind (None: sealed
    without an index, e.g. free text or a JSON object), and the field that names the tenant."""

    keyring: Keyring
    fields: Mapping[str, str | None]
    tenant_field: str = "tenant_id"

    def index(self, tenant: str, name: str, value: str) -> str:
        kind = self.fields[name]
        assert kind is not None, f"{name} has no blind index"
        return self.keyring.blind_index(tenant, kind, value)

    def sealed_values(self, tenant: str, values: Mapping[str, Any]) -> Doc:
        """The personal fields among `values`, sealed, with their blind indexes (None stays None, and clears
        the index). What a `$set` or an insert writes."""
        out: Doc = {}
        for name, kind in self.fields.items():
            if name not in values:
                continue
            value = values[name]
            if key_id_of(value) is not None:  # already sealed (a document read raw and written back)
                raise ValueError(f"{name}: seal plain values only")
            out[name] = None if value is None else self.keyring.seal(tenant, name, value)
            if kind is not None:
                out[bidx_field(name)] = None if value is None or not isinstance(value, str) else \
                    self.keyring.blind_index(tenant, kind, value)
        return out

    def seal(self, doc: Mapping[str, Any], tenant: str | None = None) -> Doc:
        """A copy of `doc` with its personal fields sealed under the tenant's active key."""
        tenant = tenant or doc[self.tenant_field]
        return {**doc, **self.sealed_values(tenant, doc), KID_FIELD: [self.keyring.active_kid(tenant)]}

    def kid_mark(self, tenant: str) -> Doc:
        """The `$addToSet` of a partial write that seals a value (a nested one) in an existing document."""
        return {KID_FIELD: self.keyring.active_kid(tenant)}

    def open(self, doc: Doc | None, tenant: str | None = None) -> Doc | None:
        """`doc` with its sealed fields decrypted, in place (plain legacy values as they are)."""
        if doc is None:
            return None
        for name in self.fields:
            value = doc.get(name)
            if key_id_of(value) is not None:
                owner = tenant or doc.get(self.tenant_field)
                if owner is None:
                    raise ValueError(f"{name} is sealed but the read did not project {self.tenant_field}")
                doc[name] = self.keyring.open(owner, name, value)
        return doc

    def open_all(self, docs: list[Doc], tenant: str | None = None) -> list[Doc]:
        for doc in docs:
            self.open(doc, tenant)
        return docs

    def lookup(self, tenant: str, name: str, values: list[str]) -> Doc:
        """A filter clause matching documents whose `name` is one of `values`: by blind index, or (documents
        written before encryption, until the rotation job seals them) by the plain value."""
        indexes = [self.index(tenant, name, v) for v in values]
        return {"$or": [{self.tenant_field: tenant, bidx_field(name): {"$in": indexes}},
                        {self.tenant_field: tenant, **LEGACY, name: {"$in": values}}]}

    def projection(self, names: list[str]) -> Doc:
        """What a read must project besides `names` to open them."""
        return {self.tenant_field: 1, **{n: 1 for n in names}}


# Documents written before encryption (no key id): their plain values are looked up through indexes restricted to
# them (`legacy_index`), so sealed documents, which every write makes, pay nothing for those indexes.
LEGACY: Doc = {KID_FIELD: None}


def legacy_index(tenant_field: str, name: str, **options: Any) -> IndexModel:
    """An index of the plain `name` of legacy documents only (a query adds LEGACY to use it)."""
    return IndexModel([(tenant_field, ASCENDING), (name, ASCENDING)], name=f"legacy_{name}",
                      partialFilterExpression={**LEGACY, name: {"$type": "string"}}, **options)


def not_only(kid: str) -> Doc:
    """A filter of documents with a value sealed under another key than `kid`, or never sealed."""
    return {"$or": [{KID_FIELD: {"$exists": False}}, {KID_FIELD: {"$elemMatch": {"$ne": kid}}}]}
