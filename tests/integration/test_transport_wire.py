"""The storage transport on the wire, against small servers on 127.0.0.1: keep-alive, streaming, what is never done
(redirects, retries, unverified TLS, reading the environment) and how each failure reaches azure-core."""
from __future__ import annotations

import base64
import gzip
import logging
import traceback

import pytest
import requests
from azure.core.exceptions import (
    IncompleteReadError, ServiceRequestError, ServiceRequestTimeoutError, ServiceResponseError,
    ServiceResponseTimeoutError, StreamClosedError, StreamConsumedError,
)
from azure.core.rest import HttpRequest

from localdev.certs import ensure_certs, server_ssl_context
from shared.adapters.transport import Urllib3Transport
from tests.integration.loopback import Answer, Origin, Proxy, Silent, closed_port

DEFAULT_TRUST = requests.certs.where()  # what Network.ca_bundle is without REQUESTS_CA_BUNDLE


def transport(**options) -> Urllib3Transport:
    return Urllib3Transport(**{"ca_bundle": DEFAULT_TRUST, **options})


def get(url: str, **headers: str) -> HttpRequest:
    return HttpRequest("GET", url, headers=headers)


def test_requests_share_one_kept_alive_connection_and_bodies_arrive_whole():
    with Origin(lambda seen: Answer(body=seen.body[::-1] or b"empty")) as origin, transport() as sender:
        answers = [sender.send(HttpRequest("PUT", origin.url(f"/{n}"), content=b"abc")) for n in range(3)]
        assert [a.status_code for a in answers] == [200] * 3 and answers[0].content == b"cba"
        assert answers[0].is_closed and answers[0].is_stream_consumed
    assert origin.connections == 1
    assert [s.target for s in origin.seen] == ["/0", "/1", "/2"] and origin.seen[0].body == b"abc"


def test_the_request_target_is_the_path_and_query_as_the_sdk_built_them_and_the_host_name_is_kept():
    table = "/devstoreaccount1/meetings(PartitionKey='t%7Ccontoso',RowKey='m%7Cada%40contoso.com%7Cb%C3%A9')"
    with Origin() as origin, transport() as sender:
        sender.send(get(origin.url(table + "?$select=Status,MeetingJson&timeout=5")))
        sender.send(get(origin.url("", host="localhost")))
        sender.send(get(origin.url("/a b|c?x=é")))  # what urllib3 percent-encodes, as it did before
    assert [s.target for s in origin.seen] == [table + "?$select=Status,MeetingJson&timeout=5", "/",
                                               "/a%20b%7Cc?x=%C3%A9"]
    assert [s.headers["Host"] for s in origin.seen] == [f"127.0.0.1:{origin.port}", f"localhost:{origin.port}",
                                                         f"127.0.0.1:{origin.port}"]


def test_a_url_that_cannot_be_sent_is_a_request_error():
    with transport() as sender:
        for url in ("http://127.0.0.1:port/x", "http:///no-host"):
            with pytest.raises(ServiceRequestError):
                sender.send(get(url))


def test_a_text_body_is_sent_as_utf8_with_its_length_in_bytes():
    with Origin() as origin, transport() as sender:
        sender.send(HttpRequest("POST", origin.url(), content="Réunion 😀"))
    assert origin.seen[0].body == "Réunion 😀".encode()
    assert origin.seen[0].headers["Content-Length"] == str(len("Réunion 😀".encode()))


def test_a_streamed_body_is_read_in_chunks_and_its_connection_then_serves_the_next_request():
    with Origin(lambda seen: Answer(body=b"0123456789")) as origin, transport(block_size=4) as sender:
        streamed = sender.send(get(origin.url()), stream=True)
        assert not streamed.is_stream_consumed and not streamed.is_closed
        assert list(streamed.iter_bytes()) == [b"0123", b"4567", b"89"]
        assert streamed.is_closed
        with pytest.raises(StreamConsumedError):
            list(streamed.iter_raw())
        assert sender.send(get(origin.url())).content == b"0123456789"
    assert origin.connections == 1


