"""HTTP triggers for the local host: route templates, a loopback HTTP/1.1 server, and HttpRequest/HttpResponse mapping.

Route templates follow the host's (ASP.NET) syntax: `{name}`, `{name?}` (optional), `{*rest}` (catch-all) and the
constraints `int`, `alpha`, `bool`, `guid`, `long`; literals match case-insensitively and the more specific template
wins (https://learn.microsoft.com/azure/azure-functions/functions-bindings-http-webhook-trigger#customize-the-http-endpoint).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

import azure.functions as func

from .host_common import FunctionSpec, LocalHostError

_TOKEN = re.compile(r"\{([^{}]+)\}")
_PARAM = re.compile(r"^(\*{1,2})?([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?(\?)?$")
_CONSTRAINTS = {
    "int": r"-?\d+", "long": r"-?\d+", "alpha": r"[A-Za-z]+", "bool": r"(?i:true|false)",
    "guid": r"[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}",
}
ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE")
# Hop-by-hop and framing headers are the server's business, not the function's.
_FRAMING = {"content-length", "transfer-encoding", "connection", "keep-alive"}
LISTEN_BACKLOG = 512


@dataclass(frozen=True)
class Route:
    """A compiled route template of one HTTP-triggered function."""

    spec: FunctionSpec
    template: str  # as served, with the route prefix: "api/items/{id}"
    pattern: re.Pattern[str]
    methods: frozenset[str]
    precedence: tuple[float, ...]

    @property
    def display_path(self) -> str:
        return "/" + self.template

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.match(path)
        if found is None:
            return None
        return {name: unquote(value) for name, value in found.groupdict().items() if value is not None}


def compile_route(spec: FunctionSpec, prefix: str) -> Route:
    """Compile spec's route (default: the function name) under prefix."""
    route = str(spec.trigger.get("route") or spec.name).strip("/")
    template = "/".join(part for part in (prefix, route) if part)
    segments = template.split("/") if template else []
    regex, precedence = "", []
    for index, segment in enumerate(segments):
        tokens = _TOKEN.findall(segment)
        whole = _TOKEN.fullmatch(segment)
        if whole:
            param = _parse_param(spec.name, whole.group(1))
            name, catch_all, constraint, optional = param
            if catch_all:
                if index != len(segments) - 1:
                    raise LocalHostError(f"{spec.name}: catch-all {{*{name}}} must be the last segment of {route!r}")
                regex += rf"(?:/(?P<{name}>.*))?"
                precedence.append(5)
            elif optional:
                regex += rf"(?:/(?P<{name}>{constraint or '[^/]+'}))?"
                precedence.append(4)
            else:
                regex += rf"/(?P<{name}>{constraint or '[^/]+'})"
                precedence.append(2 if constraint else 3)
        elif tokens:  # a complex segment such as "{name}.{ext}"
            pieces = []
            for literal_or_param in re.split(r"(\{[^{}]+\})", segment):
                if literal_or_param.startswith("{"):
                    name, catch_all, constraint, optional = _parse_param(spec.name, literal_or_param[1:-1])
                    if catch_all or optional:
                        raise LocalHostError(f"{spec.name}: {literal_or_param} cannot share a segment in {route!r}")
                    pieces.append(rf"(?P<{name}>{constraint or '[^/]+?'})")
                else:
                    pieces.append(re.escape(literal_or_param))
            regex += "/" + "".join(pieces)
            precedence.append(1.5)
        else:
            regex += "/" + re.escape(segment)
            precedence.append(1)
    methods = spec.trigger.get("methods") or ALL_METHODS
    return Route(
        spec=spec, template=template, pattern=re.compile(f"^{regex}/?$", re.IGNORECASE),
        methods=frozenset(str(m).upper() for m in methods), precedence=tuple(precedence),
    )


def _parse_param(function_name: str, token: str) -> tuple[str, bool, str | None, bool]:
    match = _PARAM.match(token)
    if not match:
        raise LocalHostError(f"{function_name}: route parameter {{{token}}} is not supported by the local host")
    stars, name, constraint, optional = match.groups()
    if constraint and constraint not in _CONSTRAINTS:
        raise LocalHostError(f"{function_name}: route constraint {constraint!r} is not supported by the local host")
    return name, bool(stars), _CONSTRAINTS.get(constraint or ""), bool(optional)


