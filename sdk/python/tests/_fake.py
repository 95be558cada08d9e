"""A scripted HTTP server for the transport tests: it records every request
and answers each with the next scripted answer, or drops the connection."""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Deque, Dict, List, Optional, Union

import _support  # noqa: F401  (puts src on sys.path)

DROP = "drop"


@dataclass
class Answer:
    status: int = 200
    body: Any = None  # dict → JSON; bytes/str → as is
    headers: Dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    method: str
    path: str
    headers: Dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class FakeServer:
    def __init__(self) -> None:
        self.script: Deque[Union[Answer, str]] = deque()
        self.requests: List[Seen] = []
        self.default: Optional[Answer] = Answer(200, {})
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                fake.requests.append(
                    Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                ans = fake.script.popleft() if fake.script else fake.default
                if ans == DROP or ans is None:
                    self.close_connection = True
                    return  # nothing written: the client sees the connection close
                payload = ans.body
                if isinstance(payload, (dict, list)):
                    data = json.dumps(payload).encode()
                    ctype = "application/json"
                elif isinstance(payload, str):
                    data, ctype = payload.encode(), "text/plain"
                elif payload is None:
                    data, ctype = b"", "application/json"
                else:
                    data, ctype = payload, "application/octet-stream"
                self.send_response(ans.status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in ans.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                if data and self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def answer(self, *answers: Union[Answer, str]) -> None:
        self.script.extend(answers)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def error(status: int, code: str, message: str = "m", **headers: str) -> Answer:
    return Answer(status, {"error": {"code": code, "message": message}}, dict(headers))


TOKEN_JSON = {
    "id": "t1",
    "name": "alice",
    "note": None,
    "expirationDate": 2000000000,
    "status": "ACTIVE",
    "expired": False,
    "modelId": None,
    "modelName": None,
    "secretHint": "tkn_abcd",
    "createdAt": 1700000000,
    "updatedAt": 1700000000,
    "version": 1,
}
