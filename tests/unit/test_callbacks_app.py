"""Result callbacks and signed intake through the function app's registered functions (issue 21): signed writes
verified before anything happens, a result's delivery sent with it, the callbacks trigger's attempts, its malformed
and poison messages kept on the failed queue, and /api/health naming a missing signing secret."""
from __future__ import annotations

import json
from datetime import timedelta

import azure.functions as func
import pytest
from azure.functions.queue import QueueMessage
from standardwebhooks import Webhook

from shared import bootstrap
from shared.bootstrap import CallbackOutlets
from shared.domain.callbacks import AttemptResult, CallbackDelivery
from tests.fake_graph import FakeGraph
from tests.fakes import InMemoryMeetingRepository, StaticTenants
from tests.unit.harness import ENV, Out, call, post
from tests.unit.test_usecases import Clock

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
INTAKE_SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="
HOOK = "https://hooks.example.com/results?token=t1"
CALLBACK_ENV = {**ENV, "CALLBACK_ALLOWED_HOSTS": "hooks.example.com", "CALLBACK_SIGNING_SECRETS": SECRET,
                "CALLBACK_RETRY_SCHEDULE": "5,300"}
ALICE = "alice@contoso.example"


class Outlets:
    """The callbacks trigger's sender and queues, scripted and recorded."""

    def __init__(self) -> None:
        self.answers: list[AttemptResult] = []
        self.sent: list[CallbackDelivery] = []
        self.queued: list[tuple[CallbackDelivery, int]] = []
        self.failed: list[dict] = []

    def send(self, delivery: CallbackDelivery) -> AttemptResult:
        self.sent.append(delivery)
        return self.answers.pop(0)

    def outlets(self) -> CallbackOutlets:
        return CallbackOutlets(self.send, lambda d, delay: self.queued.append((d, delay)),
                               lambda text: self.failed.append(json.loads(text)))


@pytest.fixture
def app(request):
    """(repo, graph, outlets, clock) of the app wired over fakes with the environment a test names."""
    env = getattr(request, "param", CALLBACK_ENV)
    repo, graph, outlets, clock = InMemoryMeetingRepository(), FakeGraph(), Outlets(), Clock()
    bootstrap.use(lambda: bootstrap.build_container(env, repository=repo, graph=graph, tokens=object(), clock=clock,
                                                    requeue=lambda m, d: None, callbacks=outlets.outlets(),
                                                    tenants=StaticTenants({})), clock=clock)
    yield repo, graph, outlets, clock
    bootstrap.use(lambda: bootstrap.build_container(__import__("os").environ))


def test_a_post_with_a_callback_url_sends_its_delivery_with_the_result_byte_for_byte(functions, app):
    results, callbacks = Out(), Out()
    body = {"organizerId": ALICE, "externalId": "b-1", "callbackUrl": HOOK}
    response = call(functions, "create_meeting", post(body), results=results, callbacks=callbacks)
    assert response.status_code == 201
    delivery = CallbackDelivery.from_json(callbacks.value)
    assert delivery.body == results.value and delivery.url == HOOK and delivery.attempt == 1

    changed, told = Out(), Out()
    patch = func.HttpRequest("PATCH", "http://localhost/api/meetings/x/y", body=b'{"subject": "Moved"}',
                             route_params={"organizerId": ALICE, "externalId": "b-1"})
    assert call(functions, "update_meeting", patch, results=changed, callbacks=told).status_code == 200
    later = CallbackDelivery.from_json(told.value)
    assert later.body == changed.value and later.url == HOOK and later.webhook_id != delivery.webhook_id


def test_a_callback_url_not_allowed_is_a_400_before_graph_or_row_and_a_queue_result_failed(functions, app):
    repo, graph, _, _ = app
    results, callbacks = Out(), Out()
    body = {"organizerId": ALICE, "externalId": "b-1", "callbackUrl": "http://hooks.example.com/x"}
    response = call(functions, "create_meeting", post(body), results=results, callbacks=callbacks)
    problem = json.loads(response.get_body())
    assert response.status_code == 400 and problem["code"] == "callback_not_allowed"
    assert problem["errors"] == [{"field": "callbackUrl", "message": problem["detail"][len("callbackUrl "):]}]
    assert json.loads(results.value)["error"]["code"] == "callback_not_allowed" and callbacks.value is None
    assert repo.rows == {} and graph.operations == []
    queued, told = Out(), Out()
    message = QueueMessage(id="m-1", body=json.dumps(body).encode(), dequeue_count=1)
    call(functions, "process_meeting_request", message, results=queued, callbacks=told)
    assert json.loads(queued.value)["status"] == "failed" and told.value is None
    assert json.loads(queued.value)["error"]["code"] == "callback_not_allowed" and repo.rows == {}


