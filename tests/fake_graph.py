"""A hand-written fake of the Graph adapter with createOrGet's documented semantics."""
from __future__ import annotations

import itertools
import threading
from typing import Any

from shared.errors import BrokerError
from shared.ports import GraphAnswer, MeetingsGraph
from shared.values import format_datetime, normalize_organizer, parse_datetime

ALICE_ID = "11111111-1111-4111-8111-111111111111"
BOB_ID = "22222222-2222-4222-8222-222222222222"
USERS = {"alice@contoso.example": ALICE_ID, "bob@contoso.example": BOB_ID}


class FakeGraph(MeetingsGraph):
    """createOrGet keyed by (tenant, organizer object id, externalId); ``fail_next`` injects errors in order."""

    def __init__(self) -> None:
        self.meetings: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.fail_next: list[BrokerError] = []
        self.extra_members: dict[str, Any] = {}  # added to every meeting created from now on
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def create_or_get(self, tenant_id: str, organizer_id: str, body: dict[str, Any], *,
                      correlation_id: str) -> GraphAnswer:
        with self._lock:
            return self._create_or_get(tenant_id, organizer_id, body)

    def _create_or_get(self, tenant_id: str, organizer_id: str, body: dict[str, Any]) -> GraphAnswer:
        self.calls.append((tenant_id, organizer_id, body))
        if self.fail_next:
            raise self.fail_next.pop(0)
        object_id = USERS.get(normalize_organizer(organizer_id), normalize_organizer(organizer_id))
        key = (tenant_id, object_id, body["externalId"])
        if key in self.meetings:
            return GraphAnswer(self.meetings[key], False, "req-existing")
        number = next(self._ids)
        meeting = {
            "id": f"MSo{number:04d}",
            "joinWebUrl": f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{number}%40thread.v2/0",
            "subject": body.get("subject"),
            "startDateTime": format_datetime(parse_datetime(body["startDateTime"])),
            "endDateTime": format_datetime(parse_datetime(body["endDateTime"])),
            "externalId": body["externalId"],
            "joinMeetingIdSettings": {"joinMeetingId": f"{number:012d}", "passcode": None, "isPasscodeRequired": False},
            "participants": {"organizer": {"identity": {"user": {"id": object_id}}, "role": "presenter"},
                             "attendees": (body.get("participants") or {}).get("attendees", [])},
            **self.extra_members,
        }
        self.meetings[key] = meeting
        return GraphAnswer(meeting, True, "req-new")
