"""Use case: the transcripts of a calendar-backed meeting (``GET .../transcripts``) and the text of one (``GET
.../transcripts/{transcriptId}``, WebVTT). Graph keeps transcripts only for meetings backed by a calendar event: a
standalone key is answered 409 without a Graph call."""
from __future__ import annotations

from typing import Any, Callable
from urllib.parse import quote, urlencode

from shared.config.artifacts import ArtifactsMode
from shared.domain.attendance import transcript_list
from shared.domain.errors import TranscriptNotFound, TranscriptsNeedCalendarMeeting
from shared.domain.records import MeetingRecord
from shared.usecases.context import Deps
from shared.usecases.guards import live_meeting


def transcript_path(organizer_id: str, external_id: str) -> Callable[[str], str]:
    """The broker's own route of a transcript's text, by the key in the path."""
    base = f"/api/meetings/{quote(organizer_id, safe='@')}/{quote(external_id, safe='')}/transcripts/"
    return lambda transcript_id: base + quote(transcript_id, safe="")


def transcript_query_url(organizer_id: str, external_id: str, tenant_id: str | None = None) -> Callable[[str], str]:
    """The same route in its query form (``/api/meetings/transcripts/{transcriptId}?organizerId=...``), for keys
    whose externalId cannot travel in a path."""
    query = urlencode({"organizerId": organizer_id, "externalId": external_id,
                       **({"tenantId": tenant_id} if tenant_id else {})})
    return lambda transcript_id: f"/api/meetings/transcripts/{quote(transcript_id, safe='')}?{query}"


def meeting_transcripts(deps: Deps, organizer_id: str, external_id: str, tenant_id: str | None = None, *,
                        mode: ArtifactsMode, url_of: Callable[[str], str] | None = None,
                        correlation_id: str = "") -> dict[str, Any]:
    """``{"transcripts": [{id, createdDateTime, endDateTime, contentUrl}]}``; ``url_of`` names a transcript's
    ``contentUrl`` (default: the route with the key in the path)."""
    record = _calendar_meeting(deps, organizer_id, external_id, tenant_id, mode)
    items = deps.graph.transcripts(record.key.tenant_id, _organizer(record), str(record.meeting_id),
                                   correlation_id=correlation_id)
    return transcript_list(items, url_of or transcript_path(organizer_id, external_id))


def transcript_text(deps: Deps, organizer_id: str, external_id: str, transcript_id: str,
                    tenant_id: str | None = None, *, mode: ArtifactsMode, correlation_id: str = "") -> str:
    """The WebVTT text of one of the meeting's transcripts; 404 ``transcript_not_found`` for an id the meeting's
    list does not hold (checked first, so a caller's id never names anything else in Graph)."""
    record = _calendar_meeting(deps, organizer_id, external_id, tenant_id, mode)
    tenant, organizer, meeting_id = record.key.tenant_id, _organizer(record), str(record.meeting_id)
    listed = deps.graph.transcripts(tenant, organizer, meeting_id, correlation_id=correlation_id)
    if not any(item.get("id") == transcript_id for item in listed):
        raise TranscriptNotFound("this meeting has no transcript with this id; list them with GET "
                                 ".../transcripts")
    return deps.graph.transcript_content(tenant, organizer, meeting_id, transcript_id, correlation_id=correlation_id)


def _calendar_meeting(deps: Deps, organizer_id: str, external_id: str, tenant_id: str | None,
                      mode: ArtifactsMode) -> MeetingRecord:
    mode.require_transcripts()
    record = live_meeting(deps, organizer_id, external_id, tenant_id, doing="list the transcripts of")
    if not record.kind.calendar:
        raise TranscriptsNeedCalendarMeeting(
            "Microsoft Graph keeps transcripts only for meetings backed by a calendar event, and this key's meeting "
            "is a standalone online meeting; create the meeting with \"calendar\": true (under a new externalId) to "
            "have its transcripts")
    return record


def _organizer(record: MeetingRecord) -> str:
    return record.organizer_object_id or record.key.organizer_key
