"""Pieces the local Functions host shares: indexing an app, `%NAME%` resolution, host.json options, output bindings."""
from __future__ import annotations

import asyncio
import inspect
import json
import re
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Mapping, TypeVar

import azure.functions as func

T = TypeVar("T")
_SETTING_TOKEN = re.compile(r"%([^%]+)%")
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)$")
SUPPORTED_TRIGGERS = ("httpTrigger", "queueTrigger", "timerTrigger")
SUPPORTED_OUTPUTS = ("http", "queue")

# FunctionApp.get_functions() may run only once per app instance (a second call raises "does not have a unique function
# name"), so the result is remembered per app for every host built on it.
_INDEXED: "weakref.WeakKeyDictionary[func.FunctionApp, list]" = weakref.WeakKeyDictionary()


class LocalHostError(RuntimeError):
    """The local host cannot serve this app as configured (unknown setting, unsupported binding, bad host.json)."""


class BindingOut(func.Out, Generic[T]):
    """The value an output binding receives; flushed by the host only when the function returns normally."""

    def __init__(self) -> None:
        self._value: T | None = None

    def set(self, val: T) -> None:
        self._value = val

    def get(self) -> T | None:
        return self._value


@dataclass(frozen=True)
class FunctionSpec:
    """One indexed function: its name, the callable, and its bindings with every `%NAME%` resolved."""

    name: str
    user_function: Callable[..., Any]
    trigger: dict[str, Any]
    outputs: tuple[dict[str, Any], ...]
    bindings: tuple[dict[str, Any], ...] = field(repr=False)

    @property
    def trigger_type(self) -> str:
        return self.trigger["type"]

    def call(self, kwargs: Mapping[str, Any]) -> Any:
        """Call the user function with keyword args named after its bindings (async functions run to completion)."""
        result = self.user_function(**kwargs)
        if inspect.isawaitable(result):
            result = asyncio.run(_await(result))
        return result


async def _await(awaitable: Any) -> Any:
    return await awaitable


def indexed_functions(app: func.FunctionApp) -> list:
    """`app.get_functions()`, called once per app instance and cached."""
    if app not in _INDEXED:
        _INDEXED[app] = app.get_functions()
    return _INDEXED[app]


def resolve_tokens(value: str, env: Mapping[str, str], missing: set[str]) -> str:
    """Replace every `%NAME%` in value from env, as the host resolves binding expressions from app settings."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            missing.add(name)
            return match.group(0)
        return env[name]

    return _SETTING_TOKEN.sub(substitute, value)


def build_specs(app: func.FunctionApp, env: Mapping[str, str]) -> list[FunctionSpec]:
    """Index the app and resolve its bindings; every problem is reported at once."""
    specs: list[FunctionSpec] = []
    problems: list[str] = []
    for function in indexed_functions(app):
        name = function.get_function_name()
        trigger = function.get_trigger()
        missing: set[str] = set()
        bindings = tuple(
            {key: resolve_tokens(val, env, missing) if isinstance(val, str) else val for key, val in raw.items()}
            for raw in json.loads(function.get_function_json())["bindings"]
        )
        if missing:
            problems.append(f"{name}: app setting(s) {', '.join(sorted(missing))} not set (used as %NAME% in bindings)")
        trigger_binding = next((b for b in bindings if b["name"] == trigger.name), None) if trigger else None
        if trigger_binding is None or trigger_binding["type"] not in SUPPORTED_TRIGGERS:
            kind = trigger_binding["type"] if trigger_binding else "none"
            problems.append(f"{name}: trigger type {kind!r} is not supported by the local host")
            continue
        others = [b for b in bindings if b is not trigger_binding]
        unsupported = [b["type"] for b in others if b.get("direction") != "OUT" or b["type"] not in SUPPORTED_OUTPUTS]
        if unsupported:
            problems.append(f"{name}: binding type(s) {', '.join(unsupported)} not supported by the local host")
            continue
        user_function = function.get_user_function()
        bound = {b["name"] for b in bindings if b["name"] != "$return"}
        unbound = [p for p in inspect.signature(user_function).parameters if p not in bound]
        if unbound:
            problems.append(f"{name}: parameter(s) {', '.join(unbound)} have no binding (`context` is not supplied)")
            continue
        specs.append(FunctionSpec(name, user_function, trigger_binding, tuple(others), bindings))
    if problems:
        raise LocalHostError("cannot host this app: " + "; ".join(problems))
    return specs


def parse_timespan(value: Any, setting: str) -> float:
    """Seconds in a host.json TimeSpan ("00:00:30", "1.00:00:00") or a plain number of seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = _TIMESPAN.match(str(value))
    if not match:
        raise LocalHostError(f"host.json {setting}: {value!r} is not a TimeSpan like 00:00:30")
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


@dataclass(frozen=True)
class QueueOptions:
    """extensions.queues of host.json, with the host's defaults."""

    batch_size: int = 16
    new_batch_threshold: int = 8  # fetch the next batch once this few are in flight (default batchSize / 2)
    max_dequeue_count: int = 5
    visibility_timeout: float = 0.0
    max_polling_interval: float = 60.0
    message_encoding: str = "base64"

    @classmethod
    def from_host_json(cls, host_json: Mapping[str, Any]) -> "QueueOptions":
        raw = host_json.get("extensions", {}).get("queues", {})
        encoding = str(raw.get("messageEncoding", "base64")).lower()
        if encoding not in ("base64", "none"):
            raise LocalHostError(f"host.json messageEncoding must be base64 or none, not {encoding!r}")
        batch_size = int(raw.get("batchSize", 16))
        if not 1 <= batch_size <= 32:
            raise LocalHostError("host.json batchSize must be between 1 and 32")
        threshold = int(raw.get("newBatchThreshold", batch_size // 2))
        if threshold < 0:
            raise LocalHostError("host.json newBatchThreshold must not be negative")
        return cls(
            batch_size=batch_size,
            new_batch_threshold=threshold,
            max_dequeue_count=int(raw.get("maxDequeueCount", 5)),
            visibility_timeout=parse_timespan(raw.get("visibilityTimeout", 0), "visibilityTimeout"),
            max_polling_interval=parse_timespan(raw.get("maxPollingInterval", 60), "maxPollingInterval"),
            message_encoding=encoding,
        )


def route_prefix(host_json: Mapping[str, Any]) -> str:
    """extensions.http.routePrefix, default "api"; an empty prefix puts routes at the root."""
    prefix = host_json.get("extensions", {}).get("http", {}).get("routePrefix", "api")
    return str(prefix).strip("/")
