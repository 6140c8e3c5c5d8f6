"""The postprovision hook infra/hooks/grant-app-roles.*: it grants the Microsoft Graph app roles the template declares
once the new service principal can be read, creates each assignment once, and gives up at its bound with a message.

The hook runs with exactly the environment azd gives it (`azd env get-values` plus the outputs of main.bicep), against a
stand-in for Microsoft Graph on 127.0.0.1 (the MICROSOFT_GRAPH_ENDPOINT output pointed at it) and a stand-in `azd` on
PATH. APP_ROLE_GRANT_VIRTUAL_CLOCK=1 makes its pauses advance a virtual clock: nothing here sleeps.
"""
from __future__ import annotations

import http.server
import json
import os
import re
import subprocess
import time
from urllib.parse import urlsplit

import pytest
import yaml

from tests.infra.stand_ins import FAKE_TOKEN, azd_environment, calls_of, needs_bash_and_curl, needs_pwsh, serve
from tests.infra.template import INFRA, REPO_ROOT

HOOK = INFRA / "hooks" / "grant-app-roles.sh"
HOOK_PS = INFRA / "hooks" / "grant-app-roles.ps1"
INPUTS = ("GRAPH_SERVICE_PRINCIPAL_ID", "GRAPH_CLIENT_ID", "GRAPH_APP_ROLES", "MICROSOFT_GRAPH_SERVICE_PRINCIPAL_ID",
          "MICROSOFT_GRAPH_ENDPOINT", "AZURE_TENANT_ID")

APP_ID = "11111111-2222-3333-4444-555555555555"
APP_SP = "66666666-7777-8888-9999-000000000000"
GRAPH_SP = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
TENANT = "12121212-3434-5656-7878-909090909090"
# https://learn.microsoft.com/graph/permissions-reference (application permissions)
ONLINE_MEETINGS = "b8bb2037-6e08-44ac-a4ea-4674e010e2a4"
CALENDARS = "ef54d2bf-783f-4e0f-bca1-3210c0444d99"
ONLY_MEETINGS = f"OnlineMeetings.ReadWrite.All={ONLINE_MEETINGS}"
WITH_CALENDARS = f"{ONLY_MEETINGS},Calendars.ReadWrite={CALENDARS}"

SP_PATH = f"/v1.0/servicePrincipals/{APP_SP}"
ASSIGNMENTS_PATH = f"{SP_PATH}/appRoleAssignments"


# -- azure.yaml and the template's side -----------------------------------------------------------------------------
def test_azure_yaml_runs_the_hook_after_every_provision():
    hook = yaml.safe_load((REPO_ROOT / "azure.yaml").read_text(encoding="utf-8"))["hooks"]["postprovision"]
    assert hook["posix"]["run"] == "infra/hooks/grant-app-roles.sh"
    assert hook["windows"]["run"] == "infra/hooks/grant-app-roles.ps1"
    assert not hook["posix"].get("continueOnError") and not hook["windows"].get("continueOnError")


def test_both_scripts_read_the_outputs_main_bicep_provides(modules):
    outputs = modules["main.bicep"].doc["outputs"]
    for script in (HOOK, HOOK_PS):
        text = script.read_text(encoding="utf-8")
        for name in INPUTS:
            assert name in outputs and name in text, (script.name, name)
        assert re.search(r'azd_token "\$graph/\.default" .+ "\$tenant"|Get-AzdToken "\$graph/\.default" .+ \$tenant', text)


