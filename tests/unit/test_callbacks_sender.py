"""The callback sender (issue 21) against real receivers on 127.0.0.1: Standard Webhooks signatures a receiver verifies
with the library, one webhook-id across attempts, 410, redirects not followed, the address checked and pinned, TLS to
the name over the pinned address. Loopback only; resolvers are injected, so no name is ever looked up."""
from __future__ import annotations

import base64
import http.server
import json
import socket
import threading
from datetime import datetime, timezone
from typing import Any, Iterator

import pytest
import requests
from standardwebhooks import Webhook, WebhookVerificationError

import shared.adapters.callbacks as callbacks_module
from localdev.certs import ensure_certs, server_ssl_context
from shared.adapters.callbacks import BODY_CAP, CallbackSender, callback_session
from shared.adapters.network import Network
from shared.domain.callback_urls import CallbackAllowlist
from shared.domain.callbacks import AttemptOutcome, AttemptResult, CallbackDelivery, FailedDelivery
from shared.domain.clock import utc_now
from shared.usecases.deliver import DeliveryPorts, Ending, deliver_attempt

SECRET_A = "whsec_" + base64.b64encode(b"A" * 32).decode()
SECRET_B = "whsec_" + base64.b64encode(b"B" * 32).decode()
OTHER = "whsec_" + base64.b64encode(b"C" * 32).decode()
BODY = '{"correlationId":"c-1","status":"created","meeting":{"subject":"Caf\u00e9 \u2615"}}'
LOOPBACK = CallbackAllowlist.parse("127.0.0.1")


class Receiver(http.server.ThreadingHTTPServer):
    """Answers each POST with the next scripted answer: a status, (status, headers), or "hang" (no answer until the
    test ends). Records path, headers and body of every request."""

    daemon_threads = True

    def __init__(self, answers: list[Any], tls: Any = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answers = list(answers)
        self.received: list[dict[str, Any]] = []
        self.server_names: list[str | None] = []
        self.release = threading.Event()
        if tls is not None:
            tls.sni_callback = lambda sock, name, context: self.server_names.append(name)
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, path: str = "/hook?token=s3cr3t") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 - the standard library's name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
        answer = self.server.answers.pop(0) if self.server.answers else 200
        if answer == "hang":
            self.server.release.wait(10)
            return
        status, headers = answer if isinstance(answer, tuple) else (answer, {})
        self.send_response(status)
        for name, value in {"Content-Length": "0", **headers}.items():
            self.send_header(name, value)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Any]:
    started: list[Receiver] = []

    def start(*answers: Any, tls: Any = None) -> Receiver:
        started.append(Receiver(list(answers), tls))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def sender(*secrets: str, allowlist: CallbackAllowlist = LOOPBACK, **options: Any) -> CallbackSender:
    return CallbackSender(callback_session(), secrets or (SECRET_A,), allowlist, **options)


def delivery(url: str) -> CallbackDelivery:
    return CallbackDelivery.first(url=url, body=BODY, now=utc_now(), key="t|o|ext-1")


def verified(secret: str, request: dict[str, Any]) -> Any:
    """What a receiver does with the Standard Webhooks library: verify the raw body against the headers."""
    return Webhook(secret).verify(request["body"], request["headers"])


def test_a_callback_is_signed_by_each_secret_and_either_verifies_so_receivers_can_rotate(receiver):
    server = receiver(204)
    attempt = delivery(server.url())
    result = sender(SECRET_A, SECRET_B).send(attempt)
    assert result.outcome is AttemptOutcome.DELIVERED and result.status == 204
    request = server.received[0]
    assert request["body"] == BODY.encode("utf-8"), "the body is the result message, byte for byte"
    assert request["path"] == "/hook?token=s3cr3t"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["webhook-id"] == attempt.webhook_id
    assert len(request["headers"]["webhook-signature"].split(" ")) == 2
    assert verified(SECRET_A, request) == json.loads(BODY) and verified(SECRET_B, request) == json.loads(BODY)
    with pytest.raises(WebhookVerificationError):
        verified(OTHER, request)


def test_500_then_200_is_two_attempts_with_one_webhook_id(receiver):
    server = receiver(500, 200)
    queued: list[tuple[CallbackDelivery, int]] = []
    ports = DeliveryPorts(sender().send, lambda d, delay: queued.append((d, delay)), _unexpected, _unexpected)
    assert deliver_attempt(delivery(server.url()), (5,), ports).ending is Ending.REQUEUED
    assert deliver_attempt(queued[0][0], (5,), ports).ending is Ending.DELIVERED
    ids = [request["headers"]["webhook-id"] for request in server.received]
    assert len(ids) == 2 and ids[0] == ids[1] == queued[0][0].webhook_id
    assert all(verified(SECRET_A, request) for request in server.received)


