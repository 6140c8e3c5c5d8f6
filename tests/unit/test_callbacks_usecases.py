"""Result callbacks in the use cases (issue 21), against fakes: which results are delivered where (``Outcome.callback``,
the body byte for byte the result message), the callbackUrl the key's record keeps, a refused callbackUrl before
anything happens, the 410 mark, and an attempt repeated when the process dies before the next one is enqueued."""
from __future__ import annotations

import json

import pytest

from shared.config.settings import load_settings
from shared.domain.callbacks import AttemptResult, CallbackDelivery, FailedDelivery
from shared.domain.errors import OrganizerNotFound
from shared.domain.meeting_request import MeetingCancel
from shared.domain.records import Status
from shared.domain.validation import validate_change, validate_request
from shared.usecases import (Context, accept_meeting, cancel_meeting, create_meeting, exhaust_request, refused,
                             update_meeting)
from shared.usecases.callbacks import callback_gone, key_of, note_callback_gone
from shared.usecases.deliver import DeliveryPorts, Ending, deliver_attempt
from tests.fakes import make_deps
from tests.unit.test_usecases import ENV

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
HOOK = "https://hooks.example.com/results?token=t1"
OTHER_HOOK = "https://hooks.example.com/other"
ALICE = "alice@contoso.example"
CALLBACKS = {**ENV, "CALLBACK_ALLOWED_HOSTS": "hooks.example.com", "CALLBACK_SIGNING_SECRETS": SECRET}


@pytest.fixture
def deps(repo, graph, clock):
    return make_deps(load_settings(CALLBACKS), repo, graph, clock)


def create(deps, external_id="b-1", *, correlation_id="c-1", source="http", final=True, **members):
    body = {"organizerId": ALICE, "externalId": external_id, "subject": "Intro", **members}
    return create_meeting(deps, validate_request(body, queue=source == "queue"), source=source,
                          correlation_id=correlation_id, final=final)


def change(deps, external_id="b-1", **members):
    change = validate_change(members, key={"organizerId": ALICE, "externalId": external_id})
    return update_meeting(deps, change, source="http", correlation_id="c-change")


def cancel(deps, mode, external_id="b-1"):
    return cancel_meeting(deps, MeetingCancel(ALICE, external_id, mode=mode), source="http",
                          correlation_id=f"c-{mode}")


def delivered(outcome) -> CallbackDelivery:
    """The outcome's delivery, checked: its body is the result message's text, byte for byte."""
    assert outcome.callback is not None, f"no delivery for a {outcome.status} result"
    delivery = CallbackDelivery.from_json(outcome.callback)
    assert delivery.body.encode("utf-8") == outcome.message.encode("utf-8") and delivery.attempt == 1
    return delivery


def test_a_create_with_a_callback_url_delivers_its_result_and_the_record_keeps_the_url(deps, repo):
    outcome = create(deps, callbackUrl=HOOK)
    delivery = delivered(outcome)
    assert outcome.status == Status.CREATED and delivery.url == HOOK
    (record,) = repo.rows.values()
    assert record.callback_url == HOOK and key_of(deps, delivery.key) == record.key
    assert outcome.record.etag == record.etag, "the answer's ETag is the stored version's"


def test_every_later_result_of_the_key_goes_to_the_kept_url_with_a_new_webhook_id_each(deps, graph):
    first = delivered(create(deps, callbackUrl=HOOK))
    results = [create(deps, correlation_id="c-2"), change(deps, subject="Moved"), cancel(deps, "lock"),
               cancel(deps, "delete"), create(deps, correlation_id="c-3")]
    assert [r.status for r in results] == [Status.EXISTING, Status.UPDATED, Status.LOCKED, Status.CANCELLED,
                                           Status.FAILED]
    deliveries = [delivered(r) for r in results]
    assert {d.url for d in deliveries} == {HOOK}
    assert len({first.webhook_id, *(d.webhook_id for d in deliveries)}) == 6


def test_a_later_request_naming_another_url_moves_the_key_there(deps, repo):
    create(deps, callbackUrl=HOOK)
    again = create(deps, correlation_id="c-2", callbackUrl=OTHER_HOOK)
    assert again.status == Status.EXISTING and delivered(again).url == OTHER_HOOK
    (record,) = repo.rows.values()
    assert record.callback_url == OTHER_HOOK and again.record.etag == record.etag
    assert delivered(change(deps, subject="Moved")).url == OTHER_HOOK


def test_a_key_without_a_callback_url_delivers_nothing(deps):
    assert create(deps).callback is None
    assert change(deps, subject="Moved").callback is None


def test_a_failed_create_is_delivered_and_so_is_the_refusal_of_a_later_change(deps, graph):
    graph.fail_next.append(OrganizerNotFound("no such user"))
    failed = create(deps, callbackUrl=HOOK)
    assert failed.status == Status.FAILED and delivered(failed).url == HOOK
    refusal = change(deps, subject="Moved")  # 409 meeting_create_failed, told by the shell without a record
    assert refusal.error.code == "meeting_create_failed" and delivered(refusal).url == HOOK


