"""Local HTTPS stand-in for Microsoft Entra, the App Service managed-identity endpoint, Microsoft Graph onlineMeetings
(with their attendance reports and transcripts) and Outlook events, on 127.0.0.1: ``GraphEmulator`` and the seeded
directory's ids. How to use it, its layout and its admin API: localdev/README.md, "The Graph emulator". Run
standalone: ``python -m localdev.emulator``.
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
from .artifacts import ARTIFACT_ROLE, TRANSCRIPT_ROLE
from .server import GraphEmulator
from .state import COUNTER_NAMES, FAULT_TARGETS, GRAPH_ENDPOINTS, EmulatorState

__all__ = [
    "GraphEmulator", "EmulatorState", "GRAPH_ENDPOINTS", "COUNTER_NAMES", "FAULT_TARGETS",
    "DEFAULT_TENANT_ID", "DEFAULT_TENANT_DOMAIN", "DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET",
    "DEFAULT_MI_CLIENT_ID", "DEFAULT_MI_PRINCIPAL_ID", "ALICE_ID", "ALICE_UPN", "BOB_ID", "BOB_UPN", "CAROL_ID",
    "CAROL_UPN", "GRAPH_RESOURCE", "ONLINE_MEETINGS_ROLE", "TOKEN_EXCHANGE_AUDIENCE", "ARTIFACT_ROLE",
    "TRANSCRIPT_ROLE",
]
