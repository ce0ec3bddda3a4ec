"""A minimal Chrome DevTools Protocol client over the standard library (no websocket module is
installed here): a headless Chromium started by the caller's ProcessGroup, one page target,
`evaluate(js)` for values. Enough to prove a page renders and a <video> plays and seeks."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import urllib.request
from typing import Any, Optional

from .waiting import wait_until


class CDPError(Exception):
    pass


class _WebSocket:
    """A client websocket (RFC 6455): text frames out (masked), text frames in."""

    def __init__(self, host: str, port: int, path: str, timeout: float = 30.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise CDPError("websocket handshake: connection closed")
            head += chunk
        status, _, rest = head.partition(b"\r\n\r\n")
        if b" 101 " not in status.split(b"\r\n")[0]:
            raise CDPError(f"websocket handshake refused: {status[:200]!r}")
        self.buffer = rest

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise CDPError("websocket closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def send(self, text: str) -> None:
        payload = text.encode()
        header = bytes([0x81])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def receive(self) -> str:
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            if b1 & 0x80:
                mask = self._read(4)
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(self._read(n)))
            else:
                data = self._read(n)
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise CDPError("websocket closed by the browser")
            if opcode in (0x9, 0xA):  # ping/pong: not expected from Chromium; ignored
                continue
            message += data
            if b0 & 0x80:
                return message.decode("utf-8", "replace")

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class Browser:
    """Headless Chromium under `procs`, driven through CDP on 127.0.0.1:`port`."""

    def __init__(self, procs, port: int, profile_dir: str, url: str = "about:blank"):
        argv = ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-extensions", "--mute-audio", "--autoplay-policy=no-user-gesture-required",
                f"--remote-debugging-port={port}", "--remote-debugging-address=127.0.0.1",
                f"--user-data-dir={profile_dir}", url]
        self.proc = procs.spawn("chromium", argv)
        self.port = port
        self.ws: Optional[_WebSocket] = None
        self.next_id = 0

        def page_target():
            if not self.proc.running():
                raise CDPError(f"chromium exited {self.proc.returncode()}:\n{self.proc.tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as r:
                    targets = json.load(r)
            except OSError:
                return None
            pages = [t for t in targets if t.get("type") == "page" and t.get("webSocketDebuggerUrl")]
            return pages[0] if pages else None

        target = wait_until(page_target, 60, 0.2, "chromium offered no page target")
        ws_url = target["webSocketDebuggerUrl"]
        path = ws_url.split(f"127.0.0.1:{port}", 1)[1]
        self.ws = _WebSocket("127.0.0.1", port, path)

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.receive())
            if message.get("id") == mid:
                if "error" in message:
                    raise CDPError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str, await_promise: bool = False) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=await_promise)
        if "exceptionDetails" in result:
            raise CDPError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def navigate(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def close(self) -> None:
        if self.ws:
            self.ws.close()
        self.proc.stop()
