"""The msgraph-sdk side of ``python -m bench.compare``, run by path in ``.venv-sdk``; imports nothing of the repository.

    python sdk_worker.py serve    # JSON lines: the config, then one command per line; one answer per line
    python sdk_worker.py cold     # a cold start: the config line; import, client, one meeting; one answer

Besides the SDK's bare call it runs the plain SDK implementation (``peer``): createOrGet, one row upserted with the
synchronous Tables client, the result as JSON. The config, the commands and how the clients are built:
bench/README.md, "The SDK's side".
"""
from __future__ import annotations

import asyncio
import collections
import datetime as dt
import json
import ssl
import sys
import time
from typing import Any

perf_counter = time.perf_counter
STARTED = perf_counter()

import httpx  # noqa: E402 - timed from STARTED on
from azure.identity import ClientSecretCredential  # noqa: E402
from kiota_authentication_azure.azure_identity_authentication_provider import (  # noqa: E402
    AzureIdentityAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient  # noqa: E402
from msgraph.generated.models.identity import Identity  # noqa: E402
from msgraph.generated.models.identity_set import IdentitySet  # noqa: E402
from msgraph.generated.models.meeting_participant_info import MeetingParticipantInfo  # noqa: E402
from msgraph.generated.models.meeting_participants import MeetingParticipants  # noqa: E402
from msgraph.generated.models.online_meeting_role import OnlineMeetingRole  # noqa: E402
from msgraph.generated.users.item.online_meetings.create_or_get.create_or_get_post_request_body import (  # noqa: E402
    CreateOrGetPostRequestBody,
)
from msgraph.graph_request_adapter import options as graph_options  # noqa: E402
from msgraph_core import GraphClientFactory  # noqa: E402

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


def build_client(config: dict[str, Any]) -> GraphServiceClient:
    credential = ClientSecretCredential(config["tenant"], config["client_id"], config["secret"],
                                        authority=config["url"], disable_instance_discovery=True)
    # KiotaClientFactory.get_default_client(), with the emulator's CA.
    http = httpx.AsyncClient(timeout=httpx.Timeout(100, connect=30), http2=True,
                             verify=ssl.create_default_context(cafile=config["ca"]))
    http = GraphClientFactory.create_with_default_middleware(client=http, options=graph_options)
    adapter = GraphRequestAdapter(AzureIdentityAuthenticationProvider(credential, scopes=[GRAPH_SCOPE]), client=http)
    adapter.base_url = config["url"].rstrip("/") + "/v1.0"
    return GraphServiceClient(request_adapter=adapter)


def _when(text: str) -> dt.datetime:
    """Graph's 7-digit fractions, as a datetime (microseconds)."""
    head, _, tail = text.rstrip("Z").partition(".")
    fraction = (tail + "000000")[:6] if tail else "0"
    return dt.datetime.fromisoformat(f"{head}.{fraction}").replace(tzinfo=dt.timezone.utc)


def request_body(template: dict[str, Any], external_id: str) -> CreateOrGetPostRequestBody:
    """The broker's createOrGet body as the SDK's model (built per call, as a caller would)."""
    attendees = []
    for attendee in (template.get("participants") or {}).get("attendees") or []:
        user = ((attendee.get("identity") or {}).get("user")) or None
        attendees.append(MeetingParticipantInfo(
            upn=attendee.get("upn"), role=OnlineMeetingRole(attendee["role"]) if attendee.get("role") else None,
            identity=IdentitySet(user=Identity(id=user.get("id"), display_name=user.get("displayName")))
            if user else None))
    return CreateOrGetPostRequestBody(
        external_id=external_id, subject=template.get("subject"),
        start_date_time=_when(template["startDateTime"]) if template.get("startDateTime") else None,
        end_date_time=_when(template["endDateTime"]) if template.get("endDateTime") else None,
        participants=MeetingParticipants(attendees=attendees))


async def create(client: GraphServiceClient, template: dict[str, Any], organizer: str, external_id: str) -> Any:
    meeting = await client.users.by_user_id(organizer).online_meetings.create_or_get.post(
        request_body(template, external_id))
    if meeting is None or not meeting.join_web_url:
        raise RuntimeError("createOrGet answered without a meeting")
    return meeting


class Peer:
    """What a user would write instead of the broker with the official libraries: createOrGet with the externalId,
    then ``TableClient.upsert_entity`` of one row (PartitionKey the organizer, RowKey the externalId, the meeting id
    and join link), then the result as JSON. The synchronous Tables client with its defaults, built from the
    connection string of the current repetition's Azurite (``storage``); no queue send."""

    def __init__(self) -> None:
        self.table: Any = None

    def storage(self, command: dict[str, Any]) -> dict[str, Any]:
        """A new Azurite (each repetition has its own): a new client, and its table made, as a template would."""
        from azure.core.exceptions import ResourceExistsError  # imported here: the SDK's cold start stays the SDK's
        from azure.data.tables import TableClient

        if self.table is not None:
            self.table.close()
        self.table = TableClient.from_connection_string(command["connection_string"], command["table"])
        try:
            self.table.create_table()
        except ResourceExistsError:
            pass
        return {"ready": True}

    async def job(self, client: GraphServiceClient, template: dict[str, Any], organizer: str, external_id: str,
                  **hooks: Any) -> str:
        meeting = await create(client, template, organizer, external_id)
        self.table.upsert_entity({"PartitionKey": organizer, "RowKey": external_id, "MeetingId": meeting.id,
                                  "JoinWebUrl": meeting.join_web_url}, **hooks)
        return json.dumps({"status": "created", "organizerId": organizer, "externalId": external_id,
                           "meetingId": meeting.id, "joinWebUrl": meeting.join_web_url})


PEER = Peer()


def _job(op: str) -> Any:
    """The coroutine of one call of a block: the SDK's bare call, or the peer's whole job."""
    return PEER.job if op == "peer" else create


def _cpu() -> float:
    return time.process_time()


async def calls(client: GraphServiceClient, template: dict[str, Any], command: dict[str, Any]) -> dict[str, Any]:
    latencies: list[float] = []
    errors: collections.Counter[str] = collections.Counter()
    organizers, job = command["organizers"], _job(command.get("job", "sdk"))
    cpu = _cpu()
    for i in range(command["n"]):
        began = perf_counter()
        try:
            await job(client, template, organizers[i % len(organizers)], f"{command['prefix']}-{i}")
        except Exception as exc:  # noqa: BLE001 - counted, the run goes on
            errors[type(exc).__name__] += 1
            continue
        latencies.append(perf_counter() - began)
    return {"latencies": latencies, "failed": sum(errors.values()), "errors": dict(errors), "cpu_s": _cpu() - cpu}


async def probe(client: GraphServiceClient, template: dict[str, Any], command: dict[str, Any]) -> dict[str, Any]:
    """One peer job with the Tables client's per-call hooks on (not a measured call): its storage requests and
    their bytes."""
    seen: list[tuple[int, int]] = []

    def response_hook(response: Any) -> None:
        request, answer = response.http_request, response.http_response
        body = getattr(request, "content", None) or getattr(request, "body", None) or b""
        body = body.encode() if isinstance(body, str) else body if isinstance(body, bytes) else b""
        received = answer.headers.get("Content-Length")
        seen.append((len(body), int(received) if received else len(answer.body() or b"")))

    await PEER.job(client, template, command["organizers"][0], command["prefix"], raw_response_hook=response_hook)
    return {"requests": len(seen), "sent_bytes": sum(s for s, _ in seen), "received_bytes": sum(r for _, r in seen)}


async def concurrent(client: GraphServiceClient, template: dict[str, Any], command: dict[str, Any]) -> dict[str, Any]:
    n, organizers, job = command["n"], command["organizers"], _job(command.get("job", "sdk"))
    todo = iter(range(n))
    completions: list[float] = []
    errors: collections.Counter[str] = collections.Counter()
    started = perf_counter()

    async def lane() -> None:
        for i in todo:
            try:
                await job(client, template, organizers[i % len(organizers)], f"{command['prefix']}-{i}")
            except Exception as exc:  # noqa: BLE001 - a failed request (retries exhausted, ...)
                errors[type(exc).__name__] += 1
            else:
                completions.append(perf_counter() - started)

    await asyncio.gather(*(lane() for _ in range(command["concurrency"])))
    return {"wall": perf_counter() - started, "completions": completions, "failed": sum(errors.values()),
            "errors": dict(errors)}


def serve(config: dict[str, Any]) -> int:
    loop = asyncio.new_event_loop()
    client = build_client(config)
    template = config["body"]
    from importlib.metadata import version

    versions = {name: version(name) for name in ("msgraph-sdk", "msgraph-core", "microsoft-kiota-http",
                                                 "azure-identity", "azure-core", "azure-data-tables", "httpx")}
    print(json.dumps({"ready": True, "versions": versions}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "quit":
            break
        if command["op"] == "storage":
            answer = PEER.storage(command)
        else:
            handler = {"calls": calls, "concurrent": concurrent, "probe": probe}[command["op"]]
            answer = loop.run_until_complete(handler(client, template, command))
        print(json.dumps(answer), flush=True)
    loop.close()
    return 0


def cold(config: dict[str, Any]) -> int:
    imported = perf_counter()
    client = build_client(config)
    built = perf_counter()
    meeting = asyncio.run(create(client, config["body"], config["organizer"], config["external_id"]))
    done = perf_counter()
    print(json.dumps({"import_s": imported - STARTED, "setup_s": built - imported, "first_s": done - built,
                      "created": bool(meeting.join_web_url)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit({"serve": serve, "cold": cold}[sys.argv[1]](json.loads(sys.stdin.readline())))
