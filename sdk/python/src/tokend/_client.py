"""TokenManagement: the provider's client of the tokend HTTP API."""

from __future__ import annotations

import math
import os
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple, TypeVar, Union

from ._transport import Kind, RetryPolicy, Transport, query_pairs
from .types import (
    Account,
    AuditEntry,
    AuditPage,
    CreatedAccount,
    CreatedToken,
    Introspection,
    IssuedLicense,
    License,
    Model,
    Sort,
    Status,
    Token,
    TokenPage,
)

__all__ = ["TokenManagement", "UNSET", "DEFAULT_URL", "__version__"]

__version__ = "0.1.0"

#: Where the client goes when neither ``url`` nor ``TOKEND_URL`` says.
DEFAULT_URL = "http://127.0.0.1:8080"

#: The most tokens or audit entries the API answers in one page.
MAX_PAGE_SIZE = 1000


class _Unset:
    """The type of :data:`UNSET`."""

    _instance: Optional["_Unset"] = None

    def __new__(cls) -> "_Unset":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "UNSET"


#: The default of :meth:`TokenManagement.update_token`'s arguments: the field
#: is left out of the request, so the service leaves it unchanged. Pass it
#: explicitly when forwarding arguments.
UNSET: Any = _Unset()

#: A point in time: Unix seconds, an aware ``datetime``, or a ``timedelta``
#: from now.
When = Union[int, datetime, timedelta]

StatusArg = Union[str, Status]

T = TypeVar("T")

_SORT_SNAKE = {
    "created_at": "createdAt",
    "expiration_date": "expirationDate",
}


def _unix(value: Any, field: str) -> int:
    """Unix seconds from an int, an aware datetime, or a timedelta from now."""
    if isinstance(value, bool):
        raise TypeError(f"{field}: expected Unix seconds (int), an aware datetime or a timedelta, got bool")
    if isinstance(value, int):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise ValueError(
                f"{field}: a naive datetime is ambiguous; give it a time zone "
                "(datetime.now(timezone.utc) + ...)"
            )
        return math.floor(value.timestamp())
    if isinstance(value, timedelta):
        return math.floor(time.time() + value.total_seconds())
    raise TypeError(
        f"{field}: expected Unix seconds (int), an aware datetime or a timedelta, got {type(value).__name__}"
    )


def _text(value: Any) -> str:
    """An enum's value, or the string itself."""
    return value.value if isinstance(value, (Status, Sort)) else str(value)


def _sort(value: Union[str, Sort]) -> str:
    s = _text(value)
    desc = s.startswith("-")
    key = s[1:] if desc else s
    key = _SORT_SNAKE.get(key, key)
    return ("-" if desc else "") + key


def _statuses(value: Union[StatusArg, Iterable[StatusArg], None]) -> List[str]:
    if value is None:
        return []
    if isinstance(value, (str, Status)):
        return [_text(value)]
    return [_text(v) for v in value]


