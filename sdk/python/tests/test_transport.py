"""The client's wire behaviour against a scripted server: error mapping of
every code, retries, idempotency keys, read-your-writes headers, the exact
bodies of partial updates and the query strings of lists. (The other test
files run against a real tokend.)"""

from __future__ import annotations

import unittest
import urllib.error
import urllib.parse
from datetime import datetime, timedelta, timezone

from _fake import DROP, TOKEN_JSON, Answer, FakeServer, error

import tokend
from tokend import (
    NO_RETRIES,
    AlreadyAssignedError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    ProjectionBehindError,
    RateLimitedError,
    RetryPolicy,
    TokenCanceledError,
    TokendConnectionError,
    TokendError,
    TokenManagement,
    UnauthenticatedError,
    UnsupportedMediaTypeError,
    VersionConflictError,
)

FAST = RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.002)
LICENSE = "lic_" + "A" * 49


class FakeServerTest(unittest.TestCase):
    def setUp(self) -> None:
        self.fake = FakeServer()
        self.addCleanup(self.fake.close)
        self.tm = TokenManagement(LICENSE, url=self.fake.url, retry=FAST)

    def last(self):
        return self.fake.requests[-1]


class ErrorMappingTest(FakeServerTest):
    def test_every_api_code_has_its_class(self) -> None:
        table = [
            (400, "invalid_argument", InvalidArgumentError),
            (401, "unauthenticated", UnauthenticatedError),
            (403, "permission_denied", PermissionDeniedError),
            (404, "not_found", NotFoundError),
            (409, "already_assigned", AlreadyAssignedError),
            (409, "token_canceled", TokenCanceledError),
            (412, "version_conflict", VersionConflictError),
            (413, "payload_too_large", PayloadTooLargeError),
            (415, "unsupported_media_type", UnsupportedMediaTypeError),
            (429, "rate_limited", RateLimitedError),
            (503, "projection_behind", ProjectionBehindError),
            (500, "internal", InternalError),
        ]
        tm = TokenManagement(LICENSE, url=self.fake.url, retry=NO_RETRIES)
        for status, code, cls in table:
            with self.subTest(code=code):
                self.fake.answer(error(status, code, "why it failed", **{"X-Request-Id": "req-7"}))
                with self.assertRaises(cls) as cm:
                    tm.get_account()
                e = cm.exception
                self.assertIsInstance(e, TokendError)
                self.assertEqual((e.status, e.code, e.message), (status, code, "why it failed"))
                self.assertEqual(e.request_id, "req-7")
                self.assertEqual(str(e), f"{code}: why it failed")
                self.assertEqual(cls.default_code, code)
                self.assertEqual(cls.default_status, status)

    def test_invalid_argument_names_the_field(self) -> None:
        self.fake.answer(error(400, "invalid_argument", "expirationDate: must be in the future"))
        with self.assertRaises(InvalidArgumentError) as cm:
            self.tm.get_account()
        self.assertEqual(cm.exception.field, "expirationDate")

    def test_retry_after(self) -> None:
        self.fake.answer(error(429, "rate_limited", "slow down", **{"Retry-After": "7"}))
        with self.assertRaises(RateLimitedError) as cm:
            self.tm.create_model("m")
        self.assertEqual(cm.exception.retry_after, 7.0)
        self.assertEqual(len(self.fake.requests), 1)  # 429s are not retried by default

    def test_answers_without_the_api_body(self) -> None:
        tm = TokenManagement(LICENSE, url=self.fake.url, retry=NO_RETRIES)
        self.fake.answer(Answer(404, "404 page not found"))
        with self.assertRaises(NotFoundError) as cm:
            tm.get_account()
        self.assertEqual(cm.exception.message, "404 page not found")
        self.fake.answer(Answer(502, "<html>bad gateway</html>"))
        with self.assertRaises(TokendError) as cm:
            tm.get_account()
        self.assertIs(type(cm.exception), TokendError)
        self.assertEqual((cm.exception.status, cm.exception.code), (502, ""))
        self.assertEqual(cm.exception.message, "Bad Gateway")
        self.fake.answer(error(405, "method_not_allowed", "use GET"))
        with self.assertRaises(TokendError) as cm:
            tm.get_account()
        self.assertEqual((cm.exception.status, cm.exception.code), (405, "method_not_allowed"))


