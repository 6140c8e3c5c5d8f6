"""A new instance loads what its first POST /meetings needs and nothing more (issue 24, the cold start: bench/README.md
"(d)"): the code of the other routes and triggers loads with their first call. Checked in a new interpreter, as the
Functions worker loads the app, both when the app is loaded and after it has created a meeting."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT
from tests.unit.test_usecases import ENV

# Loaded by their first use, never by loading the app or by a create.
DEFERRED = (
    "shared.entrypoints.deliveries",   # the callbacks triggers
    "shared.usecases.deliver",
    "shared.adapters.callbacks",       # the callback sender: Standard Webhooks signing, pinned connections
    "standardwebhooks",
    "shared.entrypoints.signatures",   # signed intake, with INTAKE_SIGNING_SECRETS set
    "shared.entrypoints.openapi",      # GET /openapi.json
    "shared.usecases.update",          # PATCH, and a create that changes a recorded meeting
    "shared.usecases.cancel",          # DELETE
    "shared.usecases.find",            # the lookups
    "shared.usecases.transcripts",
    "shared.usecases.calendar",        # a calendar-backed create
    "shared.usecases.plain_create",    # a create that chooses its passcode setting
    "shared.usecases.leased",
    "zoneinfo",                        # a time zone named by a calendar-backed request
    "azure.storage.queue",             # the code's own queue clients: a deferred request, a callback's next attempt
)

CREATE = {"organizerId": "alice@contoso.example", "externalId": "cold-1", "subject": "Onboarding call",
          "startDateTime": "2026-12-01T09:00:00+01:00", "endDateTime": "2026-12-01T09:45:00+01:00",
          "participants": {"attendees": [{"upn": "guest@fabrikam.example"}, {"upn": "bob@contoso.example",
                                                                             "role": "presenter"}]}}

PROGRAM = """
import json, sys
deferred = json.loads(sys.argv[1])
import azure.functions as func
import function_app
loaded = {"import": sorted(name for name in deferred if name in sys.modules)}
from shared import bootstrap
from tests.fake_graph import FakeGraph
from tests.fakes import InMemoryMeetingRepository, StaticTenants
env = json.loads(sys.argv[2])
bootstrap.use(lambda: bootstrap.build_container(env, repository=InMemoryMeetingRepository(), graph=FakeGraph(),
                                                tokens=object(), tenants=StaticTenants({})))
class Out(func.Out):
    def set(self, val): self.value = val
    def get(self): return self.value
request = func.HttpRequest("POST", "http://localhost/api/meetings", headers={}, body=sys.argv[3].encode())
loaded["status"] = function_app.create_meeting(request, Out(), Out(), Out()).status_code
loaded["create"] = sorted(name for name in deferred if name in sys.modules)
print(json.dumps(loaded))
"""


def test_loading_the_app_and_its_first_create_leave_the_other_routes_and_triggers_unloaded():
    shown = subprocess.run([sys.executable, "-c", PROGRAM, json.dumps(DEFERRED), json.dumps(ENV), json.dumps(CREATE)],
                           cwd=REPO_ROOT, text=True, capture_output=True, timeout=120, check=True)
    loaded = json.loads(shown.stdout.splitlines()[-1])
    assert loaded["import"] == [], "loading function_app loads only what POST /meetings needs"
    assert loaded["status"] == 201
    assert loaded["create"] == [], "a create needs none of them"


def test_the_use_cases_package_loads_a_use_case_when_it_is_asked_for():
    code = """
import json, sys
import shared.usecases
before = sorted(m for m in sys.modules if m.startswith("shared.usecases."))
from shared.usecases import find_meeting, update_meeting
print(json.dumps({"before": before, "after": sorted(m for m in sys.modules if m.startswith("shared.usecases.")),
                  "same": find_meeting is sys.modules["shared.usecases.find"].find_meeting}))
"""
    shown = json.loads(subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, text=True, capture_output=True,
                                      timeout=120, check=True).stdout.splitlines()[-1])
    assert shown["before"] == [] and shown["same"]
    assert {"shared.usecases.find", "shared.usecases.update"} <= set(shown["after"])
    assert "shared.usecases.cancel" not in shown["after"]


def test_every_name_the_use_cases_package_offers_is_its_modules_own():
    import shared.usecases as package

    for name in package.__all__:
        value = getattr(package, name)
        assert sys.modules[value.__module__].__dict__[name] is value, name
    with pytest.raises(AttributeError):
        getattr(package, "no_such_use_case")
