"""The use cases, one module each. An adapter parses its input, calls one of these, and maps the ``Outcome``.

- ``create_meeting`` (create.py): create or get a meeting, sync (HTTP) or from the intake queue; a passcode
  choice by plain create under a lease (plain_create.py), a calendar-backed one (calendar.py); all end in
  record_outcome.py
- ``accept_meeting`` (accept.py): record an async request and hand back the intake message
- ``update_meeting`` (update.py): change a recorded meeting (one PATCH of what differs)
- ``cancel_meeting`` (cancel.py): delete (a tombstone stays) or lock a meeting
- ``find_meeting``, ``find_by_join_link``, ``organizer_quota`` (find.py): lookups, from the table only
- ``exhaust_request`` (exhaust.py): the final result of a message whose retries ran out
- ``meeting_attendance`` (attendance.py), ``meeting_transcripts`` and ``transcript_text`` (transcripts.py): what
  Graph kept of a meeting, against the key's participants
- ``schedule_attendance`` and ``collect_due_attendance`` (collect_attendance.py): attendance after a meeting ends,
  one result per occurrence
- ``deliver_attempt`` (deliver.py) makes one attempt of a result's delivery to its callbackUrl; callbacks.py decides
  where a result goes (``Outcome.callback``) and keeps the URL and a 410's mark on the key's record

The names below load their module when first asked for (PEP 562): importing one use case, or this package, does not
load the others, so a process loads the code of the requests it serves (the cold start, bench/README.md "(d)").
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.usecases.accept import accept_meeting
    from shared.usecases.attendance import meeting_attendance
    from shared.usecases.callbacks import refused  # told to the callbackUrl a refused payload names, too
    from shared.usecases.cancel import cancel_meeting
    from shared.usecases.collect_attendance import collect_due_attendance, schedule_attendance
    from shared.usecases.context import Context, Deps, Outcome
    from shared.usecases.create import create_meeting
    from shared.usecases.exhaust import exhaust_request, unrecorded_exhaustion, unrecorded_failure
    from shared.usecases.find import find_by_join_link, find_meeting, organizer_quota
    from shared.usecases.keyed_write import tombstone
    from shared.usecases.transcripts import meeting_transcripts, transcript_query_url, transcript_text
    from shared.usecases.update import update_meeting

_MODULES = {
    "accept": ("accept_meeting",),
    "attendance": ("meeting_attendance",),
    "callbacks": ("refused",),
    "cancel": ("cancel_meeting",),
    "collect_attendance": ("collect_due_attendance", "schedule_attendance"),
    "context": ("Context", "Deps", "Outcome"),
    "create": ("create_meeting",),
    "exhaust": ("exhaust_request", "unrecorded_exhaustion", "unrecorded_failure"),
    "find": ("find_by_join_link", "find_meeting", "organizer_quota"),
    "keyed_write": ("tombstone",),
    "transcripts": ("meeting_transcripts", "transcript_query_url", "transcript_text"),
    "update": ("update_meeting",),
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> object:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # asked once: later lookups find it here
    return value
