"""Result callbacks and signed intake end to end (issue 21): real HTTP to the local host, real queues on Azurite, the
callbacks trigger making real POSTs to a receiver on 127.0.0.1 that verifies each with the ``standardwebhooks``
library. Queues are processed with ``host.drain()``; the retry schedule is ``0,0`` (each retry visible at once)."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from standardwebhooks import Webhook

from localdev.receiver import CallbackReceiver
from shared.domain.callbacks import new_signing_secret

ALICE = "alice@contoso.example"
SECRET, ROTATED = new_signing_secret(), new_signing_secret()
CALLBACKS = {"CALLBACK_ALLOWED_HOSTS": "127.0.0.1", "CALLBACK_SIGNING_SECRETS": f"{ROTATED} {SECRET}",
             "CALLBACK_RETRY_SCHEDULE": "0,0"}


@pytest.fixture
def receiver():
    with CallbackReceiver(SECRET) as receiving:
        yield receiving


def raw_results(world) -> list[str]:
    """The results queue's messages as text, as a consumer reads them (consumed)."""
    found = []
    while batch := list(world.results_queue.receive_messages(max_messages=32, visibility_timeout=60)):
        for message in batch:
            found.append(message.content)
            world.results_queue.delete_message(message)
    return found


def failed_deliveries(world) -> list[dict]:
    queue = world.local.queue("MEETING_CALLBACKS_FAILED_QUEUE")
    return [json.loads(message.content) for message in queue.receive_messages(max_messages=32)]


def test_a_create_with_a_callback_url_is_delivered_byte_for_byte_as_the_results_queue_saw_it(make_world, receiver):
    world = make_world(**CALLBACKS)
    created = world.post({"organizerId": ALICE, "externalId": "cb-1", "callbackUrl": receiver.url("/hook?t=1")})
    assert created.status_code == 201
    world.host.drain()
    (result,) = raw_results(world)
    (delivery,) = receiver.received
    assert delivery.body == result.encode("utf-8") and delivery.verified and delivery.status == 200
    assert delivery.path == "/hook?t=1" and json.loads(result)["status"] == "created"
    # Every secret signs (rotation): a receiver that has the other secret verifies the same delivery.
    assert Webhook(ROTATED).verify(delivery.body, delivery.headers) == json.loads(result)


def test_500_then_200_is_two_attempts_of_one_webhook_id(make_world):
    world = make_world(**CALLBACKS)
    with CallbackReceiver(SECRET, lambda webhook_id, seen: 500 if seen == 1 else 200) as receiver:
        world.post({"organizerId": ALICE, "externalId": "cb-2", "callbackUrl": receiver.url()})
        world.host.drain()
        assert [(r.status, r.verified) for r in receiver.received] == [(500, True), (200, True)]
        assert len({r.webhook_id for r in receiver.received}) == 1
        assert receiver.received[0].body == receiver.received[1].body
    assert failed_deliveries(world) == []


def test_a_410_stops_every_later_delivery_of_the_key(make_world):
    world = make_world(**CALLBACKS)
    first: list[str] = []

    def gone_after_the_first_result(webhook_id: str, seen: int) -> int:
        first[:] = first or [webhook_id]
        return 200 if webhook_id == first[0] else 410

    with CallbackReceiver(SECRET, gone_after_the_first_result) as receiver:
        path = "/api/meetings/alice@contoso.example/cb-3"
        world.post({"organizerId": ALICE, "externalId": "cb-3", "callbackUrl": receiver.url()})
        world.host.drain()
        world.call("PATCH", "/api/meetings/{organizerId}/{externalId}", path, json={"subject": "Moved"})
        world.host.drain()
        assert [r.status for r in receiver.received] == [200, 410]
        world.call("PATCH", "/api/meetings/{organizerId}/{externalId}", path, json={"subject": "Moved again"})
        world.call("DELETE", "/api/meetings/{organizerId}/{externalId}", path)
        world.host.drain()
        assert [r.status for r in receiver.received] == [200, 410], "nothing more for this key"
    assert [json.loads(r)["status"] for r in raw_results(world)] == ["created", "updated", "updated", "cancelled"]


