"""Test support: the package from the source tree, and a real tokend.

``TokendServer`` builds ``tokend`` once per test run (``go build -o
<tmp>/tokend ./cmd/tokend`` from the repository's root, or takes
``$TOKEND_BIN``), starts ``tokend serve`` on free loopback ports with its own
data directory, waits for ``/readyz`` and reads the admin license from
``<data-dir>/admin.license``. ``ServerTestCase`` gives each test class its own
server and stops it in a class cleanup, which runs even when setUpClass or
the tests fail; an atexit hook and the child's parent-death signal stop any
server a crashed run would leave behind.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request
from typing import List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))

# The tests import the package from the source tree, never an installed copy.
if SRC not in sys.path:
    sys.path.insert(0, SRC)

# The servers are on loopback: never through a proxy the environment names.
for _var in ("no_proxy", "NO_PROXY"):
    os.environ[_var] = ",".join(x for x in (os.environ.get(_var), "127.0.0.1", "localhost") if x)

from tokend import TokenManagement  # noqa: E402

_build_lock = threading.Lock()
_binary: Optional[str] = None
_live: List["TokendServer"] = []


def tokend_binary() -> str:
    """The tokend binary: ``$TOKEND_BIN``, else built once per run."""
    global _binary
    with _build_lock:
        if _binary:
            return _binary
        env_bin = os.environ.get("TOKEND_BIN")
        if env_bin:
            if not os.access(env_bin, os.X_OK):
                raise RuntimeError(f"TOKEND_BIN={env_bin!r} is not an executable file")
            _binary = env_bin
            return _binary
        out_dir = tempfile.mkdtemp(prefix="tokend-pysdk-bin-")
        atexit.register(shutil.rmtree, out_dir, True)
        target = os.path.join(out_dir, "tokend")
        go = shutil.which(os.environ.get("GO") or "go") or "/usr/local/go/bin/go"
        started = time.monotonic()
        proc = subprocess.run(
            [go, "build", "-o", target, "./cmd/tokend"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"go build ./cmd/tokend failed:\n{proc.stdout}")
        sys.stderr.write(f"[tokend built in {time.monotonic() - started:.1f}s]\n")
        _binary = target
        return _binary


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Ask Linux to SIGKILL the child when the test process dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class TokendServer:
    """One ``tokend serve`` with its own data directory and ports."""

    def __init__(self, *, rate_limit: str = "off") -> None:
        self.rate_limit = rate_limit
        self.proc: Optional[subprocess.Popen] = None
        self.dir = tempfile.mkdtemp(prefix="tokend-pysdk-")
        self.data_dir = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "tokend.log")
        self._log = None
        self.url = ""
        self.admin_license = ""

    def start(self, timeout: float = 30.0) -> None:
        binary = tokend_binary()
        last_error = ""
        for _ in range(3):  # a port taken between probe and bind: try others
            http_port, nats_port = free_port(), free_port()
            self.url = f"http://127.0.0.1:{http_port}"
            self._log = open(self.log_path, "ab")
            args = [
                binary, "serve",
                "--data-dir", self.data_dir,
                "--http", f"127.0.0.1:{http_port}",
                "--nats-listen", f"127.0.0.1:{nats_port}",
                "--rate-limit", self.rate_limit,
            ]
            env = {k: v for k, v in os.environ.items() if not k.startswith("TOKEND_")}
            self.proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env=env,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
            _live.append(self)
            if self._wait_ready(timeout):
                with open(os.path.join(self.data_dir, "admin.license"), encoding="utf-8") as f:
                    self.admin_license = f.read().strip()
                return
            last_error = self.log_tail()
            self._kill()
        raise RuntimeError(f"tokend did not become ready:\n{last_error}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=2) as r:
                    if r.status == 200 and json.loads(r.read()).get("status") == "ready":
                        return True
            except Exception:
                pass
            time.sleep(0.05)
        return False

    def log_tail(self, n: int = 40) -> str:
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return ""

    def _kill(self) -> None:
        p, self.proc = self.proc, None
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self) -> None:
        """Stop the server and remove its data directory."""
        self._kill()
        if self in _live:
            _live.remove(self)
        shutil.rmtree(self.dir, ignore_errors=True)


@atexit.register
def _stop_all() -> None:
    for s in list(_live):
        s.stop()


class ServerTestCase(unittest.TestCase):
    """A test class with its own tokend; ``cls.admin`` is a client with the
    admin license."""

    rate_limit = "off"
    server: TokendServer
    admin: TokenManagement

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.server = TokendServer(rate_limit=cls.rate_limit)
        cls.addClassCleanup(cls.server.stop)
        cls.server.start()
        cls.admin = cls.client(cls.server.admin_license)

    @classmethod
    def client(cls, license: Optional[str], **kw) -> TokenManagement:
        return TokenManagement(license, url=cls.server.url, **kw)

    @classmethod
    def new_account(cls, name: str) -> TokenManagement:
        """A client of a fresh account, so that tests do not see each
        other's tokens."""
        created = cls.admin.create_account(name)
        return cls.client(created.license)
