"""Graph onlineMeeting JSON-schema validation for tests.

Loads ``localdev/graph/onlineMeeting-schemas.yaml`` (the copy of Microsoft's fragments kept in the repo) and validates with JSON Schema
draft 2020-12 after the translation its header asks for (``localdev/emulator/schemas.py``):
``additionalProperties: {type: object}`` -> ``true``, OpenAPI ``nullable`` -> ``type: [..., "null"]``, bare-``$ref``
properties nullable (as in the full Graph openapi.yaml), and on v1.0 createOrGet bodies ``chatInfo`` is rejected
(beta only). Both functions raise ``jsonschema.ValidationError`` (the most relevant violation) on failure.

    from tests.schemas import validate_create_or_get_body, validate_online_meeting
    validate_create_or_get_body({"externalId": "x"}, "v1.0")
    validate_online_meeting(response.json(), "beta")
"""
from __future__ import annotations

from typing import Any

from localdev.emulator.schemas import DEFAULT_SCHEMAS_PATH, GraphSchemas, load_schemas

SCHEMAS_PATH = DEFAULT_SCHEMAS_PATH
VERSIONS = ("v1.0", "beta")


def _schemas() -> GraphSchemas:
    return load_schemas(SCHEMAS_PATH)


def validate_create_or_get_body(body: Any, version: str) -> None:
    """Validate a createOrGet request body for ``version`` ("v1.0" or "beta") against yaml document 4."""
    _schemas().validate_create_or_get_body(body, version)


def validate_online_meeting(meeting: Any, version: str) -> None:
    """Validate an onlineMeeting (response body) for ``version`` ("v1.0" or "beta") against yaml document 1 or 2."""
    _schemas().validate_online_meeting(meeting, version)


__all__ = ["validate_create_or_get_body", "validate_online_meeting", "SCHEMAS_PATH", "VERSIONS"]
