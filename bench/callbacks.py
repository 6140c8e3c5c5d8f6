"""Result callbacks under a flaky receiver, and their throughput: ``python -m bench.callbacks [--quick]``.

Two parts against the local world (Azurite, the Graph emulator, the local host; receivers on 127.0.0.1 that verify
every POST with the ``standardwebhooks`` library). **Reliability**: keys created by HTTP, HTTP async and queue, most
naming a callbackUrl, then changed, moved to another URL, locked, deleted, through HTTP and the queue; the receiver
fails 30 % of the attempts (500, 503, 429, a redirect, a closed connection) and a few keys point at a receiver that
always fails. Every result must be delivered or dead-lettered exactly as the results queue saw it. **Throughput**:
deliveries a second through the local host at a receiver that answers after 100 ms. bench/README.md, "Result
callbacks"; tests/e2e/test_callbacks_reliability_fast.py runs the reliability part stepped, on small sizes.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import sys
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

import requests
from azure.storage.queue import QueueClient

from localdev.emulator import ALICE_ID, ALICE_UPN, BOB_UPN, CAROL_UPN, DEFAULT_TENANT_ID
from localdev.receiver import CallbackReceiver
from localdev.world import LocalWorld
from shared import bootstrap
from shared.domain.callbacks import CallbackDelivery, new_signing_secret
from shared.domain.records import MeetingKey
from shared.usecases.callbacks import delivery_key

from .reliability.ledger import Ledger

FAILURES = (500, 503, 429, 302, 0)  # what the flaky receiver answers when it fails; 0: the connection is closed


@dataclass(frozen=True)
class Sizes:
    """FULL is ``python -m bench.callbacks``; QUICK is ``--quick``; TEST is the fast test (stepped)."""

    keys: int = 300                 # keys, each with 3 to 6 results
    failure_rate: float = 0.3       # share of attempts the flaky receiver fails
    always_failing: int = 4         # keys whose URL points at a receiver that always answers 503
    without_url: float = 0.15       # share of keys whose create names no callbackUrl
    failing_creates: float = 0.05   # share of keys of an organizer without access policy (every result failed)
    clients: int = 8                # concurrent callers
    schedule: str = "0,1,1,2"       # CALLBACK_RETRY_SCHEDULE of the reliability part (5 attempts)
    throughput: int = 1000          # deliveries of the throughput part (0: skipped)
    receiver_delay: float = 0.1     # seconds the throughput receiver takes to answer
    threads: str = "default,24"     # PYTHON_THREADPOOL_THREAD_COUNT of each throughput run
    seed: int = 20261207


FULL = Sizes()
QUICK = replace(FULL, keys=60, always_failing=2, throughput=300)
TEST = replace(FULL, keys=16, always_failing=1, clients=1, schedule="0,0,0,0", throughput=0)


@dataclass
class Plan:
    """What one key does, and where each of its results is expected (by correlation id: the URL, or None)."""

    index: int
    create: str              # http, async or queue
    organizer: str
    url: str | None
    expected: dict[str, str | None] = field(default_factory=dict)


def _roll(seed: int, *parts: object) -> float:
    digest = hashlib.sha256(":".join(map(str, (seed, *parts))).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64


def flaky(sizes: Sizes) -> Callable[[str, int], int]:
    """The flaky receiver's answer to attempt ``seen`` of a webhook-id: a failure with ``failure_rate``, else 200."""
    def answer(webhook_id: str, seen: int) -> int:
        roll = _roll(sizes.seed, webhook_id, seen)
        return FAILURES[int(roll * 1000) % len(FAILURES)] if roll < sizes.failure_rate else 200
    return answer


