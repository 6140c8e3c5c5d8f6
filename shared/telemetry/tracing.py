"""The broker's spans, through OpenTelemetry's API while a tracer provider is live in the process (the Azure Monitor
distro the Functions worker configures, a local exporter, a test's); otherwise OpenTelemetry is not even imported, and
a caller's ``traceparent`` is only passed on to the messages the request writes.

One trace per request: the HTTP request's span (``serving``, continuing the host's span or the caller's
``traceparent`` header) or the queue worker's (``consuming``, continuing the ``traceparent`` its message carries), the
use case, each Graph call and storage call, and a PRODUCER span per message written (``stamp``), whose context the
message carries in its ``traceparent`` member. Attributes name operations and outcomes only: never a secret, token,
passcode, join URL, subject or address (docs/architecture.md, "Telemetry").
"""
from __future__ import annotations

import contextlib
import contextvars
import sys
from types import ModuleType
from typing import Any, Iterator, Mapping

from shared.domain.messages import valid_traceparent, with_traceparent

TRACER_NAME = "teams_meeting_broker"
Attributes = Mapping[str, str | int | float | bool]

# The traceparent of the request or message being handled when no span is recorded: passed on as it came.
_incoming: contextvars.ContextVar[str | None] = contextvars.ContextVar("broker_incoming_traceparent", default=None)


def live_api() -> ModuleType | None:
    """``opentelemetry.trace`` when a tracer provider other than the API's default is set, else None."""
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return None
    provider = trace.get_tracer_provider()
    if isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)):
        return None
    return trace


class Span:
    """A span as the broker's code sees it; does nothing when tracing is off."""

    __slots__ = ("_span",)

    def __init__(self, span: Any = None) -> None:
        self._span = span

    def set(self, name: str, value: str | int | float | bool | None) -> None:
        if self._span is not None and value is not None:
            self._span.set_attribute(name, str(value) if isinstance(value, str) else value)  # a StrEnum as text

    def fail(self, code: str) -> None:
        """The operation failed with the broker's error ``code`` (stable, never a message)."""
        if self._span is not None:
            from opentelemetry.trace import Status, StatusCode

            self._span.set_attribute("error.type", code)
            self._span.set_status(Status(StatusCode.ERROR, code))


_OFF = Span()


@contextlib.contextmanager
def span(name: str, attributes: Attributes | None = None, *, kind: str = "INTERNAL", parent: str | None = None,
         links: tuple[str | None, ...] = ()) -> Iterator[Span]:
    """A span around the block, child of the current one (or of ``parent``, a traceparent). An exception leaving the
    block marks it failed with the broker's error code or the exception's type: exception messages may carry values."""
    trace = live_api()
    if trace is None:
        yield _OFF
        return
    tracer = _tracer(trace)
    context = _context(trace, parent) if parent else None
    linked = [trace.Link(ctx) for ctx in (_span_context(trace, tp) for tp in links) if ctx is not None]
    with tracer.start_as_current_span(name, context=context, kind=getattr(trace.SpanKind, kind),
                                      attributes=attributes, links=linked or None, record_exception=False,
                                      set_status_on_exception=False) as current:
        wrapped = Span(current)
        try:
            yield wrapped
        except BaseException as exc:
            code = getattr(exc, "code", None)  # a BrokerError's stable code; the type of anything else
            wrapped.fail(code if isinstance(code, str) else type(exc).__name__)
            raise


_tracers: dict[int, Any] = {}  # the broker's tracer of each provider (a provider makes a new tracer per call)


def _tracer(trace: ModuleType) -> Any:
    provider = trace.get_tracer_provider()
    tracer = _tracers.get(id(provider))
    if tracer is None:
        tracer = _tracers[id(provider)] = provider.get_tracer(TRACER_NAME)
    return tracer


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span; with tracing off, the one the request or message came with."""
    trace = live_api()
    if trace is None:
        return _incoming.get()
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return _incoming.get()
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def stamp(kind: str, message: str | None) -> str | None:
    """A message the broker writes (``kind``: result, intake, callback), created in a PRODUCER span whose context it
    carries in its ``traceparent`` member (queue messages have no headers). None stays None."""
    if message is None:
        return None
    with span(f"create {kind}", {"messaging.operation.type": "create", "broker.message": kind}, kind="PRODUCER"):
        return with_traceparent(message, current_traceparent())


def ambient() -> str | None:
    """The traceparent of a span the host started around this invocation (the Functions host's, in Azure)."""
    trace = live_api()
    if trace is None:
        return None
    context = trace.get_current_span().get_span_context()
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}" \
        if context.is_valid else None


@contextlib.contextmanager
def serving(method: str, route: str, headers: Mapping[str, str]) -> Iterator[Span]:
    """The span of one HTTP request: a child of the host's span when it started one, else the continuation of the
    caller's ``traceparent`` header (a new trace without one)."""
    incoming = valid_traceparent(headers.get("traceparent"))
    token = _incoming.set(incoming)
    host = ambient()
    try:
        with span(f"{method} {route}", {"http.request.method": method, "broker.route": route},
                  kind="INTERNAL" if host else "SERVER", parent=None if host else incoming) as current:
            yield current
    finally:
        _incoming.reset(token)


@contextlib.contextmanager
def consuming(kind: str, traceparent: str | None, attributes: Attributes | None = None) -> Iterator[Span]:
    """The span of one queue message: its creator's trace goes on (parent: single-message processing), linked to the
    message's creation context and to the host's span of this invocation when there is one."""
    creation = valid_traceparent(traceparent)
    token = _incoming.set(creation)
    host = ambient()
    try:
        with span(f"process {kind}", {"messaging.operation.type": "process", "broker.message": kind,
                                      **(attributes or {})},
                  kind="CONSUMER", parent=creation, links=(creation, host)) as current:
            yield current
    finally:
        _incoming.reset(token)


def _span_context(trace: ModuleType, traceparent: str | None) -> Any:
    if not valid_traceparent(traceparent):
        return None
    assert traceparent is not None
    _, trace_id, span_id, flags = traceparent.split("-")
    return trace.SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=True,
                             trace_flags=trace.TraceFlags(int(flags, 16)))


def _context(trace: ModuleType, traceparent: str) -> Any:
    """A context whose current span is the remote one ``traceparent`` names (None when it names none)."""
    remote = _span_context(trace, traceparent)
    return trace.set_span_in_context(trace.NonRecordingSpan(remote)) if remote is not None else None
