"""The ledger rows of ``bench.reliability``'s fault run: what each request came to, and what the table and the
emulator hold afterwards."""
from __future__ import annotations

from typing import Any

from .faults_plan import Req
from .injection import GraphFaults, Outages
from .ledger import Ledger
from .results import is_final
from .rig import UPN_TO_ID, PhaseWorld, Rig

SECTION = "1. Fault run"


def record(ledger: Ledger, rig: Rig, world: PhaseWorld, reqs: list[Req], faults: GraphFaults, outages: Outages,
            http500: list[str], settled: bool, run: str) -> None:
    s = SECTION
    told = world.results.by_correlation()
    channels = {c: sum(r.channel == c for r in reqs) for c in ("sync", "async", "queue")}
    ledger.at_least(s, "requests (logical, each with its own correlationId)", len(reqs), rig.sizes.requests)
    ledger.note(s, "by path", {"HTTP sync": channels["sync"], "HTTP respond-async": channels["async"],
                               "queue": channels["queue"]})
    ledger.note(s, "by organizer name / tenant name",
                {"by UPN": sum("@" in r.body["organizerId"] for r in reqs),
                 "by object id": sum("@" not in r.body["organizerId"] for r in reqs),
                 "tenant by domain": sum("." in str(r.body.get("tenantId", "")) for r in reqs),
                 "tenant by GUID": sum("-" in str(r.body.get("tenantId", "")) for r in reqs)})
    ledger.note(s, "HTTP attempts (retries included)", sum(len(r.answers) for r in reqs))
    ledger.note(s, "Graph calls (createOrGet, and PATCH for changed details)", faults.calls)
    for name, count in faults.counts.items():
        ledger.note(s, f"fault injected: {name}", count)
    ledger.at_least(s, "share of Graph calls that failed by injection (%)",
                    round(100 * faults.failures / max(1, faults.calls), 1), 30)
    token = outages.token
    ledger.note(s, "token endpoint outage: seconds, token requests during it",
                f"{token.get('seconds')} s, {token.get('calls', 0)} requests")
    ledger.at_least(s, "token endpoint outage: token requests refused", outages.token_refusals, 1)
    storage = outages.storage
    ledger.expect(s, "Azurite stopped for a while and started again (persisted): seconds, rows before -> after",
                  f"{storage.get('seconds')} s, {storage.get('rows_before')} -> {storage.get('rows_after')}",
                  bool(storage) and storage.get("rows_after", -1) >= storage.get("rows_before", 0), "kept")
    ledger.expect(s, "every expected result in, queues empty", settled, settled, "True")

    lost, duplicated, accepted_untold, gave_up = [], [], [], []
    for r in reqs:
        finals = [x for x in told.get(r.cid, []) if is_final(x)]
        if r.channel != "queue" and r.final is None or r.channel == "queue" and not r.sent:
            gave_up.append(f"{r.cid} answers {r.answers[-6:]}")
        story = (f"{r.cid} {r.channel} answers {r.answers[-6:]} results "
                 f"{[(x.get('status'), x.get('source'), (x.get('error') or {}).get('code')) for x in told.get(r.cid, [])]}")
        if not finals:
            lost.append(story)
            if r.final == 202:
                accepted_untold.append(story)
        elif len(finals) > 1:
            duplicated.append(story)
    ledger.zero(s, "lost (no final result)", lost)
    ledger.zero(s, "final HTTP answers that disagree with their result", _disagreements(reqs, told))
    ledger.zero(s, "callers that gave up (no final answer)", gave_up)
    ledger.zero(s, "duplicated final results (> 1 per correlationId)", duplicated)
    ledger.zero(s, "202s whose result never came", accepted_untold)
    known = {r.cid for r in reqs}
    ledger.zero(s, "results under unknown correlationIds", [c for c in told if c not in known])
    ledger.zero(s, "messages stranded in the poison queue's poison queue (no trigger reads it)", world.stranded())
    ledger.zero(s, "HTTP 500 answers", http500)
    ledger.note(s, "identical copies of one result message (a send retried by the storage SDK as Azurite stopped; "
                   "not counted above)", len(world.results.copies))
    ledger.zero(s, "unreadable or oversized result messages", world.results.unreadable + [""] * world.results.too_large)
    _records(ledger, rig, world, reqs, told, run)


def _disagreements(reqs: list[Req], told: dict[str, list[dict[str, Any]]]) -> list[str]:
    """A final answer of 201 must come with a created result, 200 with existing or updated, a problem with a
    failed result of the same code (a 202's result is the worker's)."""
    out = []
    for r in reqs:
        finals = [x for x in told.get(r.cid, []) if is_final(x)]
        if r.channel == "queue" or not r.answers or r.final in (None, 202) or len(finals) != 1:
            continue
        status, _, code = r.answers[-1].partition(" ")
        result = finals[0]
        expected = {"201": ("created",), "200": ("existing", "updated")}.get(status, ("failed",))
        if result.get("status") not in expected or (status >= "400" and (result.get("error") or {}).get("code")
                                                    != code):
            out.append(f"{r.cid}: answered {r.answers[-1]}, told {result.get('status')} "
                       f"{(result.get('error') or {}).get('code')}")
    return out


def _records(ledger: Ledger, rig: Rig, world: PhaseWorld, reqs: list[Req], told: dict, run: str) -> None:
    s = SECTION
    rows = world.rows()
    by_key: dict[tuple, list[dict]] = {}
    for row in rows:
        organizer = str(row["OrganizerKey"])
        by_key.setdefault((row["TenantId"], UPN_TO_ID.get(organizer, organizer), row["ExternalId"]), []).append(row)
    ledger.note(s, "rows", len(rows))
    ledger.zero(s, "duplicate rows (> 1 per key)", [f"{k}: {len(v)}" for k, v in by_key.items() if len(v) > 1])
    ledger.zero(s, "pending rows left", [f"{row['ExternalId']} {row['Status']}" for row in rows
                                         if row["Status"] == "pending"])
    meetings: dict[tuple, list[str]] = {}
    for meeting in rig.emulator.state.meetings:
        user = meeting["participants"]["organizer"]["identity"]["user"]
        if str(meeting.get("externalId", "")).startswith(f"fr{run}"):
            meetings.setdefault((user["tenantId"], user["id"], meeting["externalId"]), []).append(meeting["id"])
    ledger.note(s, "meetings in the emulator", sum(len(v) for v in meetings.values()))
    ledger.zero(s, "duplicate meetings in the emulator (> 1 per key)",
                [f"{k}: {len(v)}" for k, v in meetings.items() if len(v) > 1])
    created: dict[tuple, int] = {}
    wrong = []
    for r in reqs:
        for result in told.get(r.cid, []):
            if r.key is None or result.get("status") not in ("created", "existing"):
                continue
            created[r.key] = created.get(r.key, 0) + (result["status"] == "created")
            if (result.get("meeting") or {}).get("id") not in meetings.get(r.key, []):
                wrong.append(f"{r.cid} told {str((result.get('meeting') or {}).get('id'))[:40]}")
    ledger.zero(s, "keys told 'created' more than once", [f"{k}: {n}" for k, n in created.items() if n > 1])
    ledger.zero(s, "results naming another meeting than the key's", wrong)
    ledger.note(s, "keys never told 'created' (a timeout after Graph created it: the retry hears 200, 'existing')",
                sum(1 for n in created.values() if n == 0))
    statuses = world.results.statuses()
    ledger.note(s, "result messages by status", dict(statuses))
