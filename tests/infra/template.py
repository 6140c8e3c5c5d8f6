"""Read the Bicep templates as data: parse with pycep-parser 0.7.1 and resolve names across modules.

pycep returns identifiers and string literals alike as plain strings, interpolations as ``'${a}-b'`` and every
function call or property access as a nested dict. That is enough for what the infra tests need: the names of app
settings, queues, tables and roles, which the templates keep as parameters with defaults, variables, literals and
simple interpolations. Anything richer (``identity.outputs.clientId``, ``tenant().tenantId``) resolves to an
:class:`Unresolved` that still renders as readable text, so tests can compare *where* a value comes from.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from pycep import BicepParser

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA = REPO_ROOT / "infra"
MAIN = INFRA / "main.bicep"

QUEUES = "Microsoft.Storage/storageAccounts/queueServices/queues"
TABLES = "Microsoft.Storage/storageAccounts/tableServices/tables"
ROLE_ASSIGNMENTS = "Microsoft.Authorization/roleAssignments"

STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
STORAGE_QUEUE_DATA_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
STORAGE_TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"

# The data role each use of the AzureWebJobsStorage connection needs (identity-based connections):
# https://learn.microsoft.com/azure/azure-functions/functions-reference#connecting-to-host-storage-with-an-identity
# https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue#grant-permission-to-the-identity
ROLE_FOR_USE = {
    "host": STORAGE_BLOB_DATA_OWNER,
    "queueTrigger": STORAGE_QUEUE_DATA_CONTRIBUTOR,
    "queue": STORAGE_QUEUE_DATA_CONTRIBUTOR,
    "table": STORAGE_TABLE_DATA_CONTRIBUTOR,
    "blob": STORAGE_BLOB_DATA_OWNER,
    "blobTrigger": STORAGE_BLOB_DATA_OWNER,
}

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INTERPOLATION = re.compile(r"\$\{([^}]*)\}")


@lru_cache(maxsize=None)
def parse(path: Path) -> dict:
    """The pycep JSON of one file (cached: the files do not change during a test run)."""
    return BicepParser().parse(file_path=path)


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


def declares_extension(path: Path) -> bool:
    return any(re.match(r"^\s*extension\s", line) for line in path.read_text(encoding="utf-8").splitlines())


@dataclass(frozen=True)
class Unresolved:
    """A value the test cannot compute (a resource property, a function call); ``text`` says what it is."""

    text: str

    def __str__(self) -> str:
        return self.text


def _is_expression(expr: Any, kind: str) -> bool:
    """pycep's ``{"operator": {...}}`` or ``{"function": {...}}``; an object with a member of that name whose value
    is plain text (an alert criterion's ``operator: 'GreaterThan'``) is data."""
    return isinstance(expr, dict) and isinstance(expr.get(kind), dict)


def render(expr: Any) -> str:
    """Readable text for a pycep expression: ``identity.outputs.principalId``, ``tenant().tenantId``, ..."""
    if _is_expression(expr, "operator"):
        op = expr["operator"]
        operands = op.get("operands", {})
        if op["type"] == "property_accessor":
            return f"{render(operands['operand_1'])}.{render(operands['operand_2'])}"
        if op["type"] == "index_accessor":
            return f"{render(operands['operand_1'])}[{render(operands['operand_2'])}]"
        return f"{op['type']}({', '.join(render(v) for v in operands.values())})"
    if _is_expression(expr, "function"):
        fn = expr["function"]
        args = ", ".join(render(v) for v in (fn.get("parameters") or {}).values() if v is not None)
        return f"{fn['type']}({args})"
    if isinstance(expr, Unresolved):
        return expr.text
    return str(expr)


def _unwrap_condition(config: Any) -> tuple[Any, Any]:
    """pycep nests a conditional declaration (``= if (cond) {...}``) as ``{condition, config}``: split the two.

    A loop (``[for x in xs: ...]``) keeps its ``{loop_type, condition, config}`` shape; its condition is returned too.
    """
    if isinstance(config, dict) and "loop_type" in config:
        return config, config.get("condition")
    if isinstance(config, dict) and "condition" in config and "config" in config:
        return config["config"], config["condition"]
    return config, None


@dataclass(frozen=True)
class Resource:
    symbol: str
    type: str  # without the API version; child resources get their full type
    config: dict
    scope: "Module"
    loop_locals: dict = field(default_factory=dict)
    condition: Any = None  # the pycep expression of `= if (...)`, None when the resource is unconditional

    def value(self, *path: str) -> Any:
        """Resolved value at ``config[path[0]][path[1]]...`` in this resource's scope (None when absent)."""
        node: Any = self.config
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return self.scope.resolve(node, self.loop_locals)

    def raw(self, *path: str) -> Any:
        node: Any = self.config
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return node


@dataclass
class Module:
    """One Bicep file as deployed: its parse tree plus the parameter values its caller passed."""

    path: Path
    args: dict[str, Any]
    symbol: str = "main"
    doc: dict = field(init=False)

    def __post_init__(self) -> None:
        self.doc = parse(self.path)

    # -- names -------------------------------------------------------------------------------------------------
    @property
    def parameters(self) -> dict:
        return self.doc.get("parameters", {})

    @property
    def variables(self) -> dict:
        return self.doc.get("variables", {})

    def param(self, name: str) -> Any:
        if name in self.args:
            return self.args[name]
        default = self.parameters[name].get("default")
        if default is None:
            return Unresolved(f"<required parameter {name}>")
        return self.resolve(default)

    def resolve(self, expr: Any, local: dict | None = None, _depth: int = 0) -> Any:
        """Compute a pycep expression where it can be: identifiers, interpolations, lists, objects."""
        if _depth > 50:
            raise RecursionError(f"cannot resolve {expr!r} in {self.path}")
        local = local or {}
        if isinstance(expr, str):
            if _IDENTIFIER.match(expr):
                if expr in local:
                    return local[expr]
                if expr in self.parameters:
                    return self.param(expr)
                if expr in self.variables:
                    return self.resolve(self.variables[expr]["value"], local, _depth + 1)
                return expr
            if "${" in expr:
                parts, complete = [], True
                for piece in _INTERPOLATION.split(expr)[1::2]:
                    value = self.resolve(piece, local, _depth + 1) if _IDENTIFIER.match(piece) else Unresolved(piece)
                    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
                        parts.append(str(value))
                    else:
                        complete = False
                        parts.append("${%s}" % render(value))
                pieces = iter(parts)
                text = _INTERPOLATION.sub(lambda _m: next(pieces), expr)
                return text if complete else Unresolved(text)
            return expr
        if isinstance(expr, list):
            return [self.resolve(item, local, _depth + 1) for item in expr]
        if isinstance(expr, dict):
            if _is_expression(expr, "operator") or _is_expression(expr, "function"):
                return Unresolved(render(expr))
            return {key.strip("'"): self.resolve(value, local, _depth + 1) for key, value in expr.items()}
        return expr

    # -- contents ------------------------------------------------------------------------------------------------
    def resources(self, type_: str | None = None, *, include_existing: bool = False) -> list[Resource]:
        found = []
        for symbol, decl in self.doc.get("resources", {}).items():
            rtype = decl["type"].split("@", 1)[0]
            if type_ is not None and rtype.lower() != type_.lower():
                continue
            if decl.get("existing") and not include_existing:
                continue
            config, condition = _unwrap_condition(decl["config"])
            loop = config.get("loop_type") if isinstance(config, dict) else None
            if loop:
                detail = loop["detail"]
                items = self.resolve(detail["array_name"])
                if not isinstance(items, list):
                    items = [Unresolved(f"<items of {render(detail['array_name'])}>")]
                for item in items:
                    found.append(Resource(symbol, rtype, config["config"], self, {detail["item_name"]: item}, condition))
            else:
                found.append(Resource(symbol, rtype, config, self, condition=condition))
        return found

    def resource(self, symbol: str) -> Resource:
        decl = self.doc["resources"][symbol]
        config, condition = _unwrap_condition(decl["config"])
        return Resource(symbol, decl["type"].split("@", 1)[0], config, self, condition=condition)

    def modules(self) -> dict[str, "Module"]:
        children = {}
        for symbol, decl in self.doc.get("modules", {}).items():
            if decl.get("type") != "local":
                raise AssertionError(f"{self.path.name}: module {symbol} is not a local file (registry modules "
                                     "cannot be checked offline)")
            path = (self.path.parent / decl["detail"]["path"]).resolve()
            config, _condition = _unwrap_condition(decl["config"])
            args = {key: self.resolve(value) for key, value in (config.get("params") or {}).items()}
            children[symbol] = Module(path, args, symbol)
        return children

    def module_args_raw(self, symbol: str) -> dict:
        config, _condition = _unwrap_condition(self.doc["modules"][symbol]["config"])
        return config.get("params") or {}

    def walk(self) -> Iterator["Module"]:
        yield self
        for child in self.modules().values():
            yield from child.walk()


def deployment() -> Module:
    """main.bicep with its default parameter values (required ones stay unresolved)."""
    return Module(MAIN, {})


def function_apps(root: Module) -> list[Resource]:
    return [
        res for module in root.walk() for res in module.resources("Microsoft.Web/sites")
        if "functionapp" in str(res.value("kind"))
    ]


def app_settings(root: Module) -> dict[str, Any]:
    """Every app setting the template sets on the function app: siteConfig.appSettings and any config/appsettings."""
    apps = function_apps(root)
    assert len(apps) == 1, f"expected one function app in the template, found {len(apps)}"
    settings: dict[str, Any] = {}
    for entry in apps[0].value("properties", "siteConfig", "appSettings") or []:
        assert entry["name"] not in settings, f"app setting {entry['name']} is set twice"
        settings[entry["name"]] = entry["value"]
    for module in root.walk():
        for res in module.resources("Microsoft.Web/sites/config"):
            if res.value("name") == "appsettings":
                for name, value in (res.value("properties") or {}).items():
                    assert name not in settings, f"app setting {name} is set twice"
                    settings[name] = value
    return settings


def names_of(root: Module, type_: str) -> set:
    return {res.value("name") for module in root.walk() for res in module.resources(type_)}
