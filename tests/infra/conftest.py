"""Fixtures of the infra tests: the deployment as data, parsed once per module, and the stand-in `azd` of the hooks."""
from __future__ import annotations

import pytest

from tests.infra import template
from tests.infra.stand_ins import write_fake_azd


@pytest.fixture(scope="module")
def root() -> template.Module:
    return template.deployment()


@pytest.fixture(scope="module")
def modules(root) -> dict[str, template.Module]:
    """Every module of the deployment by file name (main.bicep, storage.bicep, graph-app.bicep, ...)."""
    found = {}
    for module in root.walk():
        assert module.path.name not in found, f"{module.path.name} is used twice; the tests assume once"
        found[module.path.name] = module
    return found


@pytest.fixture(scope="module")
def app_settings(root) -> dict:
    return template.app_settings(root)


@pytest.fixture
def fake_azd(tmp_path):
    """(bin folder, calls file) of a stand-in `azd` (tests/infra/stand_ins.py): put the folder first on PATH."""
    return write_fake_azd(tmp_path)
