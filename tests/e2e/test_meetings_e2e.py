"""The product end to end: real HTTP to the local host, real queues on Azurite, real MSAL against the emulator."""
from __future__ import annotations

import json
from urllib.parse import quote

from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from localdev.emulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_MI_CLIENT_ID, DEFAULT_TENANT_ID
from localdev.emulator import ALICE_ID, BOB_ID, CAROL_ID
from shared import bootstrap
from tests.schemas import validate_create_or_get_body, validate_online_meeting

ALICE, BOB, CAROL = "alice@contoso.example", "bob@contoso.example", "carol@contoso.example"


def test_create_then_repeat_returns_the_same_meeting_without_a_second_graph_call(world):
    body = {"organizerId": ALICE, "externalId": "booking-1", "subject": "Intro",
            "startDateTime": "2026-12-01T09:00:00.1234567+01:00"}
    first = world.post(body)
    assert first.status_code == 201
    assert first.headers["Location"] == "/api/meetings/alice@contoso.example/booking-1"
    meeting = first.json()
    validate_online_meeting(meeting, "v1.0")
    assert meeting["startDateTime"].startswith("2026-12-01T08:00:00") and meeting["externalId"] == "booking-1"
    calls = world.emulator.state.counters["create_or_get"]

    second = world.post(body)
    assert second.status_code == 200 and second.json()["id"] == meeting["id"]
    assert world.emulator.state.counters["create_or_get"] == calls, "answered from the table"
    assert world.get(first.headers["Location"]).json()["id"] == meeting["id"]
    assert [r["status"] for r in world.results()] == ["created", "existing"]


def test_the_body_sent_to_graph_follows_graphs_schema(world):
    world.post({"organizerId": BOB, "externalId": "schema-1", "subject": "S",
                "participants": {"attendees": [{"upn": "alice@contoso.example", "role": "presenter"}]}})
    sent = [r for r in world.emulator.state.requests if r["path"].endswith("/createOrGet")][-1]
    validate_create_or_get_body(sent["body"], "v1.0")
    assert sent["headers"].get("client-request-id")


def test_two_organizers_with_one_external_id_get_two_meetings(world):
    alice = world.post({"organizerId": ALICE, "externalId": "shared-key"}).json()
    bob = world.post({"organizerId": BOB_ID, "externalId": "shared-key"}).json()
    assert alice["id"] != bob["id"]
    assert alice["participants"]["organizer"]["identity"]["user"]["id"] == ALICE_ID


def test_the_organizer_by_upn_and_by_object_id_is_one_meeting(world):
    by_upn = world.post({"organizerId": ALICE, "externalId": "one-row"}).json()
    calls = world.emulator.state.counters["create_or_get"]
    by_id = world.post({"organizerId": ALICE_ID, "externalId": "one-row"})
    assert by_id.status_code == 200 and by_id.json()["id"] == by_upn["id"]
    assert world.emulator.state.counters["create_or_get"] == calls


def test_async_request_is_accepted_then_pending_then_created(world):
    accepted = world.post({"organizerId": ALICE, "externalId": "course/7#a"}, headers={"Prefer": "respond-async"})
    assert accepted.status_code == 202 and accepted.json()["status"] == "accepted"
    location = accepted.headers["Location"]
    assert location == "/api/meetings?organizerId=alice%40contoso.example&externalId=course%2F7%23a"
    pending = world.get(location)
    assert pending.status_code == 202 and pending.json()["status"] == "pending"

    assert world.host.drain() == 1
    done = world.get(location)
    assert done.status_code == 200 and done.json()["externalId"] == "course/7#a"
    (result,) = world.results()
    assert result["status"] == "created" and result["correlationId"] == accepted.json()["correlationId"]
    assert result["meeting"]["joinWebUrl"] == done.json()["joinWebUrl"]


def test_a_queue_message_produces_exactly_one_result(world):
    world.send({"organizerId": BOB, "externalId": "crm-1", "subject": "Renewal", "correlationId": "crm-1-try-1"})
    assert world.host.drain() == 1
    (result,) = world.results()
    assert result["correlationId"] == "crm-1-try-1" and result["status"] == "created"
    assert result["source"] == "queue" and result["tenantId"] == DEFAULT_TENANT_ID
    assert set(result["meeting"]) >= {"id", "joinWebUrl", "subject", "startDateTime", "endDateTime"}
    found = world.get(f"/api/meetings/{BOB}/crm-1")
    assert found.status_code == 200 and found.json()["id"] == result["meeting"]["id"]


def test_a_malformed_message_produces_a_failed_result_and_is_not_retried(world):
    world.send("{this is not json")
    assert world.host.drain() == 1
    (result,) = world.results()
    assert result["status"] == "failed" and result["error"]["code"] == "malformed_json"
    assert result["error"]["retryable"] is False
    assert world.poison_queue.get_queue_properties().approximate_message_count == 0


