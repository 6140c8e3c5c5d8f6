"""An entity-group transaction's answer read apart (``multipart.py``) and served as ``Urllib3Response.parts()``, the
way the Tables SDK reads it: one answer per operation, matched with its request, after the batch's policies."""
from __future__ import annotations

import base64

import pytest
from azure.core.exceptions import DecodeError
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.core.rest import HttpRequest, HttpResponse

from shared.adapters.multipart import http_parts
from shared.adapters.transport_response import Urllib3Response

# As the Tables service documents it (Performing entity group transactions, "Response body"), CRLF line ends.
ANSWER = (
    "--batchresponse_b1\r\n"
    "Content-Type: multipart/mixed; boundary=changesetresponse_c1\r\n"
    "\r\n"
    "--changesetresponse_c1\r\n"
    "Content-Type: application/http\r\n"
    "Content-Transfer-Encoding: binary\r\n"
    "\r\n"
    "HTTP/1.1 201 Created\r\n"
    "Content-ID: 1\r\n"
    "Content-Type: application/json;odata=minimalmetadata;charset=utf-8\r\n"
    "ETag: W/\"datetime'2026-12-07T10%3A00%3A00Z'\"\r\n"
    "\r\n"
    "{\"PartitionKey\":\"p\",\"RowKey\":\"m\",\"Subject\":\"R\u00e9union\"}\r\n"
    "--changesetresponse_c1\r\n"
    "Content-Type: application/http\r\n"
    "Content-Transfer-Encoding: binary\r\n"
    "\r\n"
    "HTTP/1.1 204 No Content\r\n"
    "Content-ID: 2\r\n"
    "ETag: W/\"datetime'2026-12-07T10%3A00%3A01Z'\"\r\n"
    "\r\n"
    "\r\n"
    "--changesetresponse_c1--\r\n"
    "--batchresponse_b1--\r\n"
).encode("utf-8")
BATCH_TYPE = "multipart/mixed; boundary=batchresponse_b1"


class Recording(SansIOHTTPPolicy):
    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    def on_response(self, request, response) -> None:
        self.seen.append((request.http_request.method, response.http_response.status_code))


def batch_request(policy: Recording | None = None) -> tuple[HttpRequest, list[HttpRequest]]:
    """Built as the Tables SDK builds a transaction (``_batch_send``): a changeset of operations inside a batch."""
    operations = [HttpRequest("POST", "http://127.0.0.1/t"), HttpRequest("MERGE", "http://127.0.0.1/t(p,n)")]
    policies = [policy] if policy else []
    changeset = HttpRequest("POST", "")
    changeset.set_multipart_mixed(*operations, policies=policies, boundary="changeset_c1")
    batch = HttpRequest("POST", "http://127.0.0.1/$batch")
    batch.set_multipart_mixed(changeset, policies=policies, enforce_https=False, boundary="batch_b1")
    return batch, operations


def test_each_operation_s_answer_is_read_with_its_status_headers_body_and_request():
    batch, operations = batch_request()
    created, merged = http_parts(BATCH_TYPE, ANSWER, batch.multipart_mixed_info[0], batch)
    assert (created.status, created.reason, merged.status, merged.reason) == (201, "Created", 204, "No Content")
    assert created.request is operations[0] and merged.request is operations[1]
    assert created.headers["Etag"] == "W/\"datetime'2026-12-07T10%3A00%3A00Z'\""  # names case-insensitive
    assert created.body == "{\"PartitionKey\":\"p\",\"RowKey\":\"m\",\"Subject\":\"Réunion\"}".encode()
    assert merged.body == b""


def test_bare_line_feeds_a_preamble_an_epilogue_and_padding_after_a_boundary_are_read_too():
    answer = (b"a preamble to ignore\n--b2  \nContent-Type: application/http\n\nHTTP/1.1 404 Not Found\n"
              b"Content-Type: text/plain\nContent-Length: 9\n\nnot found and more\n--b2--\nan epilogue")
    request = HttpRequest("GET", "http://127.0.0.1/x")
    (missing,) = http_parts("Multipart/Mixed; boundary=\"b2\"", answer, [request], request)
    assert (missing.status, missing.headers["content-type"], missing.body) == (404, "text/plain", b"not found")


def test_a_part_past_the_requests_is_matched_with_the_whole_request_and_base64_is_decoded():
    payload = base64.b64encode(b"HTTP/1.1 409 Conflict\r\n\r\n{}")
    answer = b"--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: base64\r\n\r\n" + payload + \
        b"\r\n--b\r\nContent-Type: text/plain\r\n\r\nskipped: not an HTTP answer\r\n--b--"
    parent = HttpRequest("POST", "http://127.0.0.1/$batch")
    (conflict,) = http_parts("multipart/mixed; boundary=b", answer, [], parent)
    assert conflict.request is parent and conflict.status == 409 and conflict.body == b"{}"


@pytest.mark.parametrize("content_type, answer", [
    ("application/json", b"{}"),
    ("multipart/mixed", b"--b\r\n\r\n--b--"),
    ("multipart/mixed; boundary=b", b"no boundary at all"),
    ("multipart/mixed; boundary=b", b"--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"),
    ("multipart/mixed; boundary=b", b"--b\r\nContent-Type: application/http\r\n\r\nnot http\r\n--b--"),
    ("multipart/mixed; boundary=b", b"--b\r\nno header line\r\n\r\n\r\n--b--"),
])
def test_what_is_not_a_whole_multipart_answer_is_a_decode_error(content_type, answer):
    request = HttpRequest("GET", "http://127.0.0.1/x")
    with pytest.raises(DecodeError):
        http_parts(content_type, answer, [request], request)


def test_parts_are_responses_the_batch_s_policies_have_seen():
    policy = Recording()
    batch, operations = batch_request(policy)
    answer = Urllib3Response(batch, status=202, reason="Accepted", headers={"Content-Type": BATCH_TYPE},
                             content=ANSWER)
    created, merged = answer.parts()
    assert isinstance(created, HttpResponse) and created.request is operations[0]
    assert created.json()["Subject"] == "Réunion" and created.text().endswith("}")
    assert merged.status_code == 204 and merged.text() == "" and merged.is_closed
    assert policy.seen == [("POST", 201), ("MERGE", 204)]


def test_parts_of_an_answer_that_is_not_multipart_is_an_error():
    plain = Urllib3Response(HttpRequest("GET", "http://127.0.0.1/x"), status=200, reason="OK",
                            headers={"Content-Type": "application/json"}, content=b"{}")
    with pytest.raises(ValueError, match="not multipart/mixed"):
        plain.parts()