def plans(sizes: Sizes, receiver: CallbackReceiver, down: CallbackReceiver) -> list[Plan]:
    found = []
    for index in range(sizes.keys):
        roll = _roll(sizes.seed, "key", index)
        create = "http" if roll < 0.5 else "async" if roll < 0.7 else "queue"
        organizer = CAROL_UPN if _roll(sizes.seed, "carol", index) < sizes.failing_creates else (ALICE_UPN, BOB_UPN)[
            index % 2]
        if index < sizes.always_failing:
            url: str | None = down.url(f"/down/{index}")
        elif _roll(sizes.seed, "url", index) < sizes.without_url:
            url = None
        else:
            url = receiver.url(f"/k/{index}?token=t{index}")
        found.append(Plan(index, create, organizer, url))
    return found


class Run:
    """One world with callbacks allowed to 127.0.0.1, driven live (queue workers) or stepped (``host.drain()``)."""

    def __init__(self, stack: contextlib.ExitStack, secret: str, *, live: bool, schedule: str, threads: str | None,
                 suffix: str) -> None:
        self.live = live
        overrides = {"CALLBACK_ALLOWED_HOSTS": "127.0.0.1", "CALLBACK_SIGNING_SECRETS": secret,
                     "CALLBACK_RETRY_SCHEDULE": schedule, "ACCESS_POLICY_GRACE_MINUTES": "0"}
        if threads:
            overrides["PYTHON_THREADPOOL_THREAD_COUNT"] = threads
        self.local = stack.enter_context(LocalWorld(overrides=overrides, suffix=suffix, queue_workers=live,
                                                    visibility_timeout=1 if live else 0, polling_interval=0.5))
        container = bootstrap.build_container(self.local.settings)
        bootstrap.use(lambda: container)
        stack.callback(bootstrap.use, lambda: bootstrap.build_container(os.environ))
        assert self.local.host is not None
        self.host = self.local.host
        self.http = requests.Session()
        self.http.trust_env = False
        stack.callback(self.http.close)

    def queue(self, setting: str, suffix: str = "") -> QueueClient:
        return QueueClient.from_connection_string(self.local.connection_string, self.local.settings[setting] + suffix)

    def call(self, method: str, path: str, correlation_id: str, **kwargs: Any) -> int:
        headers = {"x-correlation-id": correlation_id, **kwargs.pop("headers", {})}
        return self.http.request(method, self.local.base_url + path, headers=headers, timeout=60, **kwargs).status_code

    def settle(self, timeout: float = 600.0) -> bool:
        """Until the intake and callbacks queues (and their poison queues) hold nothing, in flight or delayed."""
        queues = [self.queue(name, suffix) for name in ("MEETING_REQUESTS_QUEUE", "MEETING_CALLBACKS_QUEUE")
                  for suffix in ("", "-poison")]
        if not self.live:
            for _ in range(100):
                self.host.drain(max_rounds=1000)
                if _backlog(queues) == 0:
                    return True
            return False
        deadline, quiet = time.monotonic() + timeout, 0
        while time.monotonic() < deadline:
            quiet = quiet + 1 if _backlog(queues) == 0 else 0
            if quiet >= 3:
                return True
            time.sleep(0.5)
        return False


def _backlog(queues: list[QueueClient]) -> int:
    total = 0
    for queue in queues:
        with contextlib.suppress(Exception):  # a poison queue nobody created yet
            total += queue.get_queue_properties().approximate_message_count or 0
    return total


def _texts(queue: QueueClient) -> Iterator[str]:
    """Every message of the queue as text (received and deleted)."""
    while batch := list(queue.receive_messages(messages_per_page=32, max_messages=32, visibility_timeout=300)):
        for message in batch:
            yield message.content
            queue.delete_message(message)


# ---- reliability ------------------------------------------------------------------------------------------------