def test_a_410_stops_delivering(receiver):
    server = receiver(410)
    gone: list[CallbackDelivery] = []
    ports = DeliveryPorts(sender().send, _unexpected, _unexpected, gone.append)
    assert deliver_attempt(delivery(server.url()), (5, 300), ports).ending is Ending.STOPPED
    assert len(gone) == 1 and len(server.received) == 1


def test_every_attempt_failing_ends_dead_lettered_with_the_result_intact(receiver):
    server = receiver(503, 500, 502)
    queued: list[CallbackDelivery] = []
    failed: list[FailedDelivery] = []
    ports = DeliveryPorts(sender().send, lambda d, delay: queued.append(d), failed.append, _unexpected)
    current = delivery(server.url())
    while deliver_attempt(current, (0, 0), ports).ending is Ending.REQUEUED:
        current = CallbackDelivery.from_json(queued[-1].to_json())
    record = json.loads(failed[0].to_json())
    assert record["result"] == json.loads(BODY) and record["attempts"] == 3 and record["lastAnswer"]["status"] == 502
    assert len(server.received) == 3


def test_a_redirect_is_not_followed_and_counts_as_a_failed_attempt(receiver):
    server = receiver((302, {"Location": "/elsewhere"}), (307, {"Location": "/elsewhere"}))
    for status in (302, 307):
        result = sender().send(delivery(server.url()))
        assert (result.outcome, result.status) == (AttemptOutcome.RETRY, status)
    assert [request["path"] for request in server.received] == ["/hook?token=s3cr3t"] * 2


