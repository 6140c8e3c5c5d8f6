"""The callback messages and settings (issue 21): the delivery message, the failed record, the retry schedule, the
signing secrets, the settings that hold them and the script that makes one."""
from __future__ import annotations

import base64
import json
import subprocess
from datetime import datetime, timezone

import pytest
from standardwebhooks import Webhook

from shared.config.callback_settings import (CALLBACK_SECRET_SETTINGS, CALLBACK_SETTING_NAMES, CallbackSettings,
                                             load_callback_settings, read_callback_settings)
from shared.domain.callbacks import (DEFAULT_RETRY_SCHEDULE, AttemptOutcome, AttemptResult, CallbackDelivery,
                                     FailedDelivery, new_signing_secret, parse_retry_schedule, parse_signing_secrets,
                                     signing_secret_key)
from shared.domain.errors import BrokerError, ConfigurationError, SignatureInvalid
from shared.domain.messages import result_message, to_message
from tests.conftest import REPO_ROOT

NOW = datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)
SECRET_A = "whsec_" + base64.b64encode(b"a" * 32).decode()
SECRET_B = "whsec_" + base64.b64encode(b"b" * 24).decode()


def result_text(**changes) -> str:
    fields = dict(correlation_id="c-1", tenant_id="t", organizer_id="o@contoso.example", external_id="ext-\u00e9",
                  status="created", meeting={"id": "m1", "joinWebUrl": "https://teams.example/j"}, error=None,
                  source="queue", completed_at=NOW)
    return to_message(result_message(**{**fields, **changes}))


def test_a_delivery_round_trips_through_its_queue_message_with_the_result_text_byte_for_byte():
    body = result_text()
    delivery = CallbackDelivery.first(url="https://hooks.example.com/h?k=1", body=body, now=NOW, key="t|o|ext")
    again = CallbackDelivery.from_json(delivery.to_json())
    assert again == delivery and again.body.encode() == body.encode()
    assert delivery.attempt == 1 and delivery.webhook_id.startswith("msg_")
    assert CallbackDelivery.from_json(delivery.to_json().encode()) == delivery
    assert delivery.host == "hooks.example.com"


def test_every_attempt_keeps_the_webhook_id_and_every_result_gets_its_own():
    first = CallbackDelivery.first(url="https://hooks.example.com/h", body=result_text(), now=NOW)
    second = first.next_attempt().next_attempt()
    assert (second.webhook_id, second.attempt, second.first_attempt_at) == (first.webhook_id, 3, NOW)
    other = CallbackDelivery.first(url="https://hooks.example.com/h", body=result_text(), now=NOW)
    assert other.webhook_id != first.webhook_id


@pytest.mark.parametrize("change, rule", [
    ({"webhookId": ""}, "webhookId"), ({"webhookId": "a b"}, "webhookId"), ({"webhookId": 5}, "webhookId"),
    ({"url": ""}, "url"), ({"attempt": 0}, "attempt"), ({"attempt": True}, "attempt"), ({"attempt": "2"}, "attempt"),
    ({"firstAttemptAt": "yesterday"}, "firstAttemptAt"), ({"key": 7}, "key"),
    ({"body": "not json"}, "body is not JSON"), ({"body": "[1]"}, "not a JSON object"), ({"body": None}, "body"),
])
def test_a_malformed_delivery_message_is_refused_naming_the_member(change, rule):
    document = {**CallbackDelivery.first(url="https://h.example/x", body=result_text(), now=NOW).to_document(),
                **change}
    with pytest.raises(ValueError, match=rule):
        CallbackDelivery.from_json(json.dumps(document))


@pytest.mark.parametrize("text", ["", "null", "[]", "{", "\udcff", b"\xff", "[" * 100 + "]" * 100])
def test_a_delivery_message_that_is_no_json_object_is_refused(text):
    with pytest.raises(ValueError):
        CallbackDelivery.from_json(text)


def test_the_failed_record_holds_the_result_the_url_the_attempts_and_the_last_answer():
    body = result_text()
    delivery = CallbackDelivery.first(url="https://hooks.example.com/h?k=1", body=body, now=NOW, key="k")
    last = delivery.next_attempt().next_attempt()
    record = json.loads(FailedDelivery(last, AttemptResult.answered(503, 120), NOW).to_json())
    assert record == {
        "webhookId": delivery.webhook_id, "callbackUrl": "https://hooks.example.com/h?k=1", "key": "k",
        "result": json.loads(body), "attempts": 3, "firstAttemptAt": "2026-05-01T09:00:00.0000000Z",
        "failedAt": "2026-05-01T09:00:00.0000000Z",
        "lastAnswer": {"status": 503, "error": None, "durationMs": 120},
    }
    assert to_message(record["result"]) == body
    timeout = FailedDelivery(last, AttemptResult.not_sent("read timeout", 15000), NOW).to_document()
    assert timeout["lastAnswer"] == {"status": None, "error": "read timeout", "durationMs": 15000}


@pytest.mark.parametrize("status, outcome", [(200, "delivered"), (204, "delivered"), (299, "delivered"),
                                             (410, "gone"), (302, "retry"), (404, "retry"), (500, "retry"),
                                             (429, "retry"), (100, "retry")])
def test_an_answer_is_delivered_for_2xx_gone_for_410_and_a_failed_attempt_otherwise(status, outcome):
    assert AttemptResult.answered(status).outcome == AttemptOutcome(outcome)


def test_the_retry_schedule():
    assert parse_retry_schedule("") == DEFAULT_RETRY_SCHEDULE == (5, 300, 1800, 7200, 18000, 36000, 36000)
    assert parse_retry_schedule(" 0, 10 ,604800") == (0, 10, 604800)
    for bad in ("5,,6", "5;6", "-1", "1.5", "ten", "604801", ",".join(["1"] * 101), "\u0661"):
        with pytest.raises(ValueError):
            parse_retry_schedule(bad)


