"""Graph createOrGet and GET of the emulator over real HTTPS with real tokens: idempotency by (tenant, organizer,
externalId), the access policy, tokens, the documented time rules, the closed request body, enum members, recording."""
from __future__ import annotations

import concurrent.futures
import uuid

import jsonschema
import jwt
import pytest
import requests

from localdev.emulator import ALICE_ID, ALICE_UPN, BOB_ID, CAROL_ID, DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID
from tests.integration.emulator_support import assert_graph_error, create, new_rsa_certificate, secret_token
from tests.schemas import validate_create_or_get_body, validate_online_meeting


@pytest.fixture
def emulator(fresh_emulator):
    return fresh_emulator


def test_create_or_get_creates_then_returns_the_same_meeting_unchanged(http, emulator, token):
    body = {"externalId": "ext-1", "subject": "Planning", "startDateTime": "2030-02-06T01:49:21.3524945+00:00",
            "endDateTime": "2030-02-06T02:19:21.3524945+00:00"}
    validate_create_or_get_body(body, "v1.0")
    first = create(http, emulator, token, ALICE_ID, body, headers={"client-request-id": "my-correlation"})
    assert first.status_code == 201, first.text
    assert first.headers["client-request-id"] == "my-correlation" and first.headers["request-id"]
    meeting = first.json()
    validate_online_meeting(meeting, "v1.0")
    assert meeting["subject"] == "Planning" and meeting["externalId"] == "ext-1"
    assert meeting["startDateTime"] == "2030-02-06T01:49:21.3524945Z"
    assert meeting["endDateTime"] == "2030-02-06T02:19:21.3524945Z"
    assert meeting["creationDateTime"].endswith("Z") and len(meeting["creationDateTime"]) == 28
    assert meeting["joinWebUrl"].startswith("https://teams.microsoft.com/l/meetup-join/19%3ameeting_")
    assert "%40thread.v2/0?context=" in meeting["joinWebUrl"]
    assert meeting["joinMeetingIdSettings"]["joinMeetingId"].isdigit()
    assert meeting["joinMeetingIdSettings"]["passcode"] is None
    assert meeting["joinMeetingIdSettings"]["isPasscodeRequired"] is False
    assert meeting["chatInfo"]["threadId"].startswith("19:meeting_") and meeting["chatInfo"]["messageId"] == "0"
    assert meeting["joinInformation"]["contentType"] == "html"
    assert meeting["joinInformation"]["content"].startswith("data:text/html,")
    assert meeting["audioConferencing"] is None and "autoAdmittedUsers" in meeting
    assert meeting["@odata.context"].endswith("/onlineMeetings/$entity")
    organizer = meeting["participants"]["organizer"]
    assert organizer["role"] == "presenter" and organizer["upn"] == ALICE_UPN
    assert organizer["identity"]["user"]["id"] == ALICE_ID
    assert organizer["identity"]["user"]["tenantId"] == DEFAULT_TENANT_ID

    changed = {**body, "subject": "Other subject", "startDateTime": "2030-02-06T00:00:00Z"}
    second = create(http, emulator, token, ALICE_ID, changed)
    assert second.status_code == 200
    again = second.json()
    validate_online_meeting(again, "v1.0")
    assert again["id"] == meeting["id"] and again["subject"] == "Planning"
    assert again["startDateTime"] == meeting["startDateTime"] and again["joinWebUrl"] == meeting["joinWebUrl"]
    assert len(emulator.state.meetings) == 1
    assert emulator.state.counters["create_or_get"] == 2


def test_same_external_id_under_two_organizers_gives_two_meetings(http, emulator, token):
    alice = create(http, emulator, token, ALICE_ID, {"externalId": "shared"})
    bob = create(http, emulator, token, BOB_ID, {"externalId": "shared"})
    assert (alice.status_code, bob.status_code) == (201, 201)
    assert alice.json()["id"] != bob.json()["id"]
    by_upn = create(http, emulator, token, ALICE_UPN.upper(), {"externalId": "shared"})
    assert by_upn.status_code == 200 and by_upn.json()["id"] == alice.json()["id"]
    assert {m["participants"]["organizer"]["identity"]["user"]["id"] for m in emulator.state.meetings} == {
        ALICE_ID, BOB_ID}


def test_concurrent_create_or_get_creates_exactly_once(emulator, token):
    def call(_):
        with requests.Session() as session:
            response = create(session, emulator, token, ALICE_ID, {"externalId": "race"})
            return response.status_code, response.json()["id"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(call, range(8)))
    assert sorted(status for status, _ in results) == [200] * 7 + [201]
    assert len({meeting_id for _, meeting_id in results}) == 1


