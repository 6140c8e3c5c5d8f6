"""The local world the app runs and is tested in, composed once: Azurite, the Graph emulator (when no tenant is
configured), the app settings pointing at them, a CA bundle trusting the emulator, and the local Functions host
(localdev/README.md, "The local world")."""
from __future__ import annotations

import contextlib
import importlib.util
import itertools
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import azure.functions as func
import requests
from azure.data.tables import TableClient
from azure.storage.queue import QueueClient

from .azurite import Azurite
from .certs import TRUST_BUNDLE_FILE, trust_bundle
from .host import LocalFunctionsHost
from .settings_file import is_placeholder

REPO_ROOT = Path(__file__).resolve().parent.parent
APP_DEFAULTS = {
    "FUNCTIONS_WORKER_RUNTIME": "python",
    "MEETINGS_TABLE": "meetings",
    "MEETING_REQUESTS_QUEUE": "meeting-requests",
    "MEETING_RESULTS_QUEUE": "meeting-results",
    "MEETING_CALLBACKS_QUEUE": "meeting-callbacks",
    "MEETING_CALLBACKS_FAILED_QUEUE": "meeting-callbacks-failed",
}
QUEUE_SETTINGS = ("MEETING_REQUESTS_QUEUE", "MEETING_RESULTS_QUEUE", "MEETING_CALLBACKS_QUEUE",
                  "MEETING_CALLBACKS_FAILED_QUEUE")
_private_apps = itertools.count(1)


