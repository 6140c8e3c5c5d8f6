"""One exception hierarchy. Each class knows its HTTP status, a stable machine-readable code and whether a retry can help.

The HTTP adapter turns any of them into an RFC 9457 problem; the queue adapter turns them into "failed for good"
(``retryable`` false) or "raise so the host retries" (``retryable`` true). Messages never carry secrets or tokens.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class BrokerError(Exception):
    status: int = 500
    code: str = "internal_error"
    title: str = "Internal error"
    retryable: bool = False

    def __init__(self, detail: str, *, retry_after: float | None = None, errors: list[FieldError] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after
        self.errors = list(errors or [])
        self.extra = dict(extra or {})

    def as_result_error(self) -> dict[str, Any]:
        """The ``error`` member of a result message."""
        return {"code": self.code, "message": self.detail, "retryable": self.retryable}

    def as_record_error(self) -> dict[str, Any]:
        """How it is kept on a record (the result's error, status, Retry-After): a lookup replays all three, and an
        exhaustion after it answers with them."""
        kept: dict[str, Any] = {**self.as_result_error(), "status": self.status}
        if self.retry_after is not None:
            kept["retryAfter"] = self.retry_after
        return kept


class ValidationFailed(BrokerError):
    """Every broken rule, up to ``MAX_LISTED`` of them (a body can break thousands): ``errorCount`` tells how many."""

    status, code, title = 400, "validation_failed", "The request is not valid"
    MAX_LISTED = 20

    def __init__(self, errors: list[FieldError]) -> None:
        listed = errors[:self.MAX_LISTED]
        summary = "; ".join(f"{e.field}: {e.message}" for e in listed)
        if len(errors) > len(listed):
            summary = f"{len(errors)} broken rules, the first {len(listed)}: {summary}"
        super().__init__(summary, errors=listed, extra={"errorCount": len(errors)})


class MalformedJson(BrokerError):
    status, code, title = 400, "malformed_json", "The body is not valid JSON"


class PayloadTooLarge(BrokerError):
    status, code, title = 413, "payload_too_large", "The body is too large"


class UnsupportedMediaType(BrokerError):
    status, code, title = 415, "unsupported_media_type", "The body must be application/json"


class CallbackNotAllowed(BrokerError):
    """A callbackUrl that breaks a rule of ``callback_urls`` (scheme, user info, host not listed, ...): refused before
    any Graph call or row."""

    status, code, title = 400, "callback_not_allowed", "The callbackUrl is not allowed"

    @classmethod
    def because(cls, rule: str) -> "CallbackNotAllowed":
        return cls(f"callbackUrl {rule}", errors=[FieldError("callbackUrl", rule)])


class SignatureInvalid(BrokerError):
    """A write whose Standard Webhooks signature is missing, malformed, stale or matches no INTAKE_SIGNING_SECRETS."""

    status, code, title = 401, "signature_invalid", "The request's signature is not valid"


class MeetingNotFound(BrokerError):
    status, code, title = 404, "meeting_not_found", "No meeting is known for this organizer and externalId"


class TenantNotAllowed(BrokerError):
    status, code, title = 403, "tenant_not_allowed", "The app does not act in this tenant"


class OrganizerNotAllowed(BrokerError):
    status, code, title = 403, "organizer_not_allowed", "The app may not create meetings for this organizer"


class AccessPolicyMissing(BrokerError):
    status, code, title = 403, "access_policy_missing", "No Teams application access policy allows this app for the organizer"


class CalendarAccessDenied(BrokerError):
    status, code, title = 403, "calendar_access_denied", "The app may not write this organizer's calendar"


class CalendarModeDisabled(BrokerError):
    status, code, title = 403, "calendar_mode_disabled", "Calendar-backed meetings are not enabled"


class MeetingKindDiffers(BrokerError):
    """A key's kind (standalone or calendar-backed) is fixed by its first request."""

    status, code, title = 409, "meeting_kind_differs", "This externalId's meeting is of the other kind"


class OrganizerNotFound(BrokerError):
    status, code, title = 404, "organizer_not_found", "The organizer does not exist in the tenant"


class GraphRejected(BrokerError):
    """Graph refused the request for a reason a retry cannot change (a 4xx other than 401/403/404/429)."""

    status, code, title = 502, "graph_rejected", "Microsoft Graph rejected the request"


class GraphUnauthorized(BrokerError):
    """Graph refused the app's token (401). MSAL renews tokens before expiry, so this points at a tenant or
    audience mismatch or a revoked grant; a later attempt may still succeed after replication."""

    status, code, title, retryable = 502, "graph_unauthorized", "Microsoft Graph did not accept the app's token", True


class GraphThrottled(BrokerError):
    status, code, title, retryable = 429, "graph_throttled", "Microsoft Graph is throttling this app", True


class GraphUnavailable(BrokerError):
    status, code, title, retryable = 502, "graph_unavailable", "Microsoft Graph is unavailable", True


class TokenUnavailable(BrokerError):
    status, code, title, retryable = 502, "token_unavailable", "No access token could be obtained", True


class CredentialRejected(BrokerError):
    status, code, title = 502, "credential_rejected", "Microsoft Entra ID rejected the app's credential"


class MeetingGone(BrokerError):
    """Graph no longer has the recorded meeting (it was deleted outside the broker)."""

    status, code, title = 410, "meeting_gone", "The meeting no longer exists in Microsoft Graph"


class MeetingTooLarge(BrokerError):
    """Graph answered with a meeting the table cannot hold. Not retryable: Graph would return the same meeting."""

    status, code, title = 502, "meeting_too_large", "The meeting Microsoft Graph returned is too large to record"


class StorageUnavailable(BrokerError):
    status, code, title, retryable = 503, "storage_unavailable", "Table Storage is unavailable", True


class ConcurrentUpdate(BrokerError):
    """The row for this meeting kept changing under concurrent requests; a retry will find it settled."""

    status, code, title, retryable = 409, "concurrent_update", "The meeting's record is being updated concurrently", True


class RequestInProgress(BrokerError):
    """Another request for this key is creating its meeting (plain create holds the key with a lease)."""

    status, code, title, retryable = 409, "request_in_progress", "Another request is creating this meeting", True


class MeetingPending(BrokerError):
    """The key has no meeting yet (accepted, in progress, or failed so far): nothing to change or cancel."""

    status, code, title, retryable = 409, "meeting_pending", "This meeting has not been created yet", True


class ChangeInProgress(BrokerError):
    """Another change of this key (a PATCH, a lock or a DELETE) is being applied in Graph: changes of one key are
    applied one at a time, so that the record always holds Graph's answer to the last of them."""

    status, code, title, retryable = 409, "change_in_progress", "Another change of this meeting is in progress", True


class MeetingCreateFailed(BrokerError):
    """The key's create ended in a failure that was recorded as final: there is no meeting to change or cancel, and
    waiting will not make one. Sending the create again may."""

    status, code, title = 409, "meeting_create_failed", "This meeting's create request failed"


class PasscodeSettingImmutable(BrokerError):
    status, code, title = 409, "passcode_setting_immutable", "The passcode setting cannot change after creation"


class PreconditionFailed(BrokerError):
    """If-Match named another version of the record: someone changed the meeting since the caller read it."""

    status, code, title = 412, "precondition_failed", "The meeting changed since it was read"


class MeetingCancelled(BrokerError):
    """The key's meeting was deleted (a tombstone): a cancelled key stays cancelled. 410 for a lookup or a change,
    409 for a new request (use a new externalId)."""

    status, code, title = 410, "meeting_cancelled", "This meeting was cancelled"

    def __init__(self, detail: str, *, cancelled_at: str | None, status: int = 410) -> None:
        super().__init__(detail, extra={"cancelledAt": cancelled_at})
        self.status = status


class OrganizerQuotaExceeded(BrokerError):
    """The organizer reached MONTHLY_MEETING_LIMIT this UTC month: refused before any Graph call."""

    status, code, title = 429, "organizer_quota_exceeded", "The organizer's monthly meeting limit is reached"


class ConfigurationError(BrokerError):
    """The app's settings are incomplete or wrong. Retryable: fixing the settings lets queued requests complete.
    503, not 500: the service is unavailable until its settings are fixed (a 500 only ever means an unhandled bug)."""

    status, code, title, retryable = 503, "configuration_error", "The app is not configured correctly", True

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems), extra={"problems": self.problems})


