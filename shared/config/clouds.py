"""The national clouds: where tokens come from, where Graph lives, and the token-exchange audience."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cloud:
    """A national cloud: where tokens come from, where Graph lives, and the token-exchange audience."""

    name: str
    authority_host: str
    graph_base_url: str
    token_exchange_audience: str
    supports_create_or_get: bool = True


# https://learn.microsoft.com/graph/deployments and https://learn.microsoft.com/entra/workload-id/workload-identity-federation
CLOUDS: dict[str, Cloud] = {
    "global": Cloud("global", "https://login.microsoftonline.com", "https://graph.microsoft.com", "api://AzureADTokenExchange"),
    "usgov": Cloud("usgov", "https://login.microsoftonline.us", "https://graph.microsoft.us", "api://AzureADTokenExchangeUSGov"),
    "dod": Cloud("dod", "https://login.microsoftonline.us", "https://dod-graph.microsoft.us", "api://AzureADTokenExchangeUSGov"),
    # Teams createOrGet is not offered by Microsoft Graph operated by 21Vianet.
    "china": Cloud(
        "china", "https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn",
        "api://AzureADTokenExchangeChina", supports_create_or_get=False,
    ),
}
