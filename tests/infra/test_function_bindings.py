"""The real bindings of function_app.py: every queue they name exists, every connection is configured and has its role.

function_app is loaded here under a module name of its own, so this FunctionApp instance is indexed once
(``get_functions()`` may run only once per instance) whatever other tests do with ``import function_app``.
"""
from __future__ import annotations

import importlib.util
import re
import sys

import pytest

from tests.infra import template
from tests.infra.template import QUEUES, REPO_ROOT, ROLE_ASSIGNMENTS, ROLE_FOR_USE, TABLES

FUNCTION_APP = REPO_ROOT / "function_app.py"


@pytest.fixture(scope="module")
def bindings() -> list[dict]:
    if not FUNCTION_APP.exists():
        pytest.skip("function_app.py does not exist yet")
    name = "_function_app_for_infra_tests"
    spec = importlib.util.spec_from_file_location(name, FUNCTION_APP)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        functions = module.app.get_functions()
    except Exception as exc:  # the app is being written alongside; report why rather than fail here
        pytest.skip(f"function_app cannot be imported or indexed yet: {type(exc).__name__}: {exc}")
    finally:
        sys.modules.pop(name, None)
    found = []
    for function in functions:
        for binding in function.get_bindings_dict()["bindings"]:
            found.append({"function": function.get_function_name(), **binding})
    assert found, "function_app defines no binding"
    return found


def _resolve(value: str, app_settings: dict) -> str:
    """Resolve %NAME% as the host does, from the template's app settings."""
    def setting(match: re.Match) -> str:
        name = match.group(1)
        assert name in app_settings, f"binding names %{name}%, which the template does not set"
        assert isinstance(app_settings[name], str), f"%{name}% is computed at deployment: cannot check it"
        return app_settings[name]
    return re.sub(r"%([^%]+)%", setting, value)


def test_every_queue_a_binding_names_exists_in_the_template(bindings, root, app_settings):
    queues = template.names_of(root, QUEUES)
    named = [b for b in bindings if "queueName" in b]
    assert named, "expected queue bindings"
    for binding in named:
        queue = _resolve(binding["queueName"], app_settings)
        assert queue in queues, f"{binding['function']}: queue {queue!r} ({binding['queueName']}) is not in the template"


def test_every_table_a_binding_names_exists_in_the_template(bindings, root, app_settings):
    tables = template.names_of(root, TABLES)
    for binding in (b for b in bindings if "tableName" in b):
        table = _resolve(binding["tableName"], app_settings)
        assert table in tables, f"{binding['function']}: table {table!r} is not in the template"


def test_every_binding_connection_is_configured_identity_based(bindings, app_settings):
    for binding in (b for b in bindings if "connection" in b):
        connection = binding["connection"]
        assert f"{connection}__credential" in app_settings, (
            f"{binding['function']}: connection {connection} has no identity-based settings in the template"
        )
        service = {"queue": "queue", "queueTrigger": "queue", "table": "table"}.get(binding["type"], "blob")
        assert f"{connection}__{service}ServiceUri" in app_settings


def test_every_binding_has_the_role_its_connection_needs(bindings, modules):
    rbac = modules["rbac.bicep"]
    granted = {rbac.resolve(a.raw("properties", "roleDefinitionId")["function"]["parameters"]["resource_name_1"])
               for a in rbac.resources(ROLE_ASSIGNMENTS)}
    for binding in (b for b in bindings if "connection" in b):
        assert binding["type"] in ROLE_FOR_USE, f"{binding['function']}: no known role for {binding['type']} bindings"
        assert ROLE_FOR_USE[binding["type"]] in granted, f"{binding['function']}: {binding['type']} lacks its role"