class NoNetwork(requests.Session):
    def request(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no connection may be made")


@pytest.mark.parametrize("url, resolved, error", [
    ("https://metadata.example.com/", ["169.254.169.254"], "address not allowed: 169.254.169.254"),
    ("https://hooks.example.com/", ["10.0.0.7"], "address not allowed: 10.0.0.7"),
    ("https://hooks.example.com/", ["93.184.215.14", "192.168.1.10"], "address not allowed: 192.168.1.10"),
    ("https://hooks.example.com/", ["::ffff:127.0.0.1"], "address not allowed"),
    ("https://hooks.example.com/", ["127.0.0.1"], "address not allowed"),   # 127.0.0.1 is listed, but as a literal
    ("https://hooks.example.com/", [], "could not resolve the host"),
    ("https://user:pw@hooks.example.com/", ["93.184.215.14"], "not allowed: callbackUrl must not carry user info"),
    ("http://hooks.example.com/", ["93.184.215.14"], "not allowed: callbackUrl must use https"),
    ("https://unlisted.example.org/", ["93.184.215.14"], "not allowed: callbackUrl its host is not listed"),
    ("https://169.254.169.254/", [], "not allowed: callbackUrl its host is not listed"),
])
def test_a_refused_url_or_address_is_a_failed_attempt_without_any_connection(url, resolved, error):
    allowlist = CallbackAllowlist.parse("hooks.example.com, metadata.example.com, 127.0.0.1")
    result = CallbackSender(NoNetwork(), [SECRET_A], allowlist, resolver=lambda host, port: resolved).send(
        delivery(url))
    assert result.outcome is AttemptOutcome.RETRY and result.status is None
    assert result.error is not None and result.error.startswith(error) and "pw" not in result.error


def test_a_resolver_failure_is_a_failed_attempt():
    def broken(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    result = CallbackSender(NoNetwork(), [SECRET_A], CallbackAllowlist.parse("hooks.example.com"),
                            resolver=broken).send(delivery("https://hooks.example.com/"))
    assert result == AttemptResult.not_sent("could not resolve the host")


@pytest.fixture
def hooks_test_tls(tmp_path):
    """A server certificate for the name hooks.test only (no IP address), from a CA of its own."""
    return ensure_certs(tmp_path, ip_addresses=(), dns_names=("hooks.test",))


@pytest.fixture
def names_never_resolved(monkeypatch):
    """Only IP addresses reach getaddrinfo: a connection by name would fail the test (and never leave the host)."""
    real = socket.getaddrinfo

    def addresses_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            socket.inet_pton(socket.AF_INET6 if ":" in str(host) else socket.AF_INET, str(host))
        except OSError:
            raise socket.gaierror(socket.EAI_NONAME, f"the test resolves no name ({host})") from None
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", addresses_only)


def test_tls_goes_to_the_checked_address_and_speaks_to_the_name(receiver, hooks_test_tls, names_never_resolved,
                                                                monkeypatch):
    server = receiver(200, tls=server_ssl_context(hooks_test_tls))
    # The address rules would refuse 127.0.0.1 for a name: here the receiver must be on loopback, so they let it be.
    checked: list[tuple[str, str]] = []
    monkeypatch.setattr(callbacks_module, "address_allowed",
                        lambda address, host, allowlist: checked.append((address, host)) or True)
    hooks = CallbackSender(callback_session(Network(str(hooks_test_tls.ca_cert))), [SECRET_A],
                           CallbackAllowlist.parse("hooks.test"), resolver=lambda host, port: ["127.0.0.1"])
    result = hooks.send(delivery(f"https://hooks.test:{server.port}/hook?token=s3cr3t"))
    assert result.outcome is AttemptOutcome.DELIVERED, result
    assert checked == [("127.0.0.1", "hooks.test")]
    assert server.server_names == ["hooks.test"], "SNI names the host, not the address"
    request = server.received[0]
    assert request["headers"]["Host"] == f"hooks.test:{server.port}" and request["path"] == "/hook?token=s3cr3t"
    assert verified(SECRET_A, request)


def test_a_certificate_for_another_name_fails_the_attempt_without_telling_the_query(receiver, hooks_test_tls,
                                                                                    names_never_resolved, monkeypatch):
    server = receiver(200, tls=server_ssl_context(hooks_test_tls))
    monkeypatch.setattr(callbacks_module, "address_allowed", lambda address, host, allowlist: True)
    hooks = CallbackSender(callback_session(Network(str(hooks_test_tls.ca_cert))), [SECRET_A],
                           CallbackAllowlist.parse("other.test"), resolver=lambda host, port: ["127.0.0.1"])
    result = hooks.send(delivery(f"https://other.test:{server.port}/hook?token=s3cr3t"))
    assert result == AttemptResult.not_sent("TLS error: CERTIFICATE_VERIFY_FAILED", result.duration_ms)
    assert server.received == []


def test_a_refused_connection_and_a_read_timeout_are_failed_attempts(receiver):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    refused = sender().send(delivery(f"http://127.0.0.1:{port}/hook?token=s3cr3t"))
    assert refused.outcome is AttemptOutcome.RETRY and refused.error == "connection error: ECONNREFUSED"

    server = receiver("hang")
    timed_out = sender(timeout=0.3).send(delivery(server.url()))
    assert timed_out.outcome is AttemptOutcome.RETRY and timed_out.error == "read timeout"


def test_the_answer_body_is_read_only_up_to_the_cap_and_the_duration_comes_from_the_injected_clock():
    reads: list[int] = []

    class EndlessBody:
        def read(self, amount: int) -> bytes:
            reads.append(amount)
            return b"x" * amount

    class Answer:
        status_code, raw, closed = 200, EndlessBody(), False

        def close(self) -> None:
            self.closed = True

    answer = Answer()

    class Session(requests.Session):
        def request(self, *args: Any, **kwargs: Any) -> Any:
            assert kwargs["allow_redirects"] is False and kwargs["stream"] is True
            assert kwargs["timeout"] == (15.0, 15.0)
            return answer

    ticks = iter([100.0] + [100.75] * 1000)
    hooks = CallbackSender(Session(), [SECRET_A], CallbackAllowlist.parse("hooks.example.com"),
                           resolver=lambda host, port: ["93.184.215.14"], monotonic=lambda: next(ticks))
    result = hooks.send(delivery("https://hooks.example.com/hook"))
    assert result == AttemptResult.answered(200, 750)
    assert sum(reads) == BODY_CAP and answer.closed


def test_a_sender_needs_valid_signing_secrets():
    for secrets in ([], ["not-a-secret"], [SECRET_A, "whsec_"]):
        with pytest.raises(ValueError):
            CallbackSender(callback_session(), secrets, LOOPBACK)


def test_the_timestamp_is_the_attempts_own_from_the_injected_clock():
    at = datetime(2026, 5, 1, 9, 0, 30, 999_000, tzinfo=timezone.utc)
    headers = sender(clock=lambda: at).signed_headers(delivery("http://127.0.0.1:9/hook"))
    assert headers["webhook-timestamp"] == str(int(at.timestamp()))
    expected = Webhook(SECRET_A).sign(headers["webhook-id"], at.replace(microsecond=0), BODY.encode())
    assert headers["webhook-signature"] == expected


def _unexpected(*args: Any) -> None:
    raise AssertionError(f"unexpected call with {args!r}")
