"""Overlapping requests through the real stack (the local host, Azurite, the emulator's Graph with injected faults
and delays, real MSAL): a tombstone always wins, If-Match is exclusive, changes of one key go one at a time, the
monthly limit holds however the organizer is named, and a key whose create failed for good is answered at once.

Interleavings are forced, not hoped for: a request that waits for Graph's Retry-After waits through the app's
injected ``sleep``, which runs the other requests there (over HTTP, through the host) instead of sleeping.
"""
from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter
from urllib.parse import quote

import pytest
import requests

from localdev.emulator import ALICE_ID, ALICE_UPN, CAROL_ID
from shared import bootstrap

KEY_PATH = "/api/meetings/{organizerId}/{externalId}"


def interleave(world, interlude) -> list[float]:
    """From now on the app's first wait (a Graph Retry-After, a backoff) runs ``interlude`` instead of sleeping."""
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 1:
            interlude()

    bootstrap.use(lambda: bootstrap.build_container(world.env, sleep=sleep))
    return waits


def path_of(external_id: str, organizer: str = ALICE_ID) -> str:
    return f"/api/meetings/{quote(organizer)}/{quote(external_id)}"


def live_meetings(world, external_id: str) -> list[dict]:
    return [m for m in world.emulator.state.meetings if m.get("externalId") == external_id]