def test_an_invalid_message_names_the_field_in_its_failed_result(world):
    world.send({"organizerId": ALICE, "externalId": "x", "endDateTime": "2026-12-01T10:00:00Z",
                "correlationId": "bad-1"})
    world.host.drain()
    (result,) = world.results()
    assert result["error"]["code"] == "validation_failed" and "endDateTime" in result["error"]["message"]
    assert result["correlationId"] == "bad-1"


def test_a_message_that_keeps_failing_ends_with_retries_exhausted_on_its_last_attempt(world):
    world.emulator.state.inject("graph", 503, count=None)
    world.send({"organizerId": ALICE, "externalId": "doomed", "correlationId": "doomed-1"})
    invocations = world.host.drain()
    world.emulator.state.clear_faults()
    assert invocations == 5, "five attempts (maxDequeueCount); the last one tells the outcome itself"
    assert world.poison_queue.get_queue_properties().approximate_message_count == 0
    (result,) = world.results()
    assert result["status"] == "failed" and result["error"]["code"] == "retries_exhausted"
    assert result["correlationId"] == "doomed-1" and "graph_unavailable" in result["error"]["message"]
    assert len(world.sleeps) == 5 * 3, "three in-process retries per attempt, without real sleeping"
    stored = world.get(f"/api/meetings/{ALICE}/doomed")
    # The last error's status (graph_unavailable: 502), never a 500: the failure was handled.
    assert stored.status_code == 502 and stored.json()["code"] == "retries_exhausted"


def test_a_message_that_crashes_every_attempt_is_told_by_the_poison_trigger_under_its_message_id(world):
    def crash():
        raise RuntimeError("not a BrokerError: a bug, an out-of-memory, a timeout")

    bootstrap.use(crash)
    world.send({"organizerId": ALICE, "externalId": "crash"})
    invocations = world.host.drain()
    assert invocations == 6, "five attempts, then the poison trigger"
    (result,) = world.results()
    assert (result["status"], result["error"]["code"], result["externalId"]) == ("failed", "retries_exhausted",
                                                                                  "crash")


def test_a_base64_encoded_message_is_accepted_too(world, azurite):
    encoded = QueueClient.from_connection_string(azurite.connection_string, world.env["MEETING_REQUESTS_QUEUE"],
                                                 message_encode_policy=TextBase64EncodePolicy())
    encoded.send_message(json.dumps({"organizerId": ALICE, "externalId": "b64", "correlationId": "b64-1"}))
    assert world.host.drain() == 1
    (result,) = world.results()
    assert result["status"] == "created" and result["correlationId"] == "b64-1"


def test_any_text_reaches_the_app_and_gets_a_result(world):
    world.send("%%% neither JSON nor base64 %%%")
    assert world.host.drain() == 1
    (result,) = world.results()
    assert result["status"] == "failed" and result["error"]["code"] == "malformed_json"
    assert world.poison_queue.get_queue_properties().approximate_message_count == 0


def test_403_from_graph_is_access_policy_missing_with_the_grant_command(world):
    response = world.post({"organizerId": CAROL, "externalId": "no-policy"})
    assert response.status_code == 403
    problem = response.json()
    assert problem["code"] == "access_policy_missing" and problem["retryable"] is False
    assert DEFAULT_CLIENT_ID in problem["detail"] and CAROL in problem["detail"]
    assert "Grant-CsApplicationAccessPolicy" in problem["detail"] and "30 minutes" in problem["detail"]
    (result,) = world.results()
    assert result["error"]["code"] == "access_policy_missing"
    replay = world.get(f"/api/meetings/{CAROL}/no-policy")
    assert replay.status_code == 403 and replay.json()["code"] == "access_policy_missing"


def test_403_on_the_queue_path_waits_for_the_grant_within_the_grace_window(world):
    world.send({"organizerId": CAROL, "externalId": "grant-pending", "correlationId": "g-1"})
    assert world.host.drain() == 1
    assert world.results() == [], "no final outcome while a grant may still be applying"
    assert world.requests_queue.get_queue_properties().approximate_message_count == 1, "a delayed copy waits"
    assert world.get(f"/api/meetings/{CAROL}/grant-pending").status_code == 202


def test_403_on_the_queue_path_fails_at_once_without_a_grace_window(make_world):
    world = make_world(ACCESS_POLICY_GRACE_MINUTES="0")
    world.send({"organizerId": CAROL_ID, "externalId": "no-grace"})
    world.host.drain()
    (result,) = world.results()
    assert result["status"] == "failed" and result["error"]["code"] == "access_policy_missing"


def test_an_unknown_organizer_is_404_organizer_not_found(world):
    response = world.post({"organizerId": "nobody@contoso.example", "externalId": "x"})
    assert response.status_code == 404 and response.json()["code"] == "organizer_not_found"


