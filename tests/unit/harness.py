"""The function app driven in process: its registered functions called with real azure.functions request and message
objects, over fakes of the table and of Graph (``world``), with the use cases wired as in production."""
from __future__ import annotations

import inspect
import json

import azure.functions as func
import pytest

from localdev.world import load_app
from shared import bootstrap
from tests.fake_graph import FakeGraph
from tests.fakes import InMemoryMeetingRepository, StaticTenants
from tests.unit.test_usecases import ENV, Clock

__all__ = ["ENV", "Out", "call", "post", "functions", "world", "requeued"]


class Out(func.Out):
    """Captures what a function writes to an output binding."""

    def __init__(self) -> None:
        self.value = None

    def set(self, val) -> None:
        self.value = val

    def get(self):
        return self.value


@pytest.fixture(scope="module")
def functions():
    # get_functions() may be called once per FunctionApp instance: each module indexes a private instance.
    return {f.get_function_name(): f for f in load_app().get_functions()}


@pytest.fixture
def requeued():
    return []


@pytest.fixture
def world(requeued):
    repo, graph = InMemoryMeetingRepository(), FakeGraph()
    bootstrap.use(lambda: bootstrap.build_container(ENV, repository=repo, graph=graph, tokens=object(),
                                                    clock=Clock(), requeue=lambda m, d: requeued.append((m, d)),
                                                    tenants=StaticTenants({"contoso.example": ENV["GRAPH_TENANT_ID"]})))
    yield repo, graph
    bootstrap.use(lambda: bootstrap.build_container(__import__("os").environ))


def call(functions, name, *args, **kwargs):
    """Call a function; an output binding the test does not name gets an ``Out`` of its own (e.g. ``callbacks``)."""
    function = functions[name].get_user_function()
    outputs = list(inspect.signature(function).parameters)[len(args):]
    return function(*args, **{**{name: Out() for name in outputs}, **kwargs})


def post(body, headers=None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return func.HttpRequest("POST", "http://localhost/api/meetings", headers=headers or {}, body=raw)