# The statuses of handled failures a RecordedFailure or RetriesExhausted may carry at 5xx; anything else at 5xx is told
# as 503. A 500 is never an answer by design: it only ever means an unhandled bug.
UPSTREAM_STATUSES = (502, 503, 504)


class RetriesExhausted(BrokerError):
    """A queued request failed on every attempt. The status is the last error's: 502/503/504 (upstream failures
    that were handled), or 429 with its Retry-After when throttling was last; 503 when no attempt told its error (a
    crashed or timed-out attempt) or the last error had another status. The code stays ``retries_exhausted``."""

    status, code, title = 503, "retries_exhausted", "The request failed on every attempt"

    def __init__(self, detail: str, *, last_status: int | None = None, retry_after: float | None = None) -> None:
        throttled = last_status == 429
        super().__init__(detail, retry_after=retry_after if throttled else None)
        if last_status is not None and (throttled or last_status in UPSTREAM_STATUSES):
            self.status = last_status

    @classmethod
    def after(cls, last: "BrokerError | dict[str, Any] | None") -> "RetriesExhausted":
        """The exhaustion of a request whose last attempt ended with ``last``: an error, the error kept on its record
        (``code``, ``message``, ``status``, maybe ``retryAfter``), or None when no attempt told its error."""
        if last is None:
            return cls("the request failed on every attempt")
        if isinstance(last, BrokerError):
            return cls(f"the request failed on every attempt; last error: {last.code}: {last.detail}",
                       last_status=last.status, retry_after=last.retry_after)
        return cls(f"the request failed on every attempt; last error: {last.get('code')}: {last.get('message')}",
                   last_status=_int_or_none(last.get("status")), retry_after=_float_or_none(last.get("retryAfter")))