def at_once(count: int, call) -> list[requests.Response]:
    start, answers = threading.Barrier(count), []

    def one(index: int) -> None:
        start.wait()
        answers.append(call(index))

    threads = [threading.Thread(target=one, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


# --- D1 ------------------------------------------------------------------------------------------------------------

def test_a_create_waiting_on_graph_while_its_key_is_created_and_cancelled_stays_cancelled(world):
    body = {"organizerId": ALICE_UPN, "externalId": "d1-http", "subject": "Race"}

    def a_creates_then_deletes() -> None:
        assert world.post(body).status_code == 201
        assert world.call("DELETE", KEY_PATH, path_of("d1-http")).status_code == 204
        assert world.get(path_of("d1-http")).status_code == 410

    before = len(world.emulator.state.calls("create_or_get"))
    world.emulator.state.inject("graph", 503, count=1, retry_after=2)  # B's createOrGet: 503, Retry-After 2
    waits = interleave(world, a_creates_then_deletes)
    late = world.post(body)                                              # B
    assert waits[0] == 2.0
    assert (late.status_code, late.json()["code"], late.json()["retryable"]) == (409, "meeting_cancelled", False)
    assert live_meetings(world, "d1-http") == [], "the meeting B made after the cancel was deleted in Graph"
    assert len(world.emulator.state.calls("create_or_get")) - before == 3, "B (503), A, B again"
    assert world.get(path_of("d1-http")).status_code == 410
    assert world.post(body).status_code == 409
    row = world.local.table().get_entity(*_row_key(world, "d1-http"))
    assert row["Status"] == "cancelled"


def test_a_queued_create_that_outlives_its_keys_cancel_ends_failed_and_leaves_nothing_live(world):
    message = {"organizerId": ALICE_ID, "externalId": "d1-queue", "correlationId": "q-b"}

    def a_creates_then_deletes() -> None:
        assert world.post({"organizerId": ALICE_ID, "externalId": "d1-queue"}).status_code == 201
        assert world.call("DELETE", KEY_PATH, path_of("d1-queue")).status_code == 204

    world.emulator.state.inject("graph", 503, count=1, retry_after=1)
    interleave(world, a_creates_then_deletes)
    world.send(message)
    world.host.drain()
    told = {r["correlationId"]: r for r in world.results()}
    assert told["q-b"]["status"] == "failed" and told["q-b"]["error"]["code"] == "meeting_cancelled"
    assert live_meetings(world, "d1-queue") == []


def _row_key(world, external_id: str) -> tuple[str, str]:
    rows = [r for r in world.local.table().list_entities() if r["RowKey"].startswith("m|")
            and external_id in r["RowKey"]]
    assert len(rows) == 1
    return rows[0]["PartitionKey"], rows[0]["RowKey"]


# --- D2 and D3 -----------------------------------------------------------------------------------------------------

def test_two_patches_with_one_if_match_at_once_give_one_200_one_412_and_one_graph_call(world):
    created = world.post({"organizerId": ALICE_ID, "externalId": "d2", "subject": "Start"})
    etag, path = created.headers["ETag"], path_of("d2")
    before = len(world.emulator.state.calls("update_meeting"))
    world.emulator.state.inject("graph", None, count=2, delay=0.2)  # Graph answers each PATCH after 0.2 s

    def patch(index: int) -> requests.Response:
        http = requests.Session()
        http.trust_env = False
        return http.patch(world.host.base_url + path, json={"subject": f"Writer {index}"},
                          headers={"If-Match": etag}, timeout=30)

    answers = at_once(2, patch)
    assert Counter(a.status_code for a in answers) == {200: 1, 412: 1}
    assert len(world.emulator.state.calls("update_meeting")) - before == 1, "only the winner reached Graph"
    winner = next(a for a in answers if a.status_code == 200).json()["subject"]
    (meeting,) = live_meetings(world, "d2")
    assert meeting["subject"] == winner == world.get(path).json()["subject"]
    world.emulator.state.clear_faults()


def test_a_lock_during_a_lobby_change_waits_its_turn_and_the_table_follows_graph(world):
    world.post({"organizerId": ALICE_ID, "externalId": "d3"})
    path, during = path_of("d3"), []
    everyone = {"lobbyBypassSettings": {"scope": "everyone"}}
    world.emulator.state.inject("graph", 503, count=1, retry_after=1)  # the PATCH waits on Graph...
    interleave(world, lambda: during.append(world.call("DELETE", KEY_PATH, path + "?mode=lock")))  # ...a lock comes
    assert world.call("PATCH", KEY_PATH, path, json=everyone).status_code == 200
    (busy,) = during
    assert (busy.status_code, busy.json()["code"], busy.json()["retryable"]) == (409, "change_in_progress", True)
    assert int(busy.headers["Retry-After"]) >= 1
    assert world.call("DELETE", KEY_PATH, path + "?mode=lock").status_code == 200
    (meeting,) = live_meetings(world, "d3")
    stored = world.get(path).json()
    assert stored["lobbyBypassSettings"]["scope"] == meeting["lobbyBypassSettings"]["scope"] == "organizer"
    assert world.call("PATCH", KEY_PATH, path, json=everyone).status_code == 200
    (meeting,) = live_meetings(world, "d3")
    assert meeting["lobbyBypassSettings"]["scope"] == "everyone", "a change decided on Graph's state reached Graph"


# --- D4 and D5 -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("limit, made, concurrent", [(10, 6, 8), (10, 6, 16), (1, 0, 8), (50, 44, 16)])
def test_the_monthly_limit_holds_under_concurrent_creates(make_world, limit, made, concurrent):
    world, run = make_world(MONTHLY_MEETING_LIMIT=str(limit)), uuid.uuid4().hex[:8]  # new table, same emulator
    for index in range(made):
        assert world.post({"organizerId": ALICE_ID, "externalId": f"{run}-before-{index}"}).status_code == 201
    answers = at_once(concurrent, lambda i: _post(world, {"organizerId": ALICE_ID, "externalId": f"{run}-burst-{i}"}))
    statuses = Counter(a.status_code for a in answers)
    free = min(concurrent, limit - made)
    assert statuses == {201: free, 429: concurrent - free} if free < concurrent else {201: free}
    assert len(_made_in(world, run)) == made + free <= limit


def test_an_organizer_at_the_limit_named_by_a_new_upn_is_refused_and_nothing_stays_live(make_world):
    world, run = make_world(MONTHLY_MEETING_LIMIT="10"), uuid.uuid4().hex[:8]
    for index in range(10):
        assert world.post({"organizerId": ALICE_ID, "externalId": f"{run}-by-id-{index}"}).status_code == 201
    answers = at_once(8, lambda i: _post(world, {"organizerId": ALICE_UPN, "externalId": f"{run}-by-upn-{i}"}))
    assert {(a.status_code, a.json()["code"]) for a in answers} == {(429, "organizer_quota_exceeded")}
    assert len(_made_in(world, run)) == 10, "what Graph made before naming the object id was deleted"
    quota = world.call("GET", "/api/organizers/{organizerId}/quota", f"/api/organizers/{ALICE_UPN}/quota").json()
    assert (quota["used"], quota["limit"]) == (10, 10)


def _made_in(world, run: str) -> list[dict]:
    return [m for m in world.emulator.state.meetings if str(m.get("externalId") or "").startswith(run)]


def _post(world, body) -> requests.Response:
    http = requests.Session()
    http.trust_env = False
    return http.post(world.host.base_url + "/api/meetings", json=body, timeout=60)


# --- D7 ------------------------------------------------------------------------------------------------------------

def test_a_key_whose_create_failed_for_good_is_answered_final_on_both_paths(world):
    refused = world.post({"organizerId": CAROL_ID, "externalId": "d7"})  # Carol has no access policy
    assert (refused.status_code, refused.json()["code"]) == (403, "access_policy_missing")
    path = path_of("d7", CAROL_ID)
    for method, suffix in (("PATCH", ""), ("DELETE", ""), ("DELETE", "?mode=lock")):
        answer = world.call(method, KEY_PATH, path + suffix, **({"json": {"subject": "x"}} if method == "PATCH" else {}))
        assert (answer.status_code, answer.json()["code"], answer.json()["retryable"]) == \
            (409, "meeting_create_failed", False)
    world.results()
    world.send({"action": "cancel", "organizerId": CAROL_ID, "externalId": "d7", "correlationId": "d7-cancel"})
    world.send({"action": "update", "organizerId": CAROL_ID, "externalId": "d7", "subject": "x",
                "correlationId": "d7-update"})
    world.host.drain()
    told = {r["correlationId"]: r["error"]["code"] for r in world.results()}
    assert told == {"d7-cancel": "meeting_create_failed", "d7-update": "meeting_create_failed"}, "told at once"
    assert not list(world.poison_queue.peek_messages())


# --- every route applies the allowlists; no row key in the SDK's logs ----------------------------------------------

def test_lookups_and_the_quota_apply_the_allowlists(make_world):
    world = make_world(ALLOWED_ORGANIZERS=ALICE_UPN)
    assert world.post({"organizerId": ALICE_UPN, "externalId": "mine"}).status_code == 201
    for template, path in ((KEY_PATH, path_of("x", CAROL_ID)),
                           ("/api/meetings", f"/api/meetings?organizerId={CAROL_ID}&externalId=x"),
                           ("/api/organizers/{organizerId}/quota", f"/api/organizers/{CAROL_ID}/quota")):
        answer = world.call("GET", template, path)
        assert (answer.status_code, answer.json()["code"]) == (403, "organizer_not_allowed")
    other = world.call("GET", KEY_PATH, path_of("x") + "?tenantId=fabrikam.example")
    assert other.status_code == 403 and other.json()["code"] == "tenant_not_allowed"


def test_no_sdk_log_record_carries_a_row_key(world, caplog):
    caplog.set_level(logging.INFO)
    created = world.post({"organizerId": ALICE_UPN, "externalId": "private-booking-77", "subject": "Secret"})
    meeting = created.json()
    world.call("PATCH", KEY_PATH, created.headers["Location"], json={"subject": "Other"})
    world.get(created.headers["Location"])
    world.call("GET", "/api/meetings", "/api/meetings?joinMeetingId="
               + meeting["joinMeetingIdSettings"]["joinMeetingId"])
    secrets = [ALICE_UPN, quote(ALICE_UPN), "private-booking-77", meeting["joinWebUrl"],
               meeting["joinMeetingIdSettings"]["joinMeetingId"]]
    leaks = [(r.name, r.getMessage()[:120]) for r in caplog.records
             if not r.name.startswith(("shared", "function_app", "localdev", "tests"))
             and any(value in r.getMessage() for value in secrets)]
    assert leaks == []
    assert any(r.name.startswith("shared") for r in caplog.records), "the capture saw the app's own records"
