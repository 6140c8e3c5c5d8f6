"""Telemetry without a provider costs nothing and imports nothing; the set-up never replaces a provider and never
exports anywhere unnamed; messages carry a valid traceparent; storage URLs lose their keys; the quota gauge reads the
quota book."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from shared.adapters import telemetry as setup
from shared.domain.errors import ValidationFailed
from shared.domain.jsontext import MAX_QUEUE_MESSAGE_BYTES
from shared.domain.messages import to_message, traceparent_of, valid_traceparent, with_traceparent
from shared.domain.validation import validate_cancel, validate_change, validate_request
from shared.telemetry import metrics as names
from shared.telemetry import watch_quota
from shared.usecases.quota import QuotaBook
from tests.conftest import REPO_ROOT
from tests.fakes import InMemoryMeetingRepository
from tests.telemetry_support import install, metric_points

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a new interpreter at the repo's root, with no OTEL_* setting but those given."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    return subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env={**environ, **env}, text=True,
                          capture_output=True, timeout=120, check=True)


def test_without_a_provider_the_app_imports_no_opentelemetry_and_passes_a_callers_traceparent_on():
    code = f"""
import json, sys
import function_app
from shared import telemetry
with telemetry.serving("POST", "create_meeting", {{"traceparent": "{TRACEPARENT}"}}) as span:
    span.set("broker.status", "created")
    with telemetry.span("usecase create"):
        stamped = telemetry.stamp("result", '{{"status": "created"}}')
telemetry.request_done("create_meeting", "http", "created", 201)
telemetry.graph_answered("createOrGet", 429, 0.1)
print(json.dumps({{"stamped": json.loads(stamped), "loaded": sorted(m for m in sys.modules if "opentelemetry" in m)}}))
"""
    shown = json.loads(_python(code).stdout.splitlines()[-1])
    assert shown["loaded"] == [], "no provider: OpenTelemetry is not even imported"
    assert shown["stamped"] == {"status": "created", "traceparent": TRACEPARENT}


def test_a_console_exporter_named_by_the_environment_shows_the_spans():
    code = """
import function_app
from shared import telemetry
with telemetry.serving("POST", "create_meeting", {}):
    pass
from opentelemetry import trace
trace.get_tracer_provider().force_flush()
"""
    shown = _python(code, OTEL_TRACES_EXPORTER="console").stdout
    assert '"name": "POST create_meeting"' in shown and '"service.name": "teams-meeting-broker"' in shown


def test_a_provider_already_set_is_never_replaced():
    code = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
mine = TracerProvider()
trace.set_tracer_provider(mine)
from shared import bootstrap
bootstrap.start_telemetry()
print(trace.get_tracer_provider() is mine)
"""
    assert _python(code, OTEL_TRACES_EXPORTER="console").stdout.splitlines()[-1] == "True"


@pytest.mark.parametrize("environ, expected", [
    ({}, []),
    ({"APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=x"}, []),  # Azure Monitor is the worker's, never ours
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, ["otlp"]),
    ({"OTEL_TRACES_EXPORTER": "console"}, ["console"]),
    ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, []),
    ({"OTEL_TRACES_EXPORTER": "console,zipkin"}, ["console"]),
])
def test_the_exporters_are_those_the_standard_settings_name(environ, expected):
    assert setup.exporters(environ, "TRACES") == expected


@pytest.mark.parametrize("url, cut", [
    ("https://st1.table.core.windows.net/meetings(PartitionKey='t%7Cx',RowKey='m%7Calice%40contoso.com%7Cb-42')",
     "https://st1.table.core.windows.net/meetings"),
    ("https://st1.table.core.windows.net/meetings()?$filter=PartitionKey%20eq%20'x'", "https://st1.table.core.windows.net/meetings"),
    ("https://st1.table.core.windows.net/$batch", "https://st1.table.core.windows.net/$batch"),
    ("https://st1.queue.core.windows.net/meeting-requests/messages?visibilitytimeout=60",
     "https://st1.queue.core.windows.net/meeting-requests"),
    ("not a url", ""),
])
def test_storage_urls_keep_the_table_or_queue_and_lose_the_keys(url, cut):
    assert setup.without_keys(url) == cut


def test_a_message_carries_a_valid_traceparent_and_only_one():
    message = to_message({"status": "created", "subject": "Ünïcode"})
    stamped = json.loads(with_traceparent(message, TRACEPARENT))
    assert stamped == {"status": "created", "subject": "Ünïcode", "traceparent": TRACEPARENT}
    assert with_traceparent(message, None) == message
    assert with_traceparent(message, "00-" + "0" * 32 + "-00f067aa0ba902b7-01") == message, "all-zero trace id"
    assert traceparent_of(stamped) == TRACEPARENT and traceparent_of({"traceparent": 42}) is None
    assert valid_traceparent(TRACEPARENT.upper()) is None, "lowercase hex only"


def test_a_message_that_would_outgrow_a_queue_message_is_left_without_traceparent():
    message = to_message({"subject": "x" * (MAX_QUEUE_MESSAGE_BYTES - 30)})
    assert with_traceparent(message, TRACEPARENT) == message


def test_intake_messages_may_carry_a_traceparent_and_http_bodies_may_not():
    key = {"organizerId": "alice@contoso.example", "externalId": "b-1", "traceparent": TRACEPARENT}
    assert validate_request(key, queue=True).external_id == "b-1"
    assert validate_change({**key, "action": "update", "subject": "S"}, queue=True).subject == "S"
    assert validate_cancel({**key, "action": "cancel"}, queue=True).external_id == "b-1"
    with pytest.raises(ValidationFailed):
        validate_request(key)


def test_the_quota_gauge_reads_the_highest_share_of_the_limit_seen_this_month():
    _collector, reader = install()
    repository = InMemoryMeetingRepository()
    clock = lambda: datetime(2026, 12, 7, tzinfo=timezone.utc)  # noqa: E731
    book = QuotaBook(repository, 10, clock)
    assert book.highest_ratio() is None
    for external_id in ("a", "b", "c"):
        book.admit("t1", "alice-id", external_id)
    book.admit("t1", "bob-id", "d")
    assert book.highest_ratio() == 0.3
    watch_quota(book.highest_ratio)
    assert [point.value for point in metric_points(reader, names.QUOTA_HIGHEST)] == [0.3]