def reliability(sizes: Sizes, ledger: Ledger, *, live: bool, run_id: str) -> None:
    secret = new_signing_secret()
    section = "1. Reliability under a flaky receiver"
    with contextlib.ExitStack() as stack, CapturedLogs() as logs:
        receiver = stack.enter_context(CallbackReceiver(secret, flaky(sizes)))
        down = stack.enter_context(CallbackReceiver(secret, lambda webhook_id, seen: 503))
        run = Run(stack, secret, live=live, schedule=sizes.schedule, threads=None, suffix=f"cb{run_id}")
        keys = plans(sizes, receiver, down)
        began = time.monotonic()
        _each(sizes, keys, lambda plan: _create(run, plan, run_id))
        settled = run.settle()
        _each(sizes, keys, lambda plan: _later(run, plan, run_id, receiver))
        settled = run.settle() and settled
        elapsed = time.monotonic() - began
        texts = list(_texts(run.queue("MEETING_RESULTS_QUEUE")))
        results = {json.loads(text)["correlationId"]: text for text in texts}
        failed = [json.loads(text) for text in _texts(run.queue("MEETING_CALLBACKS_FAILED_QUEUE"))]
        received = receiver.received + down.received
        ledger.expect(section, "queues settled", settled, settled, "True")
        ledger.zero(section, "requests with more than one result", len(texts) - len(results))
        _check(ledger, section, keys, results, failed, received, len(sizes.schedule.split(",")) + 1)
        ledger.note(section, "keys (creates by http / async / queue)",
                    dict(Counter(plan.create for plan in keys)))
        ledger.note(section, "attempts answered, by status (0: connection closed)",
                    dict(sorted(Counter(r.status for r in received).items())))
        ledger.note(section, "seconds, creates to last delivery", round(elapsed, 1))
    secrets = [secret, secret.removeprefix("whsec_")] + [r.headers.get("webhook-signature", "-") for r in received]
    ledger.zero(section, "log lines holding the signing secret or a signature",
                [line[:120] for line in logs.lines if any(s in line for s in secrets)])


def _each(sizes: Sizes, keys: list[Plan], work: Callable[[Plan], None]) -> None:
    with ThreadPoolExecutor(max_workers=sizes.clients) as pool:
        list(pool.map(work, keys))


def _body(plan: Plan, url: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"organizerId": plan.organizer, "externalId": f"cb-{plan.index}", "subject": "Callbacks"}
    return {**body, "callbackUrl": url} if url else body


def _create(run: Run, plan: Plan, run_id: str) -> None:
    correlation_id = f"{run_id}-{plan.index}-create"
    plan.expected[correlation_id] = plan.url
    if plan.create == "queue":
        run.queue("MEETING_REQUESTS_QUEUE").send_message(json.dumps({**_body(plan, plan.url),
                                                                    "correlationId": correlation_id}))
        return
    headers = {"Prefer": "respond-async"} if plan.create == "async" else {}
    run.call("POST", "/api/meetings", correlation_id, json=_body(plan, plan.url), headers=headers)


def _later(run: Run, plan: Plan, run_id: str, receiver: CallbackReceiver) -> None:
    """The key's later results: a change, maybe a move to another URL, maybe a lock, maybe a delete."""
    path = f"/api/meetings/{plan.organizer}/cb-{plan.index}"
    prefix, url = f"{run_id}-{plan.index}", plan.url
    if plan.create == "queue":  # changes through the queue, in whatever order the workers take them
        for action, extra in (("update", {"subject": "Changed"}), ("cancel", {"mode": "lock"})):
            correlation_id = f"{prefix}-{action}"
            plan.expected[correlation_id] = url
            run.queue("MEETING_REQUESTS_QUEUE").send_message(json.dumps({
                "action": action, "organizerId": plan.organizer, "externalId": f"cb-{plan.index}",
                "correlationId": correlation_id, **extra}))
        return
    plan.expected[f"{prefix}-patch"] = url
    run.call("PATCH", path, f"{prefix}-patch", json={"subject": "Changed"})
    if _roll(0, "move", plan.index) < 0.3 and not (url and "/down/" in url):
        url = receiver.url(f"/k/{plan.index}/moved")
        plan.expected[f"{prefix}-move"] = url
        run.call("POST", "/api/meetings", f"{prefix}-move", json=_body(plan, url))
    if _roll(0, "lock", plan.index) < 0.3:
        plan.expected[f"{prefix}-lock"] = url
        run.call("DELETE", path + "?mode=lock", f"{prefix}-lock")
    if _roll(0, "delete", plan.index) < 0.3:
        plan.expected[f"{prefix}-delete"] = url
        run.call("DELETE", path, f"{prefix}-delete")


