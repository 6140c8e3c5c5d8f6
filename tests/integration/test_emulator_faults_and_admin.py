"""Fault injection on Graph and the ``/_emulator`` admin API, over real HTTPS."""
from __future__ import annotations

import uuid

import pytest
import requests

from localdev.emulator import ALICE_ID, CAROL_ID, DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID
from tests.integration.emulator_support import assert_graph_error, create, secret_token


@pytest.fixture
def emulator(fresh_emulator):
    return fresh_emulator


# --------------------------------------------------------------------------------------------------- faults
def test_injected_429_with_fractional_retry_after(http, emulator, token):
    emulator.state.inject("graph", 429, count=2, retry_after="2.128")
    for _ in range(2):
        response = create(http, emulator, token, ALICE_ID, {"externalId": "throttled"})
        assert_graph_error(response, 429, "TooManyRequests")
        assert response.headers["Retry-After"] == "2.128"
    ok = create(http, emulator, token, ALICE_ID, {"externalId": "throttled"})
    assert ok.status_code == 201
    emulator.state.inject("graph", 429)  # no retry_after: no header
    assert "Retry-After" not in create(http, emulator, token, ALICE_ID, {"externalId": "t2"}).headers
    assert emulator.state.counters["create_or_get"] == 4
    assert [r["fault"] for r in emulator.state.requests] == [True, True, False, True]


@pytest.mark.parametrize("status,code", [(500, "InternalServerError"), (502, "BadGateway"),
                                         (503, "ServiceNotAvailable"), (504, "GatewayTimeout"),
                                         (507, "InsufficientStorage")])
def test_injected_server_errors_are_graph_shaped(http, emulator, token, status, code):
    emulator.state.inject("graph", status)
    assert_graph_error(create(http, emulator, token, ALICE_ID, {"externalId": "x"}), status, code)
    assert create(http, emulator, token, ALICE_ID, {"externalId": "x"}).status_code == 201


@pytest.mark.parametrize("raw", [b"", b"{not json"])
def test_injected_malformed_bodies(http, emulator, token, raw):
    emulator.state.inject("graph", 200, body=raw)
    emulator.state.inject("graph", 503, body=raw)
    first = create(http, emulator, token, ALICE_ID, {"externalId": "x"})
    assert first.status_code == 200 and first.content == raw
    second = create(http, emulator, token, ALICE_ID, {"externalId": "x"})
    assert second.status_code == 503 and second.content == raw
    assert second.headers["request-id"]


def test_fault_until_cleared_and_latency(http, emulator, token):
    emulator.state.inject("graph", 503, count=None)
    for _ in range(3):
        assert create(http, emulator, token, ALICE_ID, {"externalId": "x"}).status_code == 503
    emulator.state.clear_faults()
    emulator.state.inject("graph", None, delay=0.3)  # normal answer, late
    with pytest.raises(requests.exceptions.ReadTimeout):
        create(http, emulator, token, ALICE_ID, {"externalId": "slow"}, timeout=(5, 0.05))
    emulator.state.inject("graph", 201, body=b"{}", delay=0.05)
    late = create(http, emulator, token, ALICE_ID, {"externalId": "x"}, timeout=5)
    assert late.status_code == 201 and late.json() == {}
    with pytest.raises(ValueError):
        emulator.state.inject("nowhere", 500)


# --------------------------------------------------------------------------------------------------- admin API
def test_admin_api_round_trip(http, emulator, token, clock):
    admin = f"{emulator.url}/_emulator"
    state = http.get(f"{admin}/state", timeout=5).json()
    assert state["meetings"] == 0 and state["counters"]["create_or_get"] == 0

    dan_id = str(uuid.uuid4())
    added = http.post(f"{admin}/users", json={"tenant_id": DEFAULT_TENANT_ID, "object_id": dan_id,
                                              "upn": "dan@contoso.example", "display_name": "Dan",
                                              "policy": True}, timeout=5)
    assert added.status_code == 201
    assert create(http, emulator, token, "dan@contoso.example", {"externalId": "d"}).status_code == 201
    revoke = {"tenant_id": DEFAULT_TENANT_ID, "client_id": DEFAULT_CLIENT_ID, "user": dan_id}
    assert http.delete(f"{admin}/policies", json=revoke, timeout=5).status_code == 200
    assert create(http, emulator, token, dan_id, {"externalId": "d"}).status_code == 403
    assert http.post(f"{admin}/policies", json={**revoke, "user": "*"}, timeout=5).status_code == 200
    assert create(http, emulator, token, CAROL_ID, {"externalId": "c"}).status_code == 201

    fault = {"target": "graph", "status": 429, "count": 1, "retry_after": "0.5", "body": None, "delay": 0,
             "error_code": None}
    assert http.post(f"{admin}/faults", json=fault, timeout=5).status_code == 201
    throttled = create(http, emulator, token, ALICE_ID, {"externalId": "a"})
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "0.5"
    http.post(f"{admin}/faults", json={**fault, "count": None}, timeout=5)
    assert len(http.get(f"{admin}/state", timeout=5).json()["faults"]) == 1
    assert http.delete(f"{admin}/faults", timeout=5).status_code == 200
    assert create(http, emulator, token, ALICE_ID, {"externalId": "a"}).status_code == 201
    assert http.post(f"{admin}/faults", json={"target": "elsewhere", "status": 500}, timeout=5).status_code == 400

    state = http.get(f"{admin}/state", timeout=5).json()
    assert state["meetings"] == 3 and state["counters"]["create_or_get"] == 5
    assert len(http.get(f"{admin}/meetings", timeout=5).json()["value"]) == 3

    assert http.post(f"{admin}/clock", json={"advance": 3600}, timeout=5).json()["now"] == pytest.approx(clock() + 3600)
    assert create(http, emulator, token, ALICE_ID, {"externalId": "a"}).status_code == 401

    assert http.post(f"{admin}/reset", timeout=5).status_code == 200
    state = http.get(f"{admin}/state", timeout=5).json()
    assert state["meetings"] == 0 and set(state["counters"].values()) == {0} and state["faults"] == []
    assert create(http, emulator, secret_token(http, emulator), ALICE_ID, {"externalId": "a"}).status_code == 201
    assert http.get(f"{admin}/nothing", timeout=5).status_code == 404
