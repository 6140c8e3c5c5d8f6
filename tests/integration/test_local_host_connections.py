"""The local host under a burst of connections: every one is queued by the listen backlog and answered, none refused
or left waiting for a SYN retransmission (with socketserver's backlog of 5, most of a 64-way burst is dropped by the
kernel and only gets in a second or more later)."""
from __future__ import annotations

import selectors
import socket
import time

from localdev.host_http import LISTEN_BACKLOG

BURST = 64
CONNECT_WITHIN = 0.5  # seconds: below Linux's first SYN retransmission (1 s), so a dropped SYN shows as a failure


def _connect_all(address: tuple[str, int], count: int) -> list[socket.socket]:
    """Start ``count`` connections at once (non-blocking) and wait, bounded, until the kernel has completed each."""
    sockets = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.connect_ex(address)
        sockets.append(sock)
    pending = set(sockets)
    with selectors.DefaultSelector() as selector:
        for sock in sockets:
            selector.register(sock, selectors.EVENT_WRITE)
        deadline = time.monotonic() + CONNECT_WITHIN
        while pending and (left := deadline - time.monotonic()) > 0:
            for key, _ in selector.select(timeout=left):
                selector.unregister(key.fileobj)
                pending.discard(key.fileobj)
    assert not pending, f"{len(pending)} of {count} connections were not established within {CONNECT_WITHIN}s"
    failed = [s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) for s in sockets]
    assert failed == [0] * count, f"connection errors: {sorted(set(failed))}"
    return sockets


def _answer(sock: socket.socket) -> bytes:
    sock.setblocking(True)
    sock.settimeout(15)
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_burst_of_64_connections_is_queued_and_every_one_answered(start_host):
    host, _ = start_host()
    address = tuple(host._server.server_address[:2])

    sockets = _connect_all(address, BURST)
    try:
        for index, sock in enumerate(sockets):
            request = f"GET /api/files/burst-{index} HTTP/1.1\r\nHost: {host.netloc}\r\nConnection: close\r\n\r\n"
            sock.setblocking(True)
            sock.sendall(request.encode())
        answers = [_answer(sock) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()

    assert LISTEN_BACKLOG >= BURST
    assert [a.split(b"\r\n", 1)[0] for a in answers] == [b"HTTP/1.1 200 OK"] * BURST
    assert [a.rsplit(b"\r\n\r\n", 1)[1] for a in answers] == [f"burst-{i}".encode() for i in range(BURST)]
