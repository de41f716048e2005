"""The fault proxy itself: each fault does what it says, against an echo server and PostgreSQL."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import psycopg
import psycopg.conninfo
import pytest
from fault_proxy import FaultProxy, fault_proxy

pytestmark = pytest.mark.faults


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        try:
            while data := self.request.recv(65536):
                self.request.sendall(data)
        except OSError:  # the proxy reset the connection: that is the test's point
            pass


@pytest.fixture
def echo_proxy() -> Iterator[FaultProxy]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with fault_proxy("127.0.0.1", server.server_address[1]) as proxy:
            yield proxy
    finally:
        server.shutdown()
        server.server_close()


def _connect(proxy: FaultProxy, timeout: float = 5) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=timeout)


def _read(sock: socket.socket, size: int) -> bytes:
    got = b""
    while len(got) < size:
        try:
            chunk = sock.recv(size - len(got))
        except ConnectionResetError:
            break
        if not chunk:
            break
        got += chunk
    return got


def test_bytes_pass_through_both_ways(echo_proxy: FaultProxy) -> None:
    with _connect(echo_proxy) as sock:
        sock.sendall(b"hello")
        assert _read(sock, 5) == b"hello"
    assert echo_proxy.connections == 1


def test_blackhole_holds_everything_until_healed(echo_proxy: FaultProxy) -> None:
    with _connect(echo_proxy, timeout=0.3) as sock:
        sock.sendall(b"a")
        assert _read(sock, 1) == b"a"
        echo_proxy.blackhole()
        sock.sendall(b"b")
        with pytest.raises(TimeoutError):
            sock.recv(1)
        echo_proxy.heal()
        sock.settimeout(5)
        assert _read(sock, 1) == b"b"


def test_reset_aborts_open_connections_and_refuses_new_ones(echo_proxy: FaultProxy) -> None:
    with _connect(echo_proxy) as sock:
        sock.sendall(b"x")
        assert _read(sock, 1) == b"x"
        echo_proxy.reset()
        with pytest.raises((ConnectionResetError, BrokenPipeError)):
            sock.sendall(b"y")
            if not sock.recv(1):
                raise ConnectionResetError("closed")
    try:  # the RST may arrive during the handshake or at the first read
        with _connect(echo_proxy) as again:
            assert _read(again, 1) == b""
    except ConnectionResetError:
        pass
    assert echo_proxy.resets >= 2
    echo_proxy.heal()
    with _connect(echo_proxy) as healed:
        healed.sendall(b"z")
        assert _read(healed, 1) == b"z"


def test_latency_delays_each_answer(echo_proxy: FaultProxy) -> None:
    echo_proxy.latency(0.3)
    with _connect(echo_proxy) as sock:
        started = time.monotonic()
        sock.sendall(b"slow")
        assert _read(sock, 4) == b"slow"
        assert time.monotonic() - started >= 0.3  # a lower bound, never flaky


def test_cut_after_n_bytes_delivers_exactly_n(echo_proxy: FaultProxy) -> None:
    echo_proxy.cut_after(5)
    with _connect(echo_proxy) as sock:
        sock.sendall(b"0123456789")
        assert _read(sock, 10) == b"01234"
    assert echo_proxy.cuts == 1
    with _connect(echo_proxy) as sock:  # one-shot: the next connection is whole
        sock.sendall(b"0123456789")
        assert _read(sock, 10) == b"0123456789"


def test_cut_after_commit_commits_but_the_client_never_hears(database_url: str) -> None:
    params = psycopg.conninfo.conninfo_to_dict(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE proxied (id int)")
    with fault_proxy(str(params.get("host", "127.0.0.1")), int(params.get("port", 5432))) as proxy:
        through = psycopg.conninfo.make_conninfo(database_url, host="127.0.0.1", port=proxy.port)
        proxy.cut_after_commit()
        conn = psycopg.connect(through)
        with pytest.raises(psycopg.OperationalError):
            conn.execute("INSERT INTO proxied VALUES (1)")
            conn.commit()
        conn.close()
        assert proxy.cuts == 1
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM proxied").fetchone() == (1,)
