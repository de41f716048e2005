"""A TCP fault proxy for tests: forwards 127.0.0.1:port to a target, and breaks on demand.

There is no toxiproxy binary on these machines, so this is ours: asyncio, one thread with its
own event loop (so sync tests and subprocess servers can sit behind it). Faults, switched at any
time while traffic flows:

- ``blackhole()``: bytes are accepted and held, nothing is forwarded either way (a hung peer);
- ``reset()``: every open connection is aborted with a TCP RST, new ones are reset at once;
- ``latency(seconds)``: each chunk is delayed on its way back from the target;
- ``cut_after(n)``: the next connection whose answer reaches ``n`` bytes is aborted there (0: as
  soon as the target starts answering, i.e. after it did the work, before the caller hears);
- ``cut_after_commit()``: the next PostgreSQL ``CommandComplete`` for ``COMMIT`` is swallowed and
  the connection aborted: the transaction is committed, the client never learns it.

``heal()`` turns every fault off. Counters (``connections``, ``cuts``, ``resets``) let a test
assert that its fault really happened.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

# PostgreSQL's CommandComplete message for COMMIT: 'C', int32 length, "COMMIT\0".
COMMIT_COMPLETE = b"C" + struct.pack("!i", 4 + len(b"COMMIT\x00")) + b"COMMIT\x00"
_CHUNK = 65536


@dataclass(eq=False)  # identity: links live in a set
class _Link:
    """One proxied connection: the caller's side and the target's side."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    answered: int = 0  # bytes from the target to the caller so far

    def abort(self) -> None:
        for writer in (self.client, self.upstream):
            if writer is None:
                continue
            sock = writer.get_extra_info("socket")
            if sock is not None:
                try:  # linger 0: close() sends RST instead of FIN
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
            writer.transport.abort()


@dataclass
class _Faults:
    blackhole: bool = False
    refuse: bool = False
    latency: float = 0.0
    cut_after: int | None = None
    cut_after_commit: bool = False


@dataclass
class FaultProxy:
    """A running proxy; ``port`` is where callers connect instead of the target."""

    target_host: str
    target_port: int
    port: int = 0
    connections: int = 0
    cuts: int = 0
    resets: int = 0
    _faults: _Faults = field(default_factory=_Faults)
    _links: set[_Link] = field(default_factory=set)
    _loop: asyncio.AbstractEventLoop | None = None

    # -- switching faults (from any thread) ------------------------------------------------------

    def blackhole(self) -> None:
        self._faults.blackhole = True

    def latency(self, seconds: float) -> None:
        self._faults.latency = seconds

    def cut_after(self, answered_bytes: int) -> None:
        self._faults.cut_after = answered_bytes

    def cut_after_commit(self) -> None:
        self._faults.cut_after_commit = True

    def reset(self) -> None:
        """Abort every open connection with RST and reset new ones until :meth:`heal`."""
        self._faults.refuse = True
        self._call(self._abort_all)

    def heal(self) -> None:
        self._faults = _Faults()

    def _abort_all(self) -> None:
        for link in list(self._links):
            link.abort()
            self.resets += 1
        self._links.clear()

    def _call(self, fn: object) -> None:
        assert self._loop is not None
        done = threading.Event()

        def run() -> None:
            try:
                fn()  # type: ignore[operator]
            finally:
                done.set()

        self._loop.call_soon_threadsafe(run)
        done.wait(10)

    # -- forwarding ------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        link = _Link(writer)
        if self._faults.refuse:
            link.abort()
            self.resets += 1
            return
        self._links.add(link)
        try:
            while self._faults.blackhole:  # a hung peer: not even the connection goes through
                await asyncio.sleep(0.01)
            up_reader, link.upstream = await asyncio.open_connection(
                self.target_host, self.target_port
            )
            await asyncio.gather(
                self._pipe(reader, link.upstream, link, answer=False),
                self._pipe(up_reader, writer, link, answer=True),
            )
        except (OSError, asyncio.IncompleteReadError):
            link.abort()
        finally:
            self._links.discard(link)
            for side in (writer, link.upstream):
                if side is not None and not side.is_closing():
                    side.close()

    async def _pipe(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        link: _Link,
        *,
        answer: bool,
    ) -> None:
        while True:
            data = await source.read(_CHUNK)
            if not data:
                if sink.can_write_eof():
                    sink.write_eof()
                return
            while self._faults.blackhole:
                await asyncio.sleep(0.01)
            if answer and self._faults.latency:
                await asyncio.sleep(self._faults.latency)
            if answer and self._cut(link, data):
                return
            sink.write(data)
            await sink.drain()

    def _cut(self, link: _Link, data: bytes) -> bool:
        """Apply a one-shot cut to this chunk of an answer; True when the link was aborted."""
        faults = self._faults
        if faults.cut_after_commit and COMMIT_COMPLETE in data:
            faults.cut_after_commit = False
            link.client.write(data[: data.index(COMMIT_COMPLETE)])
            self._abort(link)
            return True
        if faults.cut_after is not None and link.answered + len(data) >= faults.cut_after:
            keep = faults.cut_after - link.answered
            faults.cut_after = None
            if keep:
                link.client.write(data[:keep])
            self._abort(link)
            return True
        link.answered += len(data)
        return False

    def _abort(self, link: _Link) -> None:
        link.abort()
        self.cuts += 1
        self._links.discard(link)


@contextmanager
def fault_proxy(target_host: str, target_port: int) -> Iterator[FaultProxy]:
    """A proxy in front of ``target_host:target_port``, running until the block ends."""
    proxy = FaultProxy(target_host, target_port)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = asyncio.Event()

    async def main() -> None:
        server = await asyncio.start_server(proxy._serve, "127.0.0.1", 0)
        proxy.port = server.sockets[0].getsockname()[1]
        proxy._loop = loop
        ready.set()
        async with server:
            await stop.wait()
            proxy._abort_all()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("fault proxy did not start")
    try:
        yield proxy
    finally:
        proxy.heal()
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()

