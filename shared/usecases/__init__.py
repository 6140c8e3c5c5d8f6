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
"""
from shared.usecases.accept import accept_meeting
from shared.usecases.callbacks import refused  # told to the callbackUrl a refused payload names, too
from shared.usecases.context import Context, Deps, Outcome
from shared.usecases.keyed_write import tombstone
from shared.usecases.create import create_meeting
from shared.usecases.exhaust import exhaust_request, unrecorded_exhaustion, unrecorded_failure
from shared.usecases.cancel import cancel_meeting
from shared.usecases.find import find_by_join_link, find_meeting, organizer_quota
from shared.usecases.update import update_meeting
from shared.usecases.attendance import meeting_attendance
from shared.usecases.collect_attendance import collect_due_attendance, schedule_attendance
from shared.usecases.transcripts import meeting_transcripts, transcript_query_url, transcript_text

__all__ = ["Context", "Deps", "Outcome", "refused", "tombstone", "accept_meeting", "cancel_meeting", "create_meeting", "exhaust_request",
           "find_by_join_link", "find_meeting", "organizer_quota",
           "unrecorded_exhaustion", "unrecorded_failure", "update_meeting", "meeting_attendance",
           "meeting_transcripts", "transcript_query_url", "transcript_text", "schedule_attendance", "collect_due_attendance"]
