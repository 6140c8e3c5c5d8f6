"""Where callbacks may go (issue 21): CALLBACK_ALLOWED_HOSTS, the callbackUrl rules and the address rules."""
from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings, strategies as st

from shared.domain.callback_urls import CallbackAllowlist, address_allowed, is_public_address
from shared.domain.errors import CallbackNotAllowed

LISTED = CallbackAllowlist.parse("hooks.example.com, *.partner.example, 127.0.0.1, [::1], 10.0.0.5")


def refusal(allowlist: CallbackAllowlist, url: object) -> CallbackNotAllowed:
    with pytest.raises(CallbackNotAllowed) as caught:
        allowlist.check(url)
    return caught.value


def test_a_refusal_is_400_callback_not_allowed_on_the_callbackUrl_field_and_not_retryable():
    error = refusal(LISTED, "https://unlisted.example.org/hook")
    assert (error.status, error.code, error.retryable) == (400, "callback_not_allowed", False)
    assert [(e.field, e.message) for e in error.errors] == [
        ("callbackUrl", "its host is not listed in CALLBACK_ALLOWED_HOSTS")]


@pytest.mark.parametrize("url", [
    "https://hooks.example.com/hook",
    "https://HOOKS.example.com:8443/a/b?c=d&e=f",
    "https://a.partner.example/x",
    "https://a.b.partner.example/x",
    "http://127.0.0.1:8080/cb",
    "http://[::1]:8080/cb",
    "https://10.0.0.5/cb",
])
def test_listed_hosts_are_allowed(url):
    LISTED.check(url)


def test_the_checked_parts_rebuild_the_url_for_an_address_with_the_name_kept_for_the_host_header():
    url = LISTED.check("https://Hooks.Example.com:8443/a/b?c=d")
    assert (url.host, url.port, url.target, url.address) == ("hooks.example.com", 8443, "/a/b?c=d", None)
    assert url.url_for(ipaddress.ip_address("203.0.113.9")) == "https://203.0.113.9:8443/a/b?c=d"
    assert url.url_for(ipaddress.ip_address("2001:db8::9")) == "https://[2001:db8::9]:8443/a/b?c=d"
    assert url.host_header == "hooks.example.com:8443"
    assert LISTED.check("https://hooks.example.com").host_header == "hooks.example.com"
    assert LISTED.check("https://hooks.example.com").target == "/"
    assert LISTED.check("http://[::1]:9/x").url_for() == "http://[::1]:9/x"


@pytest.mark.parametrize("url, rule", [
    ("http://hooks.example.com/hook", "must use https"),                    # plain http to a name
    ("http://10.0.0.5/hook", "must use https"),                             # listed, but not loopback
    ("ftp://hooks.example.com/hook", "must be an absolute https URL"),
    ("//hooks.example.com/hook", "must be an absolute https URL"),
    ("/relative/hook", "must be an absolute https URL"),
    ("https:///hook", "must be an absolute https URL"),
    ("https://user:pw@hooks.example.com/hook", "must not carry user info"),
    ("https://user@hooks.example.com/hook", "must not carry user info"),
    ("https://@hooks.example.com/hook", "must not carry user info"),
    ("https://evil.example.org/hook", "its host is not listed"),
    ("https://example.com.evil.example/hook", "its host is not listed"),
    ("https://partner.example/hook", "its host is not listed"),             # *. does not cover the name itself
    ("https://evilpartner.example/hook", "its host is not listed"),
    ("https://169.254.169.254/latest/meta-data", "its host is not listed"),
    ("http://169.254.169.254/latest/meta-data", "must use https"),
    ("https://127.1/hook", "must name its host as a DNS name"),              # resolvers read these as 127.0.0.1
    ("https://2130706433/hook", "must name its host as a DNS name"),
    ("https://0x7f.0.0.1/hook", "must name its host as a DNS name"),
    ("https://[fe80::1%25eth0]/hook", "must name its host as a DNS name"),
    ("https://hooks.example.com./hook", "must name its host as a DNS name"),
    ("https://b\u00fccher.example/hook", "must be ASCII"),
    ("https://hooks.example.com\\@evil.example/hook", "must be ASCII"),
    ("https://hooks.example.com/a b", "must be ASCII"),
    ("https://hooks.example.com/\r\nX: y", "must be ASCII"),
    ("https://hooks.example.com:99999/hook", "invalid port"),
    ("https://hooks.example.com:0/hook", "invalid port"),
    ("https://hooks.example.com/hook#frag", "must not have a fragment"),
    ("https://hooks.example.com/" + "a" * 2048, "at most 2048 characters"),
    (None, "must be a string"),
    (42, "must be a string"),
])
def test_refused_urls_name_the_rule_they_break(url, rule):
    assert rule in refusal(LISTED, url).errors[0].message