def test_the_queue_worker_sends_the_delivery_with_the_result(functions, app):
    results, callbacks = Out(), Out()
    body = {"organizerId": ALICE, "externalId": "q-1", "callbackUrl": HOOK}
    call(functions, "process_meeting_request", QueueMessage(id="m-2", body=json.dumps(body).encode(),
                                                            dequeue_count=1), results=results, callbacks=callbacks)
    assert json.loads(results.value)["status"] == "created"
    assert CallbackDelivery.from_json(callbacks.value).body == results.value


def delivery_message(**changes) -> QueueMessage:
    delivery = CallbackDelivery.first(url=HOOK, body='{"status":"created"}', now=Clock()(), key=None)
    document = {**delivery.to_document(), **changes}
    return QueueMessage(id="d-1", body=json.dumps(document).encode(), dequeue_count=1)


def test_the_callbacks_trigger_retries_after_the_schedule_then_keeps_the_delivery_as_failed(functions, app):
    _, _, outlets, _ = app
    outlets.answers = [AttemptResult.answered(500), AttemptResult.answered(503), AttemptResult.not_sent("timeout")]
    call(functions, "deliver_callback", delivery_message())
    ((second, delay),) = outlets.queued
    assert (second.attempt, delay) == (2, 5)
    call(functions, "deliver_callback", QueueMessage(id="d-2", body=second.to_json().encode(), dequeue_count=1))
    third, delay = outlets.queued[-1]
    assert (third.attempt, delay) == (3, 300)
    call(functions, "deliver_callback", QueueMessage(id="d-3", body=third.to_json().encode(), dequeue_count=1))
    (failed,) = outlets.failed
    assert failed["attempts"] == 3 and failed["callbackUrl"] == HOOK and failed["result"] == {"status": "created"}
    assert failed["lastAnswer"]["error"] == "timeout"
    assert len({d.webhook_id for d in outlets.sent}) == 1


@pytest.mark.parametrize("body", [b"not json", b'{"webhookId": "x"}', b"\xff\xfe"])
def test_a_message_that_is_no_delivery_is_logged_and_kept_on_the_failed_queue(functions, app, body, caplog):
    _, _, outlets, _ = app
    call(functions, "deliver_callback", QueueMessage(id="bad-1", body=body, dequeue_count=1))
    (failed,) = outlets.failed
    assert failed["malformed"] is True and failed["message"] == body.decode("utf-8", "replace")
    assert outlets.sent == [] and "bad-1" in caplog.text


def test_the_callbacks_poison_trigger_keeps_the_delivery_on_the_failed_queue_without_settings(functions):
    bootstrap.use(lambda: bootstrap.build_container({}))  # settings broken: the poison trigger needs none
    try:
        failed = Out()
        call(functions, "process_poison_callback", delivery_message(attempt=3), failed=failed)
    finally:
        bootstrap.use(lambda: bootstrap.build_container(__import__("os").environ))
    record = json.loads(failed.value)
    assert record["attempts"] == 3 and record["callbackUrl"] == HOOK
    assert "every dequeue" in record["lastAnswer"]["error"]


@pytest.mark.parametrize("app", [{**ENV, "CALLBACK_ALLOWED_HOSTS": "hooks.example.com"}], indirect=True)
def test_health_reports_a_missing_signing_secret_once_callbacks_are_allowed(functions, app):
    response = call(functions, "health", func.HttpRequest("GET", "http://localhost/api/health", body=b""))
    problem = json.loads(response.get_body())
    assert response.status_code == 503 and problem["code"] == "configuration_error"
    assert any(p.startswith("CALLBACK_SIGNING_SECRETS is required") for p in problem["problems"])


# --- signed intake -----------------------------------------------------------------------------------------------

SIGNED_ENV = {**CALLBACK_ENV, "INTAKE_SIGNING_SECRETS": f"{INTAKE_SECRET} {SECRET}"}


def signed(clock, body: bytes, webhook_id: str = "msg_sender-1", secret: str = INTAKE_SECRET,
           skew: timedelta = timedelta(0)) -> dict[str, str]:
    when = clock() + skew
    return {"webhook-id": webhook_id, "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": Webhook(secret).sign(webhook_id, when, body), "content-type": "application/json"}


def write_requests(clock, sign: bool):
    body = json.dumps({"organizerId": ALICE, "externalId": "s-1"}).encode()
    patch = b'{"subject": "Moved"}'
    key = {"organizerId": ALICE, "externalId": "s-1"}
    return [
        ("create_meeting", func.HttpRequest("POST", "http://localhost/api/meetings", body=body,
                                            headers=signed(clock, body, "msg_post") if sign else {})),
        ("update_meeting", func.HttpRequest("PATCH", "http://localhost/api/meetings/x/y", body=patch,
                                            route_params=key, headers=signed(clock, patch, "msg_patch") if sign
                                            else {})),
        ("cancel_meeting", func.HttpRequest("DELETE", "http://localhost/api/meetings/x/y", body=b"",
                                            route_params=key, headers=signed(clock, b"", "msg_delete") if sign
                                            else {})),
    ]


