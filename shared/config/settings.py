"""The app's settings: one frozen object, loaded once from app settings / the environment.

Every problem is collected and reported at once, so an operator fixes a configuration in one round trip.
Secret values are never echoed in problems or in ``repr``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum
from typing import Mapping
from urllib.parse import urlsplit

from shared.config.allowlists import OrganizerAllowlist
from shared.config.artifacts import ARTIFACT_SETTING_NAMES, ArtifactSettings, read_artifact_settings
from shared.config.callback_settings import (CALLBACK_SECRET_SETTINGS, CALLBACK_SETTING_NAMES, CallbackSettings,
                                             read_callback_settings)
from shared.config.reader import QUEUE_NAME, TABLE_NAME, SettingsReader, https_url
from shared.config.clouds import CLOUDS, Cloud
from shared.domain.identifiers import is_guid, is_tenant_id
from shared.domain.errors import ConfigurationError

# Every app setting the code reads. The infra test checks these against the Bicep app settings.
SETTING_NAMES: tuple[str, ...] = (
    "AzureWebJobsStorage",
    "AzureWebJobsStorage__queueServiceUri",
    "AzureWebJobsStorage__tableServiceUri",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "MEETINGS_TABLE",
    "MEETING_REQUESTS_QUEUE",
    "MEETING_RESULTS_QUEUE",
    "GRAPH_TENANT_ID",
    "GRAPH_CLIENT_ID",
    "GRAPH_CREDENTIAL",
    "GRAPH_CLIENT_SECRET",
    "GRAPH_CERTIFICATE_PATH",
    "GRAPH_CERTIFICATE",
    "MANAGED_IDENTITY_CLIENT_ID",
    "GRAPH_CLOUD",
    "GRAPH_AUTHORITY_HOST",
    "GRAPH_BASE_URL",
    "GRAPH_API_VERSION",
    "ALLOWED_TENANTS",
    "ALLOWED_ORGANIZERS",
    "ACCESS_POLICY_GRACE_MINUTES",
    "MEETING_CHANGES",
    "MONTHLY_MEETING_LIMIT",
    "CALENDAR_MODE",
    *CALLBACK_SETTING_NAMES,
    *ARTIFACT_SETTING_NAMES,
)
# Settings that hold secrets: never echoed; the template sets none of them in Azure except as Key Vault references.
SECRET_SETTINGS = frozenset({"AzureWebJobsStorage", "GRAPH_CLIENT_SECRET", "GRAPH_CERTIFICATE",
                             *CALLBACK_SECRET_SETTINGS})

CREDENTIAL_MODES = ("managed_identity_fic", "managed_identity", "certificate", "client_secret")


class MeetingChanges(str, Enum):
    """What a repeated POST with other details does to a recorded meeting (``MEETING_CHANGES``)."""

    APPLY = "apply"  # one PATCH of the differences
    KEEP = "keep"    # answered with the meeting as it is (createOrGet's own semantics)


MEETING_CHANGES = tuple(choice.value for choice in MeetingChanges)
API_VERSIONS = ("v1.0", "beta")
# Calendar-backed meetings need Calendars.ReadWrite, so they are off unless turned on.
CALENDAR_MODES = ("enabled", "disabled")


@dataclass(frozen=True)
class StorageSettings:
    """How the code's own Table/Queue clients reach storage: the same settings the bindings use."""

    connection_string: str | None = field(default=None, repr=False)
    queue_service_uri: str | None = None
    table_service_uri: str | None = None
    credential: str | None = None
    client_id: str | None = None


@dataclass(frozen=True)
class Settings:
    storage: StorageSettings
    meetings_table: str
    requests_queue: str
    results_queue: str
    tenant_id: str
    client_id: str | None
    credential_mode: str
    managed_identity_client_id: str | None
    cloud: Cloud
    authority_host: str
    graph_base_url: str
    api_version: str
    allowed_tenants: frozenset[str]
    allowed_organizers: OrganizerAllowlist
    access_policy_grace: timedelta
    meeting_changes: MeetingChanges = MeetingChanges.APPLY
    monthly_meeting_limit: int = 2000
    calendar_mode: bool = False
    callbacks: CallbackSettings = field(default_factory=CallbackSettings)  # result callbacks and signed intake
    artifacts: ArtifactSettings = field(default_factory=ArtifactSettings)  # attendance and transcripts
    client_secret: str | None = field(default=None, repr=False)
    certificate_path: str | None = None
    certificate_pem: str | None = field(default=None, repr=False)

    @property
    def poison_queue(self) -> str:
        return f"{self.requests_queue}-poison"

    @property
    def graph_scope(self) -> str:
        return f"{self.graph_base_url}/.default"

    @property
    def token_exchange_audience(self) -> str:
        return self.cloud.token_exchange_audience

    def authority_for(self, tenant_id: str) -> str:
        return f"{self.authority_host}/{tenant_id}"

    @property
    def is_local_authority(self) -> bool:
        host = urlsplit(self.authority_host).hostname or ""
        return host in ("127.0.0.1", "localhost", "::1")


