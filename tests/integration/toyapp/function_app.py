"""Toy function app, shaped like a real function_app.py, exercising every binding the local host supports.

`make_app()` builds a fresh FunctionApp each time, because FunctionApp.get_functions() may run only once per instance.
Queue names come from the app setting TOY_QUEUE through `%TOY_QUEUE%` tokens, as the real app's do.
"""
from __future__ import annotations

import json
import uuid

import azure.functions as func

# host.json of the toy app's tests: maxDequeueCount 3, base64 messages.
HOST_JSON = {
    "version": "2.0",
    "extensions": {
        "http": {"routePrefix": "api"},
        "queues": {"batchSize": 16, "maxDequeueCount": 3, "visibilityTimeout": "00:00:30", "messageEncoding": "base64"},
    },
}


def new_queue_name() -> str:
    """A queue name no other test uses (the toy app reads it from the app setting TOY_QUEUE)."""
    return f"toy-{uuid.uuid4().hex[:12]}"


def make_app(*, poison_trigger: bool = True) -> func.FunctionApp:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

    @app.route(route="echo/{id:int}/{name?}", methods=["GET", "POST"])
    @app.queue_output(arg_name="audit", queue_name="%TOY_QUEUE%-http", connection="AzureWebJobsStorage")
    def echo(req: func.HttpRequest, audit: func.Out[str]) -> func.HttpResponse:
        if req.params.get("audit"):
            audit.set(f"echo {req.route_params['id']}")
        payload = {
            "method": req.method,
            "url": req.url,
            "route": dict(req.route_params),
            "query": dict(req.params),
            "header": req.headers.get("x-toy"),
            "body": req.get_body().decode("utf-8"),
        }
        response = func.HttpResponse(
            json.dumps(payload), status_code=201, mimetype="application/json",
            headers={"Location": f"/api/echo/{req.route_params['id']}", "Retry-After": "7"},
        )
        response.headers.add("X-Multi", "one")
        response.headers.add("X-Multi", "two")
        return response

    @app.route(route="files/{*path}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    def files(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(req.route_params.get("path", ""), mimetype="text/plain", charset="utf-8")

    @app.route(route="echo/special", methods=["GET"])
    def special(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(b"\x00\x01", mimetype="application/octet-stream")

    @app.route(route="boom", methods=["POST"])
    @app.queue_output(arg_name="audit", queue_name="%TOY_QUEUE%-http", connection="AzureWebJobsStorage")
    def boom(req: func.HttpRequest, audit: func.Out[str]) -> func.HttpResponse:
        audit.set("must not be written")
        raise RuntimeError("secret detail that must stay in the log")

    @app.queue_trigger(arg_name="msg", queue_name="%TOY_QUEUE%", connection="AzureWebJobsStorage")
    @app.queue_output(arg_name="out", queue_name="%TOY_QUEUE%-out", connection="AzureWebJobsStorage")
    def work(msg: func.QueueMessage, out: func.Out[list]) -> None:
        request = json.loads(msg.get_body())
        if request["op"] == "echo":
            out.set([f"echo:{request['text']}", f"bytes:{request['text']}".encode("utf-8")])
            return
        out.set(["written before failing"])
        raise RuntimeError("work failed")

    if poison_trigger:
        @app.queue_trigger(arg_name="msg", queue_name="%TOY_QUEUE%-poison", connection="AzureWebJobsStorage")
        @app.queue_output(arg_name="dead", queue_name="%TOY_QUEUE%-dead", connection="AzureWebJobsStorage")
        def work_poison(msg: func.QueueMessage, dead: func.Out[str]) -> None:
            dead.set(json.dumps({"body": msg.get_body().decode("utf-8"), "dequeueCount": msg.dequeue_count}))

    return app
