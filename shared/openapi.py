"""The OpenAPI 3.1 description of the HTTP API (served at /api/openapi.json; a test keeps it true)."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from .openapi_schemas import schemas

_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
_MEETING = {"application/json": {"schema": {"$ref": "#/components/schemas/OnlineMeeting"}}}
_CORRELATION_HEADER = {"x-correlation-id": {"$ref": "#/components/headers/CorrelationId"}}
_RETRY_AFTER = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}


def _problem(description: str, *, retry_after: bool = False) -> dict[str, Any]:
    headers = {**_CORRELATION_HEADER, **(_RETRY_AFTER if retry_after else {})}
    return {"description": description, "headers": headers, "content": _PROBLEM}


_LOOKUP_RESPONSES = {
    "200": {"description": "The meeting, as Microsoft Graph returned it.", "headers": _CORRELATION_HEADER,
            "content": _MEETING},
    "202": {"description": "An accepted request that the queue has not processed yet.",
            "headers": {**_CORRELATION_HEADER, **_RETRY_AFTER},
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pending"}}}},
    "400": _problem("A required parameter is missing (`validation_failed`)."),
    "403": _problem("The recorded request failed: `access_policy_missing`, `organizer_not_allowed` or "
                    "`tenant_not_allowed` (replayed)."),
    "404": _problem("`meeting_not_found`: nothing is recorded for this key; or the recorded request failed with "
                    "`organizer_not_found` (replayed)."),
    "429": _problem("The recorded request failed with `graph_throttled` (replayed).", retry_after=True),
    "500": _problem("`configuration_error` (the problem lists every setting to fix), or a recorded "
                    "`retries_exhausted`."),
    "502": _problem("The recorded request failed with `graph_unavailable`, `token_unavailable`, "
                    "`credential_rejected`, `graph_unauthorized` or `graph_rejected` (replayed)."),
    "503": _problem("`storage_unavailable`.", retry_after=True),
}

_KEY_PARAMS = [
    {"name": "tenantId", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "The tenant, when not the app's default tenant."},
]


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Teams Meeting Broker",
            "version": "1.0.0",
            "description": (
                "Creates Microsoft Teams online meetings for organizers, idempotently, with Microsoft Graph "
                "`onlineMeetings/createOrGet`. A meeting is identified by (tenant, organizer, externalId). "
                "Every processed request also emits a `ResultMessage` to the results queue."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"functionKey": []}, {"functionKeyQuery": []}],
        "paths": {
            "/api/meetings": {
                "post": {
                    "operationId": "createMeeting",
                    "summary": "Create a meeting, or get the one this externalId already has",
                    "parameters": [
                        {"name": "Prefer", "in": "header", "required": False, "schema": {"type": "string"},
                         "description": "`respond-async` queues the request and answers 202."},
                        {"name": "x-correlation-id", "in": "header", "required": False,
                         "schema": {"type": "string", "maxLength": 200},
                         "description": "Your id for this request; echoed in the result message. Default: a new UUID."},
                    ],
                    "requestBody": {"required": True, "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/MeetingRequest"}}}},
                    "responses": {
                        "201": {"description": "Created.", "headers": {
                            "Location": {"$ref": "#/components/headers/Location"}, **_CORRELATION_HEADER},
                            "content": _MEETING},
                        "200": {"description": "The meeting this (tenant, organizer, externalId) already has.",
                                "headers": {"Location": {"$ref": "#/components/headers/Location"},
                                            **_CORRELATION_HEADER},
                                "content": _MEETING},
                        "202": {"description": "Accepted for async processing (`Prefer: respond-async`).",
                                "headers": {"Location": {"$ref": "#/components/headers/Location"},
                                            "Preference-Applied": {"schema": {"type": "string"}},
                                            **_CORRELATION_HEADER, **_RETRY_AFTER},
                                "content": {"application/json": {
                                    "schema": {"$ref": "#/components/schemas/Accepted"}}}},
                        "400": _problem("`validation_failed` (with `errors`) or `malformed_json`."),
                        "403": _problem("`access_policy_missing`, `organizer_not_allowed` or `tenant_not_allowed`."),
                        "404": _problem("`organizer_not_found`."),
                        "409": _problem("`concurrent_update`: concurrent requests kept changing this meeting's "
                                        "record; retry.", retry_after=False),
                        "413": _problem("`payload_too_large`: the body is over 64 KiB."),
                        "415": _problem("`unsupported_media_type`."),
                        "429": _problem("`graph_throttled`.", retry_after=True),
                        "500": _problem("`configuration_error`."),
                        "502": _problem("`graph_unavailable`, `graph_unauthorized`, `graph_rejected`, "
                                        "`token_unavailable`, `credential_rejected`, or `meeting_too_large` (the "
                                        "meeting Graph returned cannot be recorded).", retry_after=True),
                        "503": _problem("`storage_unavailable`.", retry_after=True),
                    },
                },
                "get": {
                    "operationId": "findMeeting",
                    "summary": "Look a meeting up by query (for externalIds that cannot travel in a path segment)",
                    "parameters": [
                        {"name": "organizerId", "in": "query", "required": True, "schema": {"type": "string"}},
                        {"name": "externalId", "in": "query", "required": True, "schema": {"type": "string"}},
                        *_KEY_PARAMS,
                    ],
                    "responses": _LOOKUP_RESPONSES,
                },
            },
            "/api/meetings/{organizerId}/{externalId}": {
                "get": {
                    "operationId": "getMeeting",
                    "summary": "Look a meeting up; no Graph call",
                    "parameters": [
                        {"name": "organizerId", "in": "path", "required": True, "schema": {"type": "string"}},
                        {"name": "externalId", "in": "path", "required": True, "schema": {"type": "string"}},
                        *_KEY_PARAMS,
                    ],
                    "responses": _LOOKUP_RESPONSES,
                },
            },
            "/api/health": {
                "get": {
                    "operationId": "health",
                    "summary": "Settings load and the table answers",
                    "security": [],
                    "responses": {
                        "200": {"description": "Healthy.", "content": {"application/json": {"schema": {
                            "type": "object", "required": ["status"],
                            "properties": {"status": {"const": "ok"}}}}}},
                        "503": _problem("`configuration_error` or `storage_unavailable`.", retry_after=True),
                    },
                },
            },
            "/api/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1 document.",
                                          "content": {"application/json": {"schema": {"type": "object"}}}}},
                },
            },
        },
        "components": {
            "securitySchemes": {
                "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
                "functionKeyQuery": {"type": "apiKey", "in": "query", "name": "code"},
            },
            "headers": {
                "Location": {"description": "Where the meeting can be read back.", "schema": {"type": "string"}},
                "CorrelationId": {"description": "The request's correlation id.", "schema": {"type": "string"}},
                "RetryAfter": {"description": "Seconds to wait before retrying.", "schema": {"type": "string"}},
            },
            "schemas": schemas(),
        },
    }
