"""The emulator's knobs for reliability runs: fault plans, clearing one target's faults, short-lived tokens, the record
of what it issued, and passcodes required by a tenant policy."""
from __future__ import annotations

import itertools

import pytest

from localdev.emulator import ALICE_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_MI_CLIENT_ID, \
    TOKEN_EXCHANGE_AUDIENCE
from tests.integration.emulator_support import GRAPH_SCOPE, create, secret_token, token_request


@pytest.fixture
def emulator(fresh_emulator):
    return fresh_emulator


def test_a_fault_plan_answers_every_request_that_finds_no_queued_fault(http, emulator, token):
    turns = itertools.cycle([emulator.state.make_fault("graph", 503, retry_after="0.25"), None])
    emulator.state.set_fault_plan("graph", lambda: next(turns))
    emulator.state.inject("graph", 429)  # queued faults come first
    statuses = [create(http, emulator, token, ALICE_ID, {"externalId": "planned"}) for _ in range(4)]
    assert [r.status_code for r in statuses] == [429, 503, 201, 503]
    assert statuses[1].headers["Retry-After"] == "0.25"
    emulator.state.set_fault_plan("graph", None)
    assert create(http, emulator, token, ALICE_ID, {"externalId": "planned"}).status_code == 200


def test_clear_faults_of_one_target_keeps_the_others(http, emulator, token):
    emulator.state.inject("token", 503, count=None)
    emulator.state.inject("graph", 502)
    emulator.state.set_fault_plan("token", lambda: None)
    emulator.state.clear_faults("token")
    assert [f["target"] for f in emulator.state.faults()] == ["graph"]
    assert secret_token(http, emulator)
    with pytest.raises(ValueError):
        emulator.state.clear_faults("nope")


def test_short_lived_tokens_and_the_record_of_what_was_issued(http, emulator, clock):
    emulator.state.token_lifetime = 303
    answer = token_request(http, emulator, {"grant_type": "client_credentials", "client_id": DEFAULT_CLIENT_ID,
                                            "client_secret": DEFAULT_CLIENT_SECRET, "scope": GRAPH_SCOPE})
    assert answer.status_code == 200 and answer.json()["expires_in"] == 303
    token = answer.json()["access_token"]
    assertion = http.get(emulator.identity_endpoint, timeout=10,
                         params={"api-version": "2019-08-01", "resource": TOKEN_EXCHANGE_AUDIENCE,
                                 "client_id": DEFAULT_MI_CLIENT_ID},
                         headers={"X-IDENTITY-HEADER": emulator.identity_header})
    assert assertion.status_code == 200
    assert int(assertion.json()["expires_on"]) == int(clock()) + 303
    assert {token, assertion.json()["access_token"]} <= set(emulator.state.issued_secrets())
    assert create(http, emulator, token, ALICE_ID, {"externalId": "in-time"}).status_code == 201
    clock.advance(304)
    assert create(http, emulator, token, ALICE_ID, {"externalId": "too-late"}).status_code == 401
    emulator.state.reset()
    assert emulator.state.token_lifetime is None and emulator.state.issued_secrets() == []


def test_a_passcode_policy_gives_createorget_meetings_a_passcode_that_counts_as_issued(http, emulator, token):
    emulator.state.require_passcode = True
    meeting = create(http, emulator, token, ALICE_ID, {"externalId": "with-passcode"}).json()
    passcode = meeting["joinMeetingIdSettings"]["passcode"]
    assert meeting["joinMeetingIdSettings"]["isPasscodeRequired"] is True and len(passcode) == 6
    assert passcode in emulator.state.issued_secrets()
