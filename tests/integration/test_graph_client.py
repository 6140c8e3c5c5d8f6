"""The Graph adapter against the emulator over real HTTPS: retries, timeouts, throttling and error mapping."""
from __future__ import annotations

import email.utils
import logging
import uuid

import pytest
import requests

from localdev.emulator import ALICE_ID, CAROL_ID, DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID
from shared.domain.errors import (
    AccessPolicyMissing,
    GraphRejected,
    GraphThrottled,
    GraphUnauthorized,
    GraphUnavailable,
    MeetingGone,
    OrganizerNotFound,
)
from shared.adapters.graph.client import GraphClient, RetryPolicy
from shared.adapters.graph.answers import parse_retry_after
from tests.fakes import StaticToken


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(emulator, monkeypatch, sleeps):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(emulator.ca_bundle))
    yield GraphClient(requests.Session(), StaticToken(emulator.mint_access_token()), base_url=emulator.graph_base_url,
                      api_version="v1.0", app_id=DEFAULT_CLIENT_ID, sleep=sleeps.append, jitter=lambda: 0.5,
                      policy=RetryPolicy(read_timeout=0.5))
    emulator.state.clear_faults()


def create(client, organizer=ALICE_ID):
    return client.create_or_get(DEFAULT_TENANT_ID, organizer, {"externalId": f"g-{uuid.uuid4()}"},
                                correlation_id="test")


def test_a_slow_answer_is_retried_after_the_read_timeout_and_idempotency_keeps_one_meeting(client, emulator, sleeps):
    emulator.state.inject("graph", None, count=1, delay=1.5)
    external_id = f"slow-{uuid.uuid4()}"
    answer = client.create_or_get(DEFAULT_TENANT_ID, ALICE_ID, {"externalId": external_id}, correlation_id="test")
    assert sleeps == [0.5], "one backoff (base 0.5 s) before the second attempt"
    # The timed-out first attempt did create the meeting; the retry gets that same meeting back (200).
    assert not answer.created
    assert [m["id"] for m in emulator.state.meetings if m["externalId"] == external_id] == [answer.meeting["id"]]


def test_503_and_504_are_retried_and_then_succeed(client, emulator, sleeps):
    emulator.state.inject("graph", 503, count=1)
    emulator.state.inject("graph", 504, count=1)
    assert create(client).created
    assert sleeps == [0.5, 1.0], "exponential backoff when Graph sends no Retry-After"


def test_500_is_not_retried_in_process(client, emulator, sleeps):
    emulator.state.inject("graph", 500, count=1)
    with pytest.raises(GraphUnavailable) as failure:
        create(client)
    assert sleeps == [] and failure.value.retryable and "request-id" in failure.value.detail


def test_a_persisting_503_gives_up_after_four_attempts(client, emulator, sleeps):
    emulator.state.inject("graph", 503, count=None)
    before = emulator.state.counters["create_or_get"]
    with pytest.raises(GraphUnavailable):
        create(client)
    assert emulator.state.counters["create_or_get"] - before == 4 and len(sleeps) == 3


def test_a_retry_after_beyond_the_cap_is_handed_back_without_waiting(client, emulator, sleeps):
    emulator.state.inject("graph", 429, count=1, retry_after="120")
    with pytest.raises(GraphThrottled) as throttled:
        create(client)
    assert sleeps == [] and throttled.value.retry_after == 120.0


def test_a_429_without_retry_after_backs_off_exponentially(client, emulator, sleeps):
    emulator.state.inject("graph", 429, count=2)
    assert create(client).created and sleeps == [0.5, 1.0]


def test_a_200_without_a_meeting_body_is_graph_unavailable(client, emulator):
    emulator.state.inject("graph", 200, count=1, body=b"")
    with pytest.raises(GraphUnavailable) as failure:
        create(client)
    assert "without an onlineMeeting body" in failure.value.detail


@pytest.mark.parametrize("body, lacks", [
    (b'{"id": "bogus"}', "joinWebUrl, participants.organizer.identity.user.id"),
    (b'{"id": "x", "joinWebUrl": "https://teams.example/l/x"}', "participants.organizer.identity.user.id"),
    (b'{"id": "x", "joinWebUrl": "javascript:alert(1)", "participants": {"organizer": {"identity": {"user": '
     b'{"id": "6e2b4c1a-0000-4000-8000-000000000001"}}}}}', "joinWebUrl"),
])
def test_a_success_answer_that_is_not_a_usable_meeting_is_graph_unavailable_and_retryable(client, emulator, body,
                                                                                         lacks):
    emulator.state.inject("graph", 201, count=1, body=body)
    with pytest.raises(GraphUnavailable) as failure:
        create(client)
    assert failure.value.retryable and failure.value.detail.endswith(f"lacks {lacks}")


def test_a_retry_after_of_infinity_is_ignored_and_backoff_applies(client, emulator, sleeps):
    emulator.state.inject("graph", 429, count=1, retry_after="inf")
    assert create(client).created and sleeps == [0.5]


def test_a_malformed_error_body_still_maps_by_status(client, emulator):
    emulator.state.inject("graph", 404, count=1, body=b"{not json")
    with pytest.raises(OrganizerNotFound):
        create(client)