def test_a_streamed_response_closed_unread_drops_its_connection_and_the_next_request_opens_another():
    with Origin(lambda seen: Answer(body=b"x" * 10_000)) as origin, transport() as sender:
        unread = sender.send(get(origin.url()), stream=True)
        unread.close()
        with pytest.raises(StreamClosedError):
            unread.read()
        assert sender.send(get(origin.url())).content == b"x" * 10_000
    assert origin.connections == 2


def test_a_compressed_body_is_decoded_by_read_and_iter_bytes_but_not_by_iter_raw():
    packed = gzip.compress(b"hello " * 100)
    with Origin(lambda seen: Answer(body=packed, headers=(("Content-Encoding", "gzip"),))) as origin, \
            transport() as sender:
        assert sender.send(get(origin.url())).content == b"hello " * 100
        assert b"".join(sender.send(get(origin.url()), stream=True).iter_bytes()) == b"hello " * 100
        assert b"".join(sender.send(get(origin.url()), stream=True).iter_raw()) == packed


def test_a_redirect_is_answered_not_followed():
    with Origin(lambda seen: Answer(302, b"", (("Location", "/elsewhere"),))) as origin, transport() as sender:
        answer = sender.send(get(origin.url("/here")))
    assert answer.status_code == 302 and answer.headers["location"] == "/elsewhere"
    assert [s.target for s in origin.seen] == ["/here"]


def test_a_503_with_retry_after_is_answered_once_the_sdk_retries_not_the_transport():
    with Origin(lambda seen: Answer(503, b"busy", (("Retry-After", "1"),))) as origin, transport() as sender:
        assert sender.send(get(origin.url())).status_code == 503
    assert len(origin.seen) == 1


def test_a_body_cut_short_is_an_incomplete_read():
    with Origin(lambda seen: Answer(body=b"0123456789", cut_after=4)) as origin, transport() as sender:
        with pytest.raises(IncompleteReadError):
            sender.send(get(origin.url()))


def test_a_server_that_never_answers_is_a_read_timeout_with_the_per_request_timeout():
    with Silent() as silent, transport(read_timeout=30) as sender:
        with pytest.raises(ServiceResponseTimeoutError):
            sender.send(get(f"http://127.0.0.1:{silent.port}/"), read_timeout=0.05)


def test_a_connection_never_made_is_a_connect_timeout():
    with Silent(accepting=False) as silent, transport(connection_timeout=0.05) as sender:
        with pytest.raises(ServiceRequestTimeoutError):
            sender.send(get(f"http://127.0.0.1:{silent.port}/"))


def test_a_closed_port_is_a_request_error_and_a_connection_closed_without_an_answer_a_response_error():
    with transport() as sender, pytest.raises(ServiceRequestError) as refused:
        sender.send(get(f"http://127.0.0.1:{closed_port()}/"))
    assert not isinstance(refused.value, ServiceRequestTimeoutError)
    with Origin(lambda seen: Answer(status=0)) as origin, transport() as sender:
        with pytest.raises(ServiceResponseError):
            sender.send(get(origin.url()))


@pytest.fixture(scope="module")
def loopback_tls(tmp_path_factory):
    """A CA of the test's own and a server certificate for 127.0.0.1 and localhost."""
    return ensure_certs(tmp_path_factory.mktemp("transport-tls"))


def test_tls_is_trusted_through_the_bundle_path_and_refused_without_it(loopback_tls):
    with Origin(tls=server_ssl_context(loopback_tls)) as origin:
        with transport(ca_bundle=str(loopback_tls.ca_cert)) as trusting:
            assert trusting.send(get(origin.url())).content == b"ok"
        with transport() as default, pytest.raises(ServiceRequestError, match="CERTIFICATE_VERIFY_FAILED"):
            default.send(get(origin.url()))
        with transport(ca_bundle=str(loopback_tls.directory / "missing.pem")) as broken, \
                pytest.raises(ServiceRequestError, match="could not be loaded"):
            broken.send(get(origin.url()))


