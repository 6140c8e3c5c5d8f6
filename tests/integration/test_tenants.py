"""Tenant names resolved to tenant ids through Entra's OpenID discovery, against the emulator over HTTPS."""
from __future__ import annotations

import pytest
import requests

from localdev.emulator import DEFAULT_TENANT_DOMAIN, DEFAULT_TENANT_ID
from shared.domain.errors import TenantNotAllowed, TokenUnavailable
from shared.usecases.tenants import TenantDirectory


@pytest.fixture
def directory(emulator, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(emulator.ca_bundle))
    yield TenantDirectory(requests.Session(), emulator.authority_host)
    emulator.state.clear_faults()


def test_a_verified_domain_resolves_to_the_tenant_id_once(directory, emulator):
    before = emulator.state.counters.get("discovery", 0)
    assert directory.resolve(DEFAULT_TENANT_DOMAIN.upper()) == DEFAULT_TENANT_ID
    assert directory.resolve(DEFAULT_TENANT_DOMAIN) == DEFAULT_TENANT_ID
    assert emulator.state.counters["discovery"] == before + 1, "a tenant's id never changes: asked once"


def test_a_guid_is_its_own_tenant_id_without_asking_entra(directory, emulator):
    before = emulator.state.counters.get("discovery", 0)
    assert directory.resolve(DEFAULT_TENANT_ID.upper()) == DEFAULT_TENANT_ID
    assert emulator.state.counters.get("discovery", 0) == before


def test_a_domain_entra_does_not_know_is_not_allowed(directory):
    with pytest.raises(TenantNotAllowed) as refused:
        directory.resolve("nobody-owns-this.example")
    assert "not known to Microsoft Entra ID" in refused.value.detail


def test_an_entra_outage_is_retryable_and_not_remembered(directory, emulator):
    emulator.state.inject("discovery", 503, count=1)
    with pytest.raises(TokenUnavailable):
        directory.resolve(DEFAULT_TENANT_DOMAIN)
    assert directory.resolve(DEFAULT_TENANT_DOMAIN) == DEFAULT_TENANT_ID


def test_a_domain_entra_does_not_know_is_asked_about_once_a_while(emulator, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(emulator.ca_bundle))
    now = [1000.0]
    directory = TenantDirectory(requests.Session(), emulator.authority_host, monotonic=lambda: now[0])
    before = emulator.state.counters.get("discovery", 0)
    for _ in range(3):
        with pytest.raises(TenantNotAllowed):
            directory.resolve("nobody-owns-this-either.example")
    assert emulator.state.counters["discovery"] == before + 1, "a wrong name repeated costs no call each time"
    now[0] += 601  # the domain may have been verified since
    with pytest.raises(TenantNotAllowed):
        directory.resolve("nobody-owns-this-either.example")
    assert emulator.state.counters["discovery"] == before + 2
