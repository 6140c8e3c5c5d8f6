"""Signed intake (issue 21): when INTAKE_SIGNING_SECRETS is set, every write (POST, PATCH, DELETE) carries the
Standard Webhooks headers ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` over its raw body (empty
for DELETE). Missing, malformed, stale (more than 5 minutes from now, either way) or matching none of the secrets:
401 ``signature_invalid``. A signed request without its own correlation id uses the webhook-id as one.

The signatures are computed by the Standard Webhooks library (``Webhook.sign``, one per secret). Its ``verify`` is
not used as is: it reads the system clock (the tolerance here runs on the injected clock) and lets a header value
that is not ASCII escape as UnicodeEncodeError. Header values are checked first, then the expected ``v1,`` signature
of each secret is compared in constant time with each one the header lists (space-separated: a sender that rotates
its secret signs with both). Messages name the rule broken, never a secret or an expected signature.
"""
from __future__ import annotations

import hmac
import re
from datetime import datetime, timedelta, timezone
from typing import Mapping, Sequence

from standardwebhooks import Webhook

from shared.domain.callbacks import require_signing_secrets
from shared.domain.errors import SignatureInvalid
from shared.domain.clock import Clock, utc_now

TOLERANCE = timedelta(minutes=5)
# A webhook-id may become the request's correlation id: the same rule (1 to 200 visible ASCII characters).
_WEBHOOK_ID = re.compile(r"[\x21-\x7e]{1,200}", re.ASCII)
_TIMESTAMP = re.compile(r"[0-9]{1,12}", re.ASCII)
MAX_SIGNATURE_HEADER = 8192
HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


class IntakeVerifier:
    """Verifies signed writes against one or more ``whsec_`` secrets (any of them verifies)."""

    def __init__(self, signing_secrets: Sequence[str], *, clock: Clock = utc_now,
                 tolerance: timedelta = TOLERANCE) -> None:
        self._webhooks = [Webhook(secret) for secret in require_signing_secrets(signing_secrets,
                                                                                 "INTAKE_SIGNING_SECRETS")]
        self._clock = clock
        self._tolerance = tolerance

    def verify(self, headers: Mapping[str, str], body: bytes) -> str:
        """The request's webhook-id when its signature is valid; SignatureInvalid naming what is wrong otherwise."""
        values = {str(name).lower(): value for name, value in headers.items()}
        found = {name: values.get(name) for name in HEADERS}
        missing = [name for name, value in found.items() if not isinstance(value, str) or not value.strip()]
        if missing:
            raise SignatureInvalid(f"the request must be signed: {', '.join(missing)} "
                                   f"{'is' if len(missing) == 1 else 'are'} missing")
        webhook_id, timestamp, signature = (str(found[name]).strip() for name in HEADERS)
        if not _WEBHOOK_ID.fullmatch(webhook_id):
            raise SignatureInvalid("webhook-id must be 1 to 200 visible ASCII characters")
        if not _TIMESTAMP.fullmatch(timestamp):
            raise SignatureInvalid("webhook-timestamp must be whole seconds since 1970-01-01T00:00:00Z")
        sent_at = int(timestamp)
        now = self._clock().timestamp()
        if abs(now - sent_at) > self._tolerance.total_seconds():
            raise SignatureInvalid(f"webhook-timestamp is more than {self._tolerance.total_seconds():g} seconds "
                                   "from the broker's time: sign each request when it is sent")
        if len(signature) > MAX_SIGNATURE_HEADER or not signature.isascii():
            raise SignatureInvalid("webhook-signature must be space-separated v1,<base64> signatures")
        given = [entry.encode("ascii") for entry in signature.split(" ") if entry]
        if not any(entry.startswith(b"v1,") for entry in given):
            raise SignatureInvalid("webhook-signature has no v1,<base64> signature")
        signed_at = datetime.fromtimestamp(sent_at, tz=timezone.utc)
        for hook in self._webhooks:
            expected = hook.sign(webhook_id, signed_at, body).encode("ascii")
            if any(hmac.compare_digest(expected, entry) for entry in given):
                return webhook_id
        raise SignatureInvalid("webhook-signature matches none of the broker's INTAKE_SIGNING_SECRETS for this body")


def correlation_id(given: str | None, webhook_id: str) -> str:
    """The request's correlation id: its own when it sent one, else the webhook-id it was signed with."""
    return given if given else webhook_id
