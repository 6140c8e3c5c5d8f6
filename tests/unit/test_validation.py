"""The meeting request's validation rules, Graph's createOrGet defaults, the fingerprint and the result message."""
from __future__ import annotations

import json
import unicodedata
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import assume, example, given, settings, strategies as st

from shared.domain.messages import meeting_summary, result_message
from shared.domain.validation import validate_request
from shared.domain.clock import format_datetime, parse_datetime
from shared.domain.errors import FieldError, ValidationFailed

ORGANIZER_GUID = "1f35f2e6-9cab-44ad-8d5a-b74c14720000"
TENANT_GUID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
NOW = datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)


def body(**members):
    """A minimal valid request with the given members replaced (None removes a member)."""
    payload = {"organizerId": "user@contoso.com", "externalId": "order-42"}
    payload.update(members)
    return {name: value for name, value in payload.items() if value is not None}


def errors_of(payload, **options) -> dict[str, list[str]]:
    """Validate and return {field: [messages]}; fails the test when the payload is accepted."""
    with pytest.raises(ValidationFailed) as caught:
        validate_request(payload, **options)
    assert caught.value.errors, "ValidationFailed must carry field errors"
    fields: dict[str, list[str]] = {}
    for error in caught.value.errors:
        assert isinstance(error, FieldError)
        assert error.message
        fields.setdefault(error.field, []).append(error.message)
    return fields


def attendee(**overrides):
    info = {"identity": {"user": {"id": ORGANIZER_GUID, "displayName": "Test One"}}, "upn": "test1@contoso.com",
            "role": "presenter"}
    info.update(overrides)
    return {name: value for name, value in info.items() if value is not None}


# --- organizerId -------------------------------------------------------------------------------------------------

def test_a_request_without_organizer_id_is_rejected_naming_organizer_id():
    assert "organizerId" in errors_of(body(organizerId=None))


def test_a_null_organizer_id_is_rejected_as_missing():
    assert "organizerId" in errors_of({"organizerId": None, "externalId": "x"})


@pytest.mark.parametrize("organizer", [ORGANIZER_GUID, ORGANIZER_GUID.upper(), "user@contoso.com",
                                       "First.Last@sub.contoso.co.uk"])
def test_an_object_id_or_a_upn_is_accepted_as_organizer(organizer):
    assert validate_request(body(organizerId=organizer)).organizer_id == organizer


@pytest.mark.parametrize("organizer", ["", "user", "user@", "@contoso.com", "user@contoso", "a@b@contoso.com",
                                       "user name@contoso.com", "1f35f2e6-9cab-44ad-8d5a", 42, ["user@contoso.com"]])
def test_an_organizer_id_that_is_neither_guid_nor_upn_is_rejected(organizer):
    assert list(errors_of(body(organizerId=organizer))) == ["organizerId"]


def test_surrounding_spaces_in_organizer_id_are_trimmed():
    assert validate_request(body(organizerId="  user@contoso.com ")).organizer_id == "user@contoso.com"


@pytest.mark.parametrize("organizer", ["a\x00b@contoso.com", "a\x7fb@contoso.com"])
def test_an_organizer_id_with_a_control_character_is_rejected(organizer):
    assert "organizerId" in errors_of(body(organizerId=organizer))


# --- externalId --------------------------------------------------------------------------------------------------

def test_a_request_without_external_id_is_rejected_naming_external_id():
    assert list(errors_of(body(externalId=None))) == ["externalId"]


def test_an_empty_external_id_is_rejected():
    assert list(errors_of(body(externalId=""))) == ["externalId"]


@pytest.mark.parametrize("value", [42, ["x"], {"id": "x"}, True])
def test_an_external_id_that_is_not_a_string_is_rejected(value):
    assert list(errors_of(body(externalId=value))) == ["externalId"]


def test_an_external_id_of_exactly_1000_characters_is_accepted():
    assert validate_request(body(externalId="x" * 1000)).external_id == "x" * 1000


def test_an_external_id_of_1001_characters_is_rejected():
    assert list(errors_of(body(externalId="x" * 1001))) == ["externalId"]


@pytest.mark.parametrize("char", ["\x00", "\n", "\t", "\r", "\x1f", "\x7f", "\x85", "\x9f"])
def test_an_external_id_with_a_control_character_is_rejected(char):
    assert list(errors_of(body(externalId=f"order{char}42"))) == ["externalId"]


