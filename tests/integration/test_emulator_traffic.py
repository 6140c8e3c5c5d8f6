"""The emulator's Graph traffic modes (localdev/emulator/traffic.py): latency and a per-app rate limit, in process
and through ``/_emulator/traffic``, over real HTTPS. The rate limit runs on the emulator's injected clock."""
from __future__ import annotations

import threading
import time

import pytest
import requests

from localdev.emulator import ALICE_ID, DEFAULT_TENANT_ID
from localdev.emulator.traffic import TokenBucket
from tests.integration.emulator_support import assert_graph_error, create, secret_token

OTHER_APP, OTHER_SECRET = "6d2b9e41-0c7a-4f58-b3d1-8e5a2f9c4b07", "other-app-secret"


@pytest.fixture
def emulator(fresh_emulator):
    yield fresh_emulator
    fresh_emulator.state.traffic.off()


def admin(http, emulator, method, body=None):
    response = http.request(method, f"{emulator.url}/_emulator/traffic", json=body, timeout=10)
    return response


# ------------------------------------------------------------------------------------------------ the bucket
def test_token_bucket_refills_at_its_rate_up_to_its_capacity():
    bucket = TokenBucket(rate=4, capacity=2, now=100.0)
    assert [bucket.take(100.0), bucket.take(100.0)] == [0.0, 0.0]
    assert bucket.take(100.0) == pytest.approx(0.25)       # one token comes every 1/4 s
    assert bucket.take(100.1) == pytest.approx(0.15)       # a refused request takes nothing
    assert bucket.take(100.25) == 0.0
    assert bucket.take(110.0) == 0.0 and bucket.take(110.0) == 0.0   # idle: refilled to the capacity, no more
    assert bucket.take(110.0) > 0
    with pytest.raises(ValueError):
        TokenBucket(rate=0, capacity=1, now=0.0)


# ------------------------------------------------------------------------------------------------ rate limit
def test_rate_limit_answers_429_with_retry_after_as_graph_throttles(http, emulator, token, clock):
    emulator.state.traffic.set_rate_limit(2)                # 2 requests/s, a bucket of 2
    for n in range(2):
        assert create(http, emulator, token, ALICE_ID, {"externalId": f"r{n}"}).status_code == 201
    throttled = create(http, emulator, token, ALICE_ID, {"externalId": "r2"})
    assert_graph_error(throttled, 429, "TooManyRequests")
    assert throttled.headers["Retry-After"] == "1"          # whole seconds, rounded up
    clock.advance(0.5)                                      # one request's worth comes back
    assert create(http, emulator, token, ALICE_ID, {"externalId": "r2"}).status_code == 201
    assert create(http, emulator, token, ALICE_ID, {"externalId": "r3"}).status_code == 429
    state = emulator.state
    assert state.counters["create_or_get"] == 5             # every attempt is a Graph call
    assert [r["status"] for r in state.requests] == [201, 201, 429, 201, 429]
    assert [r["fault"] for r in state.requests] == [False, False, True, False, True]
    assert state.online_meetings.meeting_count() == 3
    assert state.traffic.as_dict() == {"latency_ms": 0.0, "rate_limit": 2.0, "burst": 2.0, "throttled": 2,
                                       "admitted": 3}


def test_rate_limit_is_per_app(http, emulator, token):
    state = emulator.state
    state.directory.register_app(DEFAULT_TENANT_ID, OTHER_APP, secret=OTHER_SECRET)
    state.directory.grant_policy(DEFAULT_TENANT_ID, OTHER_APP, ALICE_ID)
    other = secret_token(http, emulator, client_id=OTHER_APP, secret=OTHER_SECRET)
    state.traffic.set_rate_limit(1)
    assert create(http, emulator, token, ALICE_ID, {"externalId": "a"}).status_code == 201
    assert create(http, emulator, token, ALICE_ID, {"externalId": "b"}).status_code == 429
    assert create(http, emulator, other, ALICE_ID, {"externalId": "b"}).status_code == 201   # its own bucket
    assert create(http, emulator, other, ALICE_ID, {"externalId": "c"}).status_code == 429
    state.traffic.set_rate_limit(None)                      # off: nothing is throttled
    assert all(create(http, emulator, token, ALICE_ID, {"externalId": f"d{n}"}).status_code == 201
               for n in range(5))


