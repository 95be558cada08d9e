"""tokend: the Python SDK of the tokend token service.

::

    from tokend import TokenManagement

    tm = TokenManagement("lic_...", url="http://127.0.0.1:8080")
    token_id = tm.list_tokens()[0].token_id
    tm.update_token(token_id, status="CANCELED")
    tm.cancel_token(token_id)

:class:`TokenManagement` is the client; :mod:`tokend.types` holds the views
it returns and :mod:`tokend.errors` the exceptions it raises, one per API
error code under :class:`TokendError`. Standard library only.
"""

from ._client import DEFAULT_URL, UNSET, TokenManagement, __version__
from ._transport import NO_RETRIES, RetryPolicy
from .errors import (
    AlreadyAssignedError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    ProjectionBehindError,
    RateLimitedError,
    TokenCanceledError,
    TokendConnectionError,
    TokendError,
    UnauthenticatedError,
    UnavailableError,
    UnsupportedMediaTypeError,
    VersionConflictError,
)
from .types import (
    Account,
    Actor,
    AuditEntry,
    AuditPage,
    Change,
    CreatedAccount,
    CreatedToken,
    EndUserView,
    Introspection,
    IssuedLicense,
    License,
    Model,
    Sort,
    Status,
    Token,
    TokenPage,
)

__all__ = [
    "TokenManagement",
    "UNSET",
    "DEFAULT_URL",
    "RetryPolicy",
    "NO_RETRIES",
    "__version__",
    # views
    "Account",
    "Actor",
    "AuditEntry",
    "AuditPage",
    "Change",
    "CreatedAccount",
    "CreatedToken",
    "EndUserView",
    "Introspection",
    "IssuedLicense",
    "License",
    "Model",
    "Sort",
    "Status",
    "Token",
    "TokenPage",
    # errors
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
]
