"""Teams Meeting Broker: the Azure Functions entry points. Each trigger parses its input, calls one function of
``shared`` and maps the outcome to its outputs; the logic lives in ``shared/``. A route that takes a meeting's key
exists twice, the key in the path and in the query; the two Functions share one body. Loading this module loads what
POST /meetings needs; the code of other routes and triggers loads with their first call (the callbacks triggers' module
below, the use cases in ``shared/entrypoints``), which tests/unit/test_cold_start.py keeps so."""
from __future__ import annotations

import azure.functions as func

from shared import bootstrap
from shared.entrypoints import http as http_api
from shared.entrypoints import queue as worker
from shared.entrypoints import timer as timer_api
from shared.entrypoints.http_io import Reply
from shared.entrypoints.told import Told

STORAGE = "AzureWebJobsStorage"

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
bootstrap.start_telemetry()  # local exporters named by OTEL_* settings; in Azure the Python worker's distro (README)

Key = tuple[str | None, str | None]  # (organizerId, externalId), as the request gave them


def _emit(out: func.Out[str], message: str | None) -> None:
    if message is not None:
        out.set(message)


def _answer(reply: Reply, results: func.Out[str], callbacks: func.Out[str]) -> func.HttpResponse:
    _emit(results, reply.result)
    _emit(callbacks, reply.callback)
    return reply.response


def _path_key(req: func.HttpRequest) -> Key:
    """/meetings/{organizerId}/{externalId}"""
    return req.route_params.get("organizerId"), req.route_params.get("externalId")


def _query_key(req: func.HttpRequest) -> Key:
    """/meetings?organizerId=...&externalId=... (for an externalId that cannot travel in a path segment)"""
    return req.params.get("organizerId"), req.params.get("externalId")


@app.function_name("create_meeting")
@app.route(route="meetings", methods=["POST"])
@app.queue_output(arg_name="results", queue_name="%MEETING_RESULTS_QUEUE%", connection=STORAGE)
@app.queue_output(arg_name="intake", queue_name="%MEETING_REQUESTS_QUEUE%", connection=STORAGE)
@app.queue_output(arg_name="callbacks", queue_name="%MEETING_CALLBACKS_QUEUE%", connection=STORAGE)
def create_meeting(req: func.HttpRequest, results: func.Out[str], intake: func.Out[str],
                   callbacks: func.Out[str]) -> func.HttpResponse:
    reply = http_api.create_meeting(req, bootstrap.get_container, bootstrap.clock)
    _emit(intake, reply.intake)
    return _answer(reply, results, callbacks)


@app.function_name("get_meeting")
@app.route(route="meetings/{organizerId}/{externalId}", methods=["GET"])
def get_meeting(req: func.HttpRequest) -> func.HttpResponse:
    return _get(req, _path_key(req))


@app.function_name("find_meeting")
@app.route(route="meetings", methods=["GET"])
def find_meeting(req: func.HttpRequest) -> func.HttpResponse:
    return _get(req, _query_key(req))


def _get(req: func.HttpRequest, key: Key) -> func.HttpResponse:
    return http_api.get_meeting(req, bootstrap.get_container, *key).response


@app.function_name("get_attendance")
@app.route(route="meetings/{organizerId}/{externalId}/attendance", methods=["GET"])
def get_attendance(req: func.HttpRequest) -> func.HttpResponse:
    return http_api.get_attendance(req, bootstrap.get_container, *_path_key(req)).response


@app.function_name("find_attendance")
@app.route(route="meetings/attendance", methods=["GET"])
def find_attendance(req: func.HttpRequest) -> func.HttpResponse:
    return http_api.get_attendance(req, bootstrap.get_container, *_query_key(req)).response


@app.function_name("get_transcripts")
@app.route(route="meetings/{organizerId}/{externalId}/transcripts", methods=["GET"])
def get_transcripts(req: func.HttpRequest) -> func.HttpResponse:
    return http_api.get_transcripts(req, bootstrap.get_container, *_path_key(req)).response


@app.function_name("find_transcripts")
@app.route(route="meetings/transcripts", methods=["GET"])
def find_transcripts(req: func.HttpRequest) -> func.HttpResponse:
    return http_api.find_transcripts(req, bootstrap.get_container, *_query_key(req)).response


@app.function_name("get_transcript")
@app.route(route="meetings/{organizerId}/{externalId}/transcripts/{transcriptId}", methods=["GET"])
def get_transcript(req: func.HttpRequest) -> func.HttpResponse:
    return _transcript(req, _path_key(req))


@app.function_name("find_transcript")
@app.route(route="meetings/transcripts/{transcriptId}", methods=["GET"])
def find_transcript(req: func.HttpRequest) -> func.HttpResponse:
    return _transcript(req, _query_key(req))


def _transcript(req: func.HttpRequest, key: Key) -> func.HttpResponse:
    return http_api.get_transcript(req, bootstrap.get_container, *key, req.route_params.get("transcriptId")).response


@app.function_name("update_meeting")
@app.route(route="meetings/{organizerId}/{externalId}", methods=["PATCH"])
@app.queue_output(arg_name="results", queue_name="%MEETING_RESULTS_QUEUE%", connection=STORAGE)
@app.queue_output(arg_name="callbacks", queue_name="%MEETING_CALLBACKS_QUEUE%", connection=STORAGE)
def update_meeting(req: func.HttpRequest, results: func.Out[str], callbacks: func.Out[str]) -> func.HttpResponse:
    return _update(req, _path_key(req), results, callbacks)