class RecordedFailure(BrokerError):
    """The stored outcome of a request that failed, replayed when the meeting is looked up (its status, and its
    Retry-After when one was kept). A row written before statuses were mapped (500) is told as 503."""

    title = "The request for this meeting failed"

    def __init__(self, error: dict[str, Any], *, state: str) -> None:
        super().__init__(str(error.get("message") or "the request failed"), extra={"state": state},
                         retry_after=_float_or_none(error.get("retryAfter")))
        status = _int_or_none(error.get("status")) or 503
        self.status = 503 if status >= 500 and status not in UPSTREAM_STATUSES else status
        self.code = str(error.get("code") or "internal_error")
        self.retryable = bool(error.get("retryable"))


def _int_or_none(value: Any) -> int | None:
    number = _float_or_none(value)
    return int(number) if number is not None else None


def _float_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


# Issue 23 (attendance and transcripts): the core answers these; the routes that do come with the wiring.

class ArtifactsDisabled(BrokerError):
    """MEETING_ARTIFACTS does not cover what was asked (attendance, or transcripts): refused before any Graph call."""

    status, code, title = 403, "artifacts_disabled", "Meeting attendance and transcripts are not enabled"


class ArtifactAccessDenied(BrokerError):
    """Graph refused to read a meeting artifact: the app lacks the application permission it needs (a missing
    access policy answers ``access_policy_missing``, as for creates)."""

    status, code, title = 403, "artifact_access_denied", "The app may not read this meeting's attendance or transcripts"


class TranscriptsNeedCalendarMeeting(BrokerError):
    """Graph serves transcripts only for meetings backed by a calendar event: a standalone key has none."""

    status, code, title = 409, "transcripts_need_calendar_meeting", "Transcripts need a calendar-backed meeting"


class TranscriptNotFound(BrokerError):
    status, code, title = 404, "transcript_not_found", "The meeting has no transcript with this id"
