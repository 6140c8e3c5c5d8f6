"""Local HTTPS stand-in for Microsoft Entra (OpenID discovery + token endpoint), the App Service managed-identity
endpoint and Microsoft Graph onlineMeetings (createOrGet, create, get, update, delete, find by join URL) and Outlook
events (create with a Teams meeting, list by extended property, get, update, cancel, delete), on 127.0.0.1.

    with GraphEmulator(workdir) as emu:            # workdir keeps the local CA / server certificate (reused)
        emu.url, emu.ca_bundle                     # https://127.0.0.1:PORT, CA PEM for REQUESTS_CA_BUNDLE
        authority = f"{emu.authority_host}/{DEFAULT_TENANT_ID}"   # MSAL: instance_discovery=False
        graph = f"{emu.graph_base_url}/v1.0"       # or /beta
        emu.identity_endpoint, emu.identity_header # IDENTITY_ENDPOINT / IDENTITY_HEADER for ManagedIdentityClient
        emu.state.inject("graph", 429, retry_after="2.128")
        emu.state.calls("update_meeting")          # recorded Graph calls, filtered
        emu.state.online_meetings.force_setting("allowedPresenters", "everyone")   # a tenant policy that wins
        emu.state.calendars.inject_after("create_event", 503)   # the next events POST acts, then answers 503
        emu.state.calendars.mailbox("bob@contoso.example")      # what bob received: invitations, updates, ...

Modules: ``server`` (GraphEmulator), ``transport`` (HTTPS server), ``routes`` (who answers what), ``admin`` (the
``/_emulator`` API), ``state`` (EmulatorState: faults, counters, recorded calls) with ``directory`` (tenants, users,
apps, identities, access policies) and ``meeting_store`` (meetings, setting policies); Entra: ``tokens`` (signing,
minting), ``entra`` (discovery, token endpoint, assertions), ``entra_errors`` (AADSTS catalogue); ``identity`` (the
managed-identity endpoint); Graph: ``graph_calls`` (per-call plumbing), ``graph_meetings`` (operations),
``meeting_bodies`` (create/PATCH rules), ``meetings`` (model), ``rendering`` (JSON, localized joinInformation),
``schemas`` + ``csdl`` (the yaml's schema fragments); Outlook: ``graph_events`` (operations), ``event_bodies`` (request
bodies), ``events`` (model, time zones, join block, JSON), ``calendar_store`` (calendars, mailboxes, calendar scopes,
after-faults), ``event_admin`` (their admin routes). Run standalone: ``python -m localdev.emulator``.
"""
from .directory import (
    ALICE_ID,
    ALICE_UPN,
    BOB_ID,
    BOB_UPN,
    CAROL_ID,
    CAROL_UPN,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_MI_CLIENT_ID,
    DEFAULT_MI_PRINCIPAL_ID,
    DEFAULT_TENANT_DOMAIN,
    DEFAULT_TENANT_ID,
    GRAPH_RESOURCE,
    ONLINE_MEETINGS_ROLE,
    TOKEN_EXCHANGE_AUDIENCE,
)
from .server import GraphEmulator
from .state import COUNTER_NAMES, FAULT_TARGETS, GRAPH_ENDPOINTS, EmulatorState

__all__ = [
    "GraphEmulator", "EmulatorState", "GRAPH_ENDPOINTS", "COUNTER_NAMES", "FAULT_TARGETS",
    "DEFAULT_TENANT_ID", "DEFAULT_TENANT_DOMAIN", "DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET",
    "DEFAULT_MI_CLIENT_ID", "DEFAULT_MI_PRINCIPAL_ID", "ALICE_ID", "ALICE_UPN", "BOB_ID", "BOB_UPN", "CAROL_ID",
    "CAROL_UPN", "GRAPH_RESOURCE", "ONLINE_MEETINGS_ROLE", "TOKEN_EXCHANGE_AUDIENCE",
]
