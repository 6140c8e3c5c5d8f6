"""The local Functions host against real Azurite and real HTTP over loopback, with the toy app.

Queues are processed with host.drain() (deterministic, no waiting); every test gets fresh queue names.
"""
from __future__ import annotations

import json
import logging
import threading

import azure.functions as func
import pytest
import requests
from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

from localdev.host import LocalFunctionsHost, LocalHostError
from localdev.settings_file import is_configured, merged_settings
from tests.integration.toyapp import HOST_JSON, make_app


def queue(azurite, name: str, base64: bool = True) -> QueueClient:
    policies = {"message_encode_policy": TextBase64EncodePolicy(), "message_decode_policy": TextBase64DecodePolicy()}
    return QueueClient.from_connection_string(azurite.connection_string, name, **(policies if base64 else {}))


def contents(client: QueueClient) -> list[str]:
    return sorted(m.content for m in client.peek_messages(max_messages=32))


def test_http_route_params_query_headers_and_body_round_trip(start_host):
    host, _ = start_host()

    response = requests.post(f"{host.base_url}/api/echo/42/alice?x=1&x=2&code=ignored", data="héllo".encode(),
                             headers={"X-Toy": "toy", "x-functions-key": "ignored"}, timeout=10)

    assert response.status_code == 201
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Location"] == "/api/echo/42"
    assert response.headers["Retry-After"] == "7"
    assert response.raw.headers.getlist("X-Multi") == ["one", "two"]
    assert response.json() == {
        "method": "POST", "url": f"{host.base_url}/api/echo/42/alice?x=1&x=2&code=ignored",
        "route": {"id": "42", "name": "alice"}, "query": {"x": "1,2", "code": "ignored"},
        "header": "toy", "body": "héllo",
    }


def test_optional_catch_all_and_literal_routes(start_host):
    host, _ = start_host()

    without_name = requests.get(f"{host.base_url}/api/echo/7", timeout=10)
    catch_all = requests.get(f"{host.base_url}/api/files/a/b%20c/d.txt", timeout=10)
    literal = requests.get(f"{host.base_url}/api/ECHO/special", timeout=10)

    assert without_name.status_code == 201 and without_name.json()["route"] == {"id": "7"}
    assert without_name.json()["body"] == ""
    assert catch_all.text == "a/b c/d.txt"
    assert catch_all.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert literal.content == b"\x00\x01" and literal.headers["Content-Type"] == "application/octet-stream"


def test_unknown_route_is_404_wrong_method_405_and_constraint_mismatch_404(start_host):
    host, _ = start_host()

    assert requests.get(f"{host.base_url}/api/nothing", timeout=10).status_code == 404
    assert requests.get(f"{host.base_url}/echo/1", timeout=10).status_code == 404  # no route prefix
    assert requests.get(f"{host.base_url}/api/echo/abc", timeout=10).status_code == 404  # {id:int}
    wrong = requests.delete(f"{host.base_url}/api/echo/1", timeout=10)
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "GET, POST"


def test_route_prefix_comes_from_host_json(start_host):
    host, _ = start_host(host_json={**HOST_JSON, "extensions": {**HOST_JSON["extensions"], "http": {"routePrefix": ""}}})

    assert requests.get(f"{host.base_url}/files/x", timeout=10).text == "x"
    assert requests.get(f"{host.base_url}/api/files/x", timeout=10).status_code == 404


def test_raising_http_function_gives_500_json_logs_traceback_and_writes_no_output(start_host, azurite, caplog):
    host, name = start_host()

    with caplog.at_level(logging.ERROR, logger="localdev.host"):
        response = requests.post(f"{host.base_url}/api/boom", data=b"{}", timeout=10)

    assert response.status_code == 500
    assert response.json()["error"] == "function_failed"
    assert "secret detail" not in response.text
    assert "secret detail that must stay in the log" in caplog.text
    assert contents(queue(azurite, f"{name}-http")) == []


def test_http_function_output_binding_is_written_on_success(start_host, azurite):
    host, name = start_host()

    requests.get(f"{host.base_url}/api/echo/5?audit=1", timeout=10).raise_for_status()

    assert contents(queue(azurite, f"{name}-http")) == ["echo 5"]


def test_queue_trigger_decodes_base64_and_output_binding_encodes_base64(start_host, azurite):
    host, name = start_host()
    queue(azurite, name).send_message(json.dumps({"op": "echo", "text": "hi"}))

    assert host.drain() == 1

    assert contents(queue(azurite, f"{name}-out")) == ["bytes:hi", "echo:hi"]
    assert contents(queue(azurite, name)) == []


def test_message_encoding_none_reads_and_writes_plain_text(start_host, azurite):
    plain = {**HOST_JSON, "extensions": {"queues": {"messageEncoding": "none"}}}
    host, name = start_host(host_json=plain)
    queue(azurite, name, base64=False).send_message(json.dumps({"op": "echo", "text": "plain"}))

    assert host.drain() == 1

    assert contents(queue(azurite, f"{name}-out", base64=False)) == ["bytes:plain", "echo:plain"]


