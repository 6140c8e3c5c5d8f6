"""The repository carries every file its run command, tests and benchmarks read: nothing points above its root.

A user's clone has nothing beside it, so a path that climbs out of the repository (``..`` then a sibling folder,
``Path(__file__).parent.parent.parent`` from a top-level module, ``$ROOT/..``) works on one machine and fails on
every other. The e2e test of the run command shows the positive side: a copy of the repository alone in an empty
folder serves meetings.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

_CHECKED_SUFFIXES = {".py", ".sh", ".ps1", ".json", ".yaml", ".yml", ".bicep", ".ini", ".toml", ".cfg", ".txt", ""}
# Spellings of "outside the repository" seen in this project's history and in scripts generally.
_ESCAPES = [
    re.compile(r"\.\./shared\b"),
    re.compile(r"""parent\s*/\s*["']shared["']"""),
    re.compile(r"\b(?:REPO_)?ROOT\.parent\b"),
    re.compile(r"""\$\{?(?:ROOT|REPO_ROOT|top)\}?/\.\.(?:[/"'\s]|$)""", re.MULTILINE),
    re.compile(r"(?<![\w.])/work/"),
]
_FILE_PARENTS = re.compile(r"Path\(__file__\)(?:\.resolve\(\))?((?:\.parent(?!s))*)(?:\.parents\[(\d+)\])?")


def _repository_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    return [REPO_ROOT / name for name in listed
            if (REPO_ROOT / name).is_file() and Path(name).suffix in _CHECKED_SUFFIXES
            and not name.endswith("package-lock.json")]


def _escapes_in(path: Path, root: Path = REPO_ROOT) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    found = [f"{pattern.pattern} at line {text.count(chr(10), 0, match.start()) + 1}"
             for pattern in _ESCAPES for match in pattern.finditer(text)]
    depth = len(path.relative_to(root).parts) - 1  # parents from the file's folder up to the repo root
    for match in _FILE_PARENTS.finditer(text):
        ascent = match.group(1).count(".parent") + (int(match.group(2)) + 1 if match.group(2) else 0)
        climbs = ascent - 1  # Path(__file__).parent is the file's own folder
        if climbs > depth:
            found.append(f"Path(__file__) climbs {climbs} folders above its own, {climbs - depth} above the repo root")
    return found


def test_no_file_of_the_repository_refers_to_a_path_above_its_root():
    offenders = {str(path.relative_to(REPO_ROOT)): hits for path in _repository_files()
                 if path.name != Path(__file__).name and (hits := _escapes_in(path))}
    assert offenders == {}


@pytest.mark.parametrize("text, escapes", [
    # The two first are spelled in pieces so that this file does not itself hold the patterns it tests for.
    ('SCHEMAS = REPO_ROOT' + '.parent / "sha' + 'red" / "graph"', True),
    ('if [[ ! -d ..' + '/shared/graph ]]; then', True),
    ('cd "$ROOT/.." && ls', True),
    ('ROOT = Path(__file__).resolve().parent.parent.parent', True),
    ('ROOT = Path(__file__).resolve().parent.parent', False),
    ('ROOT = Path(__file__).resolve().parents[2]', True),
    ('ROOT = Path(__file__).resolve().parents[1]', False),
    ('ROOT = Path(__file__).parent.parents[0]', False),
    ('SCHEMAS = Path(__file__).resolve().parent / "graph"', False),
])
def test_the_check_recognises_paths_that_climb_out(tmp_path, text, escapes):
    # A file one folder below the root, like localdev/azurite.py: two .parent reach the root, three leave it.
    probe = tmp_path / "localdev" / "probe.py"
    probe.parent.mkdir()
    probe.write_text(text + "\n", encoding="utf-8")
    assert bool(_escapes_in(probe, root=tmp_path)) is escapes