class RetryTest(FakeServerTest):
    def test_reads_retry_on_503_then_succeed(self) -> None:
        self.fake.answer(error(503, "projection_behind"), error(503, "projection_behind"),
                         Answer(200, {"id": "a", "name": "n"}))
        self.assertEqual(self.tm.get_account().name, "n")
        self.assertEqual(len(self.fake.requests), 3)

    def test_reads_give_up_after_max_attempts(self) -> None:
        self.fake.default = error(503, "projection_behind", "behind", **{"Retry-After": "1"})
        with self.assertRaises(ProjectionBehindError) as cm:
            self.tm.list_models()
        self.assertEqual(len(self.fake.requests), 4)
        self.assertEqual(cm.exception.retry_after, 1.0)

    def test_reads_retry_after_a_dropped_connection(self) -> None:
        self.fake.answer(DROP, Answer(200, {"models": [{"id": "m", "name": "x"}]}))
        self.assertEqual([m.model_id for m in self.tm.list_models()], ["m"])
        self.assertEqual(len(self.fake.requests), 2)

    def test_creations_and_patch_are_never_retried(self) -> None:
        self.fake.answer(error(503, "projection_behind"))
        with self.assertRaises(ProjectionBehindError):
            self.tm.create_token("a", 2000000000)
        self.assertEqual(len(self.fake.requests), 1)
        self.fake.answer(DROP)
        with self.assertRaises(TokendConnectionError) as cm:
            self.tm.update_token("t1", name="b")
        self.assertEqual(cm.exception.status, 0)
        self.assertIsInstance(cm.exception, TokendError)
        self.assertEqual(len(self.fake.requests), 2)

    def test_idempotent_writes_retry_with_the_same_key(self) -> None:
        self.fake.answer(DROP, error(503, "projection_behind"), Answer(200, dict(TOKEN_JSON, status="CANCELED")))
        t = self.tm.cancel_token("t1")
        self.assertEqual(t.status, tokend.Status.CANCELED)
        keys = {r.headers["idempotency-key"] for r in self.fake.requests}
        self.assertEqual(len(self.fake.requests), 3)
        self.assertEqual(len(keys), 1, keys)

    def test_conditional_writes_are_not_retried_after_a_drop(self) -> None:
        self.fake.answer(DROP)
        with self.assertRaises(TokendConnectionError):
            self.tm.cancel_token("t1", if_match=3)
        self.assertEqual(len(self.fake.requests), 1)
        self.assertEqual(self.last().headers["if-match"], '"3"')
        # but they are on 503
        self.fake.answer(error(503, "projection_behind"), Answer(200, TOKEN_JSON))
        self.tm.assign_model("t1", "m", if_match=3)
        self.assertEqual(len(self.fake.requests), 3)

    def test_delete_whose_lost_attempt_landed_succeeds(self) -> None:
        self.fake.answer(DROP, error(404, "not_found"))
        self.assertIsNone(self.tm.delete_token("t1"))
        self.assertEqual(len(self.fake.requests), 2)
        # without a dropped attempt, 404 is an error
        self.fake.answer(error(404, "not_found"))
        with self.assertRaises(NotFoundError):
            self.tm.delete_token("t1")

    def test_refused_connection_is_retried_for_every_call(self) -> None:
        calls = []

        class Opener:
            def __init__(self, real) -> None:
                self.real = real

            def open(self, req, timeout=None):
                calls.append(req.get_method())
                if len(calls) == 1:
                    raise urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
                return self.real.open(req, timeout=timeout)

        import urllib.request

        tm = TokenManagement(LICENSE, url=self.fake.url, retry=FAST, opener=Opener(urllib.request.build_opener()))
        self.fake.answer(Answer(201, {"id": "m1", "name": "gpt"}))
        self.assertEqual(tm.create_model("gpt").model_id, "m1")
        self.assertEqual(calls, ["POST", "POST"])

    def test_nothing_listening(self) -> None:
        port = self.fake.httpd.server_address[1]
        self.fake.close()
        tm = TokenManagement(LICENSE, url=f"http://127.0.0.1:{port}", retry=RetryPolicy(2, 0.001, 0.001))
        with self.assertRaises(TokendConnectionError) as cm:
            tm.create_model("m")
        self.assertIsInstance(cm.exception.__cause__, ConnectionRefusedError)

    def test_rate_limited_retried_when_asked(self) -> None:
        tm = TokenManagement(LICENSE, url=self.fake.url,
                             retry=RetryPolicy(3, 0.001, 0.001, retry_rate_limited=True))
        self.fake.answer(error(429, "rate_limited", **{"Retry-After": "0"}), Answer(201, {"id": "m", "name": "x"}))
        self.assertEqual(tm.create_model("x").name, "x")
        self.assertEqual(len(self.fake.requests), 2)