def _check(ledger: Ledger, section: str, keys: list[Plan], results: dict[str, str], failed: list[dict[str, Any]],
           received: list[Any], attempts: int) -> None:
    expected = {cid: url for plan in keys for cid, url in plan.expected.items()}
    delivered: dict[str, list[Any]] = defaultdict(list)   # correlation id -> its 2xx deliveries
    ids: dict[str, set[str]] = defaultdict(set)            # correlation id -> the webhook-ids its attempts carried
    unknown = []
    for item in received:
        try:
            correlation_id = json.loads(item.body)["correlationId"]
        except (ValueError, KeyError):
            unknown.append(item.body[:80])
            continue
        ids[correlation_id].add(item.webhook_id)
        if 200 <= item.status <= 299:
            delivered[correlation_id].append(item)
    kept = {record["result"]["correlationId"]: record for record in failed if not record.get("malformed")}
    lost, altered, misdirected, phantom = [], [], [], []
    for correlation_id, url in expected.items():
        text = results.get(correlation_id)
        if text is None or url is None:
            if correlation_id in delivered or correlation_id in kept:
                phantom.append(correlation_id)
            continue
        target = url.split("127.0.0.1:", 1)[1].split("/", 1)[1]
        if delivered.get(correlation_id):
            if any(item.body != text.encode("utf-8") or not item.verified for item in delivered[correlation_id]):
                altered.append(correlation_id)
            if any(item.path != "/" + target for item in delivered[correlation_id]):
                misdirected.append(correlation_id)
        elif correlation_id in kept:
            record = kept[correlation_id]
            if record["result"] != json.loads(text) or record["callbackUrl"] != url or record["attempts"] != attempts:
                altered.append(correlation_id)
        else:
            lost.append(correlation_id)
    with_url = sum(1 for cid, url in expected.items() if url and cid in results)
    ledger.expect(section, "requests with a result on the results queue", len(results), set(results) == set(expected),
                  f"{len(expected)}, one each", sorted(set(expected) - set(results)))
    ledger.note(section, "results whose key has a callbackUrl", with_url)
    ledger.note(section, "delivered (2xx) / dead-lettered", f"{len(delivered)} / {len(kept)}")
    ledger.zero(section, "results neither delivered nor dead-lettered", lost)
    ledger.zero(section, "deliveries or failed records not byte for byte the result (or not verified)", altered)
    ledger.zero(section, "delivered to another URL than the key's at the time", misdirected)
    ledger.zero(section, "deliveries of results whose key names no callbackUrl", phantom + unknown)
    ledger.zero(section, "results delivered (2xx) more than once", [c for c, d in delivered.items() if len(d) > 1])
    ledger.zero(section, "results whose attempts carried more than one webhook-id", [c for c, w in ids.items()
                                                                                     if len(w) > 1])
    always = [cid for plan in keys if plan.url and "/down/" in plan.url for cid in plan.expected]
    ledger.zero(section, "results of the always-failing receiver not dead-lettered",
                [cid for cid in always if cid in results and cid not in kept])
    ledger.zero(section, "failed-queue records that are malformed", [r for r in failed if r.get("malformed")])