def test_403_names_the_app_the_organizer_and_the_grant(client):
    with pytest.raises(AccessPolicyMissing) as failure:
        create(client, CAROL_ID)
    detail = failure.value.detail
    assert DEFAULT_CLIENT_ID in detail and CAROL_ID in detail and "Grant-CsApplicationAccessPolicy" in detail
    assert not failure.value.retryable


def test_a_bad_token_is_graph_unauthorized(emulator, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(emulator.ca_bundle))
    client = GraphClient(requests.Session(), StaticToken("not-a-token"), base_url=emulator.graph_base_url,
                         api_version="v1.0", app_id=DEFAULT_CLIENT_ID, sleep=lambda s: None)
    with pytest.raises(GraphUnauthorized):
        create(client)


def test_a_rejected_body_is_graph_rejected_with_graphs_message(client):
    with pytest.raises(GraphRejected) as failure:
        client.create_or_get(DEFAULT_TENANT_ID, ALICE_ID, {"externalId": "x", "endDateTime": "2026-01-01T00:00:00Z"},
                             correlation_id="test")
    assert not failure.value.retryable and "Graph status 400" in failure.value.detail


def test_every_attempt_sends_its_own_client_request_id(client, emulator):
    emulator.state.inject("graph", 503, count=1)
    before = len(emulator.state.requests)
    create(client)
    ids = [r["headers"].get("client-request-id") for r in emulator.state.requests[before:]]
    assert len(ids) == 2 and len(set(ids)) == 2 and all(ids)


def test_retry_after_is_read_as_seconds_fractions_or_an_http_date():
    assert parse_retry_after("2.128", now=0) == 2.128
    assert parse_retry_after("-3", now=0) == 0.0
    assert parse_retry_after(None, now=0) is None and parse_retry_after("soon", now=0) is None
    date = email.utils.formatdate(1_000_030, usegmt=True)
    assert parse_retry_after(date, now=1_000_000) == 30.0


def test_graphs_request_id_and_our_client_request_id_are_logged_and_the_token_is_not(client, emulator, caplog):
    caplog.set_level(logging.INFO, logger="shared.adapters.graph.client")
    answer = create(client)
    sent = emulator.state.requests[-1]["headers"]["client-request-id"]
    assert answer.request_id and f"request-id={answer.request_id}" in caplog.text
    assert f"client-request-id={sent}" in caplog.text
    assert "Bearer" not in caplog.text and emulator.mint_access_token()[:20] not in caplog.text


# --- plain create, PATCH, DELETE -----------------------------------------------------------------------------------

def plain_create(client, **members):
    return client.create(DEFAULT_TENANT_ID, ALICE_ID, {"externalId": f"p-{uuid.uuid4()}", **members},
                         correlation_id="test")


def test_a_plain_create_that_timed_out_is_not_retried_and_is_logged_as_possibly_orphaned(client, emulator, sleeps,
                                                                                          caplog):
    emulator.state.inject("graph", None, count=1, delay=1.5)
    before = len(emulator.state.calls("create_meeting"))
    with caplog.at_level(logging.WARNING, logger="shared.adapters.graph.client"), pytest.raises(GraphUnavailable) as failure:
        plain_create(client)
    assert failure.value.retryable and sleeps == []
    assert len(emulator.state.calls("create_meeting")) == before + 1, "one POST: Graph may have created the meeting"
    assert "possibly orphaned" in caplog.text and "client-request-id=" in caplog.text


def test_a_throttled_plain_create_is_retried_because_graph_did_not_act(client, emulator, sleeps):
    emulator.state.inject("graph", 429, count=1, retry_after="0.25")
    assert plain_create(client).created and sleeps == [0.25]


def test_a_plain_create_answered_503_is_not_retried_in_process(client, emulator, sleeps):
    emulator.state.inject("graph", 503, count=1)
    with pytest.raises(GraphUnavailable):
        plain_create(client)
    assert sleeps == []


def test_patch_answers_the_whole_meeting_and_a_deleted_meeting_is_gone(client, emulator):
    meeting = plain_create(client, subject="Before").meeting
    updated = client.update(DEFAULT_TENANT_ID, ALICE_ID, meeting["id"], {"subject": "After"}, correlation_id="t")
    assert updated["subject"] == "After" and updated["joinWebUrl"] == meeting["joinWebUrl"]
    assert client.delete(DEFAULT_TENANT_ID, ALICE_ID, meeting["id"], correlation_id="t") is True
    assert client.delete(DEFAULT_TENANT_ID, ALICE_ID, meeting["id"], correlation_id="t") is False, "gone is done"
    with pytest.raises(MeetingGone):
        client.update(DEFAULT_TENANT_ID, ALICE_ID, meeting["id"], {"subject": "Again"}, correlation_id="t")


def test_accept_language_is_sent_to_graph(client, emulator):
    meeting = plain_create(client).meeting
    client.create_or_get(DEFAULT_TENANT_ID, ALICE_ID, {"externalId": f"l-{uuid.uuid4()}"}, correlation_id="t",
                         accept_language="fr-FR")
    assert emulator.state.calls("create_or_get")[-1]["accept_language"] == "fr-FR"
    assert emulator.state.calls("create_meeting", meeting_id=meeting["id"])[-1]["accept_language"] is None