@pytest.mark.parametrize("value", ["a/b\\c#d?e", "ünïcødé", "会議-2026", "😀" * 500, "\u200b", "\u2028", " ",
                                   "%2F%25", "'\"<>&"])
def test_an_external_id_with_any_other_unicode_is_accepted_unchanged(value):
    assert validate_request(body(externalId=value)).external_id == value


# --- unknown members and correlationId ---------------------------------------------------------------------------

def test_each_unknown_top_level_member_is_named_in_its_own_error():
    fields = errors_of(body(colour="red", passcode="1234"))
    assert set(fields) == {"colour", "passcode"}


def test_correlation_id_is_rejected_on_the_http_path():
    assert list(errors_of(body(correlationId="c-1"))) == ["correlationId"]


def test_correlation_id_is_accepted_on_the_queue_path():
    assert validate_request(body(correlationId="c-1"), queue=True).correlation_id == "c-1"


@pytest.mark.parametrize("value", ["", "a\nb", 7])
def test_an_empty_or_non_string_correlation_id_is_rejected_on_the_queue_path(value):
    assert list(errors_of(body(correlationId=value), queue=True)) == ["correlationId"]


def test_a_body_that_is_not_a_json_object_is_rejected():
    assert list(errors_of(["organizerId", "externalId"])) == ["(body)"]


# --- tenantId and subject ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("tenant", [TENANT_GUID, "contoso.com", "Contoso.onmicrosoft.com"])
def test_a_tenant_guid_or_domain_is_accepted_and_lowercased(tenant):
    assert validate_request(body(tenantId=tenant)).tenant_id == tenant.lower()


@pytest.mark.parametrize("tenant", ["contoso", "not a tenant", "72f988bf-86f1-41af-91ab", "contoso..com", 5])
def test_a_tenant_that_is_neither_guid_nor_domain_is_rejected(tenant):
    assert list(errors_of(body(tenantId=tenant))) == ["tenantId"]


@pytest.mark.parametrize("subject", [5, ["Weekly"], {"text": "Weekly"}, True])
def test_a_subject_that_is_not_a_string_is_rejected(subject):
    assert list(errors_of(body(subject=subject))) == ["subject"]


def test_a_string_subject_is_kept():
    assert validate_request(body(subject="Weekly sync ✓")).subject == "Weekly sync ✓"


# --- date-times --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("2026-05-01T09:00:00Z", datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)),
    ("2026-05-01T09:00:00.5Z", datetime(2026, 5, 1, 9, 0, 0, 500000, tzinfo=timezone.utc)),
    ("2026-05-01T09:00:00.123Z", datetime(2026, 5, 1, 9, 0, 0, 123000, tzinfo=timezone.utc)),
    ("2020-02-06T01:49:21.3524945+00:00", datetime(2020, 2, 6, 1, 49, 21, 352494, tzinfo=timezone.utc)),
    ("2026-05-01T09:00:00.123456789Z", datetime(2026, 5, 1, 9, 0, 0, 123456, tzinfo=timezone.utc)),
    ("2026-05-01T11:00:00+02:00", datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)),
    ("2026-05-01T04:30:00-04:30", datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)),
])
def test_iso_8601_with_an_offset_and_any_number_of_fractional_digits_is_parsed_to_utc(text, expected):
    parsed = parse_datetime(text)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)
    assert validate_request(body(startDateTime=text)).start == expected


@pytest.mark.parametrize("text", [
    "2026-05-01T09:00:00",          # no offset
    "2026-05-01T09:00:00.1234567",  # no offset, Graph's digits
    "2026-05-01",                   # a date only
    "2026-02-30T09:00:00Z",         # no such day
    "2026-13-01T09:00:00Z",         # no such month
    "2026-05-01T24:00:00Z",         # no such hour
    "2026-05-01T09:00:00+24:00",    # offset out of range
    "2026-05-01 09:00:00Z",         # no T
    "2026-05-01T09:00:00.Z",        # a dot without digits
    "tomorrow",
    "",
])
def test_a_date_time_without_offset_or_with_an_impossible_date_is_rejected(text):
    with pytest.raises(ValueError):
        parse_datetime(text)
    assert list(errors_of(body(startDateTime=text))) == ["startDateTime"]


