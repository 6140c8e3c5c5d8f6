"""Helpers shared by the benchmarks (bench.run, bench.compare, bench.reliability): the repository's root, the typical
request, draining a queue of JSON messages, and a description of the machine."""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from localdev.emulator import ALICE_UPN, BOB_UPN

REPO_ROOT = Path(__file__).resolve().parent.parent
ORGANIZERS = (ALICE_UPN, BOB_UPN)


def take_json_messages(queue: Any) -> list[dict[str, Any]]:
    """Every message now in the queue, parsed as JSON (received and deleted)."""
    found = []
    while True:
        batch = list(queue.receive_messages(messages_per_page=32, max_messages=32, visibility_timeout=300))
        if not batch:
            return found
        for message in batch:
            found.append(json.loads(message.content))
            queue.delete_message(message)


def meeting_body(external_id: str, index: int = 0) -> dict[str, Any]:
    """A typical request: organizer by UPN, subject, start and end with offsets, five attendees."""
    attendees = [{"upn": f"guest{k}@fabrikam.example", "role": "attendee"} for k in range(3)]
    attendees += [{"upn": BOB_UPN, "role": "presenter"},
                  {"identity": {"user": {"id": "0e4a7c2d-5b81-4f3e-9a6d-2c8b1f7e3a95", "displayName": "Dana"}}}]
    return {
        "organizerId": ORGANIZERS[index % len(ORGANIZERS)],
        "externalId": external_id,
        "subject": "Onboarding call",
        "startDateTime": "2026-12-01T09:00:00.1234567+01:00",
        "endDateTime": "2026-12-01T09:45:00+01:00",
        "participants": {"attendees": attendees},
    }


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in _read_lines("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor() or "unknown")
    mem = next((line.split()[1] for line in _read_lines("/proc/meminfo") if line.startswith("MemTotal")), None)
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(int(mem) / 1024 ** 2, 1) if mem else None,
            "os": platform.platform(), "python": platform.python_version()}


def _read_lines(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []
