"""Meetings and tenant setting policies of the emulator (``MeetingStore``, ``EmulatorState.online_meetings``):
meetings by id, createOrGet's (tenant, organizer, externalId) index, and the policies that keep a setting's value
whatever a create or PATCH asks (localdev/README.md, "State and its stores")."""
from __future__ import annotations

import copy
import threading
from typing import Any, Callable

from .meeting_bodies import check_setting_path
from .meetings import Meeting
from .rendering import render_meeting
from .schemas import load_schemas


class MeetingStore:
    """Meetings by id, createOrGet's index and the setting policies; guarded by ``lock`` (the state's, which every
    store shares). ``graph_root``: the emulator's URL, for the JSON of ``rendered``."""

    def __init__(self, lock: threading.RLock, graph_root: Callable[[], str]) -> None:
        self.lock = lock
        self._graph_root = graph_root
        self.clear()

    def clear(self) -> None:
        """Forget every meeting and setting policy."""
        with self.lock:
            self._meetings: dict[str, Meeting] = {}
            self._external_index: dict[tuple[str, str, str], str] = {}
            self._setting_policies: list[dict[str, Any]] = []

    # ----------------------------------------------------------------------------------------------- meetings
    def create_or_get_meeting(self, key: tuple[str, str, str],
                              factory: Callable[[], Meeting]) -> tuple[Meeting, bool]:
        """The meeting stored under (tenant, organizer object id, externalId), creating it with factory()."""
        with self.lock:
            existing = self._external_index.get(key)
            if existing is not None:
                return self._meetings[existing], False
            meeting = factory()
            self.apply_setting_policies(meeting)
            self._meetings[meeting.id] = meeting
            self._external_index[key] = meeting.id
            return meeting, True

    def add_meeting(self, meeting: Meeting) -> Meeting:
        """Store a meeting of a plain create (not found by createOrGet)."""
        with self.lock:
            self.apply_setting_policies(meeting)
            self._meetings[meeting.id] = meeting
            return meeting

    def find_meeting(self, meeting_id: str) -> Meeting | None:
        """The stored meeting itself (change it only while holding the lock)."""
        with self.lock:
            return self._meetings.get(meeting_id)

    def delete_meeting(self, meeting_id: str) -> bool:
        with self.lock:
            if self._meetings.pop(meeting_id, None) is None:
                return False
            for key in [k for k, v in self._external_index.items() if v == meeting_id]:
                del self._external_index[key]
            return True

    def meetings_with_join_url(self, tenant_id: str, organizer_id: str, join_url: str) -> list[Meeting]:
        with self.lock:
            return [m for m in self._meetings.values()
                    if m.tenant_id == tenant_id and m.organizer_id == organizer_id and m.join_web_url == join_url]

    def rendered(self) -> list[dict[str, Any]]:
        """The stored meetings as Graph v1.0 onlineMeeting JSON (all enum members), in creation order."""
        with self.lock:
            stored = list(self._meetings.values())
            return [render_meeting(m, version="v1.0", include_unknown_enum_members=True, graph_root=self._graph_root(),
                                   user_segment=m.organizer_id, schemas=load_schemas()) for m in stored]

    def meeting_count(self) -> int:
        with self.lock:
            return len(self._meetings)

    def passcodes(self) -> list[str]:
        """The passcode of every stored meeting that has one."""
        with self.lock:
            return [m.passcode for m in self._meetings.values() if m.passcode]

    # ----------------------------------------------------------------------------------------------- setting policies
    def force_setting(self, setting: str, value: Any, *, organizer_id: str | None = None) -> None:
        """Keep ``setting`` (e.g. "allowedPresenters" or "lobbyBypassSettings.scope") at ``value`` on every meeting
        created or updated from now on (of ``organizer_id`` only, when given). Raises ValueError for a setting that is
        not a meeting setting or a value of the wrong type."""
        problem = check_setting_path(load_schemas(), setting, value)
        if problem:
            raise ValueError(problem)
        with self.lock:
            self._setting_policies = [p for p in self._setting_policies
                                      if (p["setting"], p["organizer_id"]) != (setting, organizer_id and
                                                                              organizer_id.lower())]
            self._setting_policies.append({"setting": setting, "value": copy.deepcopy(value),
                                           "organizer_id": organizer_id.lower() if organizer_id else None})

    def clear_forced_settings(self, setting: str | None = None) -> None:
        """Drop every setting policy, or those of one setting."""
        with self.lock:
            self._setting_policies = [p for p in self._setting_policies if setting is not None
                                      and p["setting"] != setting]

    def forced_settings(self) -> list[dict[str, Any]]:
        """The setting policies: [{"setting", "value", "organizer_id" (None: everyone)}]."""
        with self.lock:
            return copy.deepcopy(self._setting_policies)

    def apply_setting_policies(self, meeting: Meeting) -> None:
        """Overwrite the meeting's settings with every policy that covers its organizer (under the lock)."""
        with self.lock:
            for policy in self._setting_policies:
                if policy["organizer_id"] not in (None, meeting.organizer_id):
                    continue
                head, _, member = policy["setting"].partition(".")
                if member:
                    meeting.settings[head][member] = copy.deepcopy(policy["value"])
                else:
                    meeting.settings[head] = copy.deepcopy(policy["value"])