@pytest.mark.parametrize("value", [1714554000, 1714554000.5, ["2026-05-01T09:00:00Z"], {"dateTime": "x"}, True])
def test_a_date_time_of_the_wrong_type_is_rejected(value):
    assert list(errors_of(body(startDateTime=value))) == ["startDateTime"]


def test_an_end_without_a_start_is_rejected_on_end_date_time():
    assert list(errors_of(body(endDateTime="2026-05-01T10:00:00Z"))) == ["endDateTime"]


def test_an_end_earlier_than_the_start_is_rejected_on_end_date_time():
    fields = errors_of(body(startDateTime="2026-05-01T10:00:00Z", endDateTime="2026-05-01T09:59:59.9999999Z"))
    assert list(fields) == ["endDateTime"]


def test_an_end_equal_to_the_start_is_accepted_even_written_with_another_offset():
    request = validate_request(body(startDateTime="2026-05-01T10:00:00Z", endDateTime="2026-05-01T12:00:00+02:00"))
    assert request.start == request.end


def test_an_end_that_is_earlier_only_once_offsets_are_applied_is_rejected():
    # 10:00+02:00 is 08:00Z: earlier than 09:00Z although its wall clock is later.
    fields = errors_of(body(startDateTime="2026-05-01T09:00:00Z", endDateTime="2026-05-01T10:00:00+02:00"))
    assert list(fields) == ["endDateTime"]


def test_every_problem_in_a_request_is_reported_at_once():
    payload = {
        "externalId": "bad\x00id",
        "tenantId": "not a tenant",
        "subject": 7,
        "startDateTime": "2026-02-30T09:00:00Z",
        "endDateTime": "2026-05-01T10:00:00",
        "participants": {"attendees": [{"role": "boss"}]},
        "chatInfo": {"threadId": "19:x@thread.v2"},
        "surprise": 1,
    }
    fields = errors_of(payload)
    assert {"organizerId", "externalId", "tenantId", "subject", "startDateTime", "endDateTime",
            "participants.attendees[0].role", "participants.attendees[0]", "chatInfo", "surprise"} <= set(fields)


@pytest.mark.parametrize("members, field", [
    ({"startDateTime": "2026-05-01T09:00:00Z\n"}, "startDateTime"),
    ({"tenantId": "contoso.com\n"}, "tenantId"),
    ({"tenantId": TENANT_GUID + "\n"}, "tenantId"),
    ({"participants": {"attendees": [{"upn": "a@contoso.com\n"}]}}, "participants.attendees[0].upn"),
])
def test_a_value_with_a_trailing_newline_is_rejected(members, field):
    assert field in errors_of(body(**members))


@pytest.mark.parametrize("text", ["\u0662\u0660\u0662\u0666-05-01T09:00:00Z", "２０２６-05-01T09:00:00Z"])
def test_a_date_time_with_non_ascii_digits_is_rejected(text):
    assert list(errors_of(body(startDateTime=text))) == ["startDateTime"]


# --- participants ------------------------------------------------------------------------------------------------

def test_participants_shaped_as_graph_meeting_participants_are_accepted_and_kept():
    participants = {
        "organizer": {"identity": {"user": {"id": ORGANIZER_GUID}}},
        "attendees": [attendee(role=role) for role in ("attendee", "presenter", "producer", "coorganizer")]
                     + [{"upn": "only-upn@contoso.com"}, {"identity": {"user": {"id": ORGANIZER_GUID}}}],
    }
    assert validate_request(body(participants=participants)).participants == participants


@pytest.mark.parametrize("role", ["boss", "Presenter", "unknownFutureValue", "", 3])
def test_a_role_outside_graphs_enum_is_rejected_naming_its_path(role):
    fields = errors_of(body(participants={"attendees": [attendee(role=role)]}))
    assert list(fields) == ["participants.attendees[0].role"]


def test_the_index_of_the_faulty_attendee_is_in_the_field_name():
    fields = errors_of(body(participants={"attendees": [attendee(), attendee(role="boss")]}))
    assert list(fields) == ["participants.attendees[1].role"]


