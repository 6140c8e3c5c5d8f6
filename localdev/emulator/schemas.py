"""JSON-schema validators built from ``localdev/graph/onlineMeeting-schemas.yaml`` (Microsoft's fragments, MIT), and
per Graph version the enum members after ``unknownFutureValue`` and the type of each onlineMeeting property (how the
yaml is translated: localdev/README.md, "Schemas")."""
from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .csdl import CsdlModel

DEFAULT_SCHEMAS_PATH = Path(__file__).resolve().parent.parent / "graph" / "onlineMeeting-schemas.yaml"
VERSIONS = ("v1.0", "beta")
_SCHEMA_PREFIX = "#/components/schemas/"
ONLINE_MEETING = "microsoft.graph.onlineMeeting"
CREATE_OR_GET_BODY = "createOrGetRequestBody"


def _translate(node: Any, *, in_properties: bool = False) -> Any:
    if isinstance(node, list):
        return [_translate(item) for item in node]
    if not isinstance(node, dict):
        return node
    if in_properties:
        return {name: _translate_property(value) for name, value in node.items()}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "additionalProperties" and isinstance(value, dict) and value == {"type": "object"}:
            out[key] = True
        elif key == "properties" and isinstance(value, dict):
            out[key] = _translate(value, in_properties=True)
        elif key == "nullable":
            continue
        else:
            out[key] = _translate(value)
    if node.get("nullable") is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        elif isinstance(kind, list) and "null" not in kind:
            out["type"] = kind + ["null"]
        elif kind is None and "$ref" not in out and "anyOf" not in out and "allOf" not in out:
            out["type"] = ["null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = out["enum"] + [None]
    return out


def _translate_property(schema: Any) -> Any:
    if isinstance(schema, dict) and "$ref" in schema and set(schema) <= {"$ref", "description"}:
        wrapped = {"anyOf": [{"$ref": schema["$ref"]}, {"type": "null"}]}
        if "description" in schema:
            wrapped["description"] = schema["description"]
        return wrapped
    return _translate(schema)


class GraphSchemas:
    """Validators for the onlineMeeting resource and the createOrGet body, per Graph version."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path else DEFAULT_SCHEMAS_PATH
        with open(self.path, encoding="utf-8") as handle:
            documents = list(yaml.safe_load_all(handle))
        if len(documents) < 4:
            raise ValueError(f"{self.path}: expected 4 yaml documents, found {len(documents)}")
        components = {
            "v1.0": _translate(documents[0]["components"]["schemas"]),
            "beta": _translate(documents[1]["components"]["schemas"]),
        }
        request_bodies = _translate(documents[3]["components"]["schemas"])
        self.csdl = CsdlModel(documents[2]["csdl_v1_0"])
        self._enums = {version: {name.removeprefix("microsoft.graph."): list(schema["enum"])
                                 for name, schema in components[version].items()
                                 if isinstance(schema, dict) and isinstance(schema.get("enum"), list)}
                       for version in VERSIONS}
        beta_properties = _meeting_properties(documents[1]["components"]["schemas"])
        self._beta_booleans = {name for name, schema in beta_properties.items() if schema.get("type") == "boolean"}
        self._validators: dict[tuple[str, str], jsonschema.protocols.Validator] = {}
        for version in VERSIONS:
            schemas = dict(components[version])
            for name, schema in request_bodies.items():
                body = copy.deepcopy(schema)
                if version == "v1.0" and name == CREATE_OR_GET_BODY:
                    body.get("properties", {}).pop("chatInfo", None)
                schemas[name] = body
            root = {"$schema": "https://json-schema.org/draft/2020-12/schema", "components": {"schemas": schemas}}
            uri = f"urn:graph-schemas:{version}"
            registry = Registry().with_resource(uri, Resource.from_contents(root, default_specification=DRAFT202012))
            for name in (ONLINE_MEETING, CREATE_OR_GET_BODY):
                schema = {"$ref": f"{uri}{_SCHEMA_PREFIX}{name}"}
                validator = jsonschema.Draft202012Validator(schema, registry=registry)
                self._validators[(version, name)] = validator

    def validator(self, version: str, name: str) -> jsonschema.protocols.Validator:
        if version not in VERSIONS:
            raise ValueError(f"unknown Graph version {version!r}; expected one of {VERSIONS}")
        return self._validators[(version, name)]

    def validate_online_meeting(self, meeting: Any, version: str) -> None:
        """Raise jsonschema.ValidationError when ``meeting`` is not a valid onlineMeeting of ``version``."""
        self._raise_best(self.validator(version, ONLINE_MEETING), meeting)

    def validate_create_or_get_body(self, body: Any, version: str) -> None:
        """Raise jsonschema.ValidationError when ``body`` is not a valid createOrGet request body of ``version``."""
        self._raise_best(self.validator(version, CREATE_OR_GET_BODY), body)

    def create_or_get_body_error(self, body: Any, version: str) -> str | None:
        """The most relevant violation as one line, or None when the body is valid."""
        error = jsonschema.exceptions.best_match(self.validator(version, CREATE_OR_GET_BODY).iter_errors(body))
        return None if error is None else _describe(error)

    def property_type(self, version: str, name: str) -> str | None:
        """The CSDL type of an onlineMeeting property for ``version`` (None: not a property)."""
        csdl_type = self.csdl.properties("onlineMeeting").get(name)
        if version == "beta" and name in self._beta_booleans:
            return "Edm.Boolean"
        return csdl_type

    def members_after_unknown(self, version: str, enum_name: str) -> set[str]:
        """Members of an evolvable enum listed after ``unknownFutureValue`` in ``version`` (per documents 1-2, else
        the CSDL): the service sends them only to clients that ask with ``Prefer: include-unknown-enum-members``."""
        members = self._enums.get(version, {}).get(enum_name) or self.csdl.enum_members(enum_name)
        members = [m for m in members if m is not None]
        if "unknownFutureValue" not in members:
            return set()
        return set(members[members.index("unknownFutureValue") + 1:])

    @staticmethod
    def _raise_best(validator: jsonschema.protocols.Validator, instance: Any) -> None:
        error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
        if error is not None:
            raise error


def _meeting_properties(schemas: dict[str, Any]) -> dict[str, Any]:
    """The declared properties of onlineMeetingBase and onlineMeeting in an OpenAPI components section."""
    found: dict[str, Any] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            found.update(node.get("properties") or {})
            for branch in node.get("allOf") or ():
                walk(branch)

    for name in ("microsoft.graph.onlineMeetingBase", ONLINE_MEETING):
        walk(schemas.get(name))
    return found


def _describe(error: jsonschema.ValidationError) -> str:
    where = "/".join(str(part) for part in error.absolute_path)
    return f"{where or '(body)'}: {error.message}"


_cache: dict[Path, GraphSchemas] = {}
_cache_lock = threading.Lock()


def load_schemas(path: Path | str | None = None) -> GraphSchemas:
    """One GraphSchemas per yaml path per process."""
    key = Path(path).resolve() if path else DEFAULT_SCHEMAS_PATH.resolve()
    with _cache_lock:
        if key not in _cache:
            _cache[key] = GraphSchemas(key)
        return _cache[key]
