"""Checks an HTTP response against the app's own OpenAPI document (used by the unit and e2e tests)."""
from __future__ import annotations

import jsonschema

from shared.entrypoints.openapi import document


def _resolve(node, doc):
    if isinstance(node, dict) and "$ref" in node:
        target = doc
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return _resolve(target, doc)
    return node


def assert_documented(method: str, path_template: str, status: int, content_type: str | None, body) -> None:
    """The status is documented for the operation and the body matches the documented schema."""
    doc = document()
    operation = doc["paths"][path_template][method.lower()]
    responses = operation["responses"]
    assert str(status) in responses, f"{method} {path_template} answered {status}, not in the OpenAPI document"
    response = _resolve(responses[str(status)], doc)
    content = response.get("content") or {}
    if not content:
        return
    media = (content_type or "").split(";")[0].strip()
    assert media in content, f"{method} {path_template} {status} answered {media}, documented {list(content)}"
    schema = {**content[media]["schema"], "components": doc["components"]}
    jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)
