"""HTTP transport: one call to the API, with retries, idempotency keys and
read-your-writes. Standard library only (urllib)."""

from __future__ import annotations

import enum
import http.client
import json
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Tuple

from .errors import TokendConnectionError, TokendError, error_for

__all__ = ["RetryPolicy", "NO_RETRIES", "Response"]

# Bounds what is read of one answer, so that a broken proxy cannot make a
# client allocate without limit. A page of 1,000 tokens is well under 1 MiB.
_MAX_RESPONSE_BYTES = 32 << 20


@dataclass(frozen=True)
class RetryPolicy:
    """How the client repeats a call that failed in a way that may pass.

    Which calls are retried, and why (the same rules as the Go SDK):

    * Reads (every ``GET``, and ``introspect``, a ``POST`` that changes
      nothing) are retried on a ``503`` answer or a failed connection.
    * Idempotent writes, whose repetition leaves the same state, are retried
      on the same conditions: ``assign_model`` (``PUT``; assigning the model
      a token has is a no-op), ``unassign_model``, ``delete_token``,
      ``revoke_license`` (``DELETE``) and ``cancel_token`` (cancelling a
      canceled token is a no-op that succeeds). A ``delete_token`` or
      ``revoke_license`` whose retry, after a dropped connection, finds the
      thing gone (404) succeeds: the lost attempt removed it.
    * A conditional write (``if_match``) is retried on ``503`` but not after
      a dropped connection: had the lost attempt landed, the retry would fail
      with a version conflict the caller did not cause.
    * Creations and ``update_token`` (``PATCH``) are never retried: a
      repeated creation would at best answer without the secret (shown only
      once), and a repeated ``PATCH`` could undo someone else's change made in
      between. Every write carries an ``Idempotency-Key``; repeat the call
      with the same ``idempotency_key`` to have the service answer the first
      outcome instead of acting twice.
    * A refused connection (nothing listening, a service restarting) is
      retried for every call, creations included: the request never left.
    * A ``429`` is retried only when :attr:`retry_rate_limited` is set, after
      the ``Retry-After`` the service sent, for every call: a rate-limited
      call was refused before it did anything.

    Waits grow exponentially with full jitter: before retry *n* the client
    sleeps a random time in ``[0, min(max_delay, base_delay * 2**(n-1)))``.

    Attributes:
        max_attempts: attempts of one call, the first included (``1`` turns
            retries off).
        base_delay: the cap of the first wait, in seconds.
        max_delay: the cap of every wait, in seconds.
        retry_rate_limited: wait out a ``429``'s ``Retry-After`` and try
            again instead of raising :class:`~tokend.RateLimitedError`.
    """

    max_attempts: int = 4
    base_delay: float = 0.1
    max_delay: float = 2.0
    retry_rate_limited: bool = False

    def backoff(self, attempt: int) -> float:
        """The wait before the retry that follows ``attempt`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** min(attempt - 1, 30)))
        return random.uniform(0, max(ceiling, 0.0))


#: A policy of single attempts.
NO_RETRIES = RetryPolicy(max_attempts=1)


class Kind(enum.Enum):
    """How a call may be retried and whether it reads."""

    READ = "read"  # no side effect: retried, sends X-Min-Sequence
    IDEMPOTENT = "idempotent"  # repeating it leaves the same state: retried
    WRITE = "write"  # creations and PATCH: never retried


@dataclass(frozen=True)
class Response:
    """An answer: status, headers (lower-cased names) and decoded JSON body
    (``None`` when there is none)."""

    status: int
    headers: Mapping[str, str]
    body: Any
    attempts: int


class _DroppedConnection(Exception):
    """An attempt that got no whole answer. ``refused`` is true when the
    connection was refused: the request never left."""

    def __init__(self, text: str, refused: bool = False) -> None:
        super().__init__(text)
        self.refused = refused


_NO_BODY = object()


def _retry_after(value: Optional[str]) -> Optional[float]:
    """Read ``Retry-After``: delay seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