# -- behaviour ----------------------------------------------------------------------------------------------------------
class _Graph(http.server.BaseHTTPRequestHandler):
    """Microsoft Graph as the hook sees it. The app's service principal answers 404 (as Graph does for an object its
    replica does not know) to its first `unreadable` reads, then 200; its app-role assignments are `assignments`; a POST
    answers the next of `post_answers` (status, error message) while any is left, else creates the assignment, or answers
    400 "already exists" for a duplicate as Graph does. Records every request."""

    unreadable = 0
    assignments: list[dict] = []
    post_answers: list[tuple[int, str]] = []
    seen: list[dict] = []

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: str, message: str) -> None:
        self._reply(status, {"error": {"code": code, "message": message}})

    def _record(self, body: dict | None = None) -> str:
        type(self).seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body})
        return urlsplit(self.path).path

    def do_GET(self):  # noqa: N802 - http.server's naming
        path = self._record()
        if path == SP_PATH:
            reads = sum(1 for request in self.seen if urlsplit(request["path"]).path == SP_PATH)
            if reads <= self.unreadable:
                self._error(404, "Request_ResourceNotFound", f"Resource '{APP_SP}' does not exist or one of its "
                            "queried reference-property objects are not present.")
            else:
                self._reply(200, {"id": APP_SP})
        elif path == ASSIGNMENTS_PATH:
            self._reply(200, {"value": [{"id": f"assignment-{i}", **a} for i, a in enumerate(self.assignments)]})
        else:
            self._error(404, "Request_ResourceNotFound", "no such path in the stand-in")

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self._record(body) != ASSIGNMENTS_PATH:
            self._error(404, "Request_ResourceNotFound", "no such path in the stand-in")
        elif self.post_answers:
            status, message = self.post_answers.pop(0)
            self._error(status, "Request_BadRequest", message)
        elif any(a["appRoleId"] == body["appRoleId"] and a["resourceId"] == body["resourceId"] for a in self.assignments):
            self._error(400, "Request_BadRequest", "Permission being assigned already exists on the object.")
        else:
            self.assignments.append({"appRoleId": body["appRoleId"], "resourceId": body["resourceId"]})
            self._reply(201, {"id": "new-assignment", **body})

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def graph():
    handler = type("Graph", (_Graph,), {"unreadable": 0, "assignments": [], "post_answers": [], "seen": []})
    with serve(handler) as url:
        yield handler, url


def _environment(modules, graph_url: str, roles: str = ONLY_MEETINGS) -> dict[str, str]:
    """Exactly what azd gives the hook after this template's provision, Graph being the stand-in."""
    return azd_environment(modules, GRAPH_SERVICE_PRINCIPAL_ID=APP_SP, GRAPH_CLIENT_ID=APP_ID, GRAPH_APP_ROLES=roles,
                           MICROSOFT_GRAPH_SERVICE_PRINCIPAL_ID=GRAPH_SP, MICROSOFT_GRAPH_ENDPOINT=graph_url,
                           AZURE_TENANT_ID=TENANT)


def _run(env: dict[str, str], fake_azd, command: list[str] | None = None,
         **settings: str) -> subprocess.CompletedProcess:
    """The hook with the azd environment, values set with `azd env set`, the stand-in azd and the virtual clock."""
    bin_dir, _calls = fake_azd
    env = {**env, **settings, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "APP_ROLE_GRANT_VIRTUAL_CLOCK": "1"}
    return subprocess.run(command or [str(HOOK)], env=env, capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)


def _posts(handler) -> list[dict]:
    return [request["body"] for request in handler.seen if request["method"] == "POST"]


def _pauses(output: str) -> list[int]:
    return [int(seconds) for seconds in re.findall(r"next try in (\d+)s", output)]


def _grant(role: str) -> dict:
    return {"principalId": APP_SP, "resourceId": GRAPH_SP, "appRoleId": role}