def _require_id(field: str, value: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{field}: expected a string, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{field}: must not be empty")
    return value


def _seg(value: str) -> str:
    """One path segment, escaped."""
    return urllib.parse.quote(value, safe="")


def _page_size(page_size: Optional[int], limit: Optional[int]) -> int:
    if page_size is not None:
        return page_size
    if limit is not None and 0 < limit < MAX_PAGE_SIZE:
        return limit
    return MAX_PAGE_SIZE


def _take(items: Iterator[T], limit: Optional[int]) -> Iterator[T]:
    if limit is None:
        yield from items
        return
    if limit <= 0:
        return
    for n, it in enumerate(items, 1):
        yield it
        if n >= limit:
            return


class TokenManagement:
    """A client of the tokend HTTP API for a provider, authenticated with one
    of its licenses. ::

        from tokend import TokenManagement

        tm = TokenManagement("lic_...", url="http://127.0.0.1:8080")
        token_id = tm.list_tokens()[0].token_id
        tm.update_token(token_id, status="CANCELED")
        tm.cancel_token(token_id)

    Every method sends one call (or, for the listing ones, one per page) and
    returns dataclasses of :mod:`tokend.types`; a refusal raises the
    :class:`~tokend.TokendError` subclass of its API code.

    **Read-your-writes.** The service answers writes at once and updates its
    read model a moment later. The client remembers the highest
    ``X-Sequence`` its writes were answered with and sends it as
    ``X-Min-Sequence`` on every later read, so that the service waits (at
    most 5 s) until its read model has caught up: a client always reads its
    own writes. :attr:`last_sequence` and :meth:`observe_sequence` carry this
    to another client.

    **Idempotency.** Every write carries an ``Idempotency-Key`` (a random
    UUID unless the call's ``idempotency_key`` names one), the same on every
    retry, so a retried write is carried out once.

    A client is safe to share between threads.
    """

    def __init__(
        self,
        license: Optional[str] = None,
        *,
        url: Optional[str] = None,
        timeout: float = 30.0,
        retry: Optional[RetryPolicy] = None,
        read_your_writes: bool = True,
        user_agent: Optional[str] = None,
        opener: Optional[urllib.request.OpenerDirector] = None,
    ) -> None:
        """Make a client.

        Args:
            license: the provider's license key (``lic_…``); ``None`` takes
                ``$TOKEND_LICENSE``. A client that only calls
                :meth:`introspect` needs none. An end user's token secret
                (``tkn_…``) works for :meth:`get_model` of its model.
            url: the service's base URL, with or without a path prefix;
                ``None`` takes ``$TOKEND_URL``, else :data:`DEFAULT_URL`.
            timeout: seconds one attempt may take; keep it above 5 s, the
                longest a read waits for ``X-Min-Sequence``.
            retry: the :class:`~tokend.RetryPolicy`; ``None`` is the default
                (4 attempts, backoff from 0.1 s up to 2 s, 429s raised).
            read_your_writes: send ``X-Min-Sequence`` on reads (see above).
            user_agent: the ``User-Agent`` header.
            opener: a ``urllib.request`` opener (proxies, TLS context).
        """
        if license is None:
            license = os.environ.get("TOKEND_LICENSE") or None
        if url is None:
            url = os.environ.get("TOKEND_URL") or DEFAULT_URL
        self._t = Transport(
            url,
            license.strip() if license else None,
            timeout=timeout,
            retry=retry or RetryPolicy(),
            read_your_writes=read_your_writes,
            user_agent=user_agent or f"tokend-sdk-python/{__version__}",
            opener=opener,
        )

    def __repr__(self) -> str:
        hint = (self._t.license[:8] + "…") if self._t.license else None
        return f"TokenManagement(url={self._t.base_url!r}, license={hint!r})"

    @property
    def url(self) -> str:
        """The service's base URL."""
        return self._t.base_url

    @property
    def last_sequence(self) -> int:
        """The highest stream sequence this client's writes were answered
        with (``X-Sequence``), ``0`` before any write. Give it to another
        client's :meth:`observe_sequence` to make it read these writes."""
        return self._t.last_sequence

    def observe_sequence(self, sequence: int) -> None:
        """Make later reads wait until the service has applied ``sequence``
        (another client's :attr:`last_sequence`, or an audit entry's). It
        only ever raises the client's floor."""
        self._t.observe_sequence(sequence)

    # -- account, accounts, licenses --------------------------------------

    def get_account(self) -> Account:
        """The caller's own account (``GET /v1/account``): the cheapest way
        to check that a license works."""
        return Account.from_json(self._t.call("GET", "/v1/account", kind=Kind.READ).body)

    def create_account(self, name: str, *, idempotency_key: Optional[str] = None) -> CreatedAccount:
        """Create a provider account and its first license (``POST
        /v1/accounts``). Only the admin license (of the account ``default``)
        may; any other raises :class:`~tokend.PermissionDeniedError`. The
        license key in the answer is shown this once."""
        r = self._t.call("POST", "/v1/accounts", kind=Kind.WRITE, body={"name": name}, idempotency_key=idempotency_key)
        return CreatedAccount.from_json(r.body)

    def list_licenses(self) -> List[License]:
        """The account's licenses, revoked ones included (``GET
        /v1/licenses``). Keys are never listed."""
        r = self._t.call("GET", "/v1/licenses", kind=Kind.READ)
        return [License.from_json(x) for x in r.body.get("licenses") or []]

    def issue_license(self, *, idempotency_key: Optional[str] = None) -> IssuedLicense:
        """Issue another license for the account (``POST /v1/licenses``). The
        key is shown this once and works as soon as this returns."""
        r = self._t.call("POST", "/v1/licenses", kind=Kind.WRITE, idempotency_key=idempotency_key)
        return IssuedLicense.from_json(r.body)

    def revoke_license(self, license_id: str, *, idempotency_key: Optional[str] = None) -> None:
        """Revoke one of the account's licenses (``DELETE
        /v1/licenses/{id}``); it fails from the next request on. Revoking the
        client's own license is allowed and is its last successful call.
        Revoking a revoked license succeeds; an unknown id raises
        :class:`~tokend.NotFoundError`."""
        _require_id("license_id", license_id)
        self._t.call(
            "DELETE",
            "/v1/licenses/" + _seg(license_id),
            kind=Kind.IDEMPOTENT,
            gone_ok=True,
            idempotency_key=idempotency_key,
        )

    # -- models -------------------------------------------------------------

    def create_model(self, name: str, *, idempotency_key: Optional[str] = None) -> Model:
        """Register a model of the account (``POST /v1/models``)."""
        r = self._t.call("POST", "/v1/models", kind=Kind.WRITE, body={"name": name}, idempotency_key=idempotency_key)
        return Model.from_json(r.body)

    def list_models(self) -> List[Model]:
        """The account's models (``GET /v1/models``)."""
        r = self._t.call("GET", "/v1/models", kind=Kind.READ)
        return [Model.from_json(x) for x in r.body.get("models") or []]

    def get_model(self, model_id: str) -> Model:
        """One model (``GET /v1/models/{id}``). Another account's raises
        :class:`~tokend.NotFoundError`, like a missing one."""
        _require_id("model_id", model_id)
        return Model.from_json(self._t.call("GET", "/v1/models/" + _seg(model_id), kind=Kind.READ).body)

    # -- tokens -------------------------------------------------------------

    def create_token(
        self,
        name: str,
        expiration_date: When,
        *,
        note: Optional[str] = None,
        model_id: Optional[str] = None,
        idempotency_key: Optional[str] = None,
    ) -> CreatedToken:
        """Issue a token (``POST /v1/tokens``).

        Args:
            name: 1 to 200 characters after trimming, no control characters.
            expiration_date: Unix seconds, an aware ``datetime``, or a
                ``timedelta`` from now: strictly in the future and at most
                the service's maximum lifetime (365 days by default) away.
            note: the provider's note, never shown to the end user.
            model_id: a model of the account to assign the token to.
            idempotency_key: a UUID; a repeat with the same key answers the
                same token (without its secret) instead of issuing another.

        Returns:
            :class:`~tokend.CreatedToken` ``(token, secret)``. The secret
            (``tkn_…``) is shown this once: the service keeps only its hash.
        """
        body: Dict[str, Any] = {"name": name, "expirationDate": _unix(expiration_date, "expiration_date")}
        if note is not None:
            body["note"] = note
        if model_id is not None:
            body["modelId"] = model_id
        r = self._t.call("POST", "/v1/tokens", kind=Kind.WRITE, body=body, idempotency_key=idempotency_key)
        return CreatedToken.from_json(r.body)

    def get_token(self, token_id: str) -> Token:
        """One token (``GET /v1/tokens/{id}``). A deleted token, or another
        account's, raises :class:`~tokend.NotFoundError`."""
        _require_id("token_id", token_id)
        return Token.from_json(self._t.call("GET", "/v1/tokens/" + _seg(token_id), kind=Kind.READ).body)

    def _list_query(
        self,
        status: Union[StatusArg, Iterable[StatusArg], None],
        model_id: Optional[str],
        assigned: Optional[bool],
        q: Optional[str],
        expires_before: Optional[When],
        expires_after: Optional[When],
        sort: Union[str, Sort, None],
    ) -> List[Tuple[str, Any]]:
        items: List[Tuple[str, Any]] = [("status", s) for s in _statuses(status)]
        items.append(("modelId", model_id))
        if assigned is not None:
            items.append(("assigned", "true" if assigned else "false"))
        items.append(("q", q))
        if expires_before is not None:
            items.append(("expiresBefore", _unix(expires_before, "expires_before")))
        if expires_after is not None:
            items.append(("expiresAfter", _unix(expires_after, "expires_after")))
        if sort is not None:
            items.append(("sort", _sort(sort)))
        return items

    def list_tokens_page(
        self,
        *,
        status: Union[StatusArg, Iterable[StatusArg], None] = None,
        model_id: Optional[str] = None,
        assigned: Optional[bool] = None,
        q: Optional[str] = None,
        expires_before: Optional[When] = None,
        expires_after: Optional[When] = None,
        sort: Union[str, Sort, None] = None,
        page_size: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> TokenPage:
        """One page of the account's tokens (``GET /v1/tokens``), for paging
        by hand: pass the page's ``next_cursor`` as ``cursor`` to get the
        next; it is ``None`` on the last page. ``page_size`` is the API's
        ``limit`` (1 to 1000, default 50). The filters are those of
        :meth:`list_tokens`."""
        items = self._list_query(status, model_id, assigned, q, expires_before, expires_after, sort)
        items += [("limit", page_size), ("cursor", cursor or None)]
        r = self._t.call("GET", "/v1/tokens", kind=Kind.READ, query=query_pairs(items))
        return TokenPage.from_json(r.body)

    def iter_tokens(
        self,
        *,
        status: Union[StatusArg, Iterable[StatusArg], None] = None,
        model_id: Optional[str] = None,
        assigned: Optional[bool] = None,
        q: Optional[str] = None,
        expires_before: Optional[When] = None,
        expires_after: Optional[When] = None,
        sort: Union[str, Sort, None] = None,
        limit: Optional[int] = None,
        page_size: Optional[int] = None,
    ) -> Iterator[Token]:
        """Iterate over the account's tokens, fetching page after page as the
        iteration goes: for sets too large to hold at once. The arguments
        are those of :meth:`list_tokens`. Paging while the list changes
        never repeats or skips a token that existed throughout and whose
        sort key did not change."""
        base = self._list_query(status, model_id, assigned, q, expires_before, expires_after, sort)
        size = _page_size(page_size, limit)

        def fetch(cursor: Optional[str]) -> Tuple[List[Token], Optional[str]]:
            items = base + [("limit", size), ("cursor", cursor)]
            p = TokenPage.from_json(self._t.call("GET", "/v1/tokens", kind=Kind.READ, query=query_pairs(items)).body)
            return p.tokens, p.next_cursor

        return _take(_paginate(fetch), limit)

    def list_tokens(
        self,
        *,
        status: Union[StatusArg, Iterable[StatusArg], None] = None,
        model_id: Optional[str] = None,
        assigned: Optional[bool] = None,
        q: Optional[str] = None,
        expires_before: Optional[When] = None,
        expires_after: Optional[When] = None,
        sort: Union[str, Sort, None] = None,
        limit: Optional[int] = None,
        page_size: Optional[int] = None,
    ) -> List[Token]:
        """The account's tokens (``GET /v1/tokens``), every page of them, as
        a list. Deleted tokens are never listed.

        Args:
            status: keep tokens with this status, or with any of several
                (``"ACTIVE"``, ``["ACTIVE", "SUSPENDED"]``, any case).
            model_id: keep tokens assigned to this model.
            assigned: ``True`` keeps assigned tokens, ``False`` unassigned.
            q: keep tokens whose name contains this, ignoring case.
            expires_before, expires_after: bounds of the expiration date
                (Unix seconds, aware ``datetime`` or ``timedelta`` from now).
            sort: ``"createdAt"``, ``"name"`` or ``"expirationDate"``, with
                ``-`` for descending (snake_case or :class:`~tokend.Sort`
                works too); the default is ``"-createdAt"``, newest first.
            limit: return at most this many tokens (the first ones).
            page_size: tokens fetched per request (1 to 1000; default 1000,
                or ``limit`` when smaller).
        """
        return list(
            self.iter_tokens(
                status=status,
                model_id=model_id,
                assigned=assigned,
                q=q,
                expires_before=expires_before,
                expires_after=expires_after,
                sort=sort,
                limit=limit,
                page_size=page_size,
            )
        )

    def update_token(
        self,
        token_id: str,
        *,
        name: Any = UNSET,
        note: Any = UNSET,
        expiration_date: Any = UNSET,
        status: Any = UNSET,
        model_id: Any = UNSET,
        if_match: Optional[int] = None,
        idempotency_key: Optional[str] = None,
    ) -> Token:
        """Change any of a token's fields at once (``PATCH
        /v1/tokens/{id}``): all or nothing, as one event.

        An argument left out leaves its field unchanged. ``note=None`` clears
        the note and ``model_id=None`` unassigns the model; ``None`` for the
        other fields is refused by the service (``InvalidArgumentError``).
        Setting a field to the value it has is a no-op.

        Args:
            token_id: the token.
            name: a new name.
            note: a new note, or ``None`` (or ``""``) to clear it.
            expiration_date: Unix seconds, an aware ``datetime`` or a
                ``timedelta`` from now.
            status: ``"ACTIVE"``, ``"SUSPENDED"`` or ``"CANCELED"`` (any
                case; ``"CANCELLED"`` too), or a :class:`~tokend.Status`.
            model_id: a model to assign the token to (only while it is
                unassigned, else :class:`~tokend.AlreadyAssignedError`), or
                ``None`` to unassign it. One call never does both.
            if_match: the token's version (``Token.version``); the update
                fails with :class:`~tokend.VersionConflictError` when the
                token has moved on.
            idempotency_key: a UUID; a repeat with the same key answers the
                first outcome.

        Returns:
            The token after the update.
        """
        _require_id("token_id", token_id)
        body: Dict[str, Any] = {}
        if name is not UNSET:
            body["name"] = name
        if note is not UNSET:
            body["note"] = note
        if expiration_date is not UNSET:
            body["expirationDate"] = None if expiration_date is None else _unix(expiration_date, "expiration_date")
        if status is not UNSET:
            body["status"] = None if status is None else _text(status)
        if model_id is not UNSET:
            body["modelId"] = model_id
        r = self._t.call(
            "PATCH",
            "/v1/tokens/" + _seg(token_id),
            kind=Kind.WRITE,
            body=body,
            if_match=if_match,
            idempotency_key=idempotency_key,
        )
        return Token.from_json(r.body)

    def suspend_token(
        self, token_id: str, *, if_match: Optional[int] = None, idempotency_key: Optional[str] = None
    ) -> Token:
        """Suspend an active token: ``update_token(token_id,
        status="SUSPENDED")``. Its secret stops working until reactivated."""
        return self.update_token(token_id, status=Status.SUSPENDED, if_match=if_match, idempotency_key=idempotency_key)

    def reactivate_token(
        self, token_id: str, *, if_match: Optional[int] = None, idempotency_key: Optional[str] = None
    ) -> Token:
        """Reactivate a suspended token: ``update_token(token_id,
        status="ACTIVE")``."""
        return self.update_token(token_id, status=Status.ACTIVE, if_match=if_match, idempotency_key=idempotency_key)

    def cancel_token(
        self, token_id: str, *, if_match: Optional[int] = None, idempotency_key: Optional[str] = None
    ) -> Token:
        """Cancel a token (``POST /v1/tokens/{id}/cancel``). Cancelling is
        final: every later change raises :class:`~tokend.TokenCanceledError`,
        except deletion. Cancelling a canceled token succeeds and changes
        nothing, which is why this call is retried."""
        _require_id("token_id", token_id)
        r = self._t.call(
            "POST",
            "/v1/tokens/" + _seg(token_id) + "/cancel",
            kind=Kind.IDEMPOTENT,
            if_match=if_match,
            idempotency_key=idempotency_key,
        )
        return Token.from_json(r.body)

    def assign_model(
        self,
        token_id: str,
        model_id: str,
        *,
        if_match: Optional[int] = None,
        idempotency_key: Optional[str] = None,
    ) -> Token:
        """Assign an unassigned token to a model of the account (``PUT
        /v1/tokens/{id}/model``). Assigning the model it has is a no-op; a
        token assigned to another model raises
        :class:`~tokend.AlreadyAssignedError` (unassign it first); a model the
        account does not have raises :class:`~tokend.InvalidArgumentError`."""
        _require_id("token_id", token_id)
        r = self._t.call(
            "PUT",
            "/v1/tokens/" + _seg(token_id) + "/model",
            kind=Kind.IDEMPOTENT,
            body={"modelId": model_id},
            if_match=if_match,
            idempotency_key=idempotency_key,
        )
        return Token.from_json(r.body)

    def unassign_model(
        self, token_id: str, *, if_match: Optional[int] = None, idempotency_key: Optional[str] = None
    ) -> Token:
        """Remove a token's model (``DELETE /v1/tokens/{id}/model``); a no-op
        on an unassigned token."""
        _require_id("token_id", token_id)
        r = self._t.call(
            "DELETE",
            "/v1/tokens/" + _seg(token_id) + "/model",
            kind=Kind.IDEMPOTENT,
            if_match=if_match,
            idempotency_key=idempotency_key,
        )
        return Token.from_json(r.body)

    def delete_token(
        self, token_id: str, *, if_match: Optional[int] = None, idempotency_key: Optional[str] = None
    ) -> None:
        """Delete a token (``DELETE /v1/tokens/{id}``): it leaves every list
        and lookup, and its secret stops working at once. Its audit trail
        stays readable (:meth:`token_audit`)."""
        _require_id("token_id", token_id)
        self._t.call(
            "DELETE",
            "/v1/tokens/" + _seg(token_id),
            kind=Kind.IDEMPOTENT,
            gone_ok=True,
            if_match=if_match,
            idempotency_key=idempotency_key,
        )

    # -- audit --------------------------------------------------------------

    def token_audit_page(
        self, token_id: str, *, page_size: Optional[int] = None, cursor: Optional[str] = None
    ) -> AuditPage:
        """One page of a token's audit trail, oldest first (``GET
        /v1/tokens/{id}/audit``); ``next_cursor`` leads to the next."""
        _require_id("token_id", token_id)
        q = query_pairs([("limit", page_size), ("cursor", cursor or None)])
        r = self._t.call("GET", "/v1/tokens/" + _seg(token_id) + "/audit", kind=Kind.READ, query=q)
        return AuditPage.from_json(r.body)

    def iter_token_audit(
        self, token_id: str, *, limit: Optional[int] = None, page_size: Optional[int] = None
    ) -> Iterator[AuditEntry]:
        """Iterate over a token's whole audit trail, oldest first, page by
        page. A deleted token's trail stays readable."""
        _require_id("token_id", token_id)
        size = _page_size(page_size, limit)
        return _take(_paginate(lambda c: _entries(self.token_audit_page(token_id, page_size=size, cursor=c))), limit)

    def token_audit(
        self, token_id: str, *, limit: Optional[int] = None, page_size: Optional[int] = None
    ) -> List[AuditEntry]:
        """A token's whole audit trail, oldest first, as a list (every page,
        or the first ``limit`` entries)."""
        return list(self.iter_token_audit(token_id, limit=limit, page_size=page_size))

    def account_audit_page(
        self,
        *,
        since: Optional[When] = None,
        until: Optional[When] = None,
        type: Optional[str] = None,
        page_size: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> AuditPage:
        """One page of the account's whole trail, oldest first (``GET
        /v1/audit``); the arguments are those of :meth:`account_audit`."""
        items = [
            ("since", None if since is None else _unix(since, "since")),
            ("until", None if until is None else _unix(until, "until")),
            ("type", type),
            ("limit", page_size),
            ("cursor", cursor or None),
        ]
        r = self._t.call("GET", "/v1/audit", kind=Kind.READ, query=query_pairs(items))
        return AuditPage.from_json(r.body)

    def iter_account_audit(
        self,
        *,
        since: Optional[When] = None,
        until: Optional[When] = None,
        type: Optional[str] = None,
        limit: Optional[int] = None,
        page_size: Optional[int] = None,
    ) -> Iterator[AuditEntry]:
        """Iterate over the account's trail, oldest first, page by page; the
        arguments are those of :meth:`account_audit`."""
        s = None if since is None else _unix(since, "since")
        u = None if until is None else _unix(until, "until")
        size = _page_size(page_size, limit)
        return _take(
            _paginate(
                lambda c: _entries(self.account_audit_page(since=s, until=u, type=type, page_size=size, cursor=c))
            ),
            limit,
        )

    def account_audit(
        self,
        *,
        since: Optional[When] = None,
        until: Optional[When] = None,
        type: Optional[str] = None,
        limit: Optional[int] = None,
        page_size: Optional[int] = None,
    ) -> List[AuditEntry]:
        """The account's whole audit trail, oldest first (``GET /v1/audit``):
        its tokens' events and the account-level ones (account, licenses,
        models).

        Args:
            since, until: bounds of the events' times, both inclusive (Unix
                seconds, aware ``datetime`` or ``timedelta`` from now, e.g.
                ``since=timedelta(hours=-1)``).
            type: keep the events of one type, such as ``"TokenRenamed"``.
            limit: return at most this many entries (the oldest).
            page_size: entries fetched per request (1 to 1000).
        """
        return list(self.iter_account_audit(since=since, until=until, type=type, limit=limit, page_size=page_size))

    # -- end users ----------------------------------------------------------

    def introspect(self, secret: str) -> Introspection:
        """What an end user's token secret is worth (``POST
        /v1/introspect``, RFC 7662 style). Needs no license, and sends none.
        An unknown, deleted, expired, suspended or canceled token is not an
        error: it answers ``active=False`` and nothing else. It changes
        nothing, so it is retried like a read and reads this client's
        writes."""
        r = self._t.call("POST", "/v1/introspect", kind=Kind.READ, body={"token": secret}, auth=False)
        return Introspection.from_json(r.body)


def _entries(page: AuditPage) -> Tuple[List[AuditEntry], Optional[str]]:
    return page.entries, page.next_cursor


def _paginate(fetch: Any) -> Iterator[Any]:
    """Follow next cursors from the first page until there is none."""
    cursor: Optional[str] = None
    while True:
        items, nxt = fetch(cursor)
        yield from items
        if not nxt or nxt == cursor:
            return
        cursor = nxt

