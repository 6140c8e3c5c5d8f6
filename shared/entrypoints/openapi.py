"""The OpenAPI 3.1 description of the HTTP API (served at /api/openapi.json; a test keeps it true)."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from shared.entrypoints.openapi_artifacts import artifact_paths
from shared.entrypoints.openapi_schemas import schemas

_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
_MEETING = {"application/json": {"schema": {"$ref": "#/components/schemas/OnlineMeeting"}}}
_CORRELATION = {"x-correlation-id": {"$ref": "#/components/headers/CorrelationId"}}
_RETRY_AFTER = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
_ETAG = {"ETag": {"$ref": "#/components/headers/ETag"}}
_LOCATION = {"Location": {"$ref": "#/components/headers/Location"}}


def _problem(description: str, *, retry_after: bool = False) -> dict[str, Any]:
    return {"description": description, "headers": {**_CORRELATION, **(_RETRY_AFTER if retry_after else {})},
            "content": _PROBLEM}


def _meeting(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "headers": {**_CORRELATION, **_ETAG, **(headers or {})}, "content": _MEETING}


_QUOTA = {"429": _problem("`organizer_quota_exceeded` (the organizer reached `MONTHLY_MEETING_LIMIT` this UTC month; "
                          "not retryable, `Retry-After` names the start of next month) or `graph_throttled`.",
                          retry_after=True)}
_GRAPH_FAILED = {
    "403": _problem("`access_policy_missing` (Graph: no application access policy for the organizer; the detail names "
                    "the grant command), `calendar_access_denied` (a calendar-backed meeting: the app may not write "
                    "the organizer's calendar; the detail names the scoping script), `organizer_not_allowed` or "
                    "`tenant_not_allowed`."),
    "429": _problem("`graph_throttled`.", retry_after=True),
    "502": _problem("`graph_unavailable`, `graph_unauthorized`, `graph_rejected`, `token_unavailable`, "
                    "`credential_rejected`, or `meeting_too_large` (the meeting Graph returned cannot be recorded).",
                    retry_after=True),
    "503": _problem("`storage_unavailable`, or `configuration_error` (the problem lists every setting to fix; "
                    "never a 500: a 500 only ever means an unhandled bug).", retry_after=True),
}
_EXHAUSTED = (" Or `retries_exhausted`: a queued request failed on every attempt, answered with the status of its last "
              "error (429 with its `Retry-After` when throttling was last; 503 when no attempt told its error).")
_LOOKUP_RESPONSES = {
    "200": _meeting("The meeting, as Microsoft Graph returned it (created or locked)."),
    "410": _problem("`meeting_cancelled`: the meeting was deleted (the problem carries `cancelledAt`)."),
    "202": {"description": "An accepted request that the queue has not processed yet.",
            "headers": {**_CORRELATION, **_RETRY_AFTER},
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pending"}}}},
    "400": _problem("A required parameter is missing (`validation_failed`)."),
    "404": _problem("`meeting_not_found`: nothing is recorded for this key; or the recorded request failed with "
                    "`organizer_not_found` (replayed)."),
    **{status: {**answer, "description": "The recorded request failed (replayed): " + answer["description"]
                + (_EXHAUSTED if status in ("429", "502", "503") else "")}
       for status, answer in _GRAPH_FAILED.items()},
}
_KEY_IN_QUERY = [
    {"name": "organizerId", "in": "query", "required": True, "schema": {"type": "string"}},
    {"name": "externalId", "in": "query", "required": True, "schema": {"type": "string"}},
]
_KEY_IN_PATH = [
    {"name": "organizerId", "in": "path", "required": True, "schema": {"type": "string"}},
    {"name": "externalId", "in": "path", "required": True, "schema": {"type": "string"}},
]
_FIND_BY = [
    {"name": "organizerId", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "With externalId: the meeting's key."},
    {"name": "externalId", "in": "query", "required": False, "schema": {"type": "string"}},
    {"name": "joinWebUrl", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "Or: the meeting's join URL, in any encoding (matched after normalising it)."},
    {"name": "joinMeetingId", "in": "query", "required": False, "schema": {"type": "string", "pattern": "^[0-9 ]+$"},
     "description": "Or: the meeting's join meeting id (digits)."},
]
_TENANT = {"name": "tenantId", "in": "query", "required": False, "schema": {"type": "string"},
           "description": "The tenant (GUID or verified domain), when not the app's default tenant."}
# Signed intake (Standard Webhooks): required on every write when INTAKE_SIGNING_SECRETS is set.
_SIGNED = [{"name": name, "in": "header", "required": False, "schema": {"type": "string"}, "description": text}
           for name, text in (
               ("webhook-id", "Signed intake: a unique id of this request; the correlation id when the request "
                              "names none."),
               ("webhook-timestamp", "Signed intake: seconds since the epoch, at most 5 minutes from the broker's "
                                     "time."),
               ("webhook-signature", "Signed intake: `v1,<base64 HMAC-SHA256 of id.timestamp.body>` per "
                                     "Standard Webhooks (space-separated when signed with several secrets)."))]
_UNSIGNED = {"401": _problem("`signature_invalid`: `INTAKE_SIGNING_SECRETS` is set and the request's Standard "
                             "Webhooks headers are missing, malformed, more than 5 minutes off or match none of "
                             "the secrets. Nothing was done.")}
_CORRELATION_PARAM = {"name": "x-correlation-id", "in": "header", "required": False,
                      "schema": {"type": "string", "maxLength": 200},
                      "description": "Your id for this request; echoed in the result message. Default: a new UUID."}


def _create() -> dict[str, Any]:
    return {
        "operationId": "createMeeting",
        "summary": "Create a meeting, or get (and bring up to date) the one this externalId already has",
        "parameters": [
            {"name": "Prefer", "in": "header", "required": False, "schema": {"type": "string"},
             "description": "`respond-async` queues the request and answers 202."},
            {"name": "Accept-Language", "in": "header", "required": False, "schema": {"type": "string"},
             "description": "Forwarded to Graph: the language of the meeting's joinInformation."},
            _CORRELATION_PARAM,
            *_SIGNED,
        ],
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/MeetingRequest"}}}},
        "responses": {
            "201": _meeting("Created.", _LOCATION),
            "200": _meeting("The meeting this (tenant, organizer, externalId) already has; changed first when the "
                            "request asked for other details and `MEETING_CHANGES` is `apply` (result `updated`).",
                            _LOCATION),
            "202": {"description": "Accepted for async processing (`Prefer: respond-async`).",
                    "headers": {**_LOCATION, "Preference-Applied": {"schema": {"type": "string"}}, **_CORRELATION,
                                **_RETRY_AFTER},
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}}},
            "400": _problem("`validation_failed` (with `errors`), `malformed_json`, or `callback_not_allowed` (the "
                            "`callbackUrl` is not https, carries user info, or its host is not listed in "
                            "`CALLBACK_ALLOWED_HOSTS`; nothing was done)."),
            **_UNSIGNED,
            "404": _problem("`organizer_not_found`."),
            "409": _problem("`concurrent_update` (retry), `request_in_progress` (another request is creating this "
                            "passcode meeting; retry after `Retry-After`), `change_in_progress` (a repeat with other "
                            "details while another change of the key is being applied; retry after `Retry-After`), "
                            "`passcode_setting_immutable` or "
                            "`meeting_cancelled` (this key's meeting was cancelled; use a new externalId) or "
                            "`meeting_kind_differs` (the key's meeting is standalone and the request asks for a "
                            "calendar-backed one, or the other way round).",
                            retry_after=True),
            "410": _problem("`meeting_gone`: the recorded meeting was deleted in Graph outside the broker."),
            "413": _problem("`payload_too_large`: the body is over 64 KiB (or, queued, over a queue message)."),
            "415": _problem("`unsupported_media_type`."),
            **_GRAPH_FAILED,
            **_QUOTA,
            "403": {**_GRAPH_FAILED["403"], "description": _GRAPH_FAILED["403"]["description"][:-1]
                    + ", or `calendar_mode_disabled` (`calendar: true` while `CALENDAR_MODE` is `disabled`)."},
        },
    }


def _update(parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "summary": "Change a meeting: the members given, in one PATCH of what differs",
        "parameters": [*parameters, _TENANT, _CORRELATION_PARAM, *_SIGNED,
                       {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
                        "description": "The ETag read with the meeting: the change applies only to that version."}],
        "requestBody": {"required": True, "content": {
            media: {"schema": {"$ref": "#/components/schemas/MeetingChange"}}
            for media in ("application/json", "application/merge-patch+json")}},
        "responses": {
            "200": _meeting("The meeting after the change (result `updated`), or as it was when nothing differed "
                            "(`existing`, no Graph call)."),
            "400": _problem("`validation_failed`: a broken rule (one time without the other, end before start, "
                            "`joinMeetingIdSettings`, an organizer in participants, an empty body) or "
                            "`malformed_json`."),
            **_UNSIGNED,
            "404": _problem("`meeting_not_found` (nothing recorded for this key) or `organizer_not_found`."),
            "409": _problem("`meeting_pending` (no meeting yet for this key: retry once its create has succeeded), "
                            "`meeting_create_failed` (the key's create failed for good: not retryable, send the "
                            "create again), `change_in_progress` (another change of this key is being applied: "
                            "retry after `Retry-After`) or `concurrent_update`.",
                            retry_after=True),
            "410": _problem("`meeting_cancelled` (a cancelled meeting cannot change) or `meeting_gone` (deleted in "
                            "Graph outside the broker)."),
            "412": _problem("`precondition_failed`: the record changed since the ETag in If-Match."),
            "413": _problem("`payload_too_large`."),
            "415": _problem("`unsupported_media_type`."),
            **_GRAPH_FAILED,
        },
    }


def _cancel(parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "summary": "Cancel a meeting: delete it (a tombstone stays) or lock it (nobody new gets in)",
        "parameters": [*parameters, _TENANT, _CORRELATION_PARAM, *_SIGNED,
                       {"name": "mode", "in": "query", "required": False,
                        "schema": {"type": "string", "enum": ["delete", "lock"], "default": "delete"},
                        "description": "`delete`: DELETE in Graph, the key stays cancelled. `lock`: lobby for the "
                                       "organizer only, no dial-in bypass, chat off; a later PATCH that sets them "
                                       "again unlocks it."},
                       {"name": "comment", "in": "query", "required": False,
                        "schema": {"type": "string", "maxLength": 2000},
                        "description": "A calendar-backed meeting: the note its attendees get with the "
                                       "cancellation."}],
        "responses": {
            "204": {"description": "Deleted (again: a second DELETE calls nobody).", "headers": _CORRELATION},
            "200": _meeting("Locked: the meeting as Graph returned it (result `locked`)."),
            "400": _problem("`validation_failed` (a missing key, an unknown mode)."),
            **_UNSIGNED,
            "404": _problem("`meeting_not_found`: nothing is recorded for this key."),
            "409": _problem("`meeting_pending` (no meeting yet for this key: retry once its create has succeeded), "
                            "`meeting_create_failed` (the key's create failed for good: not retryable, send the "
                            "create again), `change_in_progress` (another change of this key is being applied: "
                            "retry after `Retry-After`) or `concurrent_update`.",
                            retry_after=True),
            "410": _problem("`meeting_cancelled`: lock of a cancelled meeting; or `meeting_gone`."),
            **_GRAPH_FAILED,
        },
    }


def _lookup(parameters: list[dict[str, Any]], operation_id: str, summary: str) -> dict[str, Any]:
    return {"operationId": operation_id, "summary": summary, "parameters": [*parameters, _TENANT],
            "responses": _LOOKUP_RESPONSES}


def _result_callback() -> dict[str, Any]:
    """The POST the broker makes to a key's callbackUrl for each of its results (issue 21)."""
    return {
        "operationId": "meetingResult",
        "summary": "A result of a key whose create request named a callbackUrl",
        "description": (
            "The body is byte for byte the `ResultMessage` the results queue got. Signed per Standard Webhooks "
            "(https://www.standardwebhooks.com/) with each secret of `CALLBACK_SIGNING_SECRETS`: verify with "
            "`standardwebhooks.Webhook(secret).verify(body, headers)`. `webhook-id` is the same on every attempt of "
            "one result (deduplicate on it): delivery is at least once. A 2xx ends the delivery; 410 stops every "
            "later delivery of this key to this URL; anything else (a 3xx included: redirects are not followed), a "
            "timeout (15 s) or a connection error is retried after `CALLBACK_RETRY_SCHEDULE`, and a delivery whose "
            "every attempt failed is kept on `MEETING_CALLBACKS_FAILED_QUEUE`."),
        "parameters": [
            {"name": "webhook-id", "in": "header", "required": True, "schema": {"type": "string"},
             "description": "This result's id, the same on every attempt (`msg_` then 32 hex digits)."},
            {"name": "webhook-timestamp", "in": "header", "required": True, "schema": {"type": "string"},
             "description": "When this attempt was signed, in seconds since the epoch."},
            {"name": "webhook-signature", "in": "header", "required": True, "schema": {"type": "string"},
             "description": "`v1,<base64>` per secret, space-separated."},
        ],
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ResultMessage"}}}},
        "responses": {
            "2XX": {"description": "Delivered."},
            "410": {"description": "Gone: no later result of this key is delivered to this URL."},
            "default": {"description": "Not delivered: the attempt is made again after the retry schedule's delay."},
        },
    }


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Teams Meeting Broker",
            "version": "1.2.0",
            "description": (
                "Creates Microsoft Teams online meetings for organizers, idempotently, with Microsoft Graph "
                "`onlineMeetings/createOrGet` (or plain create for a passcode choice), applies their options, and "
                "keeps them as asked. A meeting is identified by (tenant, organizer, externalId). Every processed "
                "request also emits a `ResultMessage` to the results queue, and a key whose create request named a "
                "`callbackUrl` has each of its results POSTed there (the `meetingResult` webhook)."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"functionKey": []}, {"functionKeyQuery": []}],
        "paths": {
            "/api/meetings": {
                "post": _create(),
                "get": _lookup(_FIND_BY, "findMeeting",
                               "Look a meeting up by key (for externalIds that cannot travel in a path segment), or "
                               "by the join link a person pastes; no Graph call"),
                "patch": {"operationId": "changeMeeting", **_update(_KEY_IN_QUERY)},
                "delete": {"operationId": "endMeeting", **_cancel(_KEY_IN_QUERY)},
            },
            "/api/meetings/{organizerId}/{externalId}": {
                "get": _lookup(_KEY_IN_PATH, "getMeeting", "Look a meeting up; no Graph call"),
                "patch": {"operationId": "updateMeeting", **_update(_KEY_IN_PATH)},
                "delete": {"operationId": "cancelMeeting", **_cancel(_KEY_IN_PATH)},
            },
            "/api/organizers/{organizerId}/quota": {"get": {
                "operationId": "organizerQuota",
                "summary": "The organizer's meetings created by the broker this UTC month, against MONTHLY_MEETING_LIMIT",
                "parameters": [{"name": "organizerId", "in": "path", "required": True, "schema": {"type": "string"}},
                               _TENANT],
                "responses": {
                    "200": {"description": "The figures.", "headers": _CORRELATION, "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Quota"}}}},
                    "400": _problem("`validation_failed`."),
                    "403": _problem("`tenant_not_allowed`."),
                    "502": _problem("`token_unavailable` (a tenant named by domain could not be resolved).",
                                    retry_after=True),
                    "503": _problem("`storage_unavailable` or `configuration_error`.", retry_after=True),
                },
            }},
            **artifact_paths(_problem, _CORRELATION, _TENANT, key_in_path=_KEY_IN_PATH,
                             key_in_query=_KEY_IN_QUERY),
            "/api/health": {"get": {
                "operationId": "health",
                "summary": "Settings load and the table answers",
                "security": [],
                "responses": {
                    "200": {"description": "Healthy.", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}}}}},
                    "503": _problem("`configuration_error` (naming each bad setting, never its value) or "
                                    "`storage_unavailable`.", retry_after=True),
                },
            }},
            "/api/openapi.json": {"get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": {"200": {"description": "OpenAPI 3.1 document.",
                                      "content": {"application/json": {"schema": {"type": "object"}}}}},
            }},
        },
        "webhooks": {"meetingResult": {"post": _result_callback()}},
        "components": {
            "securitySchemes": {
                "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
                "functionKeyQuery": {"type": "apiKey", "in": "query", "name": "code"},
            },
            "headers": {
                "Location": {"description": "Where the meeting can be read back.", "schema": {"type": "string"}},
                "CorrelationId": {"description": "The request's correlation id.", "schema": {"type": "string"}},
                "RetryAfter": {"description": "Seconds to wait before retrying.", "schema": {"type": "string"}},
                "ETag": {"description": "The version of the meeting's record, for If-Match.",
                         "schema": {"type": "string"}},
            },
            "schemas": schemas(),
        },
    }
