"""The HTTP/1.1 protocol `wirework serve` runs: uvicorn's httptools protocol with a bounded head.

httptools buffers a request line or header that has not ended yet without any limit, and
joins its pieces as they arrive: one connection streaming an endless header held the event
loop for seconds and grew the process without bound. A request whose head (request line and
headers) passes MAX_HEAD_BYTES before it ends is answered 431 and its connection closed.
"""

from __future__ import annotations

from typing import Final

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES: Final = 1024 * 1024
"""Request line and headers of one request (counted per read, so a little more may pass)."""

_PROBLEM: Final = (
    b'{"title":"Request Header Fields Too Large","status":431,'
    b'"detail":"The request line and headers exceed 1 MB."}'
)
_TOO_LARGE: Final = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: application/problem+json\r\nconnection: close\r\n"
    b"content-length: " + str(len(_PROBLEM)).encode() + b"\r\n\r\n" + _PROBLEM
)


class BoundedHeadProtocol(HttpToolsProtocol):
    _head_bytes = 0
    _in_head = True

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes = True, 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._in_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self.transport.write(_TOO_LARGE)
                self.transport.close()
