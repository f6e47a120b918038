"""A TCP proxy on loopback in front of a gateway: what the network between a notebook and Linkis
can do to it, done on purpose.

    proxy = LoopbackProxy(gateway.url)          # proxy.url is what the client talks to
    proxy.outage(10.0)                          # refuse and cut every connection for 10 s
    proxy.drop_answer(r"/entrance/submit")      # forward the next submit, then cut the connection
                                                # instead of passing its answer back
    proxy.answer(r"/filesystem/openFile", 200, "application/json", body)
                                                # answer the next matching request itself
    proxy.close()

It reads just enough HTTP to know where each request starts (request line, headers,
Content-Length body): the clients here send no chunked bodies and do not pipeline.
"""
from __future__ import annotations

import re
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class _Rule:
    pattern: re.Pattern[str]
    count: int
    answer: bytes | None  # None: forward, then cut the connection instead of answering


class _Link:
    """One client connection and its connection to the gateway."""

    def __init__(self, proxy: LoopbackProxy, client: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.server = socket.create_connection(proxy.target, timeout=10)
        self.server.settimeout(None)
        self.swallow = threading.Event()  # the next answer is lost
        self.closed = False
        self._lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._requests, name="proxy-up", daemon=True),
            threading.Thread(target=self._answers, name="proxy-down", daemon=True),
        ]
        for t in self.threads:
            t.start()

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
        for s in (self.client, self.server):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _requests(self) -> None:
        buffer = b""
        try:
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = self.client.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                while len(buffer) < length:
                    chunk = self.client.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                body, buffer = buffer[:length], buffer[length:]
                request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
                rule = self.proxy._take_rule(request_line)
                if rule is not None and rule.answer is not None:
                    self.client.sendall(rule.answer)
                    continue
                if rule is not None:
                    self.swallow.set()
                self.server.sendall(head + b"\r\n\r\n" + body)
        except OSError:
            return
        finally:
            self.close()

    def _answers(self) -> None:
        try:
            while True:
                chunk = self.server.recv(65536)
                if not chunk:
                    return
                if self.swallow.is_set():
                    # The gateway has answered, so it has done the work; the answer goes nowhere.
                    return
                self.client.sendall(chunk)
        except OSError:
            return
        finally:
            self.close()


class LoopbackProxy:
    def __init__(self, target_url: str) -> None:
        parts = urlsplit(target_url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._lock = threading.Lock()
        self._links: list[_Link] = []
        self._rules: list[_Rule] = []
        self._listener: socket.socket | None = None
        self._accepter: threading.Thread | None = None
        self._timers: list[threading.Timer] = []
        self.requests: list[str] = []  # request lines seen, in order
        self.port = 0
        self._closed = False
        self._listen()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- serving -----------------------------------------------------------------------------

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._accepter = threading.Thread(target=self._accept, args=(listener,), name="proxy-accept", daemon=True)
        self._accepter.start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _addr = listener.accept()
            except OSError:
                return
            try:
                link = _Link(self, client)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._links = [existing for existing in self._links if not existing.closed]
                self._links.append(link)

    def _take_rule(self, request_line: str) -> _Rule | None:
        with self._lock:
            self.requests.append(request_line)
            for rule in self._rules:
                if rule.count > 0 and rule.pattern.search(request_line):
                    rule.count -= 1
                    return rule
        return None

    # -- faults ------------------------------------------------------------------------------

    def stop(self) -> None:
        """Refuse new connections and cut the open ones: the gateway is unreachable."""
        with self._lock:
            listener, self._listener = self._listener, None
            links, self._links = self._links, []
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            except OSError:
                pass
            listener.close()
        if self._accepter is not None:
            self._accepter.join(5)
        for link in links:
            link.close()
        for link in links:
            for thread in link.threads:
                thread.join(5)

    def start(self) -> None:
        """Reachable again, on the same port."""
        with self._lock:
            if self._listener is not None or self._closed:
                return
        deadline = time.monotonic() + 10
        while True:
            try:
                self._listen()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def outage(self, seconds: float) -> None:
        """Unreachable now, reachable again after `seconds` (without blocking the caller)."""
        self.stop()
        timer = threading.Timer(seconds, self.start)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def wait_until_up(self, timeout: float = 30.0) -> None:
        for timer in self._timers:
            timer.join(timeout)

    def drop_answer(self, path_regex: str, count: int = 1) -> None:
        """The next `count` matching requests reach the gateway; their answers are lost."""
        with self._lock:
            self._rules.append(_Rule(re.compile(path_regex), count, None))

    def answer(self, path_regex: str, status: int, content_type: str, body: str | bytes, count: int = 1) -> None:
        """The next `count` matching requests are answered by the proxy, never reaching the gateway."""
        data = body.encode() if isinstance(body, str) else body
        head = (f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(data)}\r\n\r\n").encode()
        with self._lock:
            self._rules.append(_Rule(re.compile(path_regex), count, head + data))

    def close(self) -> None:
        self._closed = True
        for timer in self._timers:
            timer.cancel()
            timer.join(5)
        self.stop()