def test_user_without_access_policy_gets_403_general(http, emulator, token):
    response = create(http, emulator, token, CAROL_ID, {"externalId": "x"})
    error = assert_graph_error(response, 403, "General")
    assert error["message"] == "No application access policy found for this app."
    emulator.state.directory.grant_policy(DEFAULT_TENANT_ID, DEFAULT_CLIENT_ID, "*")  # global grant
    assert create(http, emulator, token, CAROL_ID, {"externalId": "x"}).status_code == 201
    emulator.state.directory.revoke_policy(DEFAULT_TENANT_ID, DEFAULT_CLIENT_ID, "*")
    assert create(http, emulator, token, CAROL_ID, {"externalId": "x"}).status_code == 403


def test_unknown_user_is_404(http, emulator, token):
    assert_graph_error(create(http, emulator, token, str(uuid.uuid4()), {"externalId": "x"}), 404, "NotFound")
    assert_graph_error(create(http, emulator, token, "nobody@contoso.example", {"externalId": "x"}), 404)


def test_token_of_another_tenant_does_not_see_the_user(http, emulator):
    other_tenant, other_app = str(uuid.uuid4()), str(uuid.uuid4())
    emulator.state.directory.register_app(other_tenant, other_app, secret="other-secret")
    emulator.state.directory.grant_policy(other_tenant, other_app, "*")
    other_token = secret_token(http, emulator, client_id=other_app, secret="other-secret", tenant=other_tenant)
    assert_graph_error(create(http, emulator, other_token, ALICE_ID, {"externalId": "x"}), 404)


@pytest.mark.parametrize("case", ["missing", "garbage", "wrong_audience", "expired", "foreign_key", "basic"])
def test_invalid_tokens_are_401(http, emulator, clock, token, case):
    headers = {}
    if case == "missing":
        bearer = None
    elif case == "garbage":
        bearer = "not-a-jwt"
    elif case == "wrong_audience":
        bearer = emulator.mint_access_token(audience="api://AzureADTokenExchange")
    elif case == "expired":
        bearer = token
        clock.advance(3600)
    elif case == "foreign_key":
        key, _ = new_rsa_certificate()
        claims = jwt.decode(token, options={"verify_signature": False})
        bearer = jwt.encode(claims, key, algorithm="RS256")
    else:
        bearer, headers = None, {"Authorization": "Basic dXNlcjpwYXNz"}
    response = create(http, emulator, bearer, ALICE_ID, {"externalId": "x"}, headers=headers)
    assert_graph_error(response, 401, "InvalidAuthenticationToken")
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert not emulator.state.meetings


def test_token_without_the_permission_is_403(http, emulator):
    bare = emulator.mint_access_token(roles=())
    assert_graph_error(create(http, emulator, bare, ALICE_ID, {"externalId": "x"}), 403, "Forbidden")


def test_default_times(http, emulator, clock):
    clock.value = 1_900_000_000.25
    token = secret_token(http, emulator)  # minted on the moved clock
    none = create(http, emulator, token, ALICE_ID, {"externalId": "none"}).json()
    assert none["startDateTime"] == "2030-03-17T17:46:40.2500000Z"
    assert none["endDateTime"] == "2030-03-17T18:46:40.2500000Z"
    assert none["creationDateTime"] == none["startDateTime"]
    start_only = create(http, emulator, token, ALICE_ID,
                        {"externalId": "start", "startDateTime": "2030-02-06T01:49:21.3524945-07:00"}).json()
    assert start_only["startDateTime"] == "2030-02-06T08:49:21.3524945Z"
    assert start_only["endDateTime"] == "2030-02-06T09:49:21.3524945Z"
    long_fraction = create(http, emulator, token, ALICE_ID,
                           {"externalId": "frac", "startDateTime": "2030-02-06T01:49:21.123456789012Z",
                            "endDateTime": "2030-02-06T01:49:21.123456789012Z"})
    assert long_fraction.status_code == 201  # end == start is allowed
    assert long_fraction.json()["endDateTime"] == "2030-02-06T01:49:21.1234567Z"
    for meeting in (none, start_only, long_fraction.json()):
        validate_online_meeting(meeting, "v1.0")
        for name in ("startDateTime", "endDateTime", "creationDateTime"):
            assert meeting[name][-9:-1].lstrip(".").isdigit() and meeting[name].count(".") == 1


@pytest.mark.parametrize("body", [
    {"externalId": "x", "endDateTime": "2030-02-06T02:00:00Z"},
    {"externalId": "x", "startDateTime": None, "endDateTime": "2030-02-06T02:00:00Z"},
    {"externalId": "x", "startDateTime": "2030-02-06T02:00:00Z", "endDateTime": "2030-02-06T01:59:59.9999999Z"},
    {"externalId": "x", "startDateTime": "2030-02-30T02:00:00Z"},
])
def test_invalid_time_combinations_are_400(http, emulator, token, body):
    assert_graph_error(create(http, emulator, token, ALICE_ID, body), 400, "BadRequest")
    assert not emulator.state.meetings