def test_plain_http_needs_the_loopback_address_listed_as_such():
    assert "must use https" in refusal(CallbackAllowlist.parse("*.example.com, localhost"),
                                       "http://127.0.0.1/cb").errors[0].message
    assert "must use https" in refusal(CallbackAllowlist.parse("localhost"), "http://localhost/cb").errors[0].message


def test_an_empty_allowlist_refuses_every_callback_url():
    empty = CallbackAllowlist.parse(" , ")
    assert not empty
    assert "not enabled" in refusal(empty, "https://hooks.example.com/hook").errors[0].message
    assert "not enabled" in refusal(CallbackAllowlist(), "https://1.1.1.1/hook").errors[0].message


def test_the_url_is_never_echoed_in_the_refusal():
    error = refusal(LISTED, "https://unlisted.example.org/hook?token=s3cr3t")
    assert "s3cr3t" not in error.detail and "unlisted" not in error.detail
    assert "pw" not in refusal(LISTED, "https://user:pw@hooks.example.com/").detail


@pytest.mark.parametrize("raw", ["*", "*.", "hooks.*.example", "https://hooks.example.com", "hooks.example.com/x",
                                 "-bad.example", "b\u00fccher.example", "10.0.0.0/8", "user@host.example"])
def test_malformed_allowlist_entries_are_refused_by_name(raw):
    with pytest.raises(ValueError) as caught:
        CallbackAllowlist.parse(f"hooks.example.com, {raw}")
    assert repr(raw) in str(caught.value)


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_any_text_is_either_allowed_or_refused_with_callback_not_allowed(text):
    try:
        LISTED.check(text)
    except CallbackNotAllowed:
        pass


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.0.0.5", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.2.1", "198.18.0.1",
    "::1", "::", "fe80::1", "fe80::1%eth0", "fc00::1", "fd12:3456::1", "ff02::1", "ff0e::1", "2001:db8::1",
    "::ffff:10.0.0.1", "::ffff:169.254.169.254", "2002:a00:1::1", "64:ff9b::a9fe:a9fe", "fec0::1",
    "not-an-address",
])
def test_addresses_that_are_not_global_unicast_are_refused_for_a_name(address):
    assert not address_allowed(address, "hooks.example.com", LISTED)


@pytest.mark.parametrize("address", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111", "2a00:1450:4001::200e"])
def test_global_unicast_addresses_are_allowed(address):
    assert address_allowed(address, "hooks.example.com", LISTED)
    assert is_public_address(ipaddress.ip_address(address))


def test_a_special_address_is_reached_only_through_the_same_literal_host_listed_as_such():
    assert address_allowed("127.0.0.1", "127.0.0.1", LISTED)
    assert address_allowed("::1", "::1", LISTED)
    assert address_allowed("10.0.0.5", "10.0.0.5", LISTED)
    assert not address_allowed("10.0.0.5", "hooks.example.com", LISTED), "a listed name resolving to a private address"
    assert not address_allowed("10.0.0.6", "10.0.0.6", LISTED), "an unlisted literal"
    assert not address_allowed("127.0.0.2", "127.0.0.1", LISTED), "another address than the literal"
    assert not address_allowed("169.254.169.254", "169.254.169.254", LISTED)
