"""Carry TCP connections from a container's private network to the host's loopback.

Why every container has a network of its own: the vendor's agent runs inside
and asks the metadata address and Alibaba's domains when it can; a namespace
with only loopback keeps every packet in. (UpStart needs one anyway: its control
socket is the abstract Unix socket `@/com/ubuntu/upstart`, and abstract sockets
belong to a network namespace, so two UpStart containers sharing the host's
network would answer each other's `initctl`, silently.)

The minion inside must still reach the salt-master, which listens on
127.0.0.1 of the host. The relay listens on 127.0.0.1:PORT inside the
container's namespace (a socket keeps the namespace it was made in, so a
short-lived thread enters the namespace to make the listeners) and joins each
connection it accepts to 127.0.0.1:PORT of the host. The master keeps its
loopback-only address and the minion its usual `master: 127.0.0.1`; no veth,
address or route is needed, and the relay lives and dies with the container.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import selectors
import socket
import threading

CLONE_NEWNET = 0x40000000
LOOPBACK = "127.0.0.1"


class Relay:
    """127.0.0.1:PORT in the network namespace of `pid` -> 127.0.0.1:PORT here."""

    def __init__(self, pid: int, ports):
        self.pid = pid
        self.ports = list(ports)
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread: threading.Thread | None = None
        self._sockets: list[socket.socket] = []

    def start(self) -> Relay:
        listeners = _listen_in_namespace(self.pid, self.ports)
        self._sockets += listeners
        for listener in listeners:
            self._selector.register(listener, selectors.EVENT_READ, ("accept", listener))
        self._selector.register(self._wake_r, selectors.EVENT_READ, ("wake", None))
        self._thread = threading.Thread(target=self._loop, name="relay-%d" % self.pid, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop relaying and close every socket (the namespace can then go away)."""
        if self._thread is not None:
            self._wake_w.send(b"x")
            self._thread.join(10)
            self._thread = None
        for sock in self._sockets + [self._wake_r, self._wake_w]:
            sock.close()
        self._sockets = []
        self._selector.close()

    def _loop(self) -> None:
        while True:
            for key, _events in self._selector.select():
                what, peer = key.data
                if what == "wake":
                    return
                if what == "accept":
                    self._accept(key.fileobj)
                else:
                    self._pump(key.fileobj, peer)

    def _accept(self, listener: socket.socket) -> None:
        inside, _addr = listener.accept()
        try:
            outside = socket.create_connection((LOOPBACK, listener.getsockname()[1]), timeout=5)
        except OSError:
            inside.close()  # the master is not there: the minion will retry
            return
        for sock in (inside, outside):
            sock.settimeout(None)
            self._sockets.append(sock)
        self._selector.register(inside, selectors.EVENT_READ, ("data", outside))
        self._selector.register(outside, selectors.EVENT_READ, ("data", inside))

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            data = source.recv(65536)
            if data:
                sink.sendall(data)
                return
        except OSError:
            pass
        for sock in (source, sink):  # one side closed: close both
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(sock)
            sock.close()
            with contextlib.suppress(ValueError):
                self._sockets.remove(sock)


def _listen_in_namespace(pid: int, ports) -> list[socket.socket]:
    """Listening sockets on 127.0.0.1:PORT inside the network namespace of `pid`.

    setns(2) moves only the calling thread, so a thread of its own does it and
    ends; the test process itself never leaves the host's namespace."""
    made: list[socket.socket] = []
    failure: list[BaseException] = []

    def work():
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open("/proc/%d/ns/net" % pid, os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, "setns into the network of pid %d: %s" % (pid, os.strerror(err)))
            finally:
                os.close(fd)
            for port in ports:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((LOOPBACK, port))
                sock.listen(16)
                made.append(sock)
        except BaseException as exc:  # handed to the caller below
            failure.append(exc)

    thread = threading.Thread(target=work, name="relay-listen-%d" % pid)
    thread.start()
    thread.join()
    if failure:
        for sock in made:
            sock.close()
        raise RuntimeError(
            "cannot listen on %s:%s inside the container (pid %d): %s" % (LOOPBACK, ports, pid, failure[0])
        ) from failure[0]
    return made