@needs_bash_and_curl
def test_it_waits_until_the_new_service_principal_is_readable_then_grants_once(graph, fake_azd, modules):
    handler, url = graph
    handler.unreadable = 3
    env = _environment(modules, url)
    assert "AZURE_PRINCIPAL_ID" not in env and "APP_ROLE_GRANT_WAIT_SECONDS" not in env
    result = _run(env, fake_azd)
    assert result.returncode == 0, result.stderr
    reads = [r for r in handler.seen if r["method"] == "GET" and urlsplit(r["path"]).path == SP_PATH]
    assert len(reads) == 4, "three 404s, then the read that finds it"
    assert _posts(handler) == [_grant(ONLINE_MEETINGS)]
    assert handler.assignments == [{"appRoleId": ONLINE_MEETINGS, "resourceId": GRAPH_SP}]
    assert _pauses(result.stdout) == [5, 10, 20], "the pauses grow"
    assert "not readable yet (HTTP 404)" in result.stdout and "granted OnlineMeetings.ReadWrite.All" in result.stdout
    assert all(r["headers"]["Authorization"] == f"Bearer {FAKE_TOKEN}" for r in handler.seen)
    assert FAKE_TOKEN not in result.stdout + result.stderr
    scope = f"{url}/.default"
    assert calls_of(fake_azd[1]) == [f"auth token --output json --scope {scope} --tenant-id {TENANT}"]


@needs_bash_and_curl
def test_an_assignment_that_is_already_there_is_not_created_again(graph, fake_azd, modules):
    handler, url = graph
    handler.assignments = [{"appRoleId": ONLINE_MEETINGS.upper(), "resourceId": GRAPH_SP}]
    result = _run(_environment(modules, url), fake_azd)
    assert result.returncode == 0, result.stderr
    assert _posts(handler) == []
    assert len(handler.seen) == 2, "a later provision costs a read and a list"
    assert "already granted" in result.stdout


@needs_bash_and_curl
def test_with_calendars_tenant_wide_only_the_missing_role_is_granted(graph, fake_azd, modules):
    handler, url = graph
    handler.assignments = [{"appRoleId": ONLINE_MEETINGS, "resourceId": GRAPH_SP},
                           {"appRoleId": CALENDARS, "resourceId": "another-resource"}]
    result = _run(_environment(modules, url, roles=WITH_CALENDARS), fake_azd)
    assert result.returncode == 0, result.stderr
    assert _posts(handler) == [_grant(CALENDARS)], "the same role on another resource is not this grant"


@needs_bash_and_curl
def test_a_service_principal_that_never_becomes_readable_fails_at_the_bound_with_what_to_do(graph, fake_azd, modules):
    handler, url = graph
    handler.unreadable = 10_000
    started = time.monotonic()
    result = _run(_environment(modules, url), fake_azd)
    assert time.monotonic() - started < 60, "the virtual clock: no real pauses"
    assert result.returncode == 1
    assert _posts(handler) == []
    pauses = _pauses(result.stdout)
    assert pauses[:4] == [5, 10, 20, 30] and set(pauses[4:-1]) == {30} and pauses[-1] <= 30
    assert 600 - 60 <= sum(pauses) <= 600, "the last try falls on the bound (less the real seconds the tries took)"
    assert len(handler.seen) == len(pauses) + 1
    message = result.stderr
    assert re.search(r"after \d+s Microsoft Graph still does not let the grant through", message)
    assert "not readable yet" in message
    assert "run 'azd provision' again" in message and "APP_ROLE_GRANT_WAIT_SECONDS" in message


@needs_bash_and_curl
def test_the_bound_is_a_setting(graph, fake_azd, modules):
    handler, url = graph
    handler.unreadable = 10_000
    result = _run(_environment(modules, url), fake_azd, APP_ROLE_GRANT_WAIT_SECONDS="0")
    assert result.returncode == 1 and len(handler.seen) == 1 and _pauses(result.stdout) == []


@needs_bash_and_curl
def test_a_grant_that_reaches_a_replica_without_the_principal_is_tried_again(graph, fake_azd, modules):
    """Readable is not enough: the create may land on another replica (msgraph-bicep-types#193's error)."""
    handler, url = graph
    handler.post_answers = [(400, "Not a valid reference update.")]
    result = _run(_environment(modules, url), fake_azd)
    assert result.returncode == 0, result.stderr
    assert _posts(handler) == [_grant(ONLINE_MEETINGS)] * 2
    assert len(handler.assignments) == 1
    reads = [r for r in handler.seen if r["method"] == "GET"]
    assert len(reads) == 2, "once readable, only the grant is tried again"
    assert "Not a valid reference update" in result.stdout


