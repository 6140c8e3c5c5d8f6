"""Phase 2 of ``bench.reliability``: 50-way bursts of identical requests, all released at once by a barrier, over
HTTP (organizer by UPN, and by object id in capitals) and over the queue. Each burst must end in one meeting, one row,
exactly one ``created`` result (the others ``existing``), one result per request, and no 500."""
from __future__ import annotations

import contextlib
import json
import threading
from collections import Counter
from typing import Any

import requests
from azure.core.exceptions import AzureError

from localdev.emulator import ALICE_ID, ALICE_UPN, BOB_ID, BOB_UPN, DEFAULT_TENANT_ID

from .ledger import Ledger
from .rig import PhaseWorld, Rig

SECTION = "2. Concurrent identical bursts"


def _at_once(count: int, work: Any) -> list[Any]:
    """Run work(i) in ``count`` threads released together; their return values."""
    barrier, out = threading.Barrier(count), [None] * count

    def one(index: int) -> None:
        barrier.wait()
        out[index] = work(index)

    threads = [threading.Thread(target=one, args=(i,), name=f"burst-{i}") for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return out


def _http_burst(world: PhaseWorld, body: dict[str, Any], cids: list[str]) -> list[int]:
    raw = json.dumps(body).encode()

    def post(index: int) -> int:
        with requests.Session() as http:
            http.trust_env = False
            try:
                return http.post(world.url + "/api/meetings", data=raw, timeout=120,
                                 headers={"Content-Type": "application/json", "x-correlation-id": cids[index]}
                                 ).status_code
            except requests.RequestException:
                return 0

    return _at_once(len(cids), post)


def _queue_burst(world: PhaseWorld, body: dict[str, Any], cids: list[str]) -> list[int]:
    def send(index: int) -> int:
        try:
            world.intake.send_message(json.dumps({**body, "correlationId": cids[index]}))
            return 202
        except AzureError:
            return 0

    return _at_once(len(cids), send)


def bursts(rig: Rig, ledger: Ledger, run: str) -> None:
    sizes, state = rig.sizes, rig.emulator.state
    kinds = [("HTTP, organizer by UPN", _http_burst, ALICE_UPN, ALICE_ID),
             ("HTTP, organizer by object id", _http_burst, BOB_ID.upper(), BOB_ID),
             ("queue, organizer by UPN", _queue_burst, BOB_UPN, BOB_ID)]
    outcome: dict[str, Counter] = {name: Counter() for name, *_ in kinds}
    answers: Counter = Counter()
    problems: list[str] = []
    with contextlib.ExitStack() as stack:
        world = rig.world(stack, "bursts", credential="managed_identity_fic")
        for round_ in range(sizes.bursts):
            for name, fire, organizer, object_id in kinds:
                external = f"bu{run}-{round_}-{name.split(',')[0].lower()}-{organizer[:3]}"
                cids = [f"{external}-c{i}" for i in range(sizes.burst_size)]
                statuses = fire(world, {"organizerId": organizer, "externalId": external, "subject": "Same"}, cids)
                answers.update(statuses)

                def told() -> bool:
                    found = world.results.by_correlation()
                    return all(cid in found for cid in cids)

                world.settle(told, sizes.settle)
                found = world.results.by_correlation()
                results = [r for cid in cids for r in found.get(cid, [])]
                meetings = [m for m in state.meetings if m.get("externalId") == external]
                rows = [r for r in world.rows() if r["ExternalId"] == external]
                verdict = {
                    "one result per request": len(results) == len(cids) and all(len(found[c]) == 1 for c in cids),
                    "exactly one created": Counter(r["status"] for r in results) == Counter(
                        {"created": 1, "existing": len(cids) - 1}),
                    "one meeting": len(meetings) == 1 and all(
                        (r.get("meeting") or {}).get("id") == meetings[0]["id"] for r in results),
                    "one row": len(rows) == 1 and rows[0]["OrganizerKey"] == object_id
                    and rows[0]["TenantId"] == DEFAULT_TENANT_ID,
                    "no 500 / no transport error": all(s not in (0, 500) for s in statuses),
                    "HTTP: one 201, the rest 200": fire is not _http_burst or Counter(statuses) == Counter(
                        {201: 1, 200: len(cids) - 1}),
                }
                outcome[name].update(k for k, ok in verdict.items() if ok)
                bad = [k for k, ok in verdict.items() if not ok]
                if bad:
                    problems.append(f"{external}: {bad}; answers {dict(Counter(statuses))}; results "
                                    f"{dict(Counter(r['status'] for r in results))}; meetings {len(meetings)}; "
                                    f"rows {len(rows)}")
    total = sizes.bursts * len(kinds)
    ledger.note(SECTION, "bursts (each 50 identical requests released at once)",
                f"{total} ({sizes.bursts} x {len(kinds)} kinds) x {sizes.burst_size}")
    ledger.note(SECTION, "answers (HTTP status; queue: 202 = sent)", dict(sorted(answers.items())))
    for name, counts in outcome.items():
        for check in ("one result per request", "exactly one created", "one meeting", "one row",
                      "no 500 / no transport error"):
            ledger.expect(SECTION, f"{name}: bursts with {check}", f"{counts[check]}/{sizes.bursts}",
                          counts[check] == sizes.bursts, f"{sizes.bursts}/{sizes.bursts}")
    ledger.zero(SECTION, "bursts with any problem", problems)