def load_settings(env: Mapping[str, str]) -> Settings:
    """Read and check every setting; raise ConfigurationError listing every problem found."""
    reader = SettingsReader(env)
    problems, get, get_or = reader.problems, reader.get, reader.get_or

    storage = StorageSettings(
        connection_string=get("AzureWebJobsStorage"),
        queue_service_uri=get("AzureWebJobsStorage__queueServiceUri"),
        table_service_uri=get("AzureWebJobsStorage__tableServiceUri"),
        credential=get("AzureWebJobsStorage__credential"),
        client_id=get("AzureWebJobsStorage__clientId"),
    )
    if not storage.connection_string and not (storage.queue_service_uri and storage.table_service_uri):
        problems.append(
            "storage is not configured: set AzureWebJobsStorage (a connection string) or the identity-based "
            "AzureWebJobsStorage__queueServiceUri and AzureWebJobsStorage__tableServiceUri"
        )
    if storage.credential and storage.credential.lower() != "managedidentity":
        problems.append("AzureWebJobsStorage__credential must be 'managedidentity' when set")

    table = get_or("MEETINGS_TABLE", "meetings")
    if not TABLE_NAME.fullmatch(table):
        problems.append(f"MEETINGS_TABLE must be 3-63 letters and digits, starting with a letter")
    queues = {}
    for name, default in (("MEETING_REQUESTS_QUEUE", "meeting-requests"), ("MEETING_RESULTS_QUEUE", "meeting-results")):
        queues[name] = get_or(name, default)
        # The poison queue adds 7 characters ("-poison") and must itself be a valid queue name.
        if not QUEUE_NAME.fullmatch(queues[name]) or len(queues[name]) > 56:
            problems.append(f"{name} must be 3-56 lowercase letters, digits and single hyphens")

    cloud_name = get_or("GRAPH_CLOUD", "global").lower()
    cloud = CLOUDS.get(cloud_name)
    if cloud is None:
        problems.append(f"GRAPH_CLOUD must be one of {', '.join(CLOUDS)}")
        cloud = CLOUDS["global"]
    elif not cloud.supports_create_or_get:
        problems.append(
            f"GRAPH_CLOUD={cloud_name}: Microsoft Graph in this cloud does not offer onlineMeetings/createOrGet, "
            "so this app cannot serve it"
        )
    authority_host = https_url("GRAPH_AUTHORITY_HOST", get_or("GRAPH_AUTHORITY_HOST", cloud.authority_host), problems)
    graph_base_url = https_url("GRAPH_BASE_URL", get_or("GRAPH_BASE_URL", cloud.graph_base_url), problems)
    api_version = reader.choice("GRAPH_API_VERSION", API_VERSIONS, "v1.0", fold_case=False)

    mode = get_or("GRAPH_CREDENTIAL", "managed_identity_fic").lower()
    tenant_id = (get("GRAPH_TENANT_ID") or "").lower()
    client_id = get("GRAPH_CLIENT_ID")
    mi_client_id = get("MANAGED_IDENTITY_CLIENT_ID")
    secret = get("GRAPH_CLIENT_SECRET")
    cert_path = get("GRAPH_CERTIFICATE_PATH")
    cert_pem = get("GRAPH_CERTIFICATE")
    if not tenant_id:
        problems.append("GRAPH_TENANT_ID is required (the tenant's GUID or verified domain)")
    elif not is_tenant_id(tenant_id):
        problems.append(f"GRAPH_TENANT_ID must be a GUID or a domain name")
    if mode not in CREDENTIAL_MODES:
        problems.append(f"GRAPH_CREDENTIAL must be one of {', '.join(CREDENTIAL_MODES)}")
    else:
        if mode != "managed_identity" and not client_id:
            problems.append(f"GRAPH_CLIENT_ID is required for GRAPH_CREDENTIAL={mode} (the app registration's client id)")

        if mode == "managed_identity_fic" and not mi_client_id:
            problems.append(
                "MANAGED_IDENTITY_CLIENT_ID is required for GRAPH_CREDENTIAL=managed_identity_fic "
                "(the client id of the user-assigned identity the app registration trusts)"
            )

        if mode == "client_secret" and not secret:
            problems.append("GRAPH_CLIENT_SECRET is required for GRAPH_CREDENTIAL=client_secret")
        if mode == "certificate" and not (cert_path or cert_pem):
            problems.append("GRAPH_CERTIFICATE_PATH or GRAPH_CERTIFICATE is required for GRAPH_CREDENTIAL=certificate")
        elif mode == "certificate" and cert_path and not cert_pem and not os.access(cert_path, os.R_OK):
            problems.append("GRAPH_CERTIFICATE_PATH cannot be read")

    if client_id and not is_guid(client_id):
        problems.append("GRAPH_CLIENT_ID must be a GUID (the app registration's application (client) id)")
    if mi_client_id and not is_guid(mi_client_id):
        problems.append("MANAGED_IDENTITY_CLIENT_ID must be a GUID")

    raw_tenants = get("ALLOWED_TENANTS")
    allowed_tenants = {t.strip().lower() for t in (raw_tenants or "").split(",") if t.strip()}
    for tenant in sorted(allowed_tenants):
        if not is_tenant_id(tenant):
            problems.append("ALLOWED_TENANTS: every entry must be a tenant GUID or domain")
    if tenant_id:
        allowed_tenants.add(tenant_id)

    raw_organizers = get("ALLOWED_ORGANIZERS")
    organizers = OrganizerAllowlist.parse(raw_organizers or "")
    if not (raw_organizers or "").isascii():  # before lowercasing: "\u212a".lower() is an ASCII "k"
        problems.append("ALLOWED_ORGANIZERS: every entry must be ASCII (object ids, UPNs and domains in Entra ID are)")
    if not organizers.entries:
        problems.append(
            "ALLOWED_ORGANIZERS is required: list the organizers this app may create meetings for "
            "(object ids, UPNs, @domain suffixes, or * for everyone the access policy covers)"
        )

    grace_minutes = reader.number("ACCESS_POLICY_GRACE_MINUTES", 30.0, 0, 24 * 60, whole=False,
                                  rule="a number of minutes from 0 to 1440")
    meeting_changes = reader.choice("MEETING_CHANGES", MEETING_CHANGES, "apply")
    monthly_limit = int(reader.number("MONTHLY_MEETING_LIMIT", 2000, 0, 1_000_000, whole=True,
                                      rule="a whole number of meetings from 0 (no limit) to 1000000"))
    calendar_mode = reader.choice("CALENDAR_MODE", CALENDAR_MODES, "disabled")
    callbacks, callback_problems = read_callback_settings(env)
    problems += callback_problems
    if {callbacks.queue, callbacks.failed_queue} & set(queues.values()):
        problems.append("MEETING_CALLBACKS_QUEUE and MEETING_CALLBACKS_FAILED_QUEUE must differ from "
                        "MEETING_REQUESTS_QUEUE and MEETING_RESULTS_QUEUE")
    artifacts, artifact_problems = read_artifact_settings(env)
    problems += artifact_problems

    if problems:
        raise ConfigurationError(problems)
    return Settings(
        storage=storage,
        meetings_table=table,
        requests_queue=queues["MEETING_REQUESTS_QUEUE"],
        results_queue=queues["MEETING_RESULTS_QUEUE"],
        tenant_id=tenant_id,
        client_id=client_id,
        credential_mode=mode,
        managed_identity_client_id=mi_client_id,
        cloud=cloud,
        authority_host=authority_host,
        graph_base_url=graph_base_url,
        api_version=api_version,
        allowed_tenants=frozenset(allowed_tenants),
        allowed_organizers=organizers,
        access_policy_grace=timedelta(minutes=grace_minutes),
        meeting_changes=MeetingChanges(meeting_changes),
        monthly_meeting_limit=monthly_limit,
        calendar_mode=calendar_mode == "enabled",
        callbacks=callbacks,
        artifacts=artifacts,
        client_secret=secret,
        certificate_path=cert_path,
        certificate_pem=cert_pem,
    )