def test_signing_secrets_are_whsec_and_the_base64_of_24_to_64_bytes():
    assert signing_secret_key(SECRET_A) == b"a" * 32
    assert signing_secret_key(SECRET_A.rstrip("=")) == b"a" * 32  # padding optional
    assert parse_signing_secrets(f" {SECRET_A}  {SECRET_B} ") == (SECRET_A, SECRET_B)
    short = "whsec_" + base64.b64encode(b"x" * 23).decode()
    for bad in (base64.b64encode(b"a" * 32).decode(), "whsec_", "whsec_!!!!" + SECRET_A[6:], short,
                "whsec_" + base64.b64encode(b"x" * 65).decode(), "whsec_\u00e9" + SECRET_A[7:]):
        assert signing_secret_key(bad) is None
    with pytest.raises(ValueError) as caught:
        parse_signing_secrets(f"{SECRET_A} {short}")
    assert "secret 2 of 2" in str(caught.value) and short not in str(caught.value)


def test_a_new_secret_holds_32_random_bytes_and_the_standard_webhooks_library_takes_it():
    secret = new_signing_secret()
    assert secret.startswith("whsec_") and len(signing_secret_key(secret) or b"") == 32
    assert new_signing_secret() != secret
    Webhook(secret).sign("msg_1", NOW, b"{}")


def test_the_script_prints_a_new_secret():
    printed = subprocess.run([str(REPO_ROOT / "scripts" / "new-signing-secret")], capture_output=True, text=True,
                             check=True).stdout
    assert printed.endswith("\n") and len(signing_secret_key(printed.strip()) or b"") == 32


def test_the_new_errors_follow_the_broker_errors():
    assert issubclass(SignatureInvalid, BrokerError)
    error = SignatureInvalid("webhook-signature is missing")
    assert (error.status, error.code, error.retryable) == (401, "signature_invalid", False)


def test_settings_default_to_no_callbacks_and_no_signed_intake():
    settings = load_callback_settings({})
    assert settings == CallbackSettings()
    assert not settings.enabled and not settings.intake_signed
    assert (settings.queue, settings.failed_queue) == ("meeting-callbacks", "meeting-callbacks-failed")
    assert settings.retry_schedule == DEFAULT_RETRY_SCHEDULE


def test_settings_read_every_value():
    settings = load_callback_settings({
        "CALLBACK_ALLOWED_HOSTS": "hooks.example.com,*.partner.example", "CALLBACK_SIGNING_SECRETS": SECRET_A,
        "CALLBACK_RETRY_SCHEDULE": "0,60", "MEETING_CALLBACKS_QUEUE": "cbq", "MEETING_CALLBACKS_FAILED_QUEUE": "cbq-dead",
        "INTAKE_SIGNING_SECRETS": f"{SECRET_A} {SECRET_B}"})
    assert settings.enabled and settings.intake_signed
    assert settings.allowed_hosts.lists("a.partner.example")
    assert settings.signing_secrets == (SECRET_A,) and settings.intake_signing_secrets == (SECRET_A, SECRET_B)
    assert (settings.retry_schedule, settings.queue, settings.failed_queue) == ((0, 60), "cbq", "cbq-dead")
    assert SECRET_A not in repr(settings) and SECRET_B not in repr(settings)


def test_every_problem_is_reported_at_once_and_no_secret_is_echoed():
    bad_secret = "whsec_" + base64.b64encode(b"s" * 10).decode()
    with pytest.raises(ConfigurationError) as caught:
        load_callback_settings({"CALLBACK_ALLOWED_HOSTS": "hooks.example.com, https://x", "CALLBACK_SIGNING_SECRETS":
                                bad_secret, "CALLBACK_RETRY_SCHEDULE": "5,x", "MEETING_CALLBACKS_QUEUE": "Bad_Queue",
                                "MEETING_CALLBACKS_FAILED_QUEUE": "x", "INTAKE_SIGNING_SECRETS": bad_secret})
    problems = caught.value.problems
    assert [problem.split(" ")[0].rstrip(":") for problem in problems] == [
        "CALLBACK_ALLOWED_HOSTS", "CALLBACK_SIGNING_SECRETS", "CALLBACK_RETRY_SCHEDULE", "MEETING_CALLBACKS_QUEUE",
        "MEETING_CALLBACKS_FAILED_QUEUE", "INTAKE_SIGNING_SECRETS"]
    assert not any(bad_secret in problem or bad_secret[6:] in problem for problem in problems)


def test_a_signing_secret_is_required_once_callbacks_are_allowed_and_checked_only_then():
    _, problems = read_callback_settings({"CALLBACK_ALLOWED_HOSTS": "hooks.example.com"})
    assert len(problems) == 1 and problems[0].startswith("CALLBACK_SIGNING_SECRETS is required")
    settings, problems = read_callback_settings({"CALLBACK_SIGNING_SECRETS": "whsec_nonsense"})
    assert problems == [] and not settings.enabled


def test_the_two_queues_must_differ_and_the_names_are_exported_for_the_settings_list():
    _, problems = read_callback_settings({"MEETING_CALLBACKS_QUEUE": "same", "MEETING_CALLBACKS_FAILED_QUEUE": "same"})
    assert problems == ["MEETING_CALLBACKS_QUEUE and MEETING_CALLBACKS_FAILED_QUEUE must differ"]
    assert CALLBACK_SECRET_SETTINGS <= set(CALLBACK_SETTING_NAMES)