@needs_bash_and_curl
@pytest.mark.parametrize("status, message, returncode, posts, said", [
    # Made since the list was read: Graph's 400 "already exists" is success, as a 409 is.
    (400, "Permission being assigned already exists on the object.", 0, 1, "already granted"),
    (409, "Conflict.", 0, 1, "already granted"),
    # Graph asks to wait: tried again.
    (503, "Service unavailable.", 0, 2, "Microsoft Graph answered HTTP 503"),
    # Without the right to grant: stops at once and says who may.
    (403, "Insufficient privileges to complete the operation.", 1, 1, "Privileged Role Administrator"),
    # Any other refusal is not waited for.
    (400, "Permission being assigned was not found on application.", 1, 1, "could not grant"),
])
def test_each_answer_to_the_grant(graph, fake_azd, modules, status, message, returncode, posts, said):
    handler, url = graph
    handler.post_answers = [(status, message)]
    result = _run(_environment(modules, url), fake_azd)
    assert result.returncode == returncode, result.stderr
    assert len(_posts(handler)) == posts
    assert said in result.stdout + result.stderr
    if returncode:
        assert message in result.stderr and APP_ID in result.stderr


@needs_bash_and_curl
def test_an_unreachable_graph_is_retried_until_the_bound(fake_azd, modules):
    result = _run(_environment(modules, "http://127.0.0.1:9"), fake_azd)  # discard port: refused
    assert result.returncode == 1
    assert "Microsoft Graph answered HTTP 000" in result.stderr


@needs_bash_and_curl
def test_a_signed_out_azd_stops_with_the_login_hint(graph, fake_azd, modules):
    handler, url = graph
    result = _run({**_environment(modules, url), "FAKE_AZD_FAIL": "1"}, fake_azd)
    assert result.returncode == 1 and handler.seen == []
    assert "azd auth login" in result.stderr


@needs_bash_and_curl
@pytest.mark.parametrize("missing", [name for name in INPUTS if name != "AZURE_TENANT_ID"])
def test_without_the_templates_outputs_it_fails_and_says_so(graph, fake_azd, modules, missing):
    handler, url = graph
    env = _environment(modules, url)
    del env[missing]
    result = _run(env, fake_azd)
    assert result.returncode == 1 and handler.seen == []
    assert f"{missing} is not in the azd environment" in result.stderr


@needs_bash_and_curl
@pytest.mark.parametrize("roles", ["OnlineMeetings.ReadWrite.All", "x=not-a-guid", f"{ONLY_MEETINGS},"])
def test_a_malformed_role_list_is_refused(graph, fake_azd, modules, roles):
    handler, url = graph
    result = _run(_environment(modules, url, roles=roles), fake_azd)
    assert result.returncode == 1 and handler.seen == []
    assert "not name=app-role-id" in result.stderr


@needs_bash_and_curl
def test_a_bad_setting_is_refused(graph, fake_azd, modules):
    _handler, url = graph
    result = _run(_environment(modules, url), fake_azd, APP_ROLE_GRANT_WAIT_SECONDS="ten minutes")
    assert result.returncode == 1 and "whole number of seconds" in result.stderr


@needs_pwsh
def test_the_windows_script_waits_and_grants_like_the_bash_one(graph, fake_azd, modules):
    handler, url = graph
    handler.unreadable = 2
    handler.post_answers = [(400, "Not a valid reference update.")]
    result = _run(_environment(modules, url, roles=WITH_CALENDARS), fake_azd,
                  command=["pwsh", "-NoProfile", "-File", str(HOOK_PS)])
    assert result.returncode == 0, result.stderr
    assert _posts(handler) == [_grant(ONLINE_MEETINGS), _grant(ONLINE_MEETINGS), _grant(CALENDARS)]
    assert _pauses(result.stdout) == [5, 10, 20]
    assert FAKE_TOKEN not in result.stdout + result.stderr
