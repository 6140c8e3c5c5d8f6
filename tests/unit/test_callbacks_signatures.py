"""Signed intake (issue 21): writes signed per Standard Webhooks with one of INTAKE_SIGNING_SECRETS, over the raw body
(empty for DELETE), within 5 minutes of the broker's clock; anything else is 401 signature_invalid."""
from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st
from standardwebhooks import Webhook

from shared.domain.errors import SignatureInvalid
from shared.entrypoints.signatures import IntakeVerifier, correlation_id

NOW = datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)
OLD = "whsec_" + base64.b64encode(b"o" * 32).decode()
NEW = "whsec_" + base64.b64encode(b"n" * 32).decode()
STRANGER = "whsec_" + base64.b64encode(b"s" * 32).decode()
BODY = b'{"organizerId":"o@contoso.example","externalId":"ext-1","subject":"Caf\xc3\xa9"}'


def signed(secret: str, body: bytes = BODY, *, at: datetime = NOW, webhook_id: str = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
           **headers: str) -> dict[str, str]:
    """Headers as a caller signing with the Standard Webhooks library sends them."""
    return {"webhook-id": webhook_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": Webhook(secret).sign(webhook_id, at, body), **headers}


def verifier(*secrets: str) -> IntakeVerifier:
    return IntakeVerifier(secrets or (OLD, NEW), clock=lambda: NOW)


def rejection(headers: dict[str, str], body: bytes = BODY, check: IntakeVerifier | None = None) -> SignatureInvalid:
    with pytest.raises(SignatureInvalid) as caught:
        (check or verifier()).verify(headers, body)
    assert (caught.value.status, caught.value.code) == (401, "signature_invalid")
    return caught.value


def test_a_request_signed_with_any_of_the_secrets_is_accepted_and_its_webhook_id_returned():
    assert verifier().verify(signed(OLD), BODY) == "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
    assert verifier().verify(signed(NEW), BODY) == "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"


def test_a_sender_rotating_its_secret_signs_with_both_and_either_side_verifies():
    both = signed(OLD)
    both["webhook-signature"] += " " + signed(NEW)["webhook-signature"]
    assert verifier(OLD).verify(both, BODY) and verifier(NEW).verify(both, BODY)


def test_header_names_are_case_insensitive_and_delete_signs_the_empty_body():
    headers = {name.title(): value for name, value in signed(OLD, b"").items()}
    assert verifier().verify(headers, b"") == "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"


def test_timestamps_up_to_five_minutes_away_either_way_are_accepted():
    for offset in (timedelta(minutes=-5), timedelta(minutes=5), timedelta(seconds=-299)):
        assert verifier().verify(signed(OLD, at=NOW + offset), BODY)


@pytest.mark.parametrize("offset", [timedelta(minutes=-5, seconds=-1), timedelta(minutes=5, seconds=1),
                                    timedelta(days=-365), timedelta(hours=2)])
def test_a_stale_or_future_timestamp_is_refused(offset):
    assert "more than 300 seconds" in rejection(signed(OLD, at=NOW + offset)).detail


def test_a_secret_the_broker_does_not_hold_is_refused_and_no_secret_is_echoed():
    error = rejection(signed(STRANGER))
    assert "matches none" in error.detail
    for secret in (OLD, NEW, STRANGER):
        assert secret[6:] not in error.detail and secret[6:] not in str(error.as_result_error())


def test_a_changed_body_id_or_timestamp_breaks_the_signature():
    assert "matches none" in rejection(signed(OLD), BODY + b" ").detail
    tampered = signed(OLD)
    tampered["webhook-id"] = "msg_other"
    assert "matches none" in rejection(tampered).detail
    moved = signed(OLD)
    moved["webhook-timestamp"] = str(int(NOW.timestamp()) + 1)
    assert "matches none" in rejection(moved).detail


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_named(missing):
    headers = signed(OLD)
    del headers[missing]
    assert f"{missing} is missing" in rejection(headers).detail
    assert "are missing" in rejection({}).detail


@pytest.mark.parametrize("name, value, rule", [
    ("webhook-id", "a b", "webhook-id must be"), ("webhook-id", "x" * 201, "webhook-id must be"),
    ("webhook-id", "caf\u00e9", "webhook-id must be"),
    ("webhook-timestamp", "1777626000.5", "whole seconds"), ("webhook-timestamp", "-1", "whole seconds"),
    ("webhook-timestamp", "1e9", "whole seconds"), ("webhook-timestamp", "\u0661\u0662", "whole seconds"),
    ("webhook-timestamp", "9" * 40, "whole seconds"),
    ("webhook-signature", "v2,abc", "no v1,"), ("webhook-signature", "v1,\udcff", "space-separated"),
    ("webhook-signature", "v1,\u00e9", "space-separated"), ("webhook-signature", "v1,x " * 3000, "space-separated"),
])
def test_malformed_headers_are_refused_naming_the_rule(name, value, rule):
    assert rule in rejection({**signed(OLD), name: value}).detail


def test_the_verifier_needs_valid_secrets():
    for secrets in ([], ["nope"], [OLD, "whsec_"]):
        with pytest.raises(ValueError):
            IntakeVerifier(secrets)


def test_a_signed_request_without_a_correlation_id_uses_the_webhook_id():
    assert correlation_id(None, "msg_1") == "msg_1" and correlation_id("", "msg_1") == "msg_1"
    assert correlation_id("corr-9", "msg_1") == "corr-9"


HEADER_VALUES = st.one_of(st.text(max_size=200), st.sampled_from(["", " ", "v1,", "v1,=", "0", "1777626000"]))


@given(headers=st.dictionaries(st.one_of(st.sampled_from(["webhook-id", "Webhook-Timestamp", "WEBHOOK-SIGNATURE",
                                                          "webhook-signature", "webhook-timestamp"]), st.text()),
                               HEADER_VALUES, max_size=6),
       body=st.binary(max_size=200))
@settings(max_examples=500, deadline=None)
def test_arbitrary_headers_and_bodies_raise_nothing_but_signature_invalid(headers, body):
    try:
        verifier().verify(headers, body)
    except SignatureInvalid:
        pass


@given(st.text(max_size=300), st.text(max_size=30))
@settings(max_examples=300, deadline=None)
def test_arbitrary_values_around_a_valid_signature_raise_nothing_but_signature_invalid(value, timestamp):
    for name, replacement in (("webhook-id", value), ("webhook-timestamp", timestamp), ("webhook-signature", value)):
        try:
            verifier().verify({**signed(OLD), name: replacement}, BODY)
        except SignatureInvalid:
            pass