@pytest.mark.parametrize("url", ["http://hooks.example.com/x", "https://user:pw@hooks.example.com/x",
                                 "https://elsewhere.example.org/x", "https://169.254.169.254/latest"])
def test_a_callback_url_that_is_not_allowed_is_refused_before_any_graph_call_or_row(deps, repo, graph, url):
    outcome = create(deps, callbackUrl=url)
    assert outcome.status == Status.FAILED and outcome.error.code == "callback_not_allowed"
    assert outcome.error.status == 400 and outcome.result["error"]["code"] == "callback_not_allowed"
    assert repo.rows == {} and graph.operations == [] and outcome.callback is None
    assert url not in outcome.result["error"]["message"], "the URL is never echoed (its query may hold a token)"


def test_with_callbacks_off_every_callback_url_is_refused(repo, graph, clock):
    deps = make_deps(load_settings(ENV), repo, graph, clock)
    outcome = create(deps, callbackUrl=HOOK)
    assert outcome.error.code == "callback_not_allowed" and "not enabled" in outcome.error.detail
    assert repo.rows == {} and graph.operations == []


def test_an_accepted_request_carries_its_url_to_the_queue_which_delivers_the_result(deps, repo):
    accepted = accept_meeting(deps, validate_request({"organizerId": ALICE, "externalId": "b-1", "callbackUrl": HOOK}),
                              correlation_id="c-1")
    assert accepted.status == Status.ACCEPTED and accepted.callback is None
    intake = json.loads(accepted.intake)
    assert intake["callbackUrl"] == HOOK
    done = create_meeting(deps, validate_request(intake, queue=True), source="queue", correlation_id="c-1",
                          final=False)
    assert delivered(done).url == HOOK and next(iter(repo.rows.values())).callback_url == HOOK


def test_an_exhausted_queue_request_and_a_refused_payload_are_delivered_too(deps, graph):
    payload = {"organizerId": ALICE, "externalId": "b-9", "callbackUrl": HOOK}
    exhausted = exhaust_request(deps, payload, message_id="m-1", poison=True)
    assert exhausted.error.code == "retries_exhausted" and delivered(exhausted).url == HOOK
    broken = {"organizerId": ALICE, "callbackUrl": HOOK}  # no externalId
    from shared.domain.errors import ValidationFailed
    told = refused(deps, Context("m-2", "queue", payload=broken), ValidationFailed([]))
    assert delivered(told).url == HOOK


def test_a_410_marks_the_url_gone_for_the_key_and_no_later_result_goes_there(deps, repo):
    delivery = delivered(create(deps, callbackUrl=HOOK))
    assert not callback_gone(deps, delivery)
    note_callback_gone(deps, delivery)
    assert callback_gone(deps, delivery)
    assert change(deps, subject="Moved").callback is None
    assert create(deps, correlation_id="c-2", callbackUrl=HOOK).callback is None, "naming it again changes nothing"
    moved = create(deps, correlation_id="c-3", callbackUrl=OTHER_HOOK)
    assert delivered(moved).url == OTHER_HOOK


def test_a_410_for_a_key_named_by_upn_marks_the_row_now_keyed_by_object_id(deps, repo):
    delivery = delivered(create(deps, callbackUrl=HOOK))
    assert json.loads(delivery.key)[1] != ALICE, "the record is keyed by the organizer's object id"
    note_callback_gone(deps, delivery)
    (record,) = repo.rows.values()
    assert record.callback_gone == HOOK


class Killed(BaseException):
    """The process dies (as SIGKILL would): nothing after this point runs, the message is not completed."""


def test_the_process_killed_between_the_post_and_the_re_enqueue_repeats_the_attempt(deps):
    delivery = delivered(create(deps, callbackUrl=HOOK))
    message = CallbackDelivery.from_json(delivery.to_json())
    sent, queued = [], []

    def send(attempt: CallbackDelivery) -> AttemptResult:
        sent.append(attempt)
        return AttemptResult.answered(503)

    def die(attempt: CallbackDelivery, delay: int) -> None:
        raise Killed()

    def requeue(attempt: CallbackDelivery, delay: int) -> None:
        queued.append((attempt, delay))

    def unused(record: FailedDelivery) -> None:
        raise AssertionError("not the last attempt")

    with pytest.raises(Killed):
        deliver_attempt(message, (5, 300), DeliveryPorts(send, die, unused, lambda d: None))
    # The queue hands the same message out again once its lease runs out: the attempt is made again.
    report = deliver_attempt(message, (5, 300), DeliveryPorts(send, requeue, unused, lambda d: None))
    assert report.ending is Ending.REQUEUED
    assert [(a.webhook_id, a.attempt) for a in sent] == [(delivery.webhook_id, 1)] * 2
    assert [(a.webhook_id, a.attempt, delay) for a, delay in queued] == [(delivery.webhook_id, 2, 5)]