@app.function_name("change_meeting")
@app.route(route="meetings", methods=["PATCH"])
@app.queue_output(arg_name="results", queue_name="%MEETING_RESULTS_QUEUE%", connection=STORAGE)
@app.queue_output(arg_name="callbacks", queue_name="%MEETING_CALLBACKS_QUEUE%", connection=STORAGE)
def change_meeting(req: func.HttpRequest, results: func.Out[str], callbacks: func.Out[str]) -> func.HttpResponse:
    return _update(req, _query_key(req), results, callbacks)


def _update(req: func.HttpRequest, key: Key, results: func.Out[str], callbacks: func.Out[str]) -> func.HttpResponse:
    return _answer(http_api.update_meeting(req, bootstrap.get_container, *key), results, callbacks)


@app.function_name("cancel_meeting")
@app.route(route="meetings/{organizerId}/{externalId}", methods=["DELETE"])
@app.queue_output(arg_name="results", queue_name="%MEETING_RESULTS_QUEUE%", connection=STORAGE)
@app.queue_output(arg_name="callbacks", queue_name="%MEETING_CALLBACKS_QUEUE%", connection=STORAGE)
def cancel_meeting(req: func.HttpRequest, results: func.Out[str], callbacks: func.Out[str]) -> func.HttpResponse:
    return _cancel(req, _path_key(req), results, callbacks)


@app.function_name("end_meeting")
@app.route(route="meetings", methods=["DELETE"])
@app.queue_output(arg_name="results", queue_name="%MEETING_RESULTS_QUEUE%", connection=STORAGE)
@app.queue_output(arg_name="callbacks", queue_name="%MEETING_CALLBACKS_QUEUE%", connection=STORAGE)
def end_meeting(req: func.HttpRequest, results: func.Out[str], callbacks: func.Out[str]) -> func.HttpResponse:
    return _cancel(req, _query_key(req), results, callbacks)


def _cancel(req: func.HttpRequest, key: Key, results: func.Out[str], callbacks: func.Out[str]) -> func.HttpResponse:
    return _answer(http_api.cancel_meeting(req, bootstrap.get_container, *key), results, callbacks)


@app.function_name("organizer_quota")
@app.route(route="organizers/{organizerId}/quota", methods=["GET"])
def organizer_quota(req: func.HttpRequest) -> func.HttpResponse:
    return http_api.get_quota(req, bootstrap.get_container, req.route_params.get("organizerId")).response


@app.function_name("health")
@app.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    return http_api.health(bootstrap.get_container)


@app.function_name("openapi")
@app.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    return http_api.openapi_document()


@app.function_name("process_meeting_request")
@app.queue_trigger(arg_name="msg", queue_name="%MEETING_REQUESTS_QUEUE%", connection=STORAGE)
@app.queue_output(arg_name="results", queue_name="%MEETING_RESULTS_QUEUE%", connection=STORAGE)
@app.queue_output(arg_name="callbacks", queue_name="%MEETING_CALLBACKS_QUEUE%", connection=STORAGE)
def process_meeting_request(msg: func.QueueMessage, results: func.Out[str], callbacks: func.Out[str]) -> None:
    _tell(worker.process_request(msg.get_body(), message_id=msg.id or "", dequeue_count=msg.dequeue_count or 1,
                                 container_factory=bootstrap.get_container, clock=bootstrap.clock,
                                 inserted_at=msg.insertion_time), results, callbacks)


@app.function_name("process_poison_request")
@app.queue_trigger(arg_name="msg", queue_name="%MEETING_REQUESTS_QUEUE%-poison", connection=STORAGE)
@app.queue_output(arg_name="results", queue_name="%MEETING_RESULTS_QUEUE%", connection=STORAGE)
@app.queue_output(arg_name="callbacks", queue_name="%MEETING_CALLBACKS_QUEUE%", connection=STORAGE)
def process_poison_request(msg: func.QueueMessage, results: func.Out[str], callbacks: func.Out[str]) -> None:
    _tell(worker.process_poison(msg.get_body(), message_id=msg.id or "", dequeue_count=msg.dequeue_count or 1,
                                container_factory=bootstrap.get_container, clock=bootstrap.clock,
                                inserted_at=msg.insertion_time), results, callbacks)


def _tell(told: Told, results: func.Out[str], callbacks: func.Out[str]) -> None:
    _emit(results, told.result)
    _emit(callbacks, told.callback)


@app.function_name("deliver_callback")
@app.queue_trigger(arg_name="msg", queue_name="%MEETING_CALLBACKS_QUEUE%", connection=STORAGE)
def deliver_callback(msg: func.QueueMessage) -> None:
    from shared.entrypoints import deliveries

    deliveries.deliver(msg.get_body(), message_id=msg.id or "", container_factory=bootstrap.get_container)


@app.function_name("process_poison_callback")
@app.queue_trigger(arg_name="msg", queue_name="%MEETING_CALLBACKS_QUEUE%-poison", connection=STORAGE)
@app.queue_output(arg_name="failed", queue_name="%MEETING_CALLBACKS_FAILED_QUEUE%", connection=STORAGE)
def process_poison_callback(msg: func.QueueMessage, failed: func.Out[str]) -> None:
    from shared.entrypoints import deliveries

    failed.set(deliveries.poisoned(msg.get_body(), message_id=msg.id or "", clock=bootstrap.clock))


@app.function_name("collect_attendance")
@app.timer_trigger(arg_name="timer", schedule=timer_api.SCHEDULE, run_on_startup=False, use_monitor=True)
def collect_attendance(timer: func.TimerRequest) -> None:
    """The attendance of meetings that ended (collectAttendance): one result per occurrence, and its delivery, each
    sent before the occurrence's row is finished (no output bindings: the host writes those after the function
    returned, and a host that died in between lost them)."""
    timer_api.collect_attendance(bootstrap.get_container)
