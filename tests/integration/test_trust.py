"""One CA bundle load serves every TLS connection of the process (shared/adapters/trust.py), and TLS is verified as
strictly as before: against servers on 127.0.0.1 with a CA of the test's own."""
from __future__ import annotations

import shutil
import ssl

import pytest
import requests
from azure.core.rest import HttpRequest

from localdev.certs import ensure_certs, server_ssl_context
from shared.adapters.callbacks import callback_session
from shared.adapters.network import Network
from tests.integration.loopback import Origin


@pytest.fixture(scope="module")
def loopback_tls(tmp_path_factory):
    """A CA of the test's own and a server certificate for 127.0.0.1 and localhost."""
    return ensure_certs(tmp_path_factory.mktemp("trust-tls"))


@pytest.fixture
def bundle_loads(monkeypatch):
    """Every CA bundle parsed in this process during the test, by anyone (requests, urllib3, the transport)."""
    loads: list[str] = []
    original = ssl.SSLContext.load_verify_locations

    def counted(self, cafile=None, capath=None, cadata=None):
        loads.append(str(cafile or capath or "data"))
        return original(self, cafile, capath, cadata)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    return loads


def test_one_load_serves_every_connection_graph_entra_storage_and_callbacks_open(loopback_tls, bundle_loads):
    network = Network(str(loopback_tls.ca_cert))
    with Origin(tls=server_ssl_context(loopback_tls)) as graph, \
            Origin(tls=server_ssl_context(loopback_tls)) as entra, \
            Origin(tls=server_ssl_context(loopback_tls)) as storage:
        session = network.session()
        assert session.get(graph.url("/v1.0/me"), timeout=10).text == "ok"
        assert session.get(entra.url("/token"), timeout=10).text == "ok"
        session.close()  # the pools go: the next request opens a new connection
        assert network.session().get(graph.url("/v1.0/me"), timeout=10).text == "ok"
        transport = network.azure_options()["transport"]
        with transport:
            assert transport.send(HttpRequest("GET", storage.url("/Tables"))).content == b"ok"
        assert callback_session(network).get(entra.url("/hook"), timeout=10).status_code == 200
        assert (graph.connections, entra.connections, storage.connections) == (2, 2, 1)
    assert bundle_loads == [str(loopback_tls.ca_cert)], "the bundle was parsed once for five connections"
    assert network.trust.loads == 1


def test_the_shared_context_refuses_an_unknown_ca_and_a_certificate_for_another_name(loopback_tls, tmp_path):
    other_name = ensure_certs(tmp_path, ip_addresses=(), dns_names=("graph.test",))
    with Origin(tls=server_ssl_context(loopback_tls)) as own_ca, Origin(tls=server_ssl_context(other_name)) as named:
        with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
            Network().session().get(own_ca.url(), timeout=10)  # the default trust store knows no test CA
        with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
            Network(str(other_name.ca_cert)).session().get(named.url(), timeout=10)  # trusted CA, not 127.0.0.1
        assert own_ca.seen == [] and named.seen == []


def test_another_trust_asked_for_per_request_is_left_to_requests(loopback_tls):
    network = Network()  # the default trust store
    with Origin(tls=server_ssl_context(loopback_tls)) as origin:
        answer = network.session().get(origin.url(), verify=str(loopback_tls.ca_cert), timeout=10)
        assert answer.text == "ok"
    assert network.trust.loads == 0, "the request's own bundle was used, not the shared store"


def test_a_bundle_that_cannot_be_loaded_fails_that_request_naming_it_and_the_next_loads_it(loopback_tls, tmp_path):
    bundle = tmp_path / "corp-ca.pem"
    network = Network(str(bundle))
    with Origin(tls=server_ssl_context(loopback_tls)) as origin:
        session = network.session()
        with pytest.raises(OSError, match="corp-ca.pem could not be loaded"):
            session.get(origin.url(), timeout=10)
        shutil.copy(loopback_tls.ca_cert, bundle)
        assert session.get(origin.url(), timeout=10).text == "ok"
    assert network.trust.loads == 1
