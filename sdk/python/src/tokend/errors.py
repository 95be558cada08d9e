"""Errors raised by the tokend SDK.

Every refusal the service answers becomes an instance of :class:`TokendError`,
more precisely of the subclass for its API error code (API.md "Errors")::

    try:
        tm.assign_model(token_id, model_id)
    except AlreadyAssignedError:
        tm.unassign_model(token_id)
        tm.assign_model(token_id, model_id)

A connection that fails (after the retries the call allows) raises
:class:`TokendConnectionError`, also a :class:`TokendError`, so that
``except TokendError`` catches everything the SDK raises about a call.
Mistakes the SDK can see without asking the service (an empty id, a naive
``datetime``) raise ``ValueError`` or ``TypeError`` before anything is sent.
"""

from __future__ import annotations

import re
from typing import Dict, Optional, Type

__all__ = [
    "TokendError",
    "InvalidArgumentError",
    "UnauthenticatedError",
    "PermissionDeniedError",
    "NotFoundError",
    "AlreadyAssignedError",
    "TokenCanceledError",
    "VersionConflictError",
    "PayloadTooLargeError",
    "UnsupportedMediaTypeError",
    "RateLimitedError",
    "ProjectionBehindError",
    "UnavailableError",
    "InternalError",
    "TokendConnectionError",
    "error_for",
]


class TokendError(Exception):
    """A call the service refused, or that could not reach it.

    Attributes:
        status: the HTTP status of the answer (``0`` when no answer came).
        code: the API's error code, such as ``"not_found"``; for an answer
            without the API's error body (a proxy's 502, say) the code its
            status implies, or ``""`` when it implies none.
        message: the service's explanation, meant for people.
        request_id: the answer's ``X-Request-Id``, to quote when reporting a
            problem; ``None`` when the service sent none.
    """

    #: The API code of the subclass; the base class has none.
    default_code: str = ""
    #: The HTTP status the API gives the code.
    default_status: int = 0

    def __init__(
        self,
        message: str = "",
        *,
        status: Optional[int] = None,
        code: Optional[str] = None,
        request_id: Optional[str] = None,
    ) -> None:
        self.status: int = self.default_status if status is None else status
        self.code: str = self.default_code if code is None else code
        self.message: str = message
        self.request_id: Optional[str] = request_id
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.code and self.message:
            return f"{self.code}: {self.message}"
        if self.code:
            return self.code
        if self.message:
            return f"HTTP {self.status}: {self.message}"
        return f"HTTP {self.status}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r})"
        )


_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9_.\-]*): ")


class InvalidArgumentError(TokendError):
    """400 ``invalid_argument``: a field, parameter or header is wrong.

    :attr:`field` names it (such as ``"expirationDate"``), read from the
    message, which the service starts with the field's name.
    """

    default_code = "invalid_argument"
    default_status = 400

    @property
    def field(self) -> Optional[str]:
        """The field the message names (``"name"``, ``"expirationDate"``, a
        query parameter, a header), or ``None``."""
        m = _FIELD.match(self.message)
        return m.group(1) if m else None


class UnauthenticatedError(TokendError):
    """401 ``unauthenticated``: no license, or one that is malformed,
    unknown or revoked."""

    default_code = "unauthenticated"
    default_status = 401


class PermissionDeniedError(TokendError):
    """403 ``permission_denied``: the license may not do this (only the admin
    license creates accounts)."""

    default_code = "permission_denied"
    default_status = 403


class NotFoundError(TokendError):
    """404 ``not_found``: no such token or model in the caller's account
    (another account's answers exactly alike)."""

    default_code = "not_found"
    default_status = 404


class AlreadyAssignedError(TokendError):
    """409 ``already_assigned``: the token is assigned to another model;
    unassign it first."""

    default_code = "already_assigned"
    default_status = 409


class TokenCanceledError(TokendError):
    """409 ``token_canceled``: the token is canceled, which is final; only
    deletion is still allowed."""

    default_code = "token_canceled"
    default_status = 409


