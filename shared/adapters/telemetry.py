"""Where the process's spans and metrics go. In Azure, the Functions Python worker configures the Azure Monitor distro
(app setting PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY) before it loads the app; locally the standard OTEL_* settings
name an exporter (``OTEL_TRACES_EXPORTER=console``, ``OTEL_EXPORTER_OTLP_ENDPOINT``). A provider that is already set
(the worker's, a test's) is never replaced, Azure Monitor is never configured here, and with no exporter named nothing
is installed or imported. The Azure SDKs' own spans (storage) go through their OpenTelemetry plug-in, with URLs cut to
the table or queue: their paths carry row keys.
"""
from __future__ import annotations

import logging
import re
import threading
from typing import Any, Mapping

from shared.telemetry.metrics import METER_NAME
from shared.telemetry.tracing import TRACER_NAME, live_api

log = logging.getLogger(__name__)

SERVICE_NAME = "teams-meeting-broker"
EXPORTERS = ("console", "otlp", "none")
# A storage URL's path names the table and, for an entity, its keys: /meetings(PartitionKey='..',RowKey='..').
_RESOURCE = re.compile(r"^(\w+://[^/?#]*/[^/?#(]*)")
URL_ATTRIBUTES = frozenset({"http.url", "url.full"})

_lock = threading.Lock()
_started = False
_sdk_traced = False


def exporters(environ: Mapping[str, str], signal: str) -> list[str]:
    """The exporters OTEL_{signal}_EXPORTER names (``TRACES``, ``METRICS``): console and otlp; without the setting,
    otlp when an OTLP endpoint is set, else none."""
    named = environ.get(f"OTEL_{signal}_EXPORTER")
    if named is None:
        endpoint = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")
        return ["otlp"] if endpoint else []
    chosen = [name.strip().lower() for name in named.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in EXPORTERS]
    if unknown:
        log.warning("OTEL_%s_EXPORTER names exporters this app does not offer: %s (offered: %s)", signal,
                    ", ".join(unknown), ", ".join(EXPORTERS))
    return [name for name in chosen if name in ("console", "otlp")]


def start(environ: Mapping[str, str]) -> None:
    """Once per process: the exporters the environment names, when no provider is set yet; then the Azure SDKs'
    spans, when a provider is live (ours, the worker's)."""
    global _started
    with _lock:
        if _started:
            return
        _started = True
    traces, metrics = exporters(environ, "TRACES"), exporters(environ, "METRICS")
    if traces or metrics:
        _install(environ, traces, metrics)
    trace_azure_sdk()


def _install(environ: Mapping[str, str], traces: list[str], metrics: list[str]) -> None:
    from opentelemetry import metrics as metrics_api
    from opentelemetry import trace as trace_api
    from opentelemetry.sdk.resources import Resource

    resource = Resource.create({"service.name": environ.get("OTEL_SERVICE_NAME") or SERVICE_NAME})
    if traces and isinstance(trace_api.get_tracer_provider(), trace_api.ProxyTracerProvider):
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor

        provider = TracerProvider(resource=resource)
        for name in traces:
            if name == "console":  # at once, in the order spans end: readable while a request runs
                provider.add_span_processor(_app_traces(SimpleSpanProcessor(ConsoleSpanExporter())))
            elif (exporter := _otlp("trace_exporter", "OTLPSpanExporter")) is not None:
                provider.add_span_processor(_app_traces(BatchSpanProcessor(exporter)))
        trace_api.set_tracer_provider(provider)
        log.info("traces go to %s", ", ".join(traces))
    if metrics and type(metrics_api.get_meter_provider()).__name__ == "_ProxyMeterProvider":
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader

        readers = [PeriodicExportingMetricReader(exporter) for exporter in (
            ConsoleMetricExporter() if name == "console" else _otlp("metric_exporter", "OTLPMetricExporter")
            for name in metrics) if exporter is not None]
        metrics_api.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))
        log.info("metrics go to %s (meter %s)", ", ".join(metrics), METER_NAME)


def _app_traces(processor: Any) -> Any:
    """``processor``, passed only the spans of traces the app started or continued, not those a storage client started
    on its own (locally, the stand-in Functions host polling its queues and writing outputs in this process, which in
    Azure the host does in its own)."""
    from opentelemetry.sdk.trace import SpanProcessor

    class AppTraces(SpanProcessor):
        MAX_FOREIGN = 10_000

        def __init__(self) -> None:
            self._foreign: dict[int, None] = {}  # trace ids another library started, oldest first

        def on_start(self, span: Any, parent_context: Any = None) -> None:
            if span.parent is None and span.instrumentation_scope.name != TRACER_NAME:
                self._foreign[span.context.trace_id] = None
                if len(self._foreign) > self.MAX_FOREIGN:
                    del self._foreign[next(iter(self._foreign))]
            processor.on_start(span, parent_context=parent_context)

        def on_end(self, span: Any) -> None:
            if span.context.trace_id not in self._foreign:
                processor.on_end(span)

        def shutdown(self) -> None:
            processor.shutdown()

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return bool(processor.force_flush(timeout_millis))

    return AppTraces()


def _otlp(module: str, name: str) -> Any:
    """An OTLP/HTTP exporter configured by the OTEL_EXPORTER_OTLP_* settings, or None when it is not installed."""
    try:
        exporters = __import__(f"opentelemetry.exporter.otlp.proto.http.{module}", fromlist=[name])
    except ImportError:
        log.warning("OTLP export needs opentelemetry-exporter-otlp-proto-http (requirements-dev.txt)")
        return None
    return getattr(exporters, name)()


def without_keys(url: str) -> str:
    """A storage URL cut to its account and table or queue (no entity keys, no query)."""
    found = _RESOURCE.match(url)
    return found.group(1) if found else ""


def trace_azure_sdk() -> bool:
    """Have the Azure SDKs (Table and Queue Storage) trace through their OpenTelemetry plug-in, once a provider is
    live; their URL attributes are cut by ``without_keys``. True when the SDKs trace."""
    global _sdk_traced
    if _sdk_traced or live_api() is None:
        return _sdk_traced
    try:
        from azure.core.settings import settings
        from azure.core.tracing.ext.opentelemetry_span import OpenTelemetrySpan
    except ImportError:  # the plug-in (azure-core-tracing-opentelemetry) comes with the Azure Monitor distro
        log.warning("azure-core-tracing-opentelemetry is not installed: storage calls are not traced")
        return False

    class StorageSpan(OpenTelemetrySpan):
        """The plug-in's span, whose URL attributes name the table or queue but never an entity's keys."""

        def add_attribute(self, key: str, value: Any) -> None:
            if key in URL_ATTRIBUTES and isinstance(value, str):
                value = without_keys(value)
            super().add_attribute(key, value)

    settings.tracing_implementation = StorageSpan
    _sdk_traced = True
    return True
