"""Length-prefixed frames on a pipe: a JSON header and an optional raw payload.

A frame is ``u32 header length, header (JSON), u32 payload length, payload`` (big-endian).
The reader enforces size limits, so a process that floods its pipe cannot exhaust the grader.

>>> import os
>>> r, w = os.pipe()
>>> write_frame(w, {"type": "snap", "i": 3}, b"{}")
>>> reader = FrameReader(limit=1000)
>>> reader.feed(os.read(r, 1000))
>>> reader.frames
[({'type': 'snap', 'i': 3}, b'{}')]
"""

from __future__ import annotations

import json
import os
import struct

_LEN = struct.Struct(">I")
#: Largest single header (cell outputs) and payload (a snapshot of answer values).
MAX_HEADER = 64 * 1024 * 1024
MAX_PAYLOAD = 256 * 1024 * 1024


class FrameError(Exception):
    """The stream broke the framing rules or a size limit."""


def pack(header: dict, payload: bytes = b"") -> bytes:
    head = json.dumps(header, separators=(",", ":"), default=str).encode()
    return _LEN.pack(len(head)) + head + _LEN.pack(len(payload)) + payload


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def write_frame(fd: int, header: dict, payload: bytes = b"") -> None:
    write_all(fd, pack(header, payload))


class FrameReader:
    """Incremental parser; ``frames`` collects ``(header, payload)`` pairs as they complete."""

    def __init__(self, limit: int, max_header: int = MAX_HEADER, max_payload: int = MAX_PAYLOAD) -> None:
        self.limit = limit  # total bytes accepted over the reader's life
        self.max_header = max_header
        self.max_payload = max_payload
        self.total = 0
        self.buffer = bytearray()
        self.frames: list[tuple[dict, bytes]] = []
        self.sizes: list[int] = []  # bytes on the wire of each frame in ``frames``

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        if self.total > self.limit:
            raise FrameError(f"more than {self.limit // 2**20} MiB of grader messages")
        self.buffer += data
        while True:
            size = len(self.buffer)
            frame = self._next()
            if frame is None:
                return
            self.frames.append(frame)
            self.sizes.append(size - len(self.buffer))

    def _next(self) -> tuple[dict, bytes] | None:
        buf = self.buffer
        if len(buf) < 4:
            return None
        (hlen,) = _LEN.unpack_from(buf, 0)
        if hlen > self.max_header:
            raise FrameError("message header too large")
        if len(buf) < 8 + hlen:
            return None
        (plen,) = _LEN.unpack_from(buf, 4 + hlen)
        if plen > self.max_payload:
            raise FrameError("message payload too large")
        end = 8 + hlen + plen
        if len(buf) < end:
            return None
        try:
            header = json.loads(bytes(buf[4 : 4 + hlen]))
        except (ValueError, RecursionError) as exc:
            raise FrameError(f"unreadable message ({type(exc).__name__})") from exc
        if type(header) is not dict:
            raise FrameError("message header is not an object")
        payload = bytes(buf[8 + hlen : end])
        del buf[:end]
        return header, payload


def read_frame(fd: int) -> tuple[dict, bytes] | None:
    """Blocking read of one frame from ``fd`` (trusted peers only); ``None`` at end of file."""

    def exactly(n: int) -> bytes | None:
        chunks = bytearray()
        while len(chunks) < n:
            chunk = os.read(fd, min(n - len(chunks), 1 << 20))
            if not chunk:
                return None
            chunks += chunk
        return bytes(chunks)

    raw = exactly(4)
    if raw is None:
        return None
    (hlen,) = _LEN.unpack(raw)
    head = exactly(hlen)
    raw = exactly(4)
    if head is None or raw is None:
        return None
    (plen,) = _LEN.unpack(raw)
    payload = exactly(plen) if plen else b""
    if payload is None:
        return None
    return json.loads(head), payload
