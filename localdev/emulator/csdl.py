"""The v1.0 CSDL fragments of ``localdev/graph/onlineMeeting-schemas.yaml`` (document 3) as a small type model: the
properties of onlineMeeting (with its base types), complex types and enum members, and a checker for JSON values
(why document 3: localdev/README.md, "Schemas")."""
from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from typing import Any, Mapping

_DATETIME = re.compile(r"^[0-9]{4,}-(0[1-9]|1[012])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
                       r"([.][0-9]{1,12})?(Z|[+-][0-9][0-9]:[0-9][0-9])$")
_PRIMITIVES = {"Edm.Boolean": "a boolean", "Edm.String": "a string", "Edm.DateTimeOffset": "a DateTimeOffset string"}


@dataclass
class StructuredType:
    name: str
    properties: dict[str, str] = field(default_factory=dict)  # member -> CSDL type ("Edm.Boolean", "graph.x", ...)
    base: str | None = None
    open_type: bool = False


class CsdlModel:
    """Entity, complex and enum types of the ``microsoft.graph`` namespace found in the fragments."""

    def __init__(self, fragments: Mapping[str, str]) -> None:
        self.types: dict[str, StructuredType] = {}
        self.enums: dict[str, list[str]] = {}
        for key, xml in fragments.items():
            if not key.split(" ", 1)[0] in ("EntityType", "ComplexType", "EnumType"):
                continue  # e.g. the onlineMeetings navigation property: two elements and comments, nothing typed
            element = ElementTree.fromstring(xml)
            name = element.get("Name", "")
            if element.tag == "EnumType":
                self.enums[name] = [member.get("Name", "") for member in element.findall("Member")]
                continue
            base = element.get("BaseType")
            self.types[name] = StructuredType(
                name, {p.get("Name", ""): p.get("Type", "") for p in element.findall("Property")},
                base.removeprefix("graph.") if base else None, element.get("OpenType") == "true")
        self.types.setdefault("entity", StructuredType("entity", {"id": "Edm.String"}))

    def properties(self, type_name: str) -> dict[str, str]:
        """Every structural property of a type, its base types' included."""
        found: dict[str, str] = {}
        current: str | None = type_name
        while current:
            structured = self.types.get(current)
            if structured is None:
                break
            found = {**structured.properties, **found}
            current = structured.base
        return found

    def enum_members(self, name: str) -> list[str]:
        return list(self.enums.get(name.removeprefix("graph."), []))

    def check(self, type_name: str, value: Any, where: str) -> str | None:
        """None when ``value`` is a valid non-null JSON value of the CSDL type, else a one-line reason."""
        if value is None:
            return f"{where}: a value of type {type_name} is required, not null"
        collection = re.fullmatch(r"Collection\((.+)\)", type_name)
        if collection:
            if not isinstance(value, list):
                return f"{where}: expected an array"
            return next((error for index, item in enumerate(value)
                         if (error := self.check(collection.group(1), item, f"{where}/{index}"))), None)
        if type_name in _PRIMITIVES:
            return None if _primitive_ok(type_name, value) else f"{where}: expected {_PRIMITIVES[type_name]}"
        name = type_name.removeprefix("graph.")
        if name in self.enums:
            members = self.enums[name]
            if isinstance(value, str) and value in members:
                return None
            return f"{where}: '{value}' is not a member of {name} ({', '.join(members)})"
        if name in self.types:
            return self._check_structured(name, value, where)
        return None  # a type the fragments do not describe: not checked

    def _check_structured(self, name: str, value: Any, where: str) -> str | None:
        if not isinstance(value, dict):
            return f"{where}: expected an object of type {name}"
        members = self.properties(name)
        for member, item in value.items():
            if "@" in member:
                continue
            if member not in members:
                if self.types[name].open_type:
                    continue
                return f"{where}/{member}: {name} has no member '{member}'"
            if item is None:
                continue  # members of complex values are nullable in the CSDL
            error = self.check(members[member], item, f"{where}/{member}")
            if error:
                return error
        return None


def _primitive_ok(type_name: str, value: Any) -> bool:
    if type_name == "Edm.Boolean":
        return isinstance(value, bool)
    if not isinstance(value, str):
        return False
    if type_name == "Edm.DateTimeOffset":
        if not _DATETIME.match(value):
            return False
        try:
            dt.date.fromisoformat(value[:10])
        except ValueError:
            return False
    return True