def test_queued_faults_come_before_the_rate_limit(http, emulator, token):
    emulator.state.traffic.set_rate_limit(1)
    emulator.state.inject("graph", 503)
    assert create(http, emulator, token, ALICE_ID, {"externalId": "x"}).status_code == 503   # no token taken
    assert create(http, emulator, token, ALICE_ID, {"externalId": "x"}).status_code == 201
    assert emulator.state.traffic.as_dict()["admitted"] == 1


# ------------------------------------------------------------------------------------------------ latency
def test_latency_delays_every_graph_answer_without_blocking_other_requests(http, emulator, token):
    latency = 0.4
    emulator.state.traffic.set_latency(latency)
    emulator.state.inject("graph", 429, retry_after="1")     # a fault answer is late too
    timings: list[tuple[int, float]] = []
    lock = threading.Lock()

    def one(n: int) -> None:
        with requests.Session() as session:
            began = time.monotonic()
            status = create(session, emulator, token, ALICE_ID, {"externalId": f"slow-{n}"}).status_code
            with lock:
                timings.append((status, time.monotonic() - began))

    threads = [threading.Thread(target=one, args=(n,)) for n in range(4)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - began
    assert sorted(status for status, _ in timings) == [201, 201, 201, 429]
    assert all(took >= latency for _, took in timings)
    assert wall < 3 * latency   # served side by side: one after another would take 4 × latency
    # Entra and the admin API are not Graph: not delayed.
    began = time.monotonic()
    secret_token(http, emulator)
    assert time.monotonic() - began < latency


# ------------------------------------------------------------------------------------------------ admin API
def test_admin_api_sets_reads_and_clears_both_modes(http, emulator, token):
    assert admin(http, emulator, "GET").json() == {"latency_ms": 0.0, "rate_limit": None, "burst": None,
                                                   "throttled": 0, "admitted": 0}
    changed = admin(http, emulator, "POST", {"latency_ms": 100, "rate_limit": 1, "burst": 1})
    assert changed.status_code == 200 and changed.json()["rate_limit"] == 1.0
    traffic = emulator.state.traffic
    assert traffic.latency == pytest.approx(0.1) and traffic.burst == 1.0
    assert create(http, emulator, token, ALICE_ID, {"externalId": "a"}).status_code == 201
    assert create(http, emulator, token, ALICE_ID, {"externalId": "b"}).status_code == 429
    assert admin(http, emulator, "POST", {"latency_ms": 0}).json()["rate_limit"] == 1.0   # only what is given
    assert admin(http, emulator, "GET").json()["throttled"] == 1
    assert admin(http, emulator, "POST", {"rate_limit": None}).json()["rate_limit"] is None
    admin(http, emulator, "POST", {"latency_ms": 50, "rate_limit": 5})
    assert admin(http, emulator, "DELETE").json() == {"latency_ms": 0.0, "rate_limit": None, "burst": None,
                                                      "throttled": 0, "admitted": 0}
    for bad in ({"latency_ms": -1}, {"rate_limit": 0}, {"rate_limit": 5, "burst": 0.5}, {"latency": 1},
                {"latency_ms": "soon"}):
        assert admin(http, emulator, "POST", bad).status_code == 400, bad
    assert admin(http, emulator, "PUT").status_code == 405


def test_reset_turns_the_modes_off(emulator):
    emulator.state.traffic.set_rate_limit(3)
    emulator.state.traffic.set_latency(0.2)
    emulator.state.reset()
    assert emulator.state.traffic.as_dict() == {"latency_ms": 0.0, "rate_limit": None, "burst": None,
                                                "throttled": 0, "admitted": 0}