@pytest.mark.parametrize("participants, field", [
    ({"attendees": [attendee(email="x@contoso.com")]}, "participants.attendees[0].email"),
    ({"attendees": [attendee(identity={"user": {"id": ORGANIZER_GUID, "mail": "x"}})]},
     "participants.attendees[0].identity.user.mail"),
    ({"attendees": [attendee(identity={"person": {"id": ORGANIZER_GUID}})]}, "participants.attendees[0].identity.person"),
    ({"attendees": [], "producers": []}, "participants.producers"),
])
def test_an_unknown_member_inside_participants_is_rejected_by_its_path(participants, field):
    assert list(errors_of(body(participants=participants))) == [field]


def test_an_attendee_with_neither_upn_nor_identity_is_rejected():
    assert list(errors_of(body(participants={"attendees": [{"role": "attendee"}]}))) == ["participants.attendees[0]"]


@pytest.mark.parametrize("identity", [{}, {"user": {}}])
def test_an_attendee_whose_identity_names_nobody_is_rejected(identity):
    assert errors_of(body(participants={"attendees": [{"identity": identity, "role": "attendee"}]}))


@pytest.mark.parametrize("participants, field", [
    ([], "participants"),
    ({"attendees": {"upn": "a@contoso.com"}}, "participants.attendees"),
    ({"attendees": ["a@contoso.com"]}, "participants.attendees[0]"),
    ({"attendees": [{"upn": "not-a-upn"}]}, "participants.attendees[0].upn"),
])
def test_participants_of_the_wrong_shape_are_rejected_by_path(participants, field):
    assert list(errors_of(body(participants=participants))) == [field]


# --- chatInfo ----------------------------------------------------------------------------------------------------

def test_chat_info_is_rejected_on_v1():
    chat = {"threadId": "19:7ebda77322dd4505ac4dedb5b67df076@thread.tacv2"}
    assert list(errors_of(body(chatInfo=chat))) == ["chatInfo"]
    assert list(errors_of(body(chatInfo=chat), api_version="v1.0")) == ["chatInfo"]


def test_chat_info_is_accepted_on_beta_and_sent_to_graph():
    chat = {"threadId": "19:7ebda77322dd4505ac4dedb5b67df076@thread.tacv2"}
    request = validate_request(body(chatInfo=chat), api_version="beta")
    assert request.graph_body(NOW)["chatInfo"] == chat


def test_an_unknown_member_of_chat_info_is_rejected_on_beta():
    assert list(errors_of(body(chatInfo={"topic": "x"}), api_version="beta")) == ["chatInfo.topic"]


# --- Graph's defaults --------------------------------------------------------------------------------------------

def test_without_start_and_end_the_meeting_starts_now_and_lasts_an_hour():
    graph = validate_request(body()).graph_body(NOW)
    assert graph["startDateTime"] == "2026-05-01T09:00:00.0000000Z"
    assert graph["endDateTime"] == "2026-05-01T10:00:00.0000000Z"


def test_with_a_start_only_the_meeting_lasts_an_hour_from_that_start():
    graph = validate_request(body(startDateTime="2026-06-01T11:30:00.5+02:00")).graph_body(NOW)
    assert graph["startDateTime"] == "2026-06-01T09:30:00.5000000Z"
    assert graph["endDateTime"] == "2026-06-01T10:30:00.5000000Z"


def test_an_explicit_start_and_end_are_kept_as_utc():
    request = validate_request(body(startDateTime="2020-02-06T01:49:21.3524945+00:00",
                                    endDateTime="2020-02-05T21:19:21.3524945-05:00"))
    graph = request.graph_body(NOW)
    assert graph["startDateTime"] == "2020-02-06T01:49:21.3524940Z"
    assert graph["endDateTime"] == "2020-02-06T02:19:21.3524940Z"


def test_the_graph_body_carries_only_createorget_members():
    request = validate_request(body(tenantId=TENANT_GUID, subject="S", correlationId="c",
                                    participants={"attendees": [attendee()]}), queue=True)
    assert set(request.graph_body(NOW)) == {"externalId", "subject", "startDateTime", "endDateTime", "participants"}