def test_an_organizer_outside_the_allowlist_is_refused_on_both_paths(world):
    refused = world.post({"organizerId": "mallory@fabrikam.example", "externalId": "x"})
    assert refused.status_code == 403 and refused.json()["code"] == "organizer_not_allowed"
    world.send({"organizerId": "mallory@fabrikam.example", "externalId": "y"})
    world.host.drain()
    results = world.results()
    assert [r["error"]["code"] for r in results] == ["organizer_not_allowed", "organizer_not_allowed"]
    assert world.emulator.state.requests == [] or all(
        "fabrikam" not in r["path"] for r in world.emulator.state.requests)


def test_persistent_throttling_is_429_with_retry_after(world):
    world.emulator.state.inject("graph", 429, count=None, retry_after="0.5")
    response = world.post({"organizerId": ALICE, "externalId": "busy"})
    world.emulator.state.clear_faults()
    assert response.status_code == 429 and response.json()["code"] == "graph_throttled"
    assert int(response.headers["Retry-After"]) >= 1
    assert world.sleeps == [0.5, 0.5, 0.5], "Retry-After honoured in process, fractions included"


def test_a_transient_429_is_absorbed_in_process(world):
    world.emulator.state.inject("graph", 429, count=1, retry_after="2.128")
    response = world.post({"organizerId": ALICE, "externalId": "absorbed"})
    assert response.status_code == 201 and world.sleeps == [2.128]


def test_many_meetings_need_one_token(world):
    before = world.emulator.state.counters["token"]
    for n in range(25):
        assert world.post({"organizerId": BOB, "externalId": f"bulk-{n}"}).status_code == 201
    assert world.emulator.state.counters["token"] - before <= 1


def test_validation_problems_name_every_field(world):
    response = world.post({"organizerId": ALICE, "externalId": "", "startDateTime": "tomorrow", "colour": "red"})
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"externalId", "startDateTime", "colour"}


def test_health_and_openapi_answer(world):
    assert world.call("GET", "/api/health", "/api/health").json() == {"status": "ok"}
    document = world.call("GET", "/api/openapi.json", "/api/openapi.json").json()
    assert document["openapi"] == "3.1.0"


def test_unknown_meetings_are_404(world):
    response = world.get(f"/api/meetings/{ALICE}/{quote('never-made')}")
    assert response.status_code == 404 and response.json()["code"] == "meeting_not_found"


def test_result_messages_carry_no_secret_and_no_token(world):
    world.post({"organizerId": ALICE, "externalId": "clean"})
    text = json.dumps(world.results())
    assert "Bearer" not in text and "eyJ" not in text and "passcode" not in text


def test_the_secretless_managed_identity_mode_serves_both_paths(make_world, emulator, monkeypatch):
    monkeypatch.setenv("IDENTITY_ENDPOINT", emulator.identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", emulator.identity_header)
    world = make_world(GRAPH_CREDENTIAL="managed_identity_fic", MANAGED_IDENTITY_CLIENT_ID=DEFAULT_MI_CLIENT_ID,
                       GRAPH_CLIENT_SECRET="")
    assert world.post({"organizerId": ALICE, "externalId": "fic-http"}).status_code == 201
    world.send({"organizerId": BOB, "externalId": "fic-queue"})
    world.host.drain()
    assert [r["status"] for r in world.results()] == ["created", "created"]


def test_a_second_allowed_tenant_gets_its_own_meetings_and_records(make_world, emulator):
    tenant, user = "0b7c2d9e-3333-4a2b-9c3d-4e5f60718293", "5a4b3c2d-3333-4e5f-8a9b-0c1d2e3f4a5b"
    emulator.state.directory.add_user(tenant, user, "erin@fabrikam.example", "Erin")
    emulator.state.directory.register_app(tenant, DEFAULT_CLIENT_ID, secret=DEFAULT_CLIENT_SECRET)
    emulator.state.directory.grant_policy(tenant, DEFAULT_CLIENT_ID, user)
    world = make_world(ALLOWED_TENANTS=tenant, ALLOWED_ORGANIZERS=f"@contoso.example,{user}")
    created = world.post({"organizerId": user, "externalId": "shared", "tenantId": tenant})
    assert created.status_code == 201
    assert created.headers["Location"] == f"/api/meetings/{user}/shared?tenantId={tenant}"
    assert world.get(created.headers["Location"]).json()["id"] == created.json()["id"]
    assert world.get(f"/api/meetings/{user}/shared").status_code == 404, "the default tenant has no such row"
    (result,) = world.results()
    assert result["tenantId"] == tenant


def test_a_tenant_outside_allowed_tenants_is_refused_on_both_paths(world):
    stranger = "4d3c2b1a-0000-4000-8000-000000000000"
    refused = world.post({"organizerId": ALICE, "externalId": "t-1", "tenantId": stranger})
    assert refused.status_code == 403 and refused.json()["code"] == "tenant_not_allowed"
    world.send({"organizerId": ALICE, "externalId": "t-2", "tenantId": stranger})
    world.host.drain()
    assert [(r["tenantId"], r["error"]["code"]) for r in world.results()] == [
        (stranger, "tenant_not_allowed"), (stranger, "tenant_not_allowed")]
