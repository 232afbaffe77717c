"""A minimal WebSocket client (RFC 6455), standard library only: enough to play the phone
App in the E2E test — text frames out (masked), text frames in, ping answered, close seen."""
import base64
import json
import os
import socket
import struct
import time
from urllib.parse import urlparse


class Closed(Exception):
    pass


class WebSocket:
    def __init__(self, url, timeout=5.0):
        u = urlparse(url)
        assert u.scheme == "ws", url
        self.sock = socket.create_connection((u.hostname, u.port or 80), timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        path = (u.path or "/") + (f"?{u.query}" if u.query else "")  # a V4 App's ?tid=
        req = (f"GET {path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(req.encode())
        self.buf = bytearray()
        while b"\r\n\r\n" not in self.buf:
            self._fill(timeout)
        head, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
        self.buf = bytearray(rest)
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" ":
            raise ConnectionError(f"handshake refused: {status!r}")

    def _fill(self, timeout):
        self.sock.settimeout(max(timeout, 0.001))
        chunk = self.sock.recv(65536)
        if not chunk:
            raise Closed("socket closed")
        self.buf += chunk

    def _frame_len(self):
        """Length of the first whole frame in the buffer, or None while it is incomplete.
        Nothing is consumed until a frame is whole, so a timeout never desyncs the stream."""
        b = self.buf
        if len(b) < 2:
            return None
        n, at = b[1] & 0x7F, 2
        if n == 126:
            if len(b) < 4:
                return None
            (n,), at = struct.unpack("!H", b[2:4]), 4
        elif n == 127:
            if len(b) < 10:
                return None
            (n,), at = struct.unpack("!Q", b[2:10]), 10
        if b[1] & 0x80:
            at += 4
        return at + n if len(b) >= at + n else None

    def _send(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def send_text(self, text):
        self._send(0x1, text.encode())

    def send_json(self, obj):
        self.send_text(json.dumps(obj))

    def recv_text(self, timeout=5.0):
        """The next text message; pings are answered on the way."""
        deadline = time.monotonic() + timeout
        while True:
            while (size := self._frame_len()) is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no frame in time")
                self._fill(left)
            frame = bytes(self.buf[:size])
            del self.buf[:size]
            opcode, masked, n = frame[0] & 0x0F, frame[1] & 0x80, frame[1] & 0x7F
            at = 2 + (2 if n == 126 else 8 if n == 127 else 0)
            mask = frame[at:at + 4] if masked else None
            payload = frame[at + (4 if masked else 0):]
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x1:
                return payload.decode()
            if opcode == 0x9:
                self._send(0xA, payload)
            elif opcode == 0x8:
                raise Closed("close frame")

    def recv_json(self, timeout=5.0):
        return json.loads(self.recv_text(timeout))

    def close(self):
        try:
            self._send(0x8, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()
