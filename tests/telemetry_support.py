"""One OpenTelemetry SDK for the test process, installed on first use (a provider can be set once per process): spans
are collected while a test records them, metrics are read from an in-memory reader. Nothing is exported anywhere."""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

_lock = threading.Lock()
_installed: tuple["Collector", InMemoryMetricReader] | None = None


class Collector(SpanProcessor):
    """Keeps the spans that end while ``recording`` is on."""

    def __init__(self) -> None:
        self._spans: list[ReadableSpan] = []
        self._lock = threading.Lock()
        self._on = False

    def on_end(self, span: ReadableSpan) -> None:
        if self._on:
            with self._lock:
                self._spans.append(span)

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[ReadableSpan]]:
        """The spans that end in the block (the list fills as they end)."""
        with self._lock:
            self._spans = []
            self._on = True
        try:
            yield self._spans
        finally:
            self._on = False


def install() -> tuple[Collector, InMemoryMetricReader]:
    """The process's SDK providers (installed once): the span collector and the metric reader."""
    global _installed
    with _lock:
        if _installed is None:
            collector, reader = Collector(), InMemoryMetricReader()
            provider = TracerProvider()
            provider.add_span_processor(collector)
            trace.set_tracer_provider(provider)
            metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
            assert trace.get_tracer_provider() is provider, "another tracer provider was set first"
            _installed = (collector, reader)
        return _installed


def metric_points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    """Every data point of the metric ``name`` (cumulative: the reader's default)."""
    data = reader.get_metrics_data()
    points: list[Any] = []
    for resource in (data.resource_metrics if data else []):
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    points.extend(metric.data.data_points)
    return points


def metric_total(reader: InMemoryMetricReader, name: str, **attributes: Any) -> float:
    """The sum of a counter's points (a histogram's sum) whose attributes include ``attributes``."""
    total = 0.0
    for point in metric_points(reader, name):
        if all(point.attributes.get(key) == value for key, value in attributes.items()):
            total += getattr(point, "value", None) if hasattr(point, "value") else point.sum
    return total


def attribute_values(spans: list[ReadableSpan]) -> Iterator[tuple[str, str, str]]:
    """(span name, attribute key, value as text) for every attribute of every span, its events and its links."""
    for span in spans:
        groups = [span.attributes or {}, *((event.attributes or {}) for event in span.events),
                  *((link.attributes or {}) for link in span.links), span.resource.attributes]
        for attributes in groups:
            for key, value in attributes.items():
                for item in (value if isinstance(value, (list, tuple)) else [value]):
                    yield span.name, key, str(item)
        if span.status.description:
            yield span.name, "(status)", span.status.description