def load_app(module_name: str | None = None) -> func.FunctionApp:
    """A private instance of the repo's function_app (``FunctionApp.get_functions()`` may run once per instance)."""
    name = module_name or f"function_app_local_{next(_private_apps)}"
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "function_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def uses_development_storage(value: str | None) -> bool:
    return not value or value.replace(" ", "").rstrip(";").lower() == "usedevelopmentstorage=true"


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set process environment variables for the duration, restoring the previous values afterwards."""
    old = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class LocalWorld:
    """Azurite + Graph emulator + app settings + local Functions host; a context manager (start/close).

    azurite, emulator: running instances to share (not stopped on close); otherwise the world starts its own Azurite
    (persisted under ``state_dir/azurite`` when ``persist_storage``, else in memory) and, when ``use_emulator`` (None:
    only if the settings name no real GRAPH_TENANT_ID), its own emulator with its CA under ``state_dir/emulator``
    (``state_dir`` None: a temporary folder removed on close).
    app: the FunctionApp, or a callable that returns it once the settings are in place (default: a private instance
    of the repo's function_app.py).
    settings: the base app settings (default APP_DEFAULTS); the emulator's GRAPH_* settings and ALLOWED_ORGANIZERS
    (unless given) are added, then ``overrides``. ``suffix`` suffixes the table and queue names so that worlds sharing
    one Azurite never see each other's rows and messages.
    export_settings: put the settings into os.environ (the app reads them there when no container is injected).
    http_port, visibility_timeout, polling_interval, lease_seconds: the host's options (``LocalFunctionsHost``).
    stop_storage()/start_storage(): a storage outage in the middle of a run (persisted Azurite only).
    While the world runs, REQUESTS_CA_BUNDLE names ``state_dir/ca-bundle.pem``: the bundle the environment trusted
    (its REQUESTS_CA_BUNDLE, else CURL_CA_BUNDLE, else requests' default) followed by the emulator's CA, so that a
    corporate CA keeps working beside the emulator. The environment is restored on close.
    """

    def __init__(self, *, app: func.FunctionApp | Callable[[], func.FunctionApp] | None = None, settings: Mapping[str, str] | None = None,
                 overrides: Mapping[str, str] | None = None, suffix: str | None = None,
                 azurite: Azurite | None = None, emulator: Any = None, use_emulator: bool | None = None,
                 state_dir: Path | None = None, persist_storage: bool = False, export_settings: bool = False,
                 host_json: Mapping[str, Any] | None = None, http_port: int = 0, queue_workers: bool = False,
                 visibility_timeout: float | None = None, polling_interval: float | None = None,
                 lease_seconds: float | None = None, timer_interval: float | None = None) -> None:
        if suffix is not None and not re.fullmatch(r"[a-z0-9]{1,20}", suffix):
            raise ValueError("suffix must be 1-20 lowercase letters or digits (table names allow nothing else)")
        self._app, self._base = app, dict(APP_DEFAULTS if settings is None else settings)
        self._overrides, self._suffix = dict(overrides or {}), suffix
        self.azurite, self.emulator, self._use_emulator = azurite, emulator, use_emulator
        self._state_dir, self._persist, self._export = state_dir, persist_storage, export_settings
        self._host_json = host_json
        self._host_options = {"http_port": http_port, "visibility_timeout": visibility_timeout,
                              "polling_interval": polling_interval, "lease_seconds": lease_seconds,
                              "timer_interval": timer_interval}
        self._queue_workers = queue_workers
        self._stack = contextlib.ExitStack()
        self.settings: dict[str, str] = {}
        self.host: LocalFunctionsHost | None = None
        self.trust_bundle: Path | None = None  # the REQUESTS_CA_BUNDLE of the world (with an emulator)

    # ------------------------------------------------------------------------------------------------- lifecycle
    def start(self) -> "LocalWorld":
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def _start(self) -> None:
        stack = self._stack
        state_dir = self._state_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="localworld-")))
        if self.azurite is None:
            self.azurite = Azurite(location=state_dir / "azurite" if self._persist else None)
            stack.enter_context(self.azurite)
        settings = dict(self._base)
        wants_emulator = self._use_emulator
        if wants_emulator is None:
            wants_emulator = self.emulator is not None or is_placeholder(settings.get("GRAPH_TENANT_ID", ""))
        if wants_emulator and self.emulator is None:
            from .emulator import GraphEmulator

            self.emulator = stack.enter_context(GraphEmulator(state_dir / "emulator", port=0))
        if wants_emulator:
            emulator_settings = self.emulator.app_settings()
            settings.setdefault("ALLOWED_ORGANIZERS", emulator_settings.pop("ALLOWED_ORGANIZERS"))
            settings.update({k: v for k, v in emulator_settings.items() if k != "ALLOWED_ORGANIZERS"})
            self.trust_bundle = trust_bundle(self.emulator.ca_bundle, state_dir / TRUST_BUNDLE_FILE)
            stack.enter_context(environment({"REQUESTS_CA_BUNDLE": str(self.trust_bundle)}))
        else:
            self.emulator = None
        if uses_development_storage(settings.get("AzureWebJobsStorage")):
            settings["AzureWebJobsStorage"] = self.azurite.connection_string
        if self._suffix:
            settings["MEETINGS_TABLE"] = f"{settings['MEETINGS_TABLE']}{self._suffix}"
            for name in QUEUE_SETTINGS:
                settings[name] = f"{settings[name]}-{self._suffix}"
        settings.update(self._overrides)
        if self.trust_bundle is not None:
            # Also among the settings: merged settings carry the caller's REQUESTS_CA_BUNDLE, which exporting them
            # would put back, and an app built from the settings alone reads it there.
            settings["REQUESTS_CA_BUNDLE"] = str(self.trust_bundle)
        self.settings = settings
        if self.emulator is not None:
            self._grant_artifact_roles(settings.get("MEETING_ARTIFACTS", ""))
        if self._export:
            stack.enter_context(environment(settings))
        host_json = self._host_json or json.loads((REPO_ROOT / "host.json").read_text(encoding="utf-8"))
        app = self._app if isinstance(self._app, func.FunctionApp) else (self._app or load_app)()
        self.host = LocalFunctionsHost(app, env=settings, host_json=host_json,
                                       storage_connection_string=settings["AzureWebJobsStorage"], **self._host_options)
        self.host.start(run_queue_workers=self._queue_workers)
        stack.callback(self.host.stop)

    def _grant_artifact_roles(self, mode: str) -> None:
        """With MEETING_ARTIFACTS on, the emulator's seeded app gets the application permissions the deployment
        would grant for it (OnlineMeetingArtifact.Read.All; OnlineMeetingTranscript.Read.All for transcripts), through
        the admin API as an operator would."""
        from .emulator import ARTIFACT_ROLE, DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID, ONLINE_MEETINGS_ROLE, TRANSCRIPT_ROLE

        wanted = {"attendance": (ARTIFACT_ROLE,), "attendanceandtranscripts": (ARTIFACT_ROLE, TRANSCRIPT_ROLE)}
        extra = wanted.get(mode.strip().lower())
        if not extra:
            return
        assert self.emulator is not None and self.trust_bundle is not None
        answer = requests.post(f"{self.emulator.url}/_emulator/apps", timeout=10, verify=str(self.trust_bundle),
                               json={"tenant_id": DEFAULT_TENANT_ID, "client_id": DEFAULT_CLIENT_ID,
                                     "roles": [ONLINE_MEETINGS_ROLE, *extra]})
        answer.raise_for_status()

    def stop_storage(self) -> None:
        """Stop the world's Azurite, as a storage outage: the host and the app keep running and see connection
        errors until ``start_storage()``. Only for a persisted Azurite (``persist_storage``, or a shared Azurite with a
        ``location``), whose data survives the stop; a shared one stops for everyone who uses it."""
        self._persisted_azurite().stop()

    def start_storage(self) -> None:
        """Start the world's Azurite again on the same ports, with the data it had when stopped."""
        azurite = self._persisted_azurite()
        if not azurite.running:
            azurite.start(same_ports=True)

    def _persisted_azurite(self) -> Azurite:
        if self.azurite is None or self.azurite.location is None:
            raise RuntimeError("a storage outage needs a persisted Azurite (LocalWorld(persist_storage=True)): an "
                               "in-memory one would lose its data")
        return self.azurite

    def close(self) -> None:
        """Stop the host, then what the world started (emulator, Azurite), and restore the environment."""
        self._stack.close()

    def __enter__(self) -> "LocalWorld":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------------- addresses
    @property
    def base_url(self) -> str:
        assert self.host is not None, "the world is not started"
        return self.host.base_url

    @property
    def connection_string(self) -> str:
        return self.settings["AzureWebJobsStorage"]

    def queue(self, setting: str, *, poison: bool = False) -> QueueClient:
        """A plain-text client for the queue an app setting names (host.json messageEncoding "none")."""
        name = self.settings[setting] + ("-poison" if poison else "")
        return QueueClient.from_connection_string(self.connection_string, name)

    def table(self, setting: str = "MEETINGS_TABLE") -> TableClient:
        return TableClient.from_connection_string(self.connection_string, self.settings[setting])

    def describe(self) -> dict[str, Any]:
        """Where everything listens (the run command's env.json)."""
        assert self.azurite is not None
        return {
            "baseUrl": self.base_url,
            "storageConnectionString": self.connection_string,
            "azuriteQueueEndpoint": self.azurite.endpoint("queue"),
            "azuriteTableEndpoint": self.azurite.endpoint("table"),
            "meetingRequestsQueue": self.settings["MEETING_REQUESTS_QUEUE"],
            "meetingResultsQueue": self.settings["MEETING_RESULTS_QUEUE"],
            "meetingCallbacksQueue": self.settings["MEETING_CALLBACKS_QUEUE"],
            "meetingCallbacksFailedQueue": self.settings["MEETING_CALLBACKS_FAILED_QUEUE"],
            "meetingsTable": self.settings["MEETINGS_TABLE"],
            "graphEmulatorUrl": self.emulator.url if self.emulator else None,
            "caBundle": str(self.emulator.ca_bundle) if self.emulator else None,
            "requestsCaBundle": str(self.trust_bundle) if self.trust_bundle else None,
            "graphBaseUrl": self.settings.get("GRAPH_BASE_URL"),
            "authorityHost": self.settings.get("GRAPH_AUTHORITY_HOST"),
        }
