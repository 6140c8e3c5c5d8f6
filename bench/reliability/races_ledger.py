"""The checks of ``bench.reliability``'s lifecycle races: per world, what each key's row, its requests' answers and
results, and Graph's own state say; per organizer, what was created against its monthly limit."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .ledger import Ledger
from .races_plan import GraphDelays, Req, Round
from .results import is_final
from .rig import Rig

SECTION = "6. Lifecycle races"
SUCCESS = ("created", "updated", "locked", "cancelled")   # results that set the key's state (not "existing")
LIVE = ("created", "locked")

# (check, what it means), in ledger order; each must find nothing
CHECKS = (
    ("requests without exactly one final result", "lost, or more than one final result under its correlationId"),
    ("callers that gave up (only retryable answers)", "the broker kept saying 'retry'"),
    ("final HTTP answers that disagree with their result", ""),
    ("HTTP 500 answers", ""),
    ("results under unknown correlationIds", ""),
    ("keys with more than one row", ""),
    ("pending rows left", ""),
    ("keys whose row disagrees with Graph (status live/cancelled, meeting id, subject, lobby scope)", ""),
    ("cancelled keys with a live meeting in Graph", ""),
    ("keys told 'cancelled' whose row is not a tombstone", "a tombstone always wins"),
    ("keys whose row is a tombstone that nobody was told about", ""),
    ("answers and results naming another meeting than the key's", "one meeting per key, ever"),
    ("keys whose last result disagrees with the row", "the last created/updated/locked result, by completedAt"),
    ("keys whose last answer disagrees with the row and Graph", "that result's HTTP answer: id, subject, lobby"),
    ("If-Match pairs with more than one 200", "concurrent PATCHes with one If-Match: one change wins (a PATCH of "
                                               "nothing that differs may answer 200 'existing' on that version)"),
    ("PATCHes answered 412 whose change reached Graph", "only the winner reaches Graph"),
    ("changes of a key whose create failed for good answered 'retry' (or ended retries_exhausted)", ""),
    ("organizers with more meetings kept than the limit (live in Graph, or cancelled by a DELETE)",
     "a meeting Graph made past the limit (an organizer named by a UPN not known yet) is removed at once"),
    ("organizers told 'created' more often than the limit", ""),
    ("organizers whose quota route says used > limit", ""),
    ("quota bursts: creates refused with another code than organizer_quota_exceeded", ""),
    ("messages stranded in the poison queue's poison queue", ""),
)


@dataclass
class Findings:
    problems: dict[str, list[str]] = field(default_factory=lambda: {name: [] for name, _ in CHECKS})
    notes: Counter = field(default_factory=Counter)
    answers: Counter = field(default_factory=Counter)
    results: Counter = field(default_factory=Counter)
    settled: list[bool] = field(default_factory=list)
    quota: list[str] = field(default_factory=list)

    def add(self, check: str, item: str) -> None:
        self.problems[check].append(item)


def _meeting_of_row(row: dict[str, Any]) -> dict[str, Any] | None:
    parts = int(row.get("MeetingJsonParts") or 0)
    if not parts:
        return None
    return json.loads("".join(row["MeetingJson" if i == 0 else f"MeetingJson{i}"] for i in range(parts)))


def _lobby(meeting: dict[str, Any] | None) -> str | None:
    return ((meeting or {}).get("lobbyBypassSettings") or {}).get("scope")


def _view(meeting: dict[str, Any] | None) -> tuple[Any, Any, Any]:
    """What must agree: the meeting id, the subject, the lobby scope."""
    return ((meeting or {}).get("id"), (meeting or {}).get("subject"), _lobby(meeting))


def _show(meeting: dict[str, Any] | None) -> str:
    identifier, subject, lobby = _view(meeting)
    return f"(id ..{str(identifier)[-10:]}, {subject!r}, lobby {lobby})"


def examine(findings: Findings, rig: Rig, rnd: Round, delays: GraphDelays) -> None:
    world, f = rnd.world, findings
    told = world.results.by_correlation()
    state = rig.emulator.state
    f.settled.append(rnd.settled)
    f.notes["Graph calls"] += delays.calls
    f.notes["Graph answers delayed (0 to race_delay s)"] += delays.delayed
    f.notes["Graph answers 503 Retry-After: 0.2"] += delays.refused
    by_cid = {r.cid: r for r in rnd.reqs}
    _requests(f, rnd, told)
    for cid in told:
        if cid not in by_cid:
            f.add("results under unknown correlationIds", cid)
    for count in world.results.statuses().items():
        f.results[count[0]] += count[1]
    rows_by_key: dict[str, list[dict[str, Any]]] = {}
    for row in world.rows():
        rows_by_key.setdefault(str(row["ExternalId"]), []).append(row)
    live: dict[str, list[dict[str, Any]]] = {}
    for meeting in state.meetings:
        live.setdefault(str(meeting.get("externalId")), []).append(meeting)
    graph_calls = state.requests
    for key in rnd.keys:
        _key(f, rnd, key, rows_by_key.get(key, []), live.get(key, []), told, graph_calls)
    _quota(f, rnd, told, live, rows_by_key)
    for _ in range(world.stranded()):
        f.add("messages stranded in the poison queue's poison queue", f"world of limit {rnd.limit}")


def _requests(f: Findings, rnd: Round, told: dict[str, list[dict[str, Any]]]) -> None:
    for r in rnd.reqs:
        results = told.get(r.cid, [])
        finals = [x for x in results if is_final(x)]
        f.answers[f"{r.op} {r.final if not r.queue else 'queued'}"] += 1
        story = _story(r, results)
        gave_up = (r.final is None) if not r.queue else not r.sent
        if gave_up:
            rnd.gave_up.append(r)
            f.add("callers that gave up (only retryable answers)", story)
            if finals:
                f.add("requests without exactly one final result", story)
            continue
        if len(finals) != 1:
            f.add("requests without exactly one final result", story)
        if any(status == 500 for status, _, _ in r.answers):
            f.add("HTTP 500 answers", story)
        if not r.queue and r.final not in (None, 202) and len(finals) == 1:
            result = finals[0]
            code = (result.get("error") or {}).get("code")
            expected = {201: ("created",), 200: ("existing", "updated", "locked"), 204: ("cancelled",)}.get(
                r.final, ("failed",))
            answer_code = r.answers[-1][1]
            if result.get("status") not in expected or (r.final >= 400 and code != answer_code):
                f.add("final HTTP answers that disagree with their result", story)


def _story(r: Req, results: list[dict[str, Any]]) -> str:
    answers = [f"{s} {c}".strip() for s, c, _ in r.answers[-4:]]
    told = [(x.get("status"), (x.get("error") or {}).get("code"), (x.get("meeting") or {}).get("subject"))
            for x in results[-3:]]
    return f"{r.cid} {r.op} by {'UPN' if '@' in r.name else 'id'} {json.dumps(r.body)[:80]} answers {answers} " \
           f"results {told}"


def _key(f: Findings, rnd: Round, key: str, rows: list[dict[str, Any]], live: list[dict[str, Any]],
         told: dict[str, list[dict[str, Any]]], graph_calls: list[dict[str, Any]]) -> None:
    reqs = [r for r in rnd.reqs if r.key == key]
    row = rows[0] if rows else None
    status = row["Status"] if row else None
    meeting = _meeting_of_row(row) if row else None
    results = [(x, r) for r in reqs for x in told.get(r.cid, [])]
    head = (f"{key}: row {status} {_show(meeting) if meeting else ''}; Graph live [{', '.join(map(_show, live))}]; "
            f"{len(reqs)} requests: " + "; ".join(_story(r, told.get(r.cid, []))[:150] for r in reqs[:8]))
    if len(rows) > 1:
        f.add("keys with more than one row", head)
    if status == "pending":
        f.add("pending rows left", head)
    if status in LIVE:
        if len(live) != 1 or _view(live[0]) != _view(meeting):
            f.add("keys whose row disagrees with Graph (status live/cancelled, meeting id, subject, lobby scope)", head)
        if status == "locked" and _lobby(meeting) != "organizer":
            f.add("keys whose row disagrees with Graph (status live/cancelled, meeting id, subject, lobby scope)", head)
    elif live:
        f.add("keys whose row disagrees with Graph (status live/cancelled, meeting id, subject, lobby scope)", head)
    told_cancelled = any(x.get("status") == "cancelled" or (x.get("error") or {}).get("code") == "meeting_cancelled"
                         for x, _ in results)
    if (status == "cancelled" or told_cancelled) and live:
        f.add("cancelled keys with a live meeting in Graph", head)
    if told_cancelled and status != "cancelled":
        f.add("keys told 'cancelled' whose row is not a tombstone", head)
    if status == "cancelled" and not told_cancelled:
        f.add("keys whose row is a tombstone that nobody was told about", head)
    recorded_id = (meeting or {}).get("id")
    for x, r in results:
        named = (x.get("meeting") or {}).get("id")
        if x.get("status") in ("created", "existing", "updated", "locked") and named != recorded_id:
            f.add("answers and results naming another meeting than the key's", f"{r.cid} told {named}; {head}")
    for r in reqs:
        if r.final in (200, 201) and isinstance(r.final_body, dict) and r.final_body.get("id") != recorded_id:
            f.add("answers and results naming another meeting than the key's", f"{r.cid} answered; {head}")
    _last(f, key, status, meeting, live, results, head)
    _if_match(f, reqs, graph_calls, told)
    if rnd.keys[key].role == "doomed":
        for r in reqs[1:]:
            retried = [a for a in r.answers if a[2]]
            exhausted = [x for x in told.get(r.cid, []) if (x.get("error") or {}).get("code") == "retries_exhausted"]
            if retried or exhausted:
                f.add("changes of a key whose create failed for good answered 'retry' (or ended retries_exhausted)",
                      _story(r, told.get(r.cid, [])))


def _last(f: Findings, key: str, status: str | None, meeting: dict[str, Any] | None, live: list[dict[str, Any]],
          results: list[tuple[dict[str, Any], Req]], head: str) -> None:
    setting = sorted(((x, r) for x, r in results if x.get("status") in SUCCESS),
                     key=lambda pair: str(pair[0].get("completedAt")))
    if not setting or status not in LIVE:
        return  # a tombstone is checked order-free above ("a tombstone always wins")
    last, req = setting[-1]
    subject = (last.get("meeting") or {}).get("subject")
    if last["status"] == "cancelled" or subject != (meeting or {}).get("subject") or (
            last["status"] == "locked" and _lobby(meeting) != "organizer"):
        f.add("keys whose last result disagrees with the row", f"last {req.cid} {last['status']} {subject!r}; {head}")
    if last.get("source") == "http" and req.final in (200, 201) and isinstance(req.final_body, dict):
        answered = _view(req.final_body)
        if answered != _view(meeting) or not live or answered != _view(live[0]):
            f.add("keys whose last answer disagrees with the row and Graph",
                  f"last {req.cid} answered {_show(req.final_body)}; {head}")


def _if_match(f: Findings, reqs: list[Req], graph_calls: list[dict[str, Any]],
              told: dict[str, list[dict[str, Any]]]) -> None:
    pairs: dict[str, list[Req]] = {}
    for r in reqs:
        if r.group and r.op == "patch_if_match":
            pairs.setdefault(r.group, []).append(r)
    for group, members in pairs.items():
        if members[0].if_match is None:
            continue  # the GET found no meeting to read an ETag from: the pair was sent unconditionally
        # A PATCH of nothing that differs answers 200 'existing' on the version it read, writing nothing: only
        # changes that reached Graph ('updated') must be exclusive.
        changed = [r for r in members if r.final == 200
                   and any(x.get("status") == "updated" for x in told.get(r.cid, []))]
        if len(changed) > 1:
            f.add("If-Match pairs with more than one 200",
                  f"{group} If-Match {members[0].if_match}: " + "; ".join(_story(r, [])[:140] for r in members))
    sent = {str((c.get("body") or {}).get("subject")) for c in graph_calls if c["endpoint"] == "update_meeting"}
    for r in reqs:
        subject = r.body.get("subject")
        if r.op.startswith("patch") and r.final == 412 and subject and subject in sent:
            f.add("PATCHes answered 412 whose change reached Graph", _story(r, []))


def _quota(f: Findings, rnd: Round, told: dict[str, list[dict[str, Any]]], live: dict[str, list[dict[str, Any]]],
           rows_by_key: dict[str, list[dict[str, Any]]]) -> None:
    limit = rnd.limit
    made: Counter = Counter()  # keys whose meeting the broker kept: live in Graph, or cancelled through the broker
    for r in {r.key: r for r in rnd.reqs}.values():
        if live.get(r.key) or any(row.get("Status") == "cancelled" for row in rows_by_key.get(r.key, [])):
            made[r.organizer.oid] += 1
    created_told: Counter = Counter()
    for r in rnd.reqs:
        if any(x.get("status") == "created" for x in told.get(r.cid, [])):
            created_told[r.organizer.oid] += 1
    for organizer in rnd.organizers:
        oid = organizer.oid
        name = f"{organizer.role} organizer {organizer.upn} (limit {limit})"
        if made[oid] > limit:
            f.add("organizers with more meetings kept than the limit (live in Graph, or cancelled by a DELETE)",
                  f"{name}: {made[oid]} kept")
        if created_told[oid] > limit:
            f.add("organizers told 'created' more often than the limit", f"{name}: {created_told[oid]}")
        used = (rnd.quota_route.get(oid) or {}).get("used")
        if not isinstance(used, int) or used > limit:
            f.add("organizers whose quota route says used > limit", f"{name}: {rnd.quota_route.get(oid)}")
        if organizer.role == "quota":
            burst = [r for r in rnd.reqs if r.organizer.oid == oid and r.group == "burst"]
            codes = Counter((x.get("error") or {}).get("code") or x.get("status") for r in burst
                            for x in told.get(r.cid, []) if is_final(x))
            for r in burst:
                for x in told.get(r.cid, []):
                    code = (x.get("error") or {}).get("code")
                    if is_final(x) and x.get("status") == "failed" and code != "organizer_quota_exceeded":
                        f.add("quota bursts: creates refused with another code than organizer_quota_exceeded",
                              _story(r, told.get(r.cid, [])))
            f.quota.append(f"limit {limit}: {rnd.prefilled[oid]} made first, then {len(burst)} at once "
                           f"({sum('@' in r.name for r in burst)} by a new UPN, {sum(r.queue for r in burst)} queued)"
                           f": {made[oid]} made in Graph, results {dict(codes)}")


def record(ledger: Ledger, findings: Findings, rounds: list[Round], limits: list[int]) -> None:
    s, f = SECTION, findings
    reqs = [r for rnd in rounds for r in rnd.reqs]
    keys = [role for rnd in rounds for role in (o.role for o in rnd.keys.values())]
    ledger.note(s, "worlds (MONTHLY_MEETING_LIMIT)", ", ".join(map(str, limits)))
    ledger.note(s, "keys (lifecycle / create fails for good)", f"{keys.count('lifecycle')} / {keys.count('doomed')}")
    ledger.note(s, "requests (each its own correlationId)", len(reqs))
    ledger.note(s, "requests by kind", dict(sorted(Counter(r.op for r in reqs).items())))
    conditional = [r for r in reqs if r.op == "patch_if_match"]
    ledger.note(s, "PATCHes meant to carry If-Match: with the ETag a GET read / without (the GET found no meeting)",
                f"{sum(r.if_match is not None for r in conditional)} / {sum(r.if_match is None for r in conditional)}")
    ledger.note(s, "If-Match pairs sent at once (with an ETag)",
                len({r.group for r in conditional if r.group and r.if_match is not None}))
    ledger.note(s, "HTTP attempts (retries included)", sum(len(r.answers) for r in reqs))
    ledger.note(s, "retryable answers by code", dict(Counter(c or str(st) for r in reqs for st, c, retry in r.answers
                                                               if retry).most_common()))
    ledger.note(s, "final answers (op status)", dict(sorted(f.answers.items())))
    ledger.note(s, "result messages by status", dict(f.results))
    for name, count in f.notes.items():
        ledger.note(s, name, count)
    for line in f.quota:
        ledger.note(s, "quota burst", line)
    ledger.expect(s, "every expected result in, queues empty", all(f.settled), all(f.settled), "True")
    for name, _ in CHECKS:
        ledger.zero(s, name, f.problems[name])
