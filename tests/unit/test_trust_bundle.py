"""The CA bundle the local world hands to the app: what the environment trusts first, then the emulator's CA."""
from __future__ import annotations

import ssl

import certifi
import pytest

from localdev.certs import TrustBundleError, ensure_certs, environment_bundle, trust_bundle


@pytest.fixture
def cas(tmp_path):
    """Two unrelated real CAs: the emulator's and a 'corporate' one."""
    return ensure_certs(tmp_path / "emulator").ca_cert, ensure_certs(tmp_path / "corporate").ca_cert


def test_the_users_bundle_comes_first_and_the_emulators_ca_follows(tmp_path, cas):
    emulator_ca, corporate_ca = cas
    target = trust_bundle(emulator_ca, tmp_path / "out" / "ca-bundle.pem",
                          {"REQUESTS_CA_BUNDLE": str(corporate_ca)})
    text = target.read_bytes()
    assert text == corporate_ca.read_bytes() + emulator_ca.read_bytes()
    context = ssl.create_default_context(cafile=str(target))  # a bundle ssl loads: both CAs, nothing else
    assert len(context.get_ca_certs()) == 2


def test_curl_ca_bundle_counts_when_requests_ca_bundle_is_not_set(tmp_path, cas):
    emulator_ca, corporate_ca = cas
    target = trust_bundle(emulator_ca, tmp_path / "b.pem", {"CURL_CA_BUNDLE": str(corporate_ca)})
    assert target.read_bytes().startswith(corporate_ca.read_bytes())


def test_without_a_bundle_in_the_environment_requests_default_is_kept(tmp_path, cas):
    emulator_ca, _ = cas
    assert environment_bundle({}) == __import__("pathlib").Path(certifi.where())
    text = trust_bundle(emulator_ca, tmp_path / "b.pem", {}).read_bytes()
    assert text.endswith(emulator_ca.read_bytes())
    assert text.count(b"BEGIN CERTIFICATE") > 50  # the public roots are still trusted


def test_a_directory_of_certificates_is_read_as_requests_reads_it(tmp_path, cas):
    emulator_ca, corporate_ca = cas
    folder = tmp_path / "certs"
    folder.mkdir()
    (folder / "corp.pem").write_bytes(corporate_ca.read_bytes())
    (folder / "README").write_text("not a certificate")
    text = trust_bundle(emulator_ca, tmp_path / "b.pem", {"REQUESTS_CA_BUNDLE": str(folder)}).read_bytes()
    assert text == corporate_ca.read_bytes() + emulator_ca.read_bytes()


def test_a_bundle_that_already_trusts_the_emulator_is_not_grown(tmp_path, cas):
    """A world inside a world (or a second run) finds its own bundle in REQUESTS_CA_BUNDLE."""
    emulator_ca, corporate_ca = cas
    first = trust_bundle(emulator_ca, tmp_path / "b.pem", {"REQUESTS_CA_BUNDLE": str(corporate_ca)})
    before = first.read_bytes()
    again = trust_bundle(emulator_ca, first, {"REQUESTS_CA_BUNDLE": str(first)})
    assert again.read_bytes() == before


def test_an_unreadable_bundle_in_the_environment_is_said_plainly(tmp_path, cas):
    emulator_ca, _ = cas
    with pytest.raises(TrustBundleError, match="cannot be read"):
        trust_bundle(emulator_ca, tmp_path / "b.pem", {"REQUESTS_CA_BUNDLE": str(tmp_path / "missing.pem")})


def test_the_benchmarks_sdk_process_trusts_the_callers_cas_and_the_emulators(tmp_path, cas, monkeypatch):
    from bench.compare.sdk_venv import child_env

    emulator_ca, corporate_ca = cas
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(corporate_ca))
    bundle = child_env(emulator_ca)["REQUESTS_CA_BUNDLE"]
    assert open(bundle, "rb").read() == corporate_ca.read_bytes() + emulator_ca.read_bytes()
