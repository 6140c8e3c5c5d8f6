"""Queue work in the local host as the real host does it: batches of batchSize on the Python worker's thread pool,
at most batchSize + newBatchThreshold in flight, and the usual retry and poison semantics, against real Azurite.

Concurrency is shown with barriers that only open when k invocations run at the same time (a barrier that times out
fails the invocation), never with sleeps."""
from __future__ import annotations

import json
import threading

import azure.functions as func
import pytest
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueClient

from localdev.host_common import QueueOptions
from localdev.host_queues import QueueService
from localdev.host_workers import worker_pool_size
from tests.integration.toyapp import new_queue_name

WAIT = 20  # seconds: the bound on every wait below; a correct host never gets near it


def plain_host_json(**queues) -> dict:
    return {"version": "2.0", "extensions": {"queues": {"messageEncoding": "none", "maxDequeueCount": 3,
                                                        "maxPollingInterval": "00:00:01", **queues}}}


class Tracker:
    """Counts invocations running at once and remembers the most seen."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.active = self.most = self.done = 0

    def enter(self) -> None:
        with self.lock:
            self.active += 1
            self.most = max(self.most, self.active)
            self.lock.notify_all()

    def leave(self) -> None:
        with self.lock:
            self.active -= 1
            self.done += 1
            self.lock.notify_all()

    def wait_for(self, predicate) -> bool:
        with self.lock:
            return self.lock.wait_for(lambda: predicate(self), timeout=WAIT)


def barrier_app(parties: int, tracker: Tracker) -> func.FunctionApp:
    """A queue function that returns only once ``parties`` invocations are inside it at the same time."""
    app = func.FunctionApp()
    barrier = threading.Barrier(parties, timeout=WAIT)

    @app.queue_trigger(arg_name="msg", queue_name="%TOY_QUEUE%", connection="AzureWebJobsStorage")
    @app.queue_output(arg_name="out", queue_name="%TOY_QUEUE%-out", connection="AzureWebJobsStorage")
    def meet(msg: func.QueueMessage, out: func.Out[str]) -> None:
        tracker.enter()
        try:
            barrier.wait()
        finally:
            tracker.leave()
        out.set(msg.get_body().decode())

    return app


def send(azurite, name: str, count: int) -> None:
    client = QueueClient.from_connection_string(azurite.connection_string, name)
    try:
        client.create_queue()
    except ResourceExistsError:
        pass
    for index in range(count):
        client.send_message(f"m{index}")


def texts(azurite, name: str) -> list[str]:
    client = QueueClient.from_connection_string(azurite.connection_string, name)
    return sorted(m.content for m in client.peek_messages(max_messages=32))


def test_the_pool_is_sized_like_the_python_workers(monkeypatch):
    monkeypatch.delenv("PYTHON_THREADPOOL_THREAD_COUNT", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert worker_pool_size({}) == 6
    monkeypatch.setattr("os.cpu_count", lambda: 64)
    assert worker_pool_size({}) == 32
    assert worker_pool_size({"PYTHON_THREADPOOL_THREAD_COUNT": "3"}) == 3
    monkeypatch.setenv("PYTHON_THREADPOOL_THREAD_COUNT", "5")
    assert worker_pool_size({}) == 5
    with pytest.raises(ValueError):
        worker_pool_size({"PYTHON_THREADPOOL_THREAD_COUNT": "0"})


def test_background_workers_run_a_batch_concurrently(start_host, azurite):
    tracker, name = Tracker(), new_queue_name()
    send(azurite, name, 8)  # all there before the first fetch
    host, _ = start_host(barrier_app(8, tracker), host_json=plain_host_json(batchSize=8), workers=True,
                         env={"PYTHON_THREADPOOL_THREAD_COUNT": "8"}, queue=name)

    assert tracker.wait_for(lambda t: t.done == 8), "eight invocations never ran at the same time"
    assert tracker.most == 8
    assert host.pool.size == 8


def test_parallel_drain_runs_each_batch_on_the_pool_and_sequential_drain_does_not(start_host, azurite):
    tracker = Tracker()
    host, name = start_host(barrier_app(4, tracker), host_json=plain_host_json(batchSize=4),
                            env={"PYTHON_THREADPOOL_THREAD_COUNT": "4"})
    send(azurite, name, 8)

    assert host.drain(parallel=True) == 8

    assert tracker.most == 4 and tracker.done == 8
    assert texts(azurite, f"{name}-out") == sorted(f"m{i}" for i in range(8))


def test_no_more_invocations_run_at_once_than_the_pool_has_threads(start_host, azurite):
    tracker = Tracker()
    host, name = start_host(barrier_app(2, tracker), host_json=plain_host_json(batchSize=6),
                            env={"PYTHON_THREADPOOL_THREAD_COUNT": "2"})
    send(azurite, name, 6)

    assert host.drain(parallel=True) == 6

    assert (tracker.most, tracker.done) == (2, 6)


def test_at_most_batch_size_plus_new_batch_threshold_messages_are_in_flight(start_host, azurite):
    app, tracker, permits = func.FunctionApp(), Tracker(), threading.Semaphore(0)

    @app.queue_trigger(arg_name="msg", queue_name="%TOY_QUEUE%", connection="AzureWebJobsStorage")
    def hold(msg: func.QueueMessage) -> None:
        tracker.enter()
        try:
            assert permits.acquire(timeout=WAIT), "never released"
        finally:
            tracker.leave()

    name = new_queue_name()
    send(azurite, name, 8)  # all there before the first fetch, which takes a whole batch
    host, _ = start_host(app, host_json=plain_host_json(batchSize=2, newBatchThreshold=1), workers=True,
                         env={"PYTHON_THREADPOOL_THREAD_COUNT": "8"}, queue=name)
    [listener] = host.listeners
    try:
        # A batch of two is in flight, above the threshold of 1: the listener stops fetching.
        assert listener.wait_saturated(1, WAIT), "the listener kept fetching past batchSize + newBatchThreshold"
        assert tracker.wait_for(lambda t: t.active == 2) and listener.in_flight == 2
        permits.release()  # one ends: down to the threshold, so one more batch (2) comes: 3 in flight
        assert listener.wait_saturated(2, WAIT)
        assert tracker.wait_for(lambda t: t.done == 1 and t.active == 3) and listener.in_flight == 3
        permits.release(8)
        assert tracker.wait_for(lambda t: t.done == 8)
    finally:
        permits.release(8)
    assert tracker.most == 2 + 1


def test_a_worker_thread_is_free_while_the_host_writes_the_previous_invocations_outputs(start_host, azurite,
                                                                                       monkeypatch):
    # As in Azure, the host (not the Python worker's thread) writes outputs and deletes the message once the
    # function has returned: with one worker thread and the first output write held, the second message still runs.
    app, tracker = func.FunctionApp(), Tracker()

    @app.queue_trigger(arg_name="msg", queue_name="%TOY_QUEUE%", connection="AzureWebJobsStorage")
    @app.queue_output(arg_name="out", queue_name="%TOY_QUEUE%-out", connection="AzureWebJobsStorage")
    def copy(msg: func.QueueMessage, out: func.Out[str]) -> None:
        tracker.enter()
        tracker.leave()
        out.set(msg.get_body().decode())

    release, flush, held = threading.Event(), QueueService.flush_outputs, []

    def held_first_write(service, spec, outs, result):
        if not held:
            held.append(spec.name)
            assert release.wait(WAIT), "never released"
        return flush(service, spec, outs, result)

    monkeypatch.setattr(QueueService, "flush_outputs", held_first_write)
    name = new_queue_name()
    send(azurite, name, 2)
    host, _ = start_host(app, host_json=plain_host_json(batchSize=2), workers=True,
                         env={"PYTHON_THREADPOOL_THREAD_COUNT": "1"}, queue=name)
    [listener] = host.listeners
    try:
        assert tracker.wait_for(lambda t: t.done == 2), "the second invocation waited for the first one's outputs"
        assert listener.in_flight >= 1  # the held message is still in flight until its output is written
    finally:
        release.set()
    assert listener.wait_idle(WAIT)
    assert texts(azurite, f"{name}-out") == ["m0", "m1"]


def test_background_workers_still_poison_a_message_after_max_dequeue_count(start_host, azurite):
    app, attempts, dead = func.FunctionApp(), [], threading.Event()

    @app.queue_trigger(arg_name="msg", queue_name="%TOY_QUEUE%", connection="AzureWebJobsStorage")
    def fail(msg: func.QueueMessage) -> None:
        attempts.append(msg.dequeue_count)
        raise RuntimeError("always fails")

    @app.queue_trigger(arg_name="msg", queue_name="%TOY_QUEUE%-poison", connection="AzureWebJobsStorage")
    def fail_poison(msg: func.QueueMessage) -> None:
        dead.set()

    _, name = start_host(app, host_json=plain_host_json(batchSize=4), workers=True, polling_interval=0.1)
    send(azurite, name, 1)

    assert dead.wait(WAIT), "the message never reached the poison queue"
    assert sorted(attempts) == [1, 2, 3]
    assert texts(azurite, name) == []


def test_parallel_drain_poisons_failures_and_settles_successes(start_host, azurite):
    app = func.FunctionApp()

    @app.queue_trigger(arg_name="msg", queue_name="%TOY_QUEUE%", connection="AzureWebJobsStorage")
    @app.queue_output(arg_name="out", queue_name="%TOY_QUEUE%-out", connection="AzureWebJobsStorage")
    def work(msg: func.QueueMessage, out: func.Out[str]) -> None:
        body = json.loads(msg.get_body())
        if body["fail"]:
            raise RuntimeError("fails")
        out.set(body["name"])

    host, name = start_host(app, host_json=plain_host_json(batchSize=8))
    client = QueueClient.from_connection_string(azurite.connection_string, name)
    for index in range(6):
        client.send_message(json.dumps({"name": f"n{index}", "fail": index % 3 == 0}))

    assert host.drain(parallel=True) == 4 + 2 * 3  # four successes, two failures tried maxDequeueCount (3) times

    assert texts(azurite, f"{name}-out") == ["n1", "n2", "n4", "n5"]
    poisoned = [json.loads(t)["name"] for t in texts(azurite, f"{name}-poison")]
    assert sorted(poisoned) == ["n0", "n3"] and texts(azurite, name) == []


def test_the_hosts_queue_clients_go_through_the_apps_storage_transport_and_read_no_environment(azurite,
                                                                                               monkeypatch):
    """The real host spends none of the app's CPU on queue calls; the stand-in sends through the transport over
    urllib3 (~0.5 ms of CPU less a call than azure-core's RequestsTransport) and takes no proxy from the environment."""
    from shared.adapters.transport import Urllib3Transport

    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there: a client reading it would fail
    options = QueueOptions.from_host_json(plain_host_json())
    service = QueueService(lambda binding: azurite.connection_string, options, visibility_timeout=1)
    name = new_queue_name()
    client = service.client({"queueName": name})
    assert isinstance(client._client._client._pipeline._transport, Urllib3Transport)
    client.send_message("through the transport")
    monkeypatch.delenv("HTTP_PROXY")  # the plain client that reads the queue back does read the environment
    assert texts(azurite, name) == ["through the transport"]