class HeadersTest(FakeServerTest):
    def test_read_your_writes(self) -> None:
        self.fake.answer(Answer(201, {"id": "m", "name": "x"}, {"X-Sequence": "41"}), Answer(200, {"models": []}))
        self.tm.create_model("x")
        self.assertNotIn("x-min-sequence", self.last().headers)
        self.assertEqual(self.tm.last_sequence, 41)
        self.tm.list_models()
        self.assertEqual(self.last().headers["x-min-sequence"], "41")
        # a lower sequence never lowers the floor; observe_sequence raises it
        self.fake.answer(Answer(201, {"id": "m", "name": "x"}, {"X-Sequence": "7"}))
        self.tm.create_model("x")
        self.assertEqual(self.tm.last_sequence, 41)
        self.tm.observe_sequence(99)
        self.tm.introspect("tkn_x")
        self.assertEqual(self.last().headers["x-min-sequence"], "99")

    def test_read_your_writes_off(self) -> None:
        tm = TokenManagement(LICENSE, url=self.fake.url, read_your_writes=False)
        self.fake.answer(Answer(201, {"id": "m", "name": "x"}, {"X-Sequence": "41"}))
        tm.create_model("x")
        tm.list_models()
        self.assertNotIn("x-min-sequence", self.last().headers)

    def test_auth_idempotency_and_media_type(self) -> None:
        self.tm.list_models()
        h = self.last().headers
        self.assertEqual(h["authorization"], "Bearer " + LICENSE)
        self.assertNotIn("idempotency-key", h)
        self.assertTrue(h["user-agent"].startswith("tokend-sdk-python/"))
        self.fake.answer(Answer(201, {"id": "m", "name": "x"}))
        self.tm.create_model("x", idempotency_key="3b241101-e2bb-4255-8caf-4136c566a962")
        h = self.last().headers
        self.assertEqual(h["idempotency-key"], "3b241101-e2bb-4255-8caf-4136c566a962")
        self.assertEqual(h["content-type"], "application/json")
        self.fake.answer(Answer(200, {"active": False}))
        self.assertFalse(self.tm.introspect("tkn_x").active)
        self.assertNotIn("authorization", self.last().headers)
        self.assertEqual(self.last().json(), {"token": "tkn_x"})

    def test_random_keys_differ_between_calls(self) -> None:
        for _ in range(2):
            self.fake.answer(Answer(201, {"id": "m", "name": "x"}))
            self.tm.create_model("x")
        k1, k2 = (r.headers["idempotency-key"] for r in self.fake.requests)
        self.assertNotEqual(k1, k2)

    def test_environment_defaults(self) -> None:
        import os
        from unittest import mock

        with mock.patch.dict(os.environ, {"TOKEND_URL": self.fake.url, "TOKEND_LICENSE": LICENSE}):
            tm = TokenManagement()
        self.assertEqual(tm.url, self.fake.url)
        tm.list_models()
        self.assertEqual(self.last().headers["authorization"], "Bearer " + LICENSE)
        self.assertNotIn(LICENSE, repr(tm))


