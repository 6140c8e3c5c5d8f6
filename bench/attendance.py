"""Benchmark of attendance (issue 23) through the local Graph emulator: N meetings with R records each, looked up
and collected; ms and Graph calls per meeting (bench/README.md, "Attendance").

    python -m bench.attendance [--meetings 300] [--records 50] [--page-size 50] [--batch 50] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from localdev.azurite import Azurite
from localdev.emulator import (ALICE_UPN, ARTIFACT_ROLE, BOB_UPN, DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID,
                               ONLINE_MEETINGS_ROLE, GraphEmulator)
from localdev.emulator.artifacts import ARTIFACT_ENDPOINTS
from shared import bootstrap
from shared.config.artifacts import ArtifactSettings, ArtifactsMode
from shared.domain.clock import format_datetime, utc_now
from shared.domain.validation import validate_request
from shared.usecases import create_meeting
from shared.usecases.attendance import meeting_attendance
from shared.usecases.collect_attendance import collect_due_attendance, schedule_attendance

ARTIFACTS = ArtifactSettings(mode=ArtifactsMode("attendance"))
INVITED = 5  # participants each request names; the other records are guests


def percentile(samples: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else float("nan")


def artifact_calls(emulator: GraphEmulator) -> int:
    return sum(1 for call in emulator.state.requests if call["endpoint"] in ARTIFACT_ENDPOINTS)


def run(meetings: int, records: int, page_size: int, batch: int) -> tuple[list[tuple[str, str, str]], list[str]]:
    rows: list[tuple[str, str, str]] = []
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as workdir, Azurite() as azurite, GraphEmulator(Path(workdir)) as emulator:
        os.environ["REQUESTS_CA_BUNDLE"] = str(emulator.trust_bundle())
        # The seeded app with the artifact permission as well (a deployment grants it with MEETING_ARTIFACTS).
        emulator.state.directory.register_app(DEFAULT_TENANT_ID, DEFAULT_CLIENT_ID,
                                              roles=(ONLINE_MEETINGS_ROLE, ARTIFACT_ROLE))
        emulator.state.artifacts.set_page_size(page_size)
        env = {**emulator.app_settings(), "AzureWebJobsStorage": azurite.connection_string,
               "MEETINGS_TABLE": "bench" + uuid.uuid4().hex[:12]}
        deps = bootstrap.build_container(env).deps
        deps.repository.ensure_ready()

        end = utc_now().replace(microsecond=0) - timedelta(hours=1)
        guests = [f"guest{n}@fabrikam.example" for n in range(records)]
        invited = [{"upn": f"Guest{n}@Fabrikam.example"} for n in range(INVITED)]  # invited by UPN, other case
        keys = []
        started = time.perf_counter()
        for number in range(meetings):
            body = {"organizerId": (ALICE_UPN, BOB_UPN)[number % 2], "externalId": f"att-{number}-{uuid.uuid4()}",
                    "startDateTime": format_datetime(end - timedelta(hours=1)), "endDateTime": format_datetime(end),
                    "participants": {"attendees": invited}}
            outcome = create_meeting(deps, validate_request(body, queue=False), source="bench",
                                     correlation_id=f"bench-{number}", final=True)
            if outcome.record is None or outcome.error is not None:
                raise SystemExit(f"create failed: {outcome.error}")
            emulator.state.artifacts.end_occurrence(
                str(outcome.record.meeting_id), attendees=[{"address": guest} for guest in guests])
            schedule_attendance(deps, outcome.record, artifacts=ARTIFACTS)
            keys.append((body["organizerId"], body["externalId"]))
        rows.append(("setup", f"{meetings} meetings created, an occurrence of each ended with {records} participants "
                              f"({INVITED} of them invited), collection scheduled",
                     f"{time.perf_counter() - started:.1f} s"))

        # The lookup: one list call, one records call per report per page.
        calls, samples = artifact_calls(emulator), []
        for organizer, external_id in keys:
            began = time.perf_counter()
            answer = meeting_attendance(deps, organizer, external_id, mode=ARTIFACTS.mode, correlation_id="bench")
            samples.append((time.perf_counter() - began) * 1000)
            [report] = answer["reports"] or [{}]
            if len(report.get("attendees", [])) != records or sum(a["invited"] for a in report["attendees"]) != \
                    min(INVITED, records) or report.get("absentees") != [p["upn"] for p in invited[records:]]:
                failures.append(f"lookup of {external_id}: report incomplete or mapped wrongly")
        per_meeting = (artifact_calls(emulator) - calls) / meetings
        rows.append(("lookup", f"`meeting_attendance`, {meetings} meetings × {records} records (page size "
                               f"{page_size})", f"p50 {percentile(samples, 0.5):.2f} / p95 "
                                               f"{percentile(samples, 0.95):.2f} / p99 {percentile(samples, 0.99):.2f} "
                                               f"ms per meeting; {per_meeting:.2f} Graph calls per meeting"))

        # The collector: runs of at most `batch` rows, as the timer does, until nothing is due.
        calls, reported, sizes, runs = artifact_calls(emulator), [], [], 0
        now = end + ARTIFACTS.delay + timedelta(seconds=1)
        began = time.perf_counter()
        while outcomes := collect_due_attendance(deps, now, batch, artifacts=ARTIFACTS):
            runs += 1
            reported += [outcome.result["externalId"] for outcome in outcomes if outcome.result]
            sizes += [len((outcome.message or "").encode("utf-8")) for outcome in outcomes]
        elapsed = (time.perf_counter() - began) * 1000
        per_meeting = (artifact_calls(emulator) - calls) / meetings
        rows.append(("collection", f"`collect_due_attendance`, {runs} runs of at most {batch}",
                     f"{elapsed / meetings:.2f} ms per meeting (claim, record read, Graph, finish); "
                     f"{per_meeting:.2f} Graph calls per meeting; result message up to {max(sizes or [0])} bytes"))
        if sorted(reported) != sorted(external_id for _, external_id in keys):
            failures.append(f"the collector reported {len(reported)} results for {meetings} meetings "
                            f"({len(set(reported))} distinct)")
        if collect_due_attendance(deps, now + timedelta(days=3), batch, artifacts=ARTIFACTS):
            failures.append("a second pass reported again")
    return rows, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meetings", type=int, default=300)
    parser.add_argument("--records", type=int, default=50)
    parser.add_argument("--page-size", type=int, default=50, help="records per page of Graph's lists (emulator)")
    parser.add_argument("--batch", type=int, default=50, help="due rows one collector run takes")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    rows, failures = run(args.meetings, args.records, args.page_size, args.batch)
    print("| step | what | result |\n| --- | --- | --- |")
    for step, what, result in rows:
        print(f"| {step} | {what} | {result} |")
    print("\nchecks: " + ("all passed" if not failures else "FAILED\n- " + "\n- ".join(failures)))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"when": datetime.now(timezone.utc).isoformat(), "rows": rows,
                                         "failures": failures}, indent=2), encoding="utf-8")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