class CapturedLogs(logging.Handler):
    """Every log line of the run (INFO and up), for the check that no secret is logged."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.lines.append(self.format(record))

    def __enter__(self) -> "CapturedLogs":
        root = logging.getLogger()
        self._level = root.level
        root.addHandler(self)
        root.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc: object) -> None:
        root = logging.getLogger()
        root.removeHandler(self)
        root.setLevel(self._level)


# ---- throughput -------------------------------------------------------------------------------------------------

def throughput(sizes: Sizes, ledger: Ledger, *, run_id: str) -> None:
    """Deliveries a second through the local host's callbacks trigger at a receiver that answers after 100 ms."""
    section = f"2. Throughput at a receiver answering after {sizes.receiver_delay * 1000:.0f} ms"
    for threads in sizes.threads.split(","):
        secret = new_signing_secret()
        with contextlib.ExitStack() as stack:
            receiver = stack.enter_context(CallbackReceiver(secret, delay=sizes.receiver_delay))
            run = Run(stack, secret, live=True, schedule="5", threads=None if threads == "default" else threads,
                      suffix=f"tp{threads[:3]}{run_id}")
            assert run.host.pool is not None
            queue = run.queue("MEETING_CALLBACKS_QUEUE")
            now = datetime.now(timezone.utc)
            # As the app makes them: each names a key, whose record each attempt reads (a 410 before?).
            messages = [CallbackDelivery.first(
                url=receiver.url(f"/t/{n}"), now=now, body=json.dumps({"correlationId": f"tp-{n}", "status": "ok"}),
                key=delivery_key(MeetingKey(DEFAULT_TENANT_ID, ALICE_ID, f"tp-{n}"))).to_json()
                for n in range(sizes.throughput)]
            began = time.monotonic()
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(queue.send_message, messages))
            enqueued = time.monotonic() - began
            done = receiver.wait_for(lambda got: len(got) >= sizes.throughput, timeout=600)
            elapsed = time.monotonic() - began
            label = f"{run.host.pool.size} worker threads ({threads})"
            ledger.expect(section, f"{label}: delivered", len(receiver.received), done and all(
                r.verified and r.status == 200 for r in receiver.received), f"{sizes.throughput}, verified")
            ledger.note(section, f"{label}: deliveries a second", round(sizes.throughput / elapsed, 1))
            ledger.note(section, f"{label}: seconds (enqueueing {enqueued:.1f} s of them)", round(elapsed, 1))


# ---- the command ------------------------------------------------------------------------------------------------

def run(sizes: Sizes, *, live: bool = True, progress: Callable[[str], None] = lambda text: None) -> Ledger:
    ledger = Ledger()
    run_id = uuid.uuid4().hex[:6]
    progress("reliability ...")
    reliability(sizes, ledger, live=live, run_id=run_id)
    if live and sizes.throughput:
        progress("throughput ...")
        throughput(sizes, ledger, run_id=run_id)
    return ledger


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.callbacks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    for item in fields(Sizes):
        parser.add_argument(f"--{item.name.replace('_', '-')}", type=type(item.default), default=None,
                            help=f"default {getattr(FULL, item.name)} ({getattr(QUICK, item.name)} with --quick)")
    args = parser.parse_args(argv)
    sizes = replace(QUICK if args.quick else FULL,
                    **{f.name: getattr(args, f.name) for f in fields(Sizes) if getattr(args, f.name) is not None})
    # The console shows warnings, less those a flaky receiver makes of every third attempt (the log check still
    # reads every line).
    console = logging.StreamHandler()
    console.setLevel(logging.WARNING)
    console.addFilter(lambda record: record.levelno >= logging.ERROR or not record.name.startswith(
        ("shared.usecases.deliver", "localdev.host", "urllib3.connectionpool")))
    logging.basicConfig(level=logging.WARNING, handlers=[console], format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING)
    began = time.monotonic()
    ledger = run(sizes, progress=lambda text: print(f"[{time.monotonic() - began:6.1f} s] {text}", file=sys.stderr,
                                                    flush=True))
    print(f"## Callbacks ledger\n\n`python -m bench.callbacks {' '.join(argv if argv is not None else sys.argv[1:])}`"
          f" on {os.cpu_count()} cores; sizes: {', '.join(f'{f.name}={getattr(sizes, f.name)}' for f in fields(Sizes))}"
          f"\n\n{ledger.markdown()}\n\n{'all checks passed' if ledger.ok else f'{len(ledger.failed)} check(s) FAILED'}"
          f"; {time.monotonic() - began:.0f} s")
    return 0 if ledger.ok else 1


if __name__ == "__main__":
    sys.exit(main())