def test_every_attempt_failing_ends_on_the_failed_queue_with_the_result_intact(make_world):
    world = make_world(**CALLBACKS)
    with CallbackReceiver(SECRET, lambda webhook_id, seen: 503) as receiver:
        world.post({"organizerId": ALICE, "externalId": "cb-4", "callbackUrl": receiver.url("/hook?token=x")})
        world.host.drain()
        assert [r.status for r in receiver.received] == [503, 503, 503]
    (result,) = raw_results(world)
    (failed,) = failed_deliveries(world)
    assert failed["result"] == json.loads(result) and failed["attempts"] == 3
    assert failed["callbackUrl"] == receiver.url("/hook?token=x")
    assert failed["lastAnswer"]["status"] == 503 and failed["webhookId"] == receiver.received[0].webhook_id


def test_a_queued_request_and_its_failure_are_delivered_and_a_url_not_allowed_is_refused(make_world, receiver):
    world = make_world(**CALLBACKS)
    world.send({"organizerId": ALICE, "externalId": "cb-5", "callbackUrl": receiver.url()})
    world.send({"organizerId": ALICE, "externalId": "cb-6", "callbackUrl": "http://localhost:9/never"})
    world.host.drain()
    results = {json.loads(r)["externalId"]: r for r in raw_results(world)}
    assert json.loads(results["cb-6"])["error"]["code"] == "callback_not_allowed"
    (delivery,) = receiver.received
    assert delivery.body == results["cb-5"].encode("utf-8")
    refused = world.post({"organizerId": ALICE, "externalId": "cb-7", "callbackUrl": "https://10.0.0.1/x"})
    assert refused.status_code == 400 and refused.json()["code"] == "callback_not_allowed"


def signed(body: bytes, webhook_id: str, secret: str) -> dict[str, str]:
    now = datetime.now(timezone.utc)
    return {"webhook-id": webhook_id, "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(webhook_id, now, body), "Content-Type": "application/json"}


def test_signed_intake_refuses_an_unsigned_write_and_serves_a_signed_one(make_world):
    intake = new_signing_secret()
    world = make_world(INTAKE_SIGNING_SECRETS=intake)
    body = json.dumps({"organizerId": ALICE, "externalId": "signed-1"}).encode()
    unsigned = world.call("POST", "/api/meetings", "/api/meetings", data=body,
                          headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401 and unsigned.json()["code"] == "signature_invalid"
    assert world.get("/api/meetings/alice@contoso.example/signed-1").status_code == 404
    assert raw_results(world) == []
    accepted = world.call("POST", "/api/meetings", "/api/meetings", data=body,
                          headers=signed(body, "msg_signed-1", intake))
    assert accepted.status_code == 201 and accepted.headers["x-correlation-id"] == "msg_signed-1"
    deleted = world.call("DELETE", "/api/meetings/{organizerId}/{externalId}",
                         "/api/meetings/alice@contoso.example/signed-1", headers=signed(b"", "msg_signed-2", intake))
    assert deleted.status_code == 204
    assert [json.loads(r)["correlationId"] for r in raw_results(world)] == ["msg_signed-1", "msg_signed-2"]


def test_the_readme_receiver_verifies_a_real_delivery(make_world, tmp_path, capsys):
    """The six lines of README.md, "Result callbacks and signed intake", as written (the secret's file and the port
    aside), receive a delivery of the local host."""
    import http.server
    import re
    import threading

    from tests.conftest import REPO_ROOT

    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    code = re.search(r"takes six lines.*?```python\n(.*?)```", readme, re.S).group(1)
    *handler, serve = code.strip().splitlines()
    assert len(handler) == 5 and serve.startswith("HTTPServer(")
    (tmp_path / "secret").write_text(SECRET + "\n")
    namespace: dict = {}
    exec("\n".join(handler).replace(".localdev/callback-signing-secret", str(tmp_path / "secret")), namespace)
    server = http.server.HTTPServer(("127.0.0.1", 0), namespace["Receiver"])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        world = make_world(**CALLBACKS)
        world.post({"organizerId": ALICE, "externalId": "cb-readme",
                    "callbackUrl": f"http://127.0.0.1:{server.server_address[1]}/hook"})
        world.host.drain()
    finally:
        server.shutdown()
        server.server_close()
    printed = capsys.readouterr().out
    assert "'externalId': 'cb-readme'" in printed and "'status': 'created'" in printed
    assert failed_deliveries(world) == []