class Transport:
    """Sends API calls. Safe for use from several threads: its only mutable
    state is the highest stream sequence its writes were answered with."""

    def __init__(
        self,
        base_url: str,
        license: Optional[str],
        *,
        timeout: float,
        retry: RetryPolicy,
        read_your_writes: bool,
        user_agent: str,
        opener: Optional[urllib.request.OpenerDirector] = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.license = license
        self.timeout = timeout
        self.retry = retry
        self.read_your_writes = read_your_writes
        self.user_agent = user_agent
        self._opener = opener or urllib.request.build_opener()
        self._sleep = sleep
        self._lock = threading.Lock()
        self._last_seq = 0

    # -- read-your-writes -------------------------------------------------

    @property
    def last_sequence(self) -> int:
        with self._lock:
            return self._last_seq

    def observe_sequence(self, seq: int) -> None:
        """Raise the sequence later reads wait for to ``seq``."""
        if seq is None or seq <= 0:
            return
        with self._lock:
            if seq > self._last_seq:
                self._last_seq = int(seq)

    # -- calls ------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        kind: Kind,
        query: Optional[Sequence[Tuple[str, str]]] = None,
        body: Any = _NO_BODY,
        raw_body: Optional[bytes] = None,
        content_type: Optional[str] = None,
        auth: bool = True,
        if_match: Optional[int] = None,
        idempotency_key: Optional[str] = None,
        min_sequence: Optional[int] = None,
        gone_ok: bool = False,
        extra_headers: Optional[Mapping[str, str]] = None,
    ) -> Optional[Response]:
        """Send one call, retrying as :class:`RetryPolicy` and ``kind``
        allow. Returns the answer of a 2xx, or ``None`` when ``gone_ok``
        turned a 404 after a dropped connection into success; raises the
        :class:`TokendError` of any other answer."""
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode(list(query))
        payload: Optional[bytes] = raw_body
        if body is not _NO_BODY:
            payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            content_type = content_type or "application/json"

        headers = {"Accept": "application/json", "User-Agent": self.user_agent}
        if payload is not None and content_type:
            headers["Content-Type"] = content_type
        if auth and self.license:
            headers["Authorization"] = "Bearer " + self.license
        if if_match is not None and kind is not Kind.READ:
            headers["If-Match"] = '"%d"' % int(if_match)
        if kind is not Kind.READ:
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        seq = min_sequence
        if kind is Kind.READ and seq is None and self.read_your_writes:
            seq = self.last_sequence
        if kind is Kind.READ and seq:
            headers["X-Min-Sequence"] = str(int(seq))
        if extra_headers:
            headers.update(extra_headers)

        policy = self.retry
        max_attempts = max(1, policy.max_attempts)
        dropped = False
        attempt = 0
        while True:
            attempt += 1
            try:
                status, resp_headers, data = self._send(method, url, headers, payload)
            except _DroppedConnection as exc:
                cause = exc.__cause__ or exc
                # A refused connection never carried the request, so any call
                # may be repeated; a dropped one may have, so only those whose
                # repetition is harmless are.
                retryable = (
                    exc.refused
                    or kind is Kind.READ
                    or (kind is Kind.IDEMPOTENT and if_match is None)
                )
                if retryable and attempt < max_attempts:
                    dropped = dropped or not exc.refused
                    self._sleep(policy.backoff(attempt))
                    continue
                raise TokendConnectionError(
                    f"{method} {path}: {cause}", status=0
                ) from cause

            if 200 <= status < 300:
                if kind is not Kind.READ:
                    self._note_sequence(resp_headers.get("x-sequence"))
                return Response(status, resp_headers, self._decode(data, method, path), attempt)

            err = self._error(status, resp_headers, data)
            if attempt < max_attempts:
                if status == 503 and kind is not Kind.WRITE:
                    self._sleep(policy.backoff(attempt))
                    continue
                if status == 429 and policy.retry_rate_limited:
                    wait = _retry_after(resp_headers.get("retry-after"))
                    self._sleep(policy.backoff(attempt) if wait is None else wait)
                    continue
            if gone_ok and dropped and status == 404:
                return None
            raise err

    def _send(
        self, method: str, url: str, headers: Mapping[str, str], payload: Optional[bytes]
    ) -> Tuple[int, Mapping[str, str], bytes]:
        """One attempt; reads the whole answer so that a connection dropped
        mid-body counts as dropped, not as a bad answer."""
        req = urllib.request.Request(url, data=payload, headers=dict(headers), method=method)
        try:
            try:
                resp = self._opener.open(req, timeout=self.timeout)
            except urllib.error.HTTPError as e:
                resp = e
            with resp:
                status = resp.getcode()
                hdrs = {k.lower(): v for k, v in resp.headers.items()}
                data = resp.read(_MAX_RESPONSE_BYTES + 1)
        except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
            reason = getattr(e, "reason", e)
            refused = isinstance(reason, ConnectionRefusedError) or isinstance(e, ConnectionRefusedError)
            if isinstance(reason, BaseException) and reason is not e:
                raise _DroppedConnection(str(reason), refused) from reason
            raise _DroppedConnection(str(e), refused) from e
        return int(status), hdrs, data[:_MAX_RESPONSE_BYTES]

    def _note_sequence(self, value: Optional[str]) -> None:
        if value and value.strip().isdigit():
            self.observe_sequence(int(value.strip()))

    @staticmethod
    def _decode(data: bytes, method: str, path: str) -> Any:
        if not data.strip():
            return None
        try:
            return json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise TokendError(f"{method} {path}: the answer is not JSON: {e}", status=200, code="") from e

    @staticmethod
    def _error(status: int, headers: Mapping[str, str], data: bytes) -> TokendError:
        code: Optional[str] = None
        message = ""
        try:
            wire = json.loads(data.decode("utf-8"))
            detail = wire.get("error") if isinstance(wire, dict) else None
            if isinstance(detail, dict) and detail.get("code"):
                code = str(detail["code"])
                message = str(detail.get("message") or "")
        except (UnicodeDecodeError, ValueError):
            pass
        if code is None:
            text = data.decode("utf-8", "replace").strip()
            if text and len(text) <= 200 and "<" not in text and "\n" not in text:
                message = text
            else:
                message = http.client.responses.get(status, "")
        return error_for(
            status,
            code,
            message,
            request_id=headers.get("x-request-id"),
            retry_after=_retry_after(headers.get("retry-after")),
        )


def query_pairs(items: Iterable[Tuple[str, Any]]) -> Sequence[Tuple[str, str]]:
    """Drop the ``None`` values of a query and turn the rest into strings."""
    out = []
    for k, v in items:
        if v is None:
            continue
        out.append((k, v.value if isinstance(v, enum.Enum) else str(v)))
    return out