def test_format_datetime_writes_utc_with_seven_fractional_digits_and_z():
    value = datetime(2026, 5, 1, 11, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert format_datetime(value) == "2026-05-01T09:00:00.1234560Z"


def test_format_datetime_always_writes_a_four_digit_year():
    assert format_datetime(datetime(999, 1, 1, tzinfo=timezone.utc)) == "0999-01-01T00:00:00.0000000Z"


# --- fingerprint -------------------------------------------------------------------------------------------------

def fingerprint(**members) -> str:
    return validate_request(body(**members), queue=True).fingerprint


def test_the_fingerprint_is_the_same_for_one_instant_written_with_different_offsets():
    assert fingerprint(startDateTime="2026-05-01T09:00:00Z", endDateTime="2026-05-01T10:00:00.0000000Z") == \
        fingerprint(startDateTime="2026-05-01T11:00:00+02:00", endDateTime="2026-05-01T05:00:00.000-05:00")


def test_the_fingerprint_ignores_the_order_of_json_members_in_participants():
    first = {"attendees": [{"upn": "a@contoso.com", "role": "presenter",
                            "identity": {"user": {"id": ORGANIZER_GUID, "displayName": "A"}}}]}
    second = {"attendees": [{"identity": {"user": {"displayName": "A", "id": ORGANIZER_GUID}},
                             "role": "presenter", "upn": "a@contoso.com"}]}
    assert fingerprint(participants=first) == fingerprint(participants=second)


def test_the_fingerprint_ignores_organizer_external_id_and_correlation_id():
    assert fingerprint(subject="S") == fingerprint(subject="S", organizerId=ORGANIZER_GUID, externalId="other",
                                                   correlationId="c-9")


@pytest.mark.parametrize("changes", [
    {"subject": "T"},
    {"startDateTime": "2026-05-01T09:00:01Z"},
    {"endDateTime": "2026-05-01T11:00:00Z"},
    {"participants": {"attendees": [{"upn": "b@contoso.com"}]}},
    {"participants": {"attendees": [{"upn": "a@contoso.com", "role": "attendee"}]}},
])
def test_the_fingerprint_changes_when_subject_time_or_participants_change(changes):
    base = {"subject": "S", "startDateTime": "2026-05-01T09:00:00Z", "endDateTime": "2026-05-01T10:00:00Z",
            "participants": {"attendees": [{"upn": "a@contoso.com", "role": "presenter"}]}}
    assert fingerprint(**base) != fingerprint(**{**base, **changes})


@pytest.mark.parametrize("members", [{"subject": "a\ud800b"},
                                     {"participants": {"attendees": [attendee(identity={"user": {"displayName": "\udc00"}})]}}])
def test_a_lone_surrogate_anywhere_is_rejected(members):
    with pytest.raises(ValidationFailed) as failure:
        validate_request(body(**members))
    assert "lone surrogate" in failure.value.detail


def test_a_lone_surrogate_in_external_id_is_rejected():
    assert list(errors_of(body(externalId="a\ud800b"))) == ["externalId"]


# --- result message ----------------------------------------------------------------------------------------------

PASSCODE = "Zq7x9PASS"
MEETING = {
    "id": "MSpkYzE3Njc0Yy04MWQ5LTRhZGItYmZi",
    "joinWebUrl": "https://teams.microsoft.com/l/meetup-join/19%3ameeting",
    "subject": "Weekly",
    "startDateTime": "2026-05-01T09:00:00.0000000Z",
    "endDateTime": "2026-05-01T10:00:00.0000000Z",
    "externalId": "order-42",
    "participants": {"organizer": {"identity": {"user": {"id": ORGANIZER_GUID}}, "upn": "user@contoso.com"}},
    "joinMeetingIdSettings": {"joinMeetingId": "1234567890", "passcode": PASSCODE, "isPasscodeRequired": True},
    "joinInformation": {"content": f"data:text/html,Meeting ID: 123 456 789 0 Passcode: {PASSCODE}"},
    "audioConferencing": {"conferenceId": "1", "tollNumber": "+1"},
}


def test_the_meeting_summary_never_contains_the_passcode():
    summary = meeting_summary(MEETING)
    assert PASSCODE not in json.dumps(summary)
    assert summary["joinMeetingId"] == "1234567890"
    assert summary["isPasscodeRequired"] is True
    assert summary["id"] == MEETING["id"]
    assert summary["organizerObjectId"] == ORGANIZER_GUID


def test_the_result_message_has_exactly_the_documented_members_and_no_passcode():
    message = result_message(correlation_id="c-1", tenant_id=TENANT_GUID, organizer_id="user@contoso.com",
                             external_id="order-42", status="created", meeting=MEETING, error=None, source="queue",
                             completed_at=datetime(2026, 5, 1, 11, 0, tzinfo=timezone(timedelta(hours=2))))
    assert set(message) == {"correlationId", "tenantId", "organizerId", "externalId", "status", "meeting", "error",
                            "source", "completedAt"}
    assert message["completedAt"] == "2026-05-01T09:00:00.0000000Z"
    assert message["status"] == "created" and message["error"] is None
    assert PASSCODE not in json.dumps(message)


def test_a_failed_result_message_carries_the_error_and_no_meeting():
    error = {"code": "access_policy_missing", "message": "grant it", "retryable": False}
    message = result_message(correlation_id="c-2", tenant_id=None, organizer_id=None, external_id=None,
                             status="failed", meeting=None, error=error, source="http", completed_at=NOW)
    assert message["meeting"] is None
    assert message["error"] == error
    assert set(message) == {"correlationId", "tenantId", "organizerId", "externalId", "status", "meeting", "error",
                            "source", "completedAt"}


# --- properties --------------------------------------------------------------------------------------------------

# ISO 8601 offsets are whole minutes; Python's timezone allows anything strictly inside +-24 h.
offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
aware = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 12, 31, 23, 59, 59, 999999),
                     timezones=offsets)


