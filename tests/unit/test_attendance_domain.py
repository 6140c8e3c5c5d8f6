"""The attendance answer, against the participants the request named: properties over generated reports (hypothesis),
and the rules of when a meeting's attendance is collected."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings, strategies as st

from shared.domain.attendance import (DEFAULT_WINDOW, FIRST_RETRY, LONGEST_RETRY, attendance_view, deadline,
                                      first_due, fitted, invitees, newest_first, report_view, retry_at,
                                      transcript_list)

LOCAL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.", min_size=1, max_size=12).filter(
    lambda s: not s.startswith(".") and not s.endswith("."))
DOMAIN = st.sampled_from(["contoso.example", "fabrikam.example", "Contoso.Example"])
UPNS = st.lists(st.builds(lambda local, domain: f"{local}@{domain}", LOCAL, DOMAIN), max_size=12,
                unique_by=str.lower)
END = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)


def meeting(*people: dict) -> dict:
    return {"id": "M1", "participants": {"organizer": {"upn": "alice@contoso.example"}, "attendees": list(people)}}


def record(address: str | None, *, object_id: str | None = None, seconds: int = 60, role: str = "Attendee") -> dict:
    return {"emailAddress": address, "role": role, "totalAttendanceInSeconds": seconds,
            "identity": {"id": object_id, "displayName": "Someone", "tenantId": None},
            "attendanceIntervals": [{"joinDateTime": "2026-03-01T09:00:00Z", "leaveDateTime": "2026-03-01T09:01:00Z",
                                     "durationInSeconds": seconds}]}


def recased(draw, text: str) -> str:
    return "".join(c.upper() if draw(st.booleans()) else c.lower() for c in text)


@st.composite
def invited_and_records(draw):
    """Participants named by UPN (attendees or presenters), the ones of them who came (under any case), and guests
    nobody named."""
    upns = draw(UPNS)
    roles = [draw(st.sampled_from(["attendee", "presenter", "coorganizer"])) for _ in upns]
    came = [upn for upn in upns if draw(st.booleans())]
    guests = draw(st.lists(st.builds(lambda local: f"{local}@guests.example", LOCAL), max_size=4, unique=True))
    records = [record(recased(draw, upn)) for upn in came] + [record(guest) for guest in guests]
    order = draw(st.permutations(range(len(records))))
    return upns, roles, came, [records[i] for i in order]


@given(invited_and_records())
@settings(max_examples=200, deadline=None)
def test_invited_and_absentees_compare_upns_and_addresses_case_insensitively(case):
    upns, roles, came, records = case
    people = invitees(meeting(*({"upn": upn, "role": role} for upn, role in zip(upns, roles))))
    view = report_view({"id": "R1"}, records, people)
    named = {upn.lower() for upn in upns}
    assert [a["emailAddress"] for a in view["attendees"]] == [r["emailAddress"] for r in records], \
        "every record once, in Graph's order"
    assert all(a["invited"] == (a["emailAddress"].lower() in named) for a in view["attendees"])
    assert view["absentees"] == [upn for upn in upns if upn not in came], "as the request named them, in its order"
    assert len(view["absentees"]) + sum(a["invited"] for a in view["attendees"]) == len(upns)


@given(invited_and_records(), st.data())
@settings(max_examples=100, deadline=None)
def test_the_case_of_a_records_address_never_changes_the_answer(case, data):
    upns, roles, _, records = case
    people = invitees(meeting(*({"upn": upn, "role": role} for upn, role in zip(upns, roles))))
    recased_records = [{**r, "emailAddress": recased(data.draw, r["emailAddress"])} for r in records]
    before, after = report_view({}, records, people), report_view({}, recased_records, people)
    assert [a["invited"] for a in before["attendees"]] == [a["invited"] for a in after["attendees"]]
    assert before["absentees"] == after["absentees"]


def test_an_attendee_invited_by_upn_who_joined_under_a_different_case_is_invited_and_not_absent():
    people = invitees(meeting({"upn": "Bob.Builder@Contoso.example", "role": "presenter"},
                              {"upn": "carol@contoso.example"}))
    view = report_view({"id": "R1"}, [record("BOB.BUILDER@contoso.EXAMPLE"), record("guest@fabrikam.example")],
                       people)
    assert [(a["emailAddress"], a["invited"]) for a in view["attendees"]] == [
        ("BOB.BUILDER@contoso.EXAMPLE", True), ("guest@fabrikam.example", False)]
    assert view["absentees"] == ["carol@contoso.example"]


def test_a_participant_named_by_object_id_is_matched_by_the_records_identity():
    object_id = "7E3D9A05-2B8F-4C61-9D24-5A0F6E8C1B37"
    people = invitees(meeting({"identity": {"user": {"id": object_id}}}, {"upn": "dan@contoso.example"}))
    view = report_view({}, [record(None, object_id=object_id.lower())], people)
    assert view["attendees"][0]["invited"] and view["absentees"] == ["dan@contoso.example"]
    assert invitees(meeting({"identity": {"user": {"id": object_id}}}))[0].named == object_id


def test_a_calendar_backed_meetings_event_attendees_are_invited_once_with_the_meetings_own():
    event = {"attendees": [{"emailAddress": {"address": "BOB@contoso.example"}},
                           {"emailAddress": {"address": "erin@fabrikam.example"}}]}
    people = invitees(meeting({"upn": "bob@contoso.example", "identity": {"user": {"id": "B1"}}}), event)
    assert [p.named for p in people] == ["bob@contoso.example", "erin@fabrikam.example"]
    assert people[0].addresses == {"bob@contoso.example"} and people[0].object_ids == {"b1"}


def test_the_organizer_is_not_invited_unless_named_and_a_record_keeps_graphs_members():
    view = report_view({"id": "R1", "meetingStartDateTime": "2026-03-01T09:00:00Z", "totalParticipantCount": 1},
                       [record("alice@contoso.example", role="Organizer", seconds=322)], invitees(meeting()))
    assert view == {"id": "R1", "meetingStartDateTime": "2026-03-01T09:00:00Z", "meetingEndDateTime": None,
                    "totalParticipantCount": 1, "absentees": [], "attendees": [{
                        "emailAddress": "alice@contoso.example", "displayName": "Someone", "role": "Organizer",
                        "totalAttendanceInSeconds": 322, "invited": False, "intervals": [{
                            "joinDateTime": "2026-03-01T09:00:00Z", "leaveDateTime": "2026-03-01T09:01:00Z",
                            "durationInSeconds": 322}]}]}


STARTS = st.lists(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1),
                               timezones=st.just(timezone.utc)), max_size=8)


@given(STARTS, st.randoms())
def test_reports_come_newest_first_whatever_order_graph_lists_them_in(starts, rng):
    reports = [{"id": f"R{i}", "meetingStartDateTime": s.isoformat().replace("+00:00", "Z")}
               for i, s in enumerate(starts)] + [{"id": "unreadable", "meetingStartDateTime": "yesterday"}]
    rng.shuffle(reports)
    ordered = newest_first(reports)
    times = [r["meetingStartDateTime"] for r in ordered[:-1]]
    assert ordered[-1]["id"] == "unreadable"
    assert times == sorted(times, reverse=True) or len(set(starts)) < len(starts)


def test_the_answer_names_the_key_and_no_report_is_an_empty_list():
    assert attendance_view(organizer_id="alice@contoso.example", external_id="b-1", tenant_id="t", reports=[],
                           people=()) == {"organizerId": "alice@contoso.example", "externalId": "b-1",
                                          "tenantId": "t", "reports": []}


def test_transcripts_are_listed_with_the_brokers_own_content_url():
    listed = transcript_list([{"id": "T1", "createdDateTime": "c", "endDateTime": "e", "callId": "x"}, {"id": ""}],
                             lambda transcript_id: f"/api/x/{transcript_id}")
    assert listed == {"transcripts": [{"id": "T1", "createdDateTime": "c", "endDateTime": "e",
                                       "contentUrl": "/api/x/T1"}]}


# ----------------------------------------------------------------------------------------------- when to collect

def test_attendance_is_first_due_at_the_end_plus_the_delay_and_looked_for_until_the_window_closes():
    assert first_due(END) == END + timedelta(minutes=10)
    assert first_due(END, timedelta(0)) == END
    assert deadline(END) == END + timedelta(hours=48)


@given(st.integers(min_value=1, max_value=40), st.integers(min_value=0, max_value=60 * 60 * 60),
       st.one_of(st.none(), st.floats(min_value=0, max_value=20_000)))
def test_a_retry_waits_longer_each_time_within_bounds_and_never_past_the_deadline(attempts, elapsed, retry_after):
    now = END + timedelta(seconds=elapsed)
    later = retry_at(END, now, attempts, at_least=retry_after)
    if now >= deadline(END):
        assert later is None
        return
    assert later is not None and now < later <= deadline(END)
    wait = min(FIRST_RETRY * 2 ** min(attempts - 1, 16), LONGEST_RETRY)
    assert later == min(now + max(wait, timedelta(seconds=retry_after or 0)), deadline(END))


def test_looking_again_and_again_ends_with_one_look_at_the_deadline_then_gives_up():
    now, attempts, looks = first_due(END), 0, []
    while (later := retry_at(END, now, attempts + 1)) is not None:
        attempts, now = attempts + 1, later
        looks.append(now)
    assert looks[-1] == deadline(END) and len(looks) < 20
    assert [b - a for a, b in zip(looks, looks[1:])][:3] == [timedelta(minutes=20), timedelta(minutes=40),
                                                              timedelta(minutes=80)]
    assert retry_at(END, deadline(END), attempts + 1, window=DEFAULT_WINDOW) is None


# ----------------------------------------------------------------------------------------------- in a message

def big_attendance(reports: int, people: int) -> dict:
    return {"organizerId": "o", "externalId": "e", "tenantId": "t", "reports": [
        {"id": f"R{r}", "meetingStartDateTime": f"2026-03-{r + 1:02d}T09:00:00Z", "totalParticipantCount": people,
         "attendees": [{"emailAddress": f"p{p}@contoso.example", "invited": True, "intervals": [
             {"joinDateTime": "2026-03-01T09:00:00Z", "leaveDateTime": "2026-03-01T10:00:00Z"}] * 3}
             for p in range(people)], "absentees": [f"a{p}@contoso.example" for p in range(people)]}
        for r in range(reports)]}


@given(st.integers(min_value=0, max_value=6), st.integers(min_value=0, max_value=300),
       st.integers(min_value=300, max_value=60_000))
@settings(max_examples=60, deadline=None)
def test_attendance_in_a_message_fits_its_budget_and_says_when_it_was_cut(reports, people, budget):
    whole = big_attendance(reports, people)
    shown, cut = fitted(whole, budget)
    size = len(json.dumps(shown, ensure_ascii=False, separators=(",", ":")).encode())
    assert size <= budget or shown["reports"] == []
    assert cut == (shown != whole)
    assert [r["id"] for r in shown["reports"]] == [r["id"] for r in whole["reports"]][:len(shown["reports"])]
