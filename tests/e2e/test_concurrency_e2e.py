"""Identical requests at once, through the local host and Azurite: one meeting, one row, exactly one ``created``."""
from __future__ import annotations

import threading
from collections import Counter

import pytest
import requests

from localdev.emulator import ALICE_ID, ALICE_UPN

BURST = 50


def burst_of_posts(world, body: dict) -> list[requests.Response]:
    start, answers = threading.Barrier(BURST), []

    def one() -> None:
        http = requests.Session()
        http.trust_env = False
        start.wait()
        answers.append(http.post(world.host.base_url + "/api/meetings", json=body, timeout=60))

    threads = [threading.Thread(target=one) for _ in range(BURST)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.parametrize("organizer", [ALICE_UPN, ALICE_ID.upper()])
def test_a_burst_of_identical_posts_gets_one_meeting_one_201_and_one_created_result(world, organizer):
    answers = burst_of_posts(world, {"organizerId": organizer, "externalId": f"burst-{organizer[:5]}", "subject": "Same"})
    assert Counter(answer.status_code for answer in answers) == {201: 1, 200: BURST - 1}
    assert len({answer.json()["id"] for answer in answers}) == 1
    results = world.results()
    assert Counter(result["status"] for result in results) == {"created": 1, "existing": BURST - 1}
    assert len(world.emulator.state.calls("create_or_get", organizer=ALICE_ID)) >= 1
    rows = list(world.local.table().list_entities())
    assert [row["Status"] for row in rows if row["RowKey"].startswith("m|")] == ["created"]


def test_a_burst_of_identical_queue_messages_is_told_once_created_and_otherwise_existing(world):
    for index in range(BURST):
        world.send({"organizerId": ALICE_UPN, "externalId": "queued-burst", "correlationId": f"q-{index}"})
    world.host.drain(parallel=True)
    results = world.results()
    assert sorted(result["correlationId"] for result in results) == sorted(f"q-{i}" for i in range(BURST))
    assert Counter(result["status"] for result in results) == {"created": 1, "existing": BURST - 1}
    assert len({result["meeting"]["id"] for result in results}) == 1