def seven_digits(value: datetime, extra_digit: int, zulu: bool) -> str:
    if zulu:
        value = value.astimezone(timezone.utc)
    offset = "Z" if zulu else value.isoformat()[-6:]
    return value.strftime("%Y-%m-%dT%H:%M:%S") + f".{value.microsecond:06d}{extra_digit}" + offset


@settings(max_examples=400)
@given(aware)
@example(datetime(1900, 1, 1, tzinfo=timezone(timedelta(hours=23, minutes=59))))
@example(datetime(2100, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(-timedelta(hours=23, minutes=59))))
def test_parse_datetime_round_trips_isoformat_to_the_same_instant(value):
    parsed = parse_datetime(value.isoformat())
    assert parsed == value
    assert parsed.utcoffset() == timedelta(0)


@settings(max_examples=400)
@given(aware, st.integers(0, 9), st.booleans())
def test_parse_datetime_round_trips_seven_fractional_digits_to_the_same_instant(value, extra_digit, zulu):
    parsed = parse_datetime(seven_digits(value, extra_digit, zulu))
    assert parsed == value
    assert parse_datetime(format_datetime(parsed)) == value


deltas = st.one_of(
    st.timedeltas(min_value=timedelta(days=-400), max_value=timedelta(days=400)),
    st.integers(-3, 3).map(lambda us: timedelta(microseconds=us)),
)


@settings(max_examples=400)
@given(aware, deltas, offsets)
@example(datetime(2026, 5, 1, 9, tzinfo=timezone.utc), timedelta(0), timezone.utc)
@example(datetime(2026, 5, 1, 9, tzinfo=timezone.utc), timedelta(microseconds=-1), timezone(timedelta(hours=5)))
def test_validation_accepts_an_end_exactly_when_it_is_not_before_the_start(start, delta, end_zone):
    end = (start + delta).astimezone(end_zone)
    assume(1900 <= end.year <= 2100)
    payload = body(startDateTime=start.isoformat(), endDateTime=end.isoformat())
    if end >= start:
        request = validate_request(payload)
        assert request.end - request.start == delta
    else:
        assert list(errors_of(payload)) == ["endDateTime"]


control_characters = st.characters(categories=("Cc",))
ordinary_text = st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=499)


@settings(max_examples=300)
@given(ordinary_text, control_characters, ordinary_text)
def test_any_external_id_containing_a_control_character_is_rejected(prefix, control, suffix):
    assert unicodedata.category(control) == "Cc"
    assert list(errors_of(body(externalId=prefix + control + suffix))) == ["externalId"]


@settings(max_examples=300)
@given(st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=1000))
@example("x" * 1000)
@example("😀" * 1000)
def test_any_non_empty_external_id_of_at_most_1000_characters_without_control_characters_is_accepted(value):
    assert validate_request(body(externalId=value)).external_id == value