class VersionConflictError(TokendError):
    """412 ``version_conflict``: ``if_match`` named a version the token has
    moved past."""

    default_code = "version_conflict"
    default_status = 412


class PayloadTooLargeError(TokendError):
    """413 ``payload_too_large``: the request body is over 64 KiB."""

    default_code = "payload_too_large"
    default_status = 413


class UnsupportedMediaTypeError(TokendError):
    """415 ``unsupported_media_type``: the body was not JSON."""

    default_code = "unsupported_media_type"
    default_status = 415


class RateLimitedError(TokendError):
    """429 ``rate_limited``: too many requests for this license, or too many
    failed authentications from this address.

    :attr:`retry_after` is the wait in seconds the service asked for
    (``Retry-After``), or ``None`` when it named none.
    """

    default_code = "rate_limited"
    default_status = 429

    def __init__(self, message: str = "", *, retry_after: Optional[float] = None, **kw) -> None:
        self.retry_after: Optional[float] = retry_after
        super().__init__(message, **kw)


class UnavailableError(TokendError):
    """503 ``unavailable`` (docs/api.md): the service could not reach its
    event log for a while (a cluster electing a leader). The write did not
    happen, or happened once: retrying with the same idempotency key is safe.
    :attr:`retry_after` is the service's hint."""

    default_code = "unavailable"
    default_status = 503

    def __init__(self, message: str = "", *, retry_after: Optional[float] = None, **kw) -> None:
        self.retry_after: Optional[float] = retry_after
        super().__init__(message, **kw)


class ProjectionBehindError(TokendError):
    """503 ``projection_behind``: the read model did not reach the sequence
    the read asked for (``X-Min-Sequence``) within 5 s. The write happened;
    try the read again shortly. :attr:`retry_after` is the service's hint."""

    default_code = "projection_behind"
    default_status = 503

    def __init__(self, message: str = "", *, retry_after: Optional[float] = None, **kw) -> None:
        self.retry_after: Optional[float] = retry_after
        super().__init__(message, **kw)


class InternalError(TokendError):
    """500 ``internal``: the service failed; the message says nothing of why
    (quote :attr:`request_id` to its operator)."""

    default_code = "internal"
    default_status = 500


class TokendConnectionError(TokendError):
    """The service could not be reached, or the connection dropped before a
    whole answer came (after the retries the call allows). :attr:`status` is
    ``0``; ``__cause__`` holds the underlying exception.

    A write that failed this way may or may not have been carried out: call
    it again with the same ``idempotency_key`` to find out without doing it
    twice.
    """

    default_code = "connection_error"
    default_status = 0


_BY_CODE: Dict[str, Type[TokendError]] = {
    cls.default_code: cls
    for cls in (
        InvalidArgumentError,
        UnauthenticatedError,
        PermissionDeniedError,
        NotFoundError,
        AlreadyAssignedError,
        TokenCanceledError,
        VersionConflictError,
        PayloadTooLargeError,
        UnsupportedMediaTypeError,
        RateLimitedError,
        ProjectionBehindError,
        UnavailableError,
        InternalError,
    )
}

# The code an answer without the API's error body gets: only statuses that
# mean one code unambiguously have one. 409 (two codes) and 503 (the
# service's projection_behind, or any proxy's outage) have none.
_CODE_FOR_STATUS: Dict[int, str] = {
    400: "invalid_argument",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    412: "version_conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal",
}


def error_for(
    status: int,
    code: Optional[str],
    message: str,
    *,
    request_id: Optional[str] = None,
    retry_after: Optional[float] = None,
) -> TokendError:
    """Build the exception for an answer: the class of ``code`` (or, when the
    answer carried no code, of the code ``status`` implies), else the base
    :class:`TokendError`."""
    if not code:
        code = _CODE_FOR_STATUS.get(status, "")
    cls = _BY_CODE.get(code, TokendError)
    if cls in (RateLimitedError, ProjectionBehindError, UnavailableError):
        return cls(message, status=status, code=code, request_id=request_id, retry_after=retry_after)
    return cls(message, status=status, code=code, request_id=request_id)
