"""The shape the service layer keeps (README "Layout"): modules small enough to read in one sitting, and the
status strings written only by the enum that owns them."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

SHARED = REPO_ROOT / "shared"
MAX_LINES = 400  # "about 400": past it, look whether a module does two things; below it, cohesion decides
STATUSES = ("pending", "created", "existing", "failed", "locked", "cancelled", "updated", "accepted", "deferred")


def _modules() -> list[Path]:
    return sorted(SHARED.rglob("*.py"))


@pytest.mark.parametrize("module", _modules(), ids=lambda p: str(p.relative_to(SHARED)))
def test_no_module_of_shared_is_over_the_size_a_newcomer_reads_at_once(module: Path):
    lines = len(module.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"shared/{module.relative_to(SHARED)} has {lines} lines: split it by concern"


def test_status_strings_appear_only_in_the_enum_that_owns_them():
    owner = SHARED / "domain" / "records.py"
    literal = re.compile(r"""(?<![\w.])["'](%s)["']""" % "|".join(STATUSES))
    found = []
    for module in _modules():
        if module == owner:
            continue
        for number, line in enumerate(module.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if literal.search(code):
                found.append(f"shared/{module.relative_to(SHARED)}:{number}: {line.strip()}")
    assert not found, "status strings outside shared/domain/records.py (use the Status enum):\n" + "\n".join(found)