def test_a_certificate_for_another_name_is_refused_even_from_a_trusted_ca(tmp_path):
    other_name = ensure_certs(tmp_path, ip_addresses=(), dns_names=("storage.test",))
    with Origin(tls=server_ssl_context(other_name)) as origin, \
            transport(ca_bundle=str(other_name.ca_cert)) as sender:
        with pytest.raises(ServiceRequestError, match="CERTIFICATE_VERIFY_FAILED"):
            sender.send(get(origin.url()))


@pytest.mark.parametrize("options", [{"connection_verify": False}, {"connection_verify": "/other/ca.pem"},
                                     {"connection_cert": "/client.pem"}, {"allow_redirects": True}])
def test_the_trust_cannot_be_loosened_nor_unknown_options_passed_per_request(options):
    with transport() as sender, pytest.raises((ValueError, TypeError)):
        sender.send(get(f"http://127.0.0.1:{closed_port()}/"), **options)


def test_https_goes_through_the_proxy_with_connect_and_sends_the_basic_credentials(tmp_path):
    named = ensure_certs(tmp_path, ip_addresses=(), dns_names=("storage.test",))
    with Origin(tls=server_ssl_context(named)) as origin, Proxy(("user", "pa ss:w@rd")) as proxy:
        proxied = {"https://storage.test": proxy.url("user:pa%20ss%3Aw%40rd")}
        with transport(ca_bundle=str(named.ca_cert), proxies=proxied) as sender:
            answer = sender.send(get(origin.url("/t", host="storage.test")))  # the name is the proxy's to resolve
            assert answer.status_code == 200 and answer.content == b"ok"
    assert [(s.method, s.target) for s in proxy.seen] == [("CONNECT", f"storage.test:{origin.port}")]
    assert proxy.seen[0].headers["Proxy-Authorization"] == proxy.expected
    assert "Proxy-Authorization" not in origin.seen[0].headers


def test_http_is_forwarded_by_the_proxy_the_pipeline_names_and_other_hosts_go_direct():
    with Origin() as origin, Proxy(("u", "p")) as proxy, transport() as sender:
        via = {"http://127.0.0.1": proxy.url("u:p")}
        assert sender.send(get(origin.url("/via")), proxies=via).status_code == 200
        assert sender.send(get(origin.url("/direct"))).status_code == 200
    assert [(s.method, s.target) for s in proxy.seen] == [("GET", origin.url("/via"))]
    assert proxy.seen[0].headers["Proxy-Authorization"] == proxy.expected
    assert [s.target for s in origin.seen] == ["/via", "/direct"]


def test_proxy_credentials_appear_in_no_error_and_no_log(caplog):
    caplog.set_level(logging.DEBUG)
    secret = "s3cr3t-proxy-pw"
    with Proxy(("user", "right")) as proxy, Origin() as origin:
        refused_by_proxy = {"https://storage.test": proxy.url(f"user:{secret}")}
        unreachable = {"https://storage.test": f"http://user:{secret}@127.0.0.1:{closed_port()}"}
        errors = []
        for proxies in (refused_by_proxy, unreachable):
            with transport(proxies=proxies) as sender, pytest.raises(ServiceRequestError) as raised:
                sender.send(get(f"https://storage.test:{origin.port}/"))
            errors.append("".join(traceback.format_exception(raised.value)) + repr(raised.value.inner_exception))
    assert "407" in errors[0]
    encoded = base64.b64encode(f"user:{secret}".encode()).decode()
    assert not [text for text in errors + [caplog.text] if secret in text or encoded in text]


def test_the_environment_is_never_read(monkeypatch, loopback_tls):
    dead_proxy = f"http://127.0.0.1:{closed_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, dead_proxy)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(loopback_tls.ca_cert))
    with Origin() as origin, transport() as sender:
        assert sender.send(get(origin.url())).status_code == 200  # no proxy from the environment
    with Origin(tls=server_ssl_context(loopback_tls)) as origin, transport() as sender:
        with pytest.raises(ServiceRequestError):  # nor the bundle it names: only the one given
            sender.send(get(origin.url()))