class WireTest(FakeServerTest):
    def setUp(self) -> None:
        super().setUp()
        self.fake.default = Answer(200, TOKEN_JSON)

    def test_update_token_tri_state_bodies(self) -> None:
        exp = datetime(2033, 5, 18, 3, 33, 20, 999000, tzinfo=timezone.utc)
        cases = [
            ({}, {}),
            ({"name": "Bob"}, {"name": "Bob"}),
            ({"note": None}, {"note": None}),
            ({"note": ""}, {"note": ""}),
            ({"note": "hi"}, {"note": "hi"}),
            ({"model_id": None}, {"modelId": None}),
            ({"model_id": "m2"}, {"modelId": "m2"}),
            ({"status": tokend.Status.SUSPENDED}, {"status": "SUSPENDED"}),
            ({"status": "cancelled"}, {"status": "cancelled"}),
            ({"expiration_date": exp}, {"expirationDate": 2000000000}),
            ({"expiration_date": 2000000001}, {"expirationDate": 2000000001}),
            ({"name": None}, {"name": None}),  # the service refuses it, naming the field
            ({"name": "B", "note": tokend.UNSET, "status": "ACTIVE"}, {"name": "B", "status": "ACTIVE"}),
        ]
        for kwargs, body in cases:
            with self.subTest(kwargs=kwargs):
                self.tm.update_token("t/1", **kwargs)
                self.assertEqual(self.last().method, "PATCH")
                self.assertEqual(self.last().path, "/v1/tokens/t%2F1")
                self.assertEqual(self.last().json(), body)

    def test_create_token_body(self) -> None:
        self.fake.answer(Answer(201, {"token": TOKEN_JSON, "secret": "tkn_s"}))
        created = self.tm.create_token("alice", 2000000000)
        self.assertEqual(self.last().json(), {"name": "alice", "expirationDate": 2000000000})
        token, secret = created
        self.assertEqual((token.token_id, secret, created.token_id), ("t1", "tkn_s", "t1"))
        self.fake.answer(Answer(200, {"token": TOKEN_JSON}))
        again = self.tm.create_token("alice", 2000000000, note="n", model_id="m")
        self.assertIsNone(again.secret)
        self.assertEqual(self.last().json(), {"name": "alice", "expirationDate": 2000000000, "note": "n", "modelId": "m"})

    def test_expiration_argument_forms(self) -> None:
        self.fake.answer(Answer(201, {"token": TOKEN_JSON, "secret": "s"}))
        before = int(datetime.now(timezone.utc).timestamp())
        self.tm.create_token("a", timedelta(hours=1))
        self.assertAlmostEqual(self.last().json()["expirationDate"], before + 3600, delta=2)
        tz = timezone(timedelta(hours=2))
        self.fake.answer(Answer(201, {"token": TOKEN_JSON, "secret": "s"}))
        self.tm.create_token("a", datetime(2033, 5, 18, 5, 33, 20, tzinfo=tz))
        self.assertEqual(self.last().json()["expirationDate"], 2000000000)
        n = len(self.fake.requests)
        with self.assertRaises(ValueError):
            self.tm.create_token("a", datetime(2033, 5, 18))  # naive
        for bad in (1.5, "2000000000", True):
            with self.assertRaises(TypeError):
                self.tm.create_token("a", bad)
        self.assertEqual(len(self.fake.requests), n)  # nothing was sent

    def test_empty_ids_are_refused_before_sending(self) -> None:
        for call in (
            lambda: self.tm.get_token(""),
            lambda: self.tm.update_token(" ", name="x"),
            lambda: self.tm.cancel_token(""),
            lambda: self.tm.delete_token(""),
            lambda: self.tm.get_model(""),
            lambda: self.tm.revoke_license(""),
            lambda: self.tm.token_audit(""),
        ):
            with self.assertRaises(ValueError):
                call()
        self.assertEqual(self.fake.requests, [])

    def test_list_query(self) -> None:
        self.fake.answer(Answer(200, {"tokens": [], "nextCursor": None}))
        self.tm.list_tokens(
            status=["active", tokend.Status.SUSPENDED],
            model_id="m1",
            assigned=False,
            q="bo t",
            expires_before=datetime(2033, 5, 18, 3, 33, 20, tzinfo=timezone.utc),
            expires_after=1700000000,
            sort="-expiration_date",
            limit=10,
        )
        path, _, qs = self.last().path.partition("?")
        self.assertEqual(path, "/v1/tokens")
        self.assertEqual(
            urllib.parse.parse_qsl(qs),
            [("status", "active"), ("status", "SUSPENDED"), ("modelId", "m1"), ("assigned", "false"),
             ("q", "bo t"), ("expiresBefore", "2000000000"), ("expiresAfter", "1700000000"),
             ("sort", "-expirationDate"), ("limit", "10")],
        )
        self.fake.answer(Answer(200, {"tokens": [], "nextCursor": None}))
        self.tm.list_tokens(status="SUSPENDED", sort=tokend.Sort.NAME)
        self.assertEqual(urllib.parse.parse_qsl(self.last().path.partition("?")[2]),
                         [("status", "SUSPENDED"), ("sort", "name"), ("limit", "1000")])

    def test_paging_follows_cursors_lazily(self) -> None:
        t = lambda i: dict(TOKEN_JSON, id=f"t{i}")  # noqa: E731
        self.fake.answer(
            Answer(200, {"tokens": [t(1), t(2)], "nextCursor": "c1"}),
            Answer(200, {"tokens": [t(3), t(4)], "nextCursor": "c2"}),
            Answer(200, {"tokens": [t(5)], "nextCursor": None}),
        )
        it = self.tm.iter_tokens(page_size=2)
        self.assertEqual(self.fake.requests, [])  # nothing fetched before iterating
        self.assertEqual(next(it).token_id, "t1")
        self.assertEqual(len(self.fake.requests), 1)
        self.assertEqual([x.token_id for x in it], ["t2", "t3", "t4", "t5"])
        cursors = [dict(urllib.parse.parse_qsl(r.path.partition("?")[2])).get("cursor") for r in self.fake.requests]
        self.assertEqual(cursors, [None, "c1", "c2"])

    def test_audit_query(self) -> None:
        self.fake.answer(Answer(200, {"entries": [], "nextCursor": None}))
        self.tm.account_audit(since=1700000000, until=datetime(2033, 5, 18, 3, 33, 20, tzinfo=timezone.utc),
                              type="TokenRenamed", page_size=5)
        self.assertEqual(urllib.parse.parse_qsl(self.last().path.partition("?")[2]),
                         [("since", "1700000000"), ("until", "2000000000"), ("type", "TokenRenamed"), ("limit", "5")])


if __name__ == "__main__":
    unittest.main()