class Router:
    """Finds the route for a path and method: (route, params), or the HTTP status (404/405) and allowed methods."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = sorted(routes, key=lambda route: route.precedence)

    def resolve(self, method: str, path: str) -> tuple[Route | None, dict[str, str], set[str]]:
        allowed: set[str] = set()
        for route in self.routes:
            params = route.match(path)
            if params is None:
                continue
            if method in route.methods:
                return route, params, set()
            allowed |= route.methods
        return None, {}, allowed


def to_wire(response: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body of a function's return value, as the Python worker hands them to the host."""
    if response is None:
        return 204, [], b""
    if isinstance(response, str):
        return 200, [("Content-Type", "text/plain; charset=utf-8")], response.encode("utf-8")
    if not isinstance(response, func.HttpResponse):
        raise TypeError(f"an HTTP function must return func.HttpResponse or str, not {type(response).__name__}")
    headers = [(name, value) for name, value in response.headers.items() if name.lower() not in _FRAMING]
    if not any(name.lower() == "content-type" for name, _ in headers):
        # Same rule as azure.functions.http.HttpResponseConverter: a charset only for text/* types.
        mimetype = response.mimetype
        headers.append(("Content-Type", f"{mimetype}; charset={response.charset}" if mimetype.startswith("text/")
                        else mimetype))
    return int(response.status_code), headers, response.get_body() or b""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LocalFunctionsHost"
    server: "_Server"
    # Without this, the body written after the headers waits for the client's delayed ACK (Nagle): ~40 ms a request.
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        body = self._read_body()
        split = urlsplit(self.path)
        host = self.server.functions_host
        route, route_params, allowed = host.router.resolve(self.command, split.path)
        if route is None:
            status = 405 if allowed else 404
            extra = [("Allow", ", ".join(sorted(allowed)))] if allowed else []
            self._send(status, [("Content-Type", "application/json"), *extra],
                       b'{"error": "%s"}' % (b"method_not_allowed" if allowed else b"not_found"))
            return
        params: dict[str, str] = {}
        for key, value in parse_qsl(split.query, keep_blank_values=True):
            # The host turns repeated keys into one comma-joined value (StringValues.ToString()).
            params[key] = f"{params[key]},{value}" if key in params else value
        headers: dict[str, str] = {}
        for key, value in self.headers.items():
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        request = func.HttpRequest(
            self.command, f"http://{self.headers.get('Host') or host.netloc}{self.path}", headers=headers,
            params=params, route_params=route_params, body=body,
        )
        self._send(*host.invoke_http(route.spec, request))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_TRACE = _serve

    def __getattr__(self, name: str) -> Any:
        # Any other method (QUERY, PROPFIND, ...) is routed too, so a known route answers 405 and an unknown one
        # 404, as the Functions host does; BaseHTTPRequestHandler would answer 501 Not Implemented.
        if name.startswith("do_") and name[3:].isalpha() and name[3:].isupper():
            return self._serve
        raise AttributeError(name)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self._headers_buffer.append(b"\r\n")  # what end_headers() adds; the body joins the same single write
        if self.command != "HEAD" and body:
            self._headers_buffer.append(body)
        self.flush_headers()

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        pass  # invoke_http logs each invocation, without the query string (it may hold personal data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        self.server.functions_host.log.warning("HTTP server: " + format, *args)


class HttpHost(Protocol):
    """What the HTTP server needs of the host it serves (``host.LocalFunctionsHost``)."""

    router: Router
    log: logging.Logger

    @property
    def netloc(self) -> str: ...

    def invoke_http(self, spec: FunctionSpec, request: func.HttpRequest) -> tuple[int, list[tuple[str, str]], bytes]:
        ...


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 makes the kernel drop connections of a burst while the accept loop catches
    # up; a real server's backlog queues them instead.
    request_queue_size = LISTEN_BACKLOG
    functions_host: HttpHost


def make_server(functions_host: HttpHost, address: str, port: int) -> _Server:
    server = _Server((address, port), _Handler)
    server.functions_host = functions_host
    return server