def test_failing_message_is_retried_to_max_dequeue_count_then_poisoned_and_poison_trigger_runs(start_host, azurite):
    host, name = start_host()
    queue(azurite, name).send_message(json.dumps({"op": "fail"}))

    invocations = host.drain()

    assert invocations == 3 + 1  # maxDequeueCount attempts, then the poison-queue trigger once
    assert contents(queue(azurite, f"{name}-out")) == []  # outputs of failed runs are never flushed
    [dead] = contents(queue(azurite, f"{name}-dead"))
    assert json.loads(dead) == {"body": json.dumps({"op": "fail"}), "dequeueCount": 1}
    assert contents(queue(azurite, name)) == contents(queue(azurite, f"{name}-poison")) == []


def test_invocations_are_logged_with_ids_and_dequeue_counts_but_never_bodies(start_host, azurite, caplog):
    host, name = start_host()
    sent = queue(azurite, name).send_message(json.dumps({"op": "echo", "text": "alice@contoso.example"}))

    with caplog.at_level(logging.DEBUG, logger="localdev"):
        host.drain()

    [record] = [r for r in caplog.records if r.getMessage().startswith("Executed 'work'")]
    assert sent.id in record.getMessage() and "Succeeded" in record.getMessage()
    assert "dequeue count 1" in record.getMessage()
    assert "alice@contoso.example" not in caplog.text


def test_failed_message_waits_for_the_visibility_timeout(start_host, azurite):
    host, name = start_host(visibility_timeout=None)  # host.json: 30 s
    queue(azurite, name).send_message(json.dumps({"op": "fail"}))

    assert host.drain() == 1  # the failed message is invisible for 30 s, so the drain ends
    assert contents(queue(azurite, f"{name}-poison")) == []


def test_non_base64_message_goes_straight_to_poison_without_invoking(start_host, azurite):
    host, name = start_host(make_app(poison_trigger=False))
    queue(azurite, name, base64=False).send_message("{not base64}")

    assert host.drain() == 0

    assert contents(queue(azurite, f"{name}-poison", base64=False)) == ["{not base64}"]
    assert contents(queue(azurite, name)) == []


def test_unknown_setting_in_a_binding_is_a_clear_error_at_start(azurite):
    app = func.FunctionApp()

    @app.queue_trigger(arg_name="msg", queue_name="%MISSING_QUEUE%-poison", connection="AzureWebJobsStorage")
    def orphan(msg: func.QueueMessage) -> None:
        pass

    host = LocalFunctionsHost(app, env={}, host_json=HOST_JSON, storage_connection_string=azurite.connection_string,
                              http_port=0)
    with pytest.raises(LocalHostError, match="orphan: app setting.*MISSING_QUEUE"):
        host.start(run_queue_workers=False)


def test_functions_are_read_from_the_app_including_one_added_later(start_host, azurite):
    app = make_app()
    calls: list[str] = []

    @app.queue_trigger(arg_name="item", queue_name="%TOY_QUEUE%-extra", connection="AzureWebJobsStorage")
    def extra(item: func.QueueMessage) -> None:
        calls.append(item.get_body().decode())

    host, name = start_host(app)
    queue(azurite, f"{name}-extra").send_message("added")

    assert host.drain() == 1
    assert calls == ["added"]
    assert {spec.name for spec in host.functions} == {"echo", "files", "special", "boom", "work", "work_poison", "extra"}
    # A second host on the same app reuses the indexing: FunctionApp.get_functions() may run only once.
    again = LocalFunctionsHost(app, env={"TOY_QUEUE": name}, host_json=HOST_JSON,
                               storage_connection_string=azurite.connection_string, http_port=0)
    assert [spec.name for spec in again.functions] == [spec.name for spec in host.functions]


def test_background_workers_process_messages_without_drain(start_host, azurite):
    app = func.FunctionApp()
    done = threading.Event()

    @app.queue_trigger(arg_name="msg", queue_name="%TOY_QUEUE%", connection="AzureWebJobsStorage")
    def consume(msg: func.QueueMessage) -> None:
        done.set()

    _, name = start_host(app, workers=True, polling_interval=0.2)
    queue(azurite, name).send_message("go")

    assert done.wait(timeout=15)


def test_settings_merge_process_env_over_local_settings_over_defaults(tmp_path):
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"IsEncrypted": False, "Values": {"A": "file", "B": "file", "N": 3, "T": True}}))

    merged = merged_settings({"A": "default", "B": "default", "C": "default"}, environ={"A": "env"}, path=path)

    assert merged == {"A": "env", "B": "file", "C": "default", "N": "3", "T": "true"}
    assert merged_settings({"C": "default"}, environ={}, path=tmp_path / "absent.json") == {"C": "default"}


def test_a_placeholder_from_the_sample_settings_counts_as_not_configured(tmp_path):
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"Values": {"GRAPH_TENANT_ID": "<your tenant id (GUID)>", "GRAPH_CLIENT_ID": "abc"}}))

    assert not is_configured("GRAPH_TENANT_ID", environ={}, path=path)
    assert is_configured("GRAPH_CLIENT_ID", environ={}, path=path)
    assert is_configured("GRAPH_TENANT_ID", environ={"GRAPH_TENANT_ID": "t"}, path=path)
