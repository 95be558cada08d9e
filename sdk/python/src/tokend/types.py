"""The views the tokend API answers with, as frozen dataclasses.

Field names are the API's, in snake_case; ids are named after what they
identify (``token_id``, ``model_id``, ``account_id``, ``license_id``), and
each view also answers ``.id``. Times are Unix seconds, as on the wire, with
``datetime`` properties beside them. A field the API sends as ``null`` is
``None``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, Iterator, List, Mapping, Optional, Union

__all__ = [
    "Status",
    "Sort",
    "Account",
    "CreatedAccount",
    "License",
    "IssuedLicense",
    "Model",
    "Token",
    "CreatedToken",
    "EndUserView",
    "Introspection",
    "Actor",
    "Change",
    "AuditEntry",
    "TokenPage",
    "AuditPage",
]


class Status(str, enum.Enum):
    """A token's status. The service accepts any case, and ``"CANCELLED"``
    for ``CANCELED``; it always answers one of these. Members are strings:
    ``Status.ACTIVE == "ACTIVE"``."""

    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    CANCELED = "CANCELED"

    def __str__(self) -> str:  # "ACTIVE", not "Status.ACTIVE"
        return self.value


class Sort(str, enum.Enum):
    """Orders of :meth:`TokenManagement.list_tokens`. A leading ``-`` is
    descending; every order breaks ties by id, and name order is by the
    lower-cased name. Plain strings work too (``"-createdAt"``, or in
    snake_case ``"-created_at"``)."""

    CREATED_AT = "createdAt"
    CREATED_AT_DESC = "-createdAt"
    NAME = "name"
    NAME_DESC = "-name"
    EXPIRATION_DATE = "expirationDate"
    EXPIRATION_DATE_DESC = "-expirationDate"

    def __str__(self) -> str:
        return self.value


def _status(v: Any) -> Union[Status, str]:
    try:
        return Status(v)
    except ValueError:
        return v  # a status this SDK does not know yet: keep the string


def _ts(seconds: Optional[int]) -> Optional[datetime]:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=timezone.utc)


@dataclass(frozen=True)
class Account:
    """A provider: the owner of tokens, models and licenses."""

    account_id: str
    name: str

    @property
    def id(self) -> str:
        """Alias of :attr:`account_id`."""
        return self.account_id

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Account":
        return cls(account_id=d["id"], name=d["name"])


@dataclass(frozen=True)
class CreatedAccount:
    """The answer to :meth:`TokenManagement.create_account`: the account and
    its first license key, shown this once (``None`` when the call repeated
    an earlier one's ``idempotency_key``: only the first answer had it).
    Unpacks as ``account, license = tm.create_account(...)``."""

    account: Account
    license: Optional[str]

    def __iter__(self) -> Iterator[Any]:
        return iter((self.account, self.license))

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "CreatedAccount":
        return cls(account=Account.from_json(d["account"]), license=d.get("license") or None)


@dataclass(frozen=True)
class License:
    """One of the account's licenses as listed: never its key."""

    license_id: str
    revoked: bool

    @property
    def id(self) -> str:
        """Alias of :attr:`license_id`."""
        return self.license_id

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "License":
        return cls(license_id=d["id"], revoked=bool(d.get("revoked", False)))


@dataclass(frozen=True)
class IssuedLicense:
    """The answer to :meth:`TokenManagement.issue_license`: the new license's
    id and key, shown this once (``None`` on a repeated ``idempotency_key``).
    Unpacks as ``license_id, key = tm.issue_license()``."""

    license_id: str
    license: Optional[str]

    @property
    def id(self) -> str:
        """Alias of :attr:`license_id`."""
        return self.license_id

    def __iter__(self) -> Iterator[Any]:
        return iter((self.license_id, self.license))

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "IssuedLicense":
        return cls(license_id=d["id"], license=d.get("license") or None)


@dataclass(frozen=True)
class Model:
    """One of the provider's models, to which tokens are assigned."""

    model_id: str
    name: str

    @property
    def id(self) -> str:
        """Alias of :attr:`model_id`."""
        return self.model_id

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Model":
        return cls(model_id=d["id"], name=d["name"])


@dataclass(frozen=True)
class Token:
    """The provider's view of a token (API.md ``TokenView``).

    Attributes:
        token_id: the token's id.
        name: its name (trimmed).
        note: the provider's note, never shown to the end user; ``None``
            when it has none.
        expiration_date: when it expires, in Unix seconds.
        status: :class:`Status` (``ACTIVE``, ``SUSPENDED`` or ``CANCELED``).
        expired: ``True`` once ``expiration_date`` has passed; the status
            does not change, but the secret stops working.
        model_id: the model it is assigned to, or ``None``.
        model_name: that model's name, or ``None``.
        secret_hint: the first 8 characters of its secret.
        created_at: when it was issued, in Unix seconds.
        updated_at: when it last changed, in Unix seconds.
        version: the number of its events: the value ``if_match`` takes.
    """

    token_id: str
    name: str
    note: Optional[str]
    expiration_date: int
    status: Union[Status, str]
    expired: bool
    model_id: Optional[str]
    model_name: Optional[str]
    secret_hint: str
    created_at: int
    updated_at: int
    version: int

    @property
    def id(self) -> str:
        """Alias of :attr:`token_id`."""
        return self.token_id

    @property
    def expires(self) -> datetime:
        """:attr:`expiration_date` as an aware UTC ``datetime``."""
        return _ts(self.expiration_date)  # type: ignore[return-value]

    @property
    def created(self) -> datetime:
        """:attr:`created_at` as an aware UTC ``datetime``."""
        return _ts(self.created_at)  # type: ignore[return-value]

    @property
    def updated(self) -> datetime:
        """:attr:`updated_at` as an aware UTC ``datetime``."""
        return _ts(self.updated_at)  # type: ignore[return-value]

    @property
    def assigned(self) -> bool:
        """Whether the token is assigned to a model."""
        return self.model_id is not None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Token":
        return cls(
            token_id=d["id"],
            name=d["name"],
            note=d.get("note") or None,
            expiration_date=int(d["expirationDate"]),
            status=_status(d["status"]),
            expired=bool(d.get("expired", False)),
            model_id=d.get("modelId") or None,
            model_name=d.get("modelName"),
            secret_hint=d.get("secretHint", ""),
            created_at=int(d["createdAt"]),
            updated_at=int(d["updatedAt"]),
            version=int(d["version"]),
        )


@dataclass(frozen=True)
class CreatedToken:
    """The answer to :meth:`TokenManagement.create_token`: the token and its
    secret (``tkn_…``), shown this once — hand it to the end user, do not
    store it. ``secret`` is ``None`` when the call repeated an earlier one's
    ``idempotency_key``: the token exists, and only the first answer had it.
    Unpacks as ``token, secret = tm.create_token(...)``."""

    token: Token
    secret: Optional[str]

    def __iter__(self) -> Iterator[Any]:
        return iter((self.token, self.secret))

    @property
    def token_id(self) -> str:
        """The new token's id."""
        return self.token.token_id

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "CreatedToken":
        return cls(token=Token.from_json(d["token"]), secret=d.get("secret") or None)


@dataclass(frozen=True)
class EndUserView:
    """What an end user's token shows about itself (API.md ``EndUserView``):
    the provider's view without the note, version and secret hint."""

    token_id: str
    name: str
    expiration_date: int
    status: Union[Status, str]
    expired: bool
    model_id: Optional[str]
    model_name: Optional[str]
    created_at: int
    updated_at: int

    @property
    def id(self) -> str:
        """Alias of :attr:`token_id`."""
        return self.token_id

    @property
    def expires(self) -> datetime:
        """:attr:`expiration_date` as an aware UTC ``datetime``."""
        return _ts(self.expiration_date)  # type: ignore[return-value]

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "EndUserView":
        return cls(
            token_id=d["id"],
            name=d["name"],
            expiration_date=int(d["expirationDate"]),
            status=_status(d["status"]),
            expired=bool(d.get("expired", False)),
            model_id=d.get("modelId") or None,
            model_name=d.get("modelName"),
            created_at=int(d["createdAt"]),
            updated_at=int(d["updatedAt"]),
        )


@dataclass(frozen=True)
class Introspection:
    """The answer to :meth:`TokenManagement.introspect`.

    ``active`` says whether the secret works now. When it does, ``view``
    holds the token's :class:`EndUserView`; when it does not (unknown,
    deleted, expired, suspended or canceled) ``view`` is ``None``: the
    service tells nothing about a token that does not work.
    """

    active: bool
    view: Optional[EndUserView] = None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Introspection":
        active = bool(d.get("active", False))
        return cls(active=active, view=EndUserView.from_json(d) if active and "id" in d else None)


@dataclass(frozen=True)
class Actor:
    """Who caused an event: ``kind`` ``"license"`` with the license's id for
    a call, ``"system"`` (and no id) for what the service did by itself."""

    kind: str
    id: Optional[str] = None


@dataclass(frozen=True)
class Change:
    """One field's change in an audit entry. ``from_`` is ``None`` when the
    field had no value (and ``to`` when it has none now). Values are as the
    API writes them: strings, or ints for times."""

    from_: Any
    to: Any

    def __iter__(self) -> Iterator[Any]:
        return iter((self.from_, self.to))


def _parse_at(s: str) -> datetime:
    """RFC 3339 with up to nine fraction digits (``datetime`` keeps six)."""
    txt = s.strip()
    if txt.endswith(("Z", "z")):
        txt = txt[:-1] + "+00:00"
    frac_at = txt.find(".")
    if frac_at != -1:
        end = frac_at + 1
        while end < len(txt) and txt[end].isdigit():
            end += 1
        digits = txt[frac_at + 1 : end][:6].ljust(6, "0")
        txt = txt[:frac_at] + "." + digits + txt[end:]
    return datetime.fromisoformat(txt).astimezone(timezone.utc)


@dataclass(frozen=True)
class AuditEntry:
    """One event of an audit trail (API.md ``AuditEntry``).

    Attributes:
        sequence: the event's stream sequence, which orders every event.
        event_id: the event's id.
        type: the event type, such as ``"TokenRenamed"``.
        token_id: the token, or ``None`` for account-level events (accounts,
            licenses, models).
        at: when it happened, an aware UTC ``datetime`` (microseconds).
        at_text: the same as the API wrote it, with nanoseconds.
        actor: who caused it.
        command_id: the command that emitted it.
        changes: for every field it changed, its :class:`Change`.
    """

    sequence: int
    event_id: str
    type: str
    token_id: Optional[str]
    at: datetime
    at_text: str
    actor: Actor
    command_id: str
    changes: Dict[str, Change] = field(default_factory=dict)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "AuditEntry":
        actor = d.get("actor") or {}
        changes = {
            k: Change(from_=(v or {}).get("from"), to=(v or {}).get("to"))
            for k, v in (d.get("changes") or {}).items()
        }
        return cls(
            sequence=int(d["sequence"]),
            event_id=d["eventId"],
            type=d["type"],
            token_id=d.get("tokenId") or None,
            at=_parse_at(d["at"]),
            at_text=d["at"],
            actor=Actor(kind=actor.get("kind", ""), id=actor.get("id") or None),
            command_id=d.get("commandId", ""),
            changes=changes,
        )


@dataclass(frozen=True)
class TokenPage:
    """One page of a token list; ``next_cursor`` is ``None`` on the last."""

    tokens: List[Token]
    next_cursor: Optional[str]

    def __iter__(self) -> Iterator[Token]:
        return iter(self.tokens)

    def __len__(self) -> int:
        return len(self.tokens)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "TokenPage":
        return cls(
            tokens=[Token.from_json(t) for t in d.get("tokens") or []],
            next_cursor=d.get("nextCursor") or None,
        )


@dataclass(frozen=True)
class AuditPage:
    """One page of an audit trail, oldest first; ``next_cursor`` is ``None``
    on the last."""

    entries: List[AuditEntry]
    next_cursor: Optional[str]

    def __iter__(self) -> Iterator[AuditEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "AuditPage":
        return cls(
            entries=[AuditEntry.from_json(e) for e in d.get("entries") or []],
            next_cursor=d.get("nextCursor") or None,
        )

