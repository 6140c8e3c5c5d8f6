"""Traces and metrics of the broker through OpenTelemetry's API (``tracing``, ``metrics``); at no cost, and without
importing OpenTelemetry, while no provider is live. Every layer but the domain may use it; who installs a provider is
``shared/adapters/telemetry.py`` (locally) or the Functions Python worker (in Azure)."""
from shared.telemetry.metrics import (callback_delivered, graph_answered, graph_forbidden, graph_waited,
                                      message_dequeued, poison_message, request_done, retries_exhausted, watch_quota)
from shared.telemetry.tracing import Span, consuming, current_traceparent, serving, span, stamp

__all__ = ["Span", "callback_delivered", "consuming", "current_traceparent", "graph_answered", "graph_forbidden",
           "graph_waited", "message_dequeued", "poison_message", "request_done", "retries_exhausted", "serving",
           "span", "stamp", "watch_quota"]