def test_chat_info_is_beta_only(http, emulator, token):
    body = {"externalId": "chat", "chatInfo": {"threadId": "19:7ebda77322dd4505ac4dedb5b67df076@thread.tacv2"}}
    with pytest.raises(jsonschema.ValidationError):
        validate_create_or_get_body(body, "v1.0")
    validate_create_or_get_body(body, "beta")
    assert_graph_error(create(http, emulator, token, ALICE_ID, body), 400, "BadRequest")
    beta = create(http, emulator, token, ALICE_ID, body, version="beta")
    assert beta.status_code == 201, beta.text
    meeting = beta.json()
    validate_online_meeting(meeting, "beta")
    assert meeting["chatInfo"]["threadId"] == body["chatInfo"]["threadId"]
    assert meeting["@odata.context"].startswith(f"{emulator.url}/beta/")
    got = http.get(f"{emulator.url}/beta/users/{ALICE_ID}/onlineMeetings/{meeting['id']}",
                   headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert got.status_code == 200 and got.json()["id"] == meeting["id"]


@pytest.mark.parametrize("body", [
    {},
    {"subject": "no external id"},
    {"externalId": 42},
    {"externalId": "x", "subject": ["list"]},
    {"externalId": "x", "lobbyBypassSettings": {"scope": "everyone"}},  # not a createOrGet parameter
    {"externalId": "x", "startDateTime": "tomorrow"},
    {"externalId": "x", "participants": {"attendees": [{"role": "boss"}]}},
    ["externalId"],
])
def test_request_body_schema_rejections(http, emulator, token, body):
    with pytest.raises(jsonschema.ValidationError):
        validate_create_or_get_body(body, "v1.0")
    error = assert_graph_error(create(http, emulator, token, ALICE_ID, body), 400, "BadRequest")
    assert error["message"]


@pytest.mark.parametrize("raw", [b"", b"{not json", b"\xff\xfe"])
def test_malformed_request_bodies_are_400(http, emulator, token, raw):
    response = http.post(f"{emulator.url}/v1.0/users/{ALICE_ID}/onlineMeetings/createOrGet", data=raw,
                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}, timeout=5)
    assert_graph_error(response, 400, "BadRequest")


def test_new_roles_need_prefer_include_unknown_enum_members(http, emulator, token):
    attendees = [
        {"identity": {"user": {"id": BOB_ID}}, "upn": "bob@contoso.example", "role": "coorganizer"},
        {"identity": {"user": {"id": CAROL_ID}}, "upn": "carol@contoso.example", "role": "producer"},
        {"identity": {"user": {"id": str(uuid.uuid4())}}, "upn": "dan@contoso.example"},
    ]
    body = {"externalId": "roles", "participants": {"attendees": attendees}}
    plain = create(http, emulator, token, ALICE_ID, body).json()
    assert [a["role"] for a in plain["participants"]["attendees"]] == [
        "unknownFutureValue", "unknownFutureValue", "attendee"]
    preferred = create(http, emulator, token, ALICE_ID, body,
                       headers={"Prefer": "include-unknown-enum-members"})
    assert preferred.status_code == 200
    assert [a["role"] for a in preferred.json()["participants"]["attendees"]] == [
        "coorganizer", "producer", "attendee"]
    assert preferred.json()["participants"]["attendees"][0]["upn"] == "bob@contoso.example"
    validate_online_meeting(plain, "v1.0")
    validate_online_meeting(preferred.json(), "v1.0")


def test_get_meeting(http, emulator, token):
    created = create(http, emulator, token, ALICE_ID, {"externalId": "get-me", "subject": "S"}).json()
    url = f"{emulator.url}/v1.0/users/{ALICE_ID}/onlineMeetings/{created['id']}"
    got = http.get(url, headers={"Authorization": f"Bearer {token}", "client-request-id": "c-1"}, timeout=5)
    assert got.status_code == 200 and got.headers["client-request-id"] == "c-1"
    assert {k: v for k, v in got.json().items()} == created
    validate_online_meeting(got.json(), "v1.0")
    other = http.get(f"{emulator.url}/v1.0/users/{BOB_ID}/onlineMeetings/{created['id']}",
                     headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert_graph_error(other, 404, "NotFound")
    assert_graph_error(http.get(url, timeout=5), 401)
    assert_graph_error(http.put(url, json={}, headers={"Authorization": f"Bearer {token}"}, timeout=5), 405)
    assert_graph_error(http.get(f"{emulator.url}/v1.0/me/events", timeout=5), 400, "BadRequest")
    assert emulator.state.counters["get_meeting"] == 3


def test_requests_are_recorded_without_token_values(http, emulator, token):
    create(http, emulator, token, ALICE_ID, {"externalId": "rec"}, headers={"client-request-id": "rec-1"})
    [entry] = emulator.state.requests
    assert entry["method"] == "POST" and entry["endpoint"] == "create_or_get" and entry["version"] == "v1.0"
    assert entry["body"] == {"externalId": "rec"} and entry["status"] == 201
    assert entry["headers"]["client-request-id"] == "rec-1"
    assert entry["headers"]["authorization"] == "Bearer <redacted>"
    assert token not in repr(emulator.state.requests)
    assert entry["app_id"] == DEFAULT_CLIENT_ID
