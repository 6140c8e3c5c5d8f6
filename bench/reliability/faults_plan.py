"""The requests of the fault run (phase 1 of ``bench.reliability``): seeded, over ~0.4 keys per request, by HTTP sync,
HTTP respond-async and the queue, naming organizers and tenants every way the API allows."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from .rig import ORGANIZERS, TENANT_NAMES

@dataclass
class Req:
    cid: str
    channel: str                                  # "sync", "async" or "queue"
    body: dict[str, Any]
    key: tuple[str, str, str] | None              # (tenant id, organizer object id, externalId); None: refused
    base64: bool = False                          # queue: sent base64-encoded
    answers: list[str] = field(default_factory=list)  # "201", "502 token_unavailable", "transport"
    final: int | None = None                      # the final HTTP status
    sent: bool = False                            # queue: the message is on the queue


def plan_requests(count: int, rng: random.Random, run: str) -> list[Req]:
    """``count`` requests over ~count*0.4 keys: each key asked at least once, then repeats, some with changed details."""
    home, other = list(ORGANIZERS)
    keys = []
    for k in range(max(1, count * 2 // 5)):
        tenant = other if rng.random() < 0.25 else home
        oid, upn = rng.choice(ORGANIZERS[tenant])
        external = f"fr{run}-{k}" if rng.random() < 0.85 else f"fr{run}/{k}?x#Ω ключ {k}"
        keys.append((tenant, oid, upn, external))
    out = []
    for i in range(count):
        tenant, oid, upn, external = keys[i] if i < len(keys) else rng.choice(keys)
        channel = rng.choices(("sync", "async", "queue"), (40, 25, 35))[0]
        organizer = _spell(rng, upn if rng.random() < 0.5 else oid)
        body: dict[str, Any] = {"organizerId": organizer, "externalId": external}
        tenant_name = rng.choice(TENANT_NAMES[tenant])
        if tenant_name is not None:
            body["tenantId"] = tenant_name
        variant = rng.random() < 0.25
        body["subject"] = f"Review {external[-6:]}" + (f" (changed {i})" if variant else "")
        if rng.random() < 0.7:
            body["startDateTime"] = "2027-03-01T09:00:00+01:00" if not variant else "2027-03-02T10:30:00.5Z"
            if rng.random() < 0.5:
                body["endDateTime"] = "2027-03-01T10:00:00.1234567+01:00" if not variant else "2027-03-02T11:00:00Z"
        if rng.random() < 0.2:
            body["participants"] = {"attendees": [{"upn": "guest@partner.example", "role": "attendee"}]}
        key: tuple[str, str, str] | None = (tenant, oid, external)
        if rng.random() < 0.03:  # not in ALLOWED_ORGANIZERS: refused before Graph, a final failure on every path
            body["organizerId"], key = "dave@outside.example", None
        cid = f"fr{run}-r{i}"
        if channel == "queue":
            body["correlationId"] = cid
        out.append(Req(cid, channel, body, key, base64=channel == "queue" and rng.random() < 0.15))
    return out


def _spell(rng: random.Random, name: str) -> str:
    return rng.choice((name, name.upper(), name.lower(), name[0].upper() + name[1:]))
