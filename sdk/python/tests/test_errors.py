"""The error mapping against a real tokend: each refusal the service gives
raises the exception class of its code, with status, code and message."""

from __future__ import annotations

import itertools
import secrets
import time
import unittest
import zlib
from datetime import timedelta

from _support import ServerTestCase

from tokend import (
    NO_RETRIES,
    AlreadyAssignedError,
    InvalidArgumentError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitedError,
    TokenCanceledError,
    TokendError,
    TokenManagement,
    UnauthenticatedError,
    UnsupportedMediaTypeError,
    VersionConflictError,
)
from tokend._transport import Kind

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_names = itertools.count(1)


def _base62(n: int, width: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = _B62[r] + out
    return out.rjust(width, "0")


def well_formed_license() -> str:
    """A license of the right shape and checksum that no account has."""
    body = "lic_" + _base62(int.from_bytes(secrets.token_bytes(32), "big"), 43)
    return body + _base62(zlib.crc32(body.encode()), 6)


class ErrorsTest(ServerTestCase):
    def account(self) -> TokenManagement:
        return self.new_account(f"{self._testMethodName}-{next(_names)}")

    def assertRefused(self, cls, status: int, code: str, call):
        with self.assertRaises(cls) as cm:
            call()
        e = cm.exception
        self.assertIsInstance(e, TokendError)
        self.assertEqual((e.status, e.code), (status, code))
        self.assertTrue(e.message)
        self.assertTrue(e.request_id)
        return e

    def test_unauthenticated(self) -> None:
        for license in ("lic_bad", well_formed_license(), None, "tkn_" + "x" * 49):
            with self.subTest(license=license):
                tm = self.client(license)
                self.assertRefused(UnauthenticatedError, 401, "unauthenticated", tm.list_tokens)
                self.assertRefused(UnauthenticatedError, 401, "unauthenticated", lambda: tm.create_model("m"))

    def test_permission_denied(self) -> None:
        tm = self.account()
        self.assertRefused(PermissionDeniedError, 403, "permission_denied", lambda: tm.create_account("nope"))

    def test_not_found_across_accounts(self) -> None:
        mine, theirs = self.account(), self.account()
        t = mine.create_token("mine", timedelta(days=1)).token
        m = mine.create_model("mine")
        calls = [
            lambda: theirs.get_token(t.token_id),
            lambda: theirs.update_token(t.token_id, name="x"),
            lambda: theirs.cancel_token(t.token_id),
            lambda: theirs.assign_model(t.token_id, m.model_id),
            lambda: theirs.unassign_model(t.token_id),
            lambda: theirs.delete_token(t.token_id),
            lambda: theirs.token_audit(t.token_id),
            lambda: theirs.get_model(m.model_id),
            lambda: mine.get_token("no-such-token"),
            lambda: mine.update_token("no-such-token", name="x"),
        ]
        messages = set()
        for i, call in enumerate(calls):
            with self.subTest(call=i):
                messages.add(self.assertRefused(NotFoundError, 404, "not_found", call).message)
        self.assertEqual(mine.get_token(t.token_id).name, "mine")  # untouched
        self.assertEqual(theirs.list_tokens(), [])

    def test_already_assigned(self) -> None:
        tm = self.account()
        m1, m2 = tm.create_model("m1"), tm.create_model("m2")
        t = tm.create_token("t", timedelta(days=1), model_id=m1.model_id).token
        self.assertRefused(AlreadyAssignedError, 409, "already_assigned", lambda: tm.assign_model(t.token_id, m2.model_id))

    def test_token_canceled(self) -> None:
        tm = self.account()
        t = tm.cancel_token(tm.create_token("t", timedelta(days=1)).token_id)
        self.assertRefused(TokenCanceledError, 409, "token_canceled", lambda: tm.update_token(t.token_id, note="x"))

    def test_version_conflict(self) -> None:
        tm = self.account()
        t = tm.create_token("t", timedelta(days=1)).token
        tm.update_token(t.token_id, name="moved on")
        self.assertRefused(VersionConflictError, 412, "version_conflict",
                           lambda: tm.update_token(t.token_id, name="x", if_match=t.version))

    def test_invalid_arguments_name_their_field(self) -> None:
        tm = self.account()
        now = int(time.time())
        t = tm.create_token("t", timedelta(days=1)).token
        cases = [
            ("expirationDate", lambda: tm.create_token("past", now - 60)),
            ("expirationDate", lambda: tm.create_token("now", now)),
            ("expirationDate", lambda: tm.create_token("too far", timedelta(days=400))),
            ("expirationDate", lambda: tm.update_token(t.token_id, expiration_date=now - 1)),
            ("name", lambda: tm.create_token("   ", timedelta(days=1))),
            ("name", lambda: tm.create_token("x" * 201, timedelta(days=1))),
            ("name", lambda: tm.create_token("bell\x07", timedelta(days=1))),
            ("note", lambda: tm.create_token("n", timedelta(days=1), note="x" * 2001)),
            ("status", lambda: tm.update_token(t.token_id, status="PAUSED")),
            ("modelId", lambda: tm.create_token("m", timedelta(days=1), model_id="no-such-model")),
            ("name", lambda: tm.create_model("")),
            ("name", lambda: self.admin.create_account("")),
            ("status", lambda: tm.list_tokens(status="PAUSED")),
            ("sort", lambda: tm.list_tokens(sort="size")),
            ("limit", lambda: tm.list_tokens_page(page_size=0)),
            ("limit", lambda: tm.list_tokens_page(page_size=1001)),
            ("modelId", lambda: tm.list_tokens(model_id="")),
            ("type", lambda: tm.account_audit(type="NoSuchEvent")),
            ("until", lambda: tm.account_audit(since=2000, until=1000)),
            ("expiresBefore", lambda: tm.list_tokens(expires_before=-5)),
        ]
        for field, call in cases:
            with self.subTest(field=field):
                e = self.assertRefused(InvalidArgumentError, 400, "invalid_argument", call)
                self.assertEqual(e.field, field, e.message)
        # none of them changed anything
        self.assertEqual([x.token_id for x in tm.list_tokens()], [t.token_id])
        self.assertEqual(tm.get_token(t.token_id).version, 1)

    def test_payload_too_large(self) -> None:
        tm = self.account()
        self.assertRefused(PayloadTooLargeError, 413, "payload_too_large",
                           lambda: tm.create_token("big", timedelta(days=1), note="x" * 70_000))

    def test_unsupported_media_type(self) -> None:
        tm = self.account()
        call = lambda: tm._t.call("POST", "/v1/models", kind=Kind.WRITE,  # noqa: E731
                                  raw_body=b"name=m", content_type="text/plain")
        self.assertRefused(UnsupportedMediaTypeError, 415, "unsupported_media_type", call)


class RateLimitTest(ServerTestCase):
    """A tokend with the default rate limits: 50 failed authentications/s
    per address, bursts of 200."""

    rate_limit = "on"

    def test_failed_authentications_are_rate_limited(self) -> None:
        tm = self.client("lic_bad", retry=NO_RETRIES)
        for i in range(2000):
            try:
                tm.get_account()
            except UnauthenticatedError:
                continue
            except RateLimitedError as e:
                self.assertEqual((e.status, e.code), (429, "rate_limited"))
                self.assertIsNotNone(e.retry_after)
                self.assertGreater(e.retry_after, 0)
                self.assertGreater(i, 150)  # after the burst
                return
        self.fail("no 429 after 2,000 failed authentications")


if __name__ == "__main__":
    unittest.main()
