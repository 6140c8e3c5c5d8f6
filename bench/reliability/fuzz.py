"""Phase 3 of ``bench.reliability``: hypothesis against the running local host (POST bodies, intake and poison-queue
messages, GET paths and queries from strategies.py); every answer as documented, every request exactly one result. No
example stops the run: every violation is counted. See bench/README.md, "3. Fuzzing".
"""
from __future__ import annotations

import base64
import contextlib
import re
from collections import Counter
from typing import Any

import requests
from azure.core.exceptions import AzureError
from hypothesis import HealthCheck, Phase, given, seed, settings

from localdev.host_queues import check_message_text

from .ledger import Ledger
from .rig import PhaseWorld, Rig, Sizes
from .schema import Documented
from .strategies import POISON_CASES, get_targets, post_cases, queue_texts

SECTION = "3. Fuzzing (hypothesis)"
NONCHAR = re.compile("[\ufffe\uffff]|\\\\u[fF]{3}[eEfF]")
HOST_NOT_FOUND = b'{"error": "not_found"}'


def _settings(examples: int, rng_seed: int) -> Any:
    def wrap(test: Any) -> Any:
        return seed(rng_seed)(settings(max_examples=examples, deadline=None, database=None,
                                       phases=[Phase.generate], suppress_health_check=list(HealthCheck))(test))
    return wrap


class Tally:
    def __init__(self) -> None:
        self.sent = 0
        self.statuses: Counter[int] = Counter()
        self.problems: list[str] = []
        self.expected: dict[str, str] = {}   # correlation id (or message id) -> what was sent, briefly
        self.skipped: Counter[str] = Counter()
        self.nonchar: set[str] = set()       # requests whose JSON carries U+FFFE or U+FFFF (the known defect)

    def problem(self, text: str) -> None:
        if len(self.problems) < 10_000:
            self.problems.append(text[:300])


def fuzz(rig: Rig, ledger: Ledger, run: str) -> None:
    sizes = rig.sizes
    with contextlib.ExitStack() as stack:
        world = rig.world(stack, "fuzz", credential="managed_identity_fic")
        documented = Documented(world.http.get(world.url + "/api/openapi.json", timeout=30).json())
        failed_before = Counter(rig.failed)
        posts, queue, poison, gets = Tally(), Tally(), Tally(), Tally()
        _fuzz_posts(world, documented, posts, sizes.fuzz_http, sizes.seed, run)
        _fuzz_queue(world, queue, sizes.fuzz_queue, sizes.seed + 1, run, poison=False)
        _fuzz_queue(world, poison, sizes.fuzz_poison, sizes.seed + 2, run, poison=True)
        _fuzz_gets(world, documented, gets, sizes.fuzz_gets, sizes.seed + 3)
        expected = {**posts.expected, **queue.expected, **poison.expected}

        def done() -> bool:
            found = world.results.by_correlation()
            return all(key in found for key in expected)

        settled = world.settle(done, sizes.settle)
        raised = Counter(rig.failed) - failed_before
        _ledger(ledger, sizes, world, posts, queue, poison, gets, settled, raised)


# ---- POST ----------------------------------------------------------------------------------------------------------

def _fuzz_posts(world: PhaseWorld, documented: Documented, tally: Tally, examples: int, rng_seed: int,
                run: str) -> None:
    url = world.url + "/api/meetings"

    @_settings(examples, rng_seed)
    @given(case=post_cases())
    def post(case: dict[str, Any]) -> None:
        cid = f"fz{run}-p{tally.sent}"
        tally.sent += 1
        headers = {"x-correlation-id": cid, **case["headers"]}
        try:
            answer = world.http.post(url, data=case["raw"], headers=headers, timeout=120)
        except requests.RequestException as exc:
            tally.problem(f"{cid}: no answer ({type(exc).__name__}) for {case['what']}")
            tally.expected[cid] = case["what"]
            return
        tally.statuses[answer.status_code] += 1
        for problem in documented.problems("POST", "/api/meetings", answer):
            tally.problem(f"{cid}: {problem} for {case['what']}")
        tally.expected[cid] = case["what"]  # a 500 owes its result too
        if carries_nonchar(case["raw"]):
            tally.nonchar.add(cid)

    post()


# ---- queue ---------------------------------------------------------------------------------------------------------

def _fuzz_queue(world: PhaseWorld, tally: Tally, examples: int, rng_seed: int, run: str, *, poison: bool) -> None:
    target = world.poison if poison else world.intake
    for text, names_cid in POISON_CASES if poison else []:
        cid = f"fz{run}-x{tally.sent}"
        sent = target.send_message(text.replace("{cid}", cid))
        tally.sent += 1
        key = cid if names_cid else sent.id
        tally.expected[key] = f"fixed case {text[:80]!r}"
        if carries_nonchar(text):
            tally.nonchar.add(key)

    # Some generated texts are ones the queue service refuses (not sent): generate more, send ``examples``.
    @_settings(examples * 2, rng_seed)
    @given(item=queue_texts())
    def send(item: dict[str, Any]) -> None:
        if tally.sent >= examples + (len(POISON_CASES) if poison else 0):
            return
        cid = f"fz{run}-{'x' if poison else 'q'}{tally.sent}"
        text = item["text"](cid)
        try:
            check_message_text(text)  # the queue service refuses what XML 1.0 cannot carry (Azurite would jam)
            sent = target.send_message(text)
        except (AzureError, UnicodeEncodeError, ValueError) as exc:
            # Not a message the queue service takes (too large, characters XML 1.0 cannot carry): not sent at all.
            tally.skipped[type(exc).__name__] += 1
            return
        tally.sent += 1
        key = cid if item["names_cid"] else sent.id
        tally.expected[key] = item["what"]
        if carries_nonchar(text):
            tally.nonchar.add(key)

    send()


