"""Methods the local host has no handler for (QUERY, PROPFIND, ...) are routed like any other: 405 with Allow on a
known route, 404 elsewhere, never 501 (the Functions host does not answer 501 either)."""
from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest

from tests.integration.toyapp import make_app


@pytest.mark.parametrize("method", ["QUERY", "PROPFIND", "BREW"])
def test_an_unknown_method_on_a_known_route_is_405_and_elsewhere_404(start_host, method):
    host, _ = start_host(make_app())
    address = urlsplit(host.base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        connection.request(method, "/api/echo/1")
        known = connection.getresponse()
        assert (known.status, known.getheader("Allow")) == (405, "GET, POST")
        known.read()
        connection.request(method, "/api/nowhere")
        unknown = connection.getresponse()
        assert unknown.status == 404 and unknown.read() == b'{"error": "not_found"}'
    finally:
        connection.close()