@pytest.mark.parametrize("app", [SIGNED_ENV], indirect=True)
def test_unsigned_writes_are_401_before_any_graph_call_row_or_message(functions, app):
    repo, graph, _, clock = app
    for name, req in write_requests(clock, sign=False):
        results, intake, callbacks = Out(), Out(), Out()
        outs = {"results": results, "callbacks": callbacks, **({"intake": intake} if name == "create_meeting" else {})}
        response = call(functions, name, req, **outs)
        problem = json.loads(response.get_body())
        assert response.status_code == 401 and problem["code"] == "signature_invalid", name
        assert (results.value, intake.value, callbacks.value) == (None, None, None)
    assert repo.rows == {} and graph.operations == []


@pytest.mark.parametrize("app", [SIGNED_ENV], indirect=True)
def test_signed_writes_are_served_and_the_webhook_id_is_their_correlation_id(functions, app):
    _, graph, _, clock = app
    answers = []
    for name, req in write_requests(clock, sign=True):
        results = Out()
        response = call(functions, name, req, results=results)
        answers.append((response.status_code, json.loads(results.value)["correlationId"]))
    assert answers == [(201, "msg_post"), (200, "msg_patch"), (204, "msg_delete")]
    assert len(graph.operations) == 3


@pytest.mark.parametrize("app", [SIGNED_ENV], indirect=True)
def test_either_intake_secret_verifies_and_a_given_correlation_id_wins(functions, app):
    _, _, _, clock = app
    body = json.dumps({"organizerId": ALICE, "externalId": "s-2"}).encode()
    headers = {**signed(clock, body, "msg_rotated", secret=SECRET), "x-correlation-id": "mine-1"}
    results = Out()
    response = call(functions, "create_meeting", func.HttpRequest("POST", "http://localhost/api/meetings", body=body,
                                                                  headers=headers), results=results)
    assert response.status_code == 201 and json.loads(results.value)["correlationId"] == "mine-1"


@pytest.mark.parametrize("app", [SIGNED_ENV], indirect=True)
@pytest.mark.parametrize("tamper", ["stale", "body", "unknown secret"])
def test_a_stale_tampered_or_foreign_signature_is_401(functions, app, tamper):
    repo, graph, _, clock = app
    body = json.dumps({"organizerId": ALICE, "externalId": "s-3"}).encode()
    headers = signed(clock, body, skew=timedelta(minutes=-6) if tamper == "stale" else timedelta(0),
                     secret="whsec_" + "WllaWllaWllaWllaWllaWllaWllaWllaWllaWlla" if tamper == "unknown secret"
                     else INTAKE_SECRET)
    sent = body.replace(b"s-3", b"s-4") if tamper == "body" else body
    response = call(functions, "create_meeting", func.HttpRequest("POST", "http://localhost/api/meetings", body=sent,
                                                                  headers=headers))
    assert response.status_code == 401 and repo.rows == {} and graph.operations == []


@pytest.mark.parametrize("app", [SIGNED_ENV], indirect=True)
def test_reads_stay_unsigned(functions, app):
    req = func.HttpRequest("GET", "http://localhost/api/meetings/x/y", body=b"",
                           route_params={"organizerId": ALICE, "externalId": "none"})
    assert call(functions, "get_meeting", req).status_code == 404


# --- the local run's defaults ------------------------------------------------------------------------------------

def test_the_local_run_allows_loopback_and_keeps_one_secret_unless_the_settings_name_their_own(tmp_path, monkeypatch):
    import stat

    import localdev.__main__ as run_command
    from shared.domain.callbacks import signing_secret_key

    monkeypatch.setattr(run_command, "STATE_DIR", tmp_path)
    monkeypatch.setattr(run_command, "CALLBACK_SECRET_FILE", tmp_path / "callback-signing-secret")
    first = run_command.with_local_callbacks({"CALLBACK_SIGNING_SECRETS": "<a whsec_ secret: ...>"})
    assert first["CALLBACK_ALLOWED_HOSTS"] == "127.0.0.1,::1"
    assert signing_secret_key(first["CALLBACK_SIGNING_SECRETS"]) is not None, "a placeholder counts as none"
    assert stat.S_IMODE((tmp_path / "callback-signing-secret").stat().st_mode) == 0o600
    assert run_command.with_local_callbacks({})["CALLBACK_SIGNING_SECRETS"] == first["CALLBACK_SIGNING_SECRETS"]
    named = run_command.with_local_callbacks({"CALLBACK_ALLOWED_HOSTS": "hooks.example.com",
                                              "CALLBACK_SIGNING_SECRETS": SECRET})
    assert (named["CALLBACK_ALLOWED_HOSTS"], named["CALLBACK_SIGNING_SECRETS"]) == ("hooks.example.com", SECRET)