# ---- GET -----------------------------------------------------------------------------------------------------------

def _fuzz_gets(world: PhaseWorld, documented: Documented, tally: Tally, examples: int, rng_seed: int) -> None:
    @_settings(examples, rng_seed)
    @given(target=get_targets())
    def get(target: dict[str, Any]) -> None:
        tally.sent += 1
        try:
            answer = world.http.get(world.url + target["path"], params=target.get("params"), timeout=60)
        except requests.RequestException as exc:
            tally.problem(f"no answer ({type(exc).__name__}) for {target['what']}")
            return
        tally.statuses[answer.status_code] += 1
        if answer.status_code == 404 and answer.content == HOST_NOT_FOUND:
            return  # a path no function serves (an escaped "/" made it three segments): the host's own 404
        for problem in documented.problems("GET", target["template"], answer):
            tally.problem(f"{problem} for {target['what']}")

    get()


def carries_nonchar(raw: bytes | str) -> bool:
    """Whether a body or message (or the base64 text of one) carries U+FFFE or U+FFFF, raw or as a JSON escape."""
    texts = [raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw]
    try:
        texts.append(base64.b64decode(raw, validate=True).decode("utf-8", "replace"))
    except (ValueError, TypeError):
        pass
    return any(NONCHAR.search(text) for text in texts)


# ---- ledger --------------------------------------------------------------------------------------------------------

def _ledger(ledger: Ledger, sizes: Sizes, world: PhaseWorld, posts: Tally, queue: Tally, poison: Tally,
            gets: Tally, settled: bool, raised: Counter) -> None:
    s = SECTION
    told = world.results.by_correlation()
    ledger.at_least(s, "POST bodies sent", posts.sent, sizes.fuzz_http)
    ledger.note(s, "POST answers by status", dict(sorted(posts.statuses.items())))
    ledger.zero(s, "POST answers 500, undocumented, not UTF-8 or unlike the document", posts.problems)
    if posts.problems:
        ledger.note(s, "of those, 500s to requests whose JSON carries U+FFFE or U+FFFF",
                    sum(1 for problem in posts.problems if problem.split(":")[0] in posts.nonchar
                        and ": 500 for" in problem))
    ledger.at_least(s, "queue messages sent (intake)", queue.sent, sizes.fuzz_queue)
    ledger.note(s, "queue messages the queue service refused (not sent)", dict(queue.skipped) or 0)
    ledger.at_least(s, "messages sent straight to the poison queue (fixed cases, then generated)", poison.sent,
                    sizes.fuzz_poison)
    ledger.at_least(s, "GETs sent", gets.sent, sizes.fuzz_gets)
    ledger.note(s, "GET answers by status", dict(sorted(gets.statuses.items())))
    ledger.zero(s, "GET answers 500, undocumented, not UTF-8 or unlike the document", gets.problems)
    ledger.expect(s, "every expected result in, queues empty", settled, settled, "True")
    for name, tally in (("POST", posts), ("queue", queue), ("poison queue", poison)):
        missing = [f"{key}: {what}" for key, what in tally.expected.items() if key not in told]
        doubled = [f"{key}: {[r.get('status') for r in told[key]]} {what}" for key, what in tally.expected.items()
                   if len(told.get(key, [])) > 1]
        ledger.zero(s, f"{name}: requests without a result", missing)
        if missing:
            ledger.note(s, f"{name}: of those, requests whose JSON carries U+FFFE or U+FFFF",
                        sum(key in tally.nonchar for key in tally.expected if key not in told))
        ledger.zero(s, f"{name}: requests with more than one result", doubled)
    # A poisoned request is told failed/retries_exhausted, or existing when its meeting was recorded after all.
    odd = [f"{key}: {r.get('status')} {(r.get('error') or {}).get('code')}"
           for key in poison.expected for r in told.get(key, [])
           if not (r.get("status") == "existing" or (r.get("error") or {}).get("code") == "retries_exhausted")]
    ledger.zero(s, "poison queue: results other than failed/retries_exhausted or existing", odd)
    ledger.zero(s, "messages stranded in the poison queue's poison queue (no trigger reads it)", world.stranded())
    known = set(posts.expected) | set(queue.expected) | set(poison.expected)
    ledger.zero(s, "results under unknown correlationIds", [k for k in told if k not in known])
    ledger.zero(s, "unreadable (not UTF-8 JSON) or oversized (> 64 KiB) result messages",
                world.results.unreadable + ["(oversized)"] * world.results.too_large)
    ledger.zero(s, "failed receives from the results queue", world.results.receive_errors)
    ledger.note(s, "results by status", dict(world.results.statuses()))
    ledger.zero(s, "failed invocations (raised, or output not sent): the poison trigger",
                raised.get("process_poison_request", 0))
    ledger.zero(s, "failed invocations: the intake trigger (no faults in this phase)",
                raised.get("process_meeting_request", 0))
    ledger.zero(s, "failed invocations: HTTP functions (host 500)",
                sum(n for name, n in raised.items() if name not in ("process_poison_request",
                                                                     "process_meeting_request")))

