"""Tokens, models, audit and introspection against a real tokend. Each test
works in an account of its own, so lists hold only its own tokens."""

from __future__ import annotations

import itertools
import re
import time
import unittest
from datetime import datetime, timedelta, timezone

from _support import ServerTestCase

from tokend import (
    NO_RETRIES,
    AlreadyAssignedError,
    InvalidArgumentError,
    NotFoundError,
    ProjectionBehindError,
    Sort,
    Status,
    TokenCanceledError,
    TokenManagement,
    VersionConflictError,
)

SECRET = re.compile(r"^tkn_[0-9A-Za-z]{49}$")
DAY = 86400
_names = itertools.count(1)


class TokensTest(ServerTestCase):
    def account(self) -> TokenManagement:
        return self.new_account(f"{self._testMethodName}-{next(_names)}")

    def test_create_get_and_secret(self) -> None:
        tm = self.account()
        model = tm.create_model("gpt-large")
        exp = int(time.time()) + 30 * DAY
        created = tm.create_token("  alice  ", exp, note="enterprise plan", model_id=model.model_id)
        token, secret = created
        self.assertRegex(secret, SECRET)
        self.assertEqual(token.secret_hint, secret[:8])
        self.assertEqual(token.name, "alice")  # stored trimmed
        self.assertEqual(token.note, "enterprise plan")
        self.assertEqual(token.expiration_date, exp)
        self.assertEqual(token.status, Status.ACTIVE)
        self.assertEqual(token.status, "ACTIVE")
        self.assertFalse(token.expired)
        self.assertEqual((token.model_id, token.model_name), (model.model_id, "gpt-large"))
        self.assertTrue(token.assigned)
        self.assertEqual(token.version, 1)
        self.assertEqual(token.expires, datetime.fromtimestamp(exp, timezone.utc))
        self.assertEqual(tm.get_token(token.token_id), token)
        self.assertEqual(tm.get_token(token.id).id, token.token_id)

    def test_expiration_as_datetime_and_timedelta(self) -> None:
        tm = self.account()
        when = datetime.now(timezone(timedelta(hours=-5))) + timedelta(days=10)
        t1 = tm.create_token("dt", when).token
        self.assertEqual(t1.expiration_date, int(when.timestamp()))
        before = int(time.time())
        t2 = tm.create_token("td", timedelta(days=2)).token
        self.assertAlmostEqual(t2.expiration_date, before + 2 * DAY, delta=3)
        t3 = tm.update_token(t2.token_id, expiration_date=when + timedelta(days=1))
        self.assertEqual(t3.expiration_date, int(when.timestamp()) + DAY)

    def test_list_filters_and_sorting(self) -> None:
        tm = self.account()
        m1, m2 = tm.create_model("m1"), tm.create_model("m2")
        now = int(time.time())
        a = tm.create_token("Alpha bot", now + 10 * DAY, model_id=m1.model_id).token
        b = tm.create_token("bravo", now + 20 * DAY, model_id=m2.model_id).token
        c = tm.create_token("Charlie BOT", now + 30 * DAY).token
        d = tm.create_token("delta", now + 40 * DAY).token
        tm.suspend_token(b.token_id)
        tm.cancel_token(c.token_id)
        ids = lambda ts: [t.token_id for t in ts]  # noqa: E731
        # createdAt is in seconds: tokens of one second tie, and ties break
        # by id in the order's direction.
        newest = lambda *ts: [t.token_id for t in sorted(ts, key=lambda t: (t.created_at, t.token_id), reverse=True)]  # noqa: E731

        # default: every token, newest first
        self.assertEqual(ids(tm.list_tokens()), newest(a, b, c, d))
        self.assertEqual(ids(tm.list_tokens(status="ACTIVE")), newest(a, d))
        self.assertEqual(ids(tm.list_tokens(status=Status.SUSPENDED)), [b.token_id])
        self.assertEqual(ids(tm.list_tokens(status=["suspended", "cancelled"])), newest(b, c))
        self.assertEqual(ids(tm.list_tokens(model_id=m1.model_id)), [a.token_id])
        self.assertEqual(ids(tm.list_tokens(assigned=True)), newest(a, b))
        self.assertEqual(ids(tm.list_tokens(assigned=False)), newest(c, d))
        self.assertEqual(ids(tm.list_tokens(q="BoT")), newest(a, c))
        self.assertEqual(ids(tm.list_tokens(expires_before=now + 25 * DAY)), newest(a, b))
        self.assertEqual(ids(tm.list_tokens(expires_after=now + 25 * DAY)), newest(c, d))
        self.assertEqual(
            ids(tm.list_tokens(expires_after=timedelta(days=15), expires_before=timedelta(days=35))),
            newest(b, c),
        )
        self.assertEqual(ids(tm.list_tokens(status="ACTIVE", q="alpha", assigned=True)), [a.token_id])

        by_name = [a.token_id, b.token_id, c.token_id, d.token_id]
        self.assertEqual(ids(tm.list_tokens(sort="name")), by_name)
        self.assertEqual(ids(tm.list_tokens(sort=Sort.NAME_DESC)), by_name[::-1])
        self.assertEqual(ids(tm.list_tokens(sort="expirationDate")), by_name)
        self.assertEqual(ids(tm.list_tokens(sort="-expiration_date")), by_name[::-1])
        self.assertEqual(ids(tm.list_tokens(sort="created_at")), newest(a, b, c, d)[::-1])
        self.assertEqual(ids(tm.list_tokens(sort=Sort.CREATED_AT_DESC)), newest(a, b, c, d))

    def test_paging(self) -> None:
        tm = self.account()
        exp = int(time.time()) + DAY
        tokens = [tm.create_token(f"tok-{i:02d}", exp + i).token for i in range(7)]
        made = [t.token_id for t in tokens]
        # createdAt is in seconds; ties break by id, in the order's direction
        newest_first = [t.token_id for t in sorted(tokens, key=lambda t: (t.created_at, t.token_id), reverse=True)]
        everything = tm.list_tokens()
        self.assertIsInstance(everything, list)
        self.assertEqual([t.token_id for t in everything], newest_first)
        self.assertEqual([t.token_id for t in tm.list_tokens(page_size=2)], newest_first)
        self.assertEqual([t.token_id for t in tm.list_tokens(limit=3)], newest_first[:3])
        self.assertEqual([t.token_id for t in tm.list_tokens(limit=5, page_size=2)], newest_first[:5])
        self.assertEqual(tm.list_tokens(limit=0), [])

        it = tm.iter_tokens(page_size=3, sort="name")
        self.assertEqual([t.token_id for t in it], made)

        # by hand
        seen, cursor, pages = [], None, 0
        while True:
            page = tm.list_tokens_page(page_size=3, cursor=cursor, sort="-name")
            pages += 1
            seen += [t.token_id for t in page]
            self.assertLessEqual(len(page), 3)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        self.assertEqual(seen, made[::-1])
        self.assertEqual(pages, 3)

    def test_update_token_tri_state(self) -> None:
        tm = self.account()
        m1, m2 = tm.create_model("m1"), tm.create_model("m2")
        exp = int(time.time()) + 30 * DAY
        t = tm.create_token("alice", exp, note="keep me", model_id=m1.model_id).token

        # value: only that field changes, the others are left alone
        u = tm.update_token(t.token_id, name="alicia")
        self.assertEqual((u.name, u.note, u.model_id, u.expiration_date), ("alicia", "keep me", m1.model_id, exp))
        self.assertEqual(u.version, 2)
        self.assertEqual(tm.token_audit(t.token_id)[-1].changes.keys(), {"name"})

        # absent: nothing changes, no event
        same = tm.update_token(t.token_id)
        self.assertEqual(same, tm.get_token(t.token_id))
        self.assertEqual(same.version, 2)

        # None clears the note, and leaves the model
        u = tm.update_token(t.token_id, note=None)
        self.assertIsNone(u.note)
        self.assertEqual(u.model_id, m1.model_id)
        last = tm.token_audit(t.token_id)[-1]
        self.assertEqual(last.type, "TokenNoteChanged")
        self.assertEqual((last.changes["note"].from_, last.changes["note"].to), ("keep me", None))

        u = tm.update_token(t.token_id, note="back")
        self.assertEqual(u.note, "back")
        self.assertIsNone(tm.update_token(t.token_id, note="").note)  # "" means none

        # None unassigns the model, and leaves the note
        tm.update_token(t.token_id, note="n")
        u = tm.update_token(t.token_id, model_id=None)
        self.assertEqual((u.model_id, u.model_name, u.note), (None, None, "n"))
        u = tm.update_token(t.token_id, model_id=m2.model_id)
        self.assertEqual((u.model_id, u.model_name), (m2.model_id, "m2"))

        # several fields at once: one TokenUpdated
        u = tm.update_token(t.token_id, name="al", status="suspended", expiration_date=exp + DAY)
        self.assertEqual((u.name, u.status, u.expiration_date), ("al", Status.SUSPENDED, exp + DAY))
        last = tm.token_audit(t.token_id)[-1]
        self.assertEqual(last.type, "TokenUpdated")
        self.assertEqual(set(last.changes), {"name", "status", "expirationDate"})
        self.assertEqual(tuple(last.changes["status"]), ("ACTIVE", "SUSPENDED"))

        # None for a field that cannot be cleared is refused, naming it
        for field, kwargs in (("name", {"name": None}), ("status", {"status": None}),
                              ("expirationDate", {"expiration_date": None})):
            with self.subTest(field=field):
                with self.assertRaises(InvalidArgumentError) as cm:
                    tm.update_token(t.token_id, **kwargs)
                self.assertEqual(cm.exception.field, field)

        # update_token(status="CANCELED") cancels
        u = tm.update_token(t.token_id, status="CANCELLED")
        self.assertEqual(u.status, Status.CANCELED)

    def test_assign_and_unassign(self) -> None:
        tm = self.account()
        m1, m2 = tm.create_model("m1"), tm.create_model("m2")
        t = tm.create_token("t", timedelta(days=1)).token
        u = tm.assign_model(t.token_id, m1.model_id)
        self.assertEqual((u.model_id, u.model_name, u.version), (m1.model_id, "m1", 2))
        self.assertEqual(tm.assign_model(t.token_id, m1.model_id).version, 2)  # no-op
        with self.assertRaises(AlreadyAssignedError) as cm:
            tm.assign_model(t.token_id, m2.model_id)
        self.assertEqual((cm.exception.status, cm.exception.code), (409, "already_assigned"))
        with self.assertRaises(AlreadyAssignedError):
            tm.update_token(t.token_id, model_id=m2.model_id)
        u = tm.unassign_model(t.token_id)
        self.assertIsNone(u.model_id)
        self.assertEqual(tm.unassign_model(t.token_id).version, u.version)  # no-op
        self.assertEqual(tm.assign_model(t.token_id, m2.model_id).model_id, m2.model_id)
        # a model of no account, or of another, is an invalid argument
        other = self.account().create_model("theirs")
        tm.unassign_model(t.token_id)
        for mid in (other.model_id, "no-such-model"):
            with self.assertRaises(InvalidArgumentError) as cm:
                tm.assign_model(t.token_id, mid)
            self.assertEqual(cm.exception.field, "modelId")

    def test_suspend_cancel_delete(self) -> None:
        tm = self.account()
        t = tm.create_token("t", timedelta(days=1)).token
        self.assertEqual(tm.suspend_token(t.token_id).status, Status.SUSPENDED)
        self.assertEqual(tm.reactivate_token(t.token_id).status, Status.ACTIVE)
        c = tm.cancel_token(t.token_id)
        self.assertEqual(c.status, Status.CANCELED)
        again = tm.cancel_token(t.token_id)  # cancelling again succeeds, changes nothing
        self.assertEqual(again.version, c.version)
        self.assertEqual(tm.update_token(t.token_id, status="CANCELED").version, c.version)
        # setting a field to the value it has is a no-op, on a canceled token too
        self.assertEqual(tm.update_token(t.token_id, name="t", note=None).version, c.version)
        with self.assertRaises(TokenCanceledError) as cm:
            tm.update_token(t.token_id, name="x")
        self.assertEqual((cm.exception.status, cm.exception.code), (409, "token_canceled"))
        with self.assertRaises(TokenCanceledError):
            tm.reactivate_token(t.token_id)
        with self.assertRaises(TokenCanceledError):
            tm.assign_model(t.token_id, tm.create_model("m").model_id)

        self.assertIsNone(tm.delete_token(t.token_id))  # deletion still works
        with self.assertRaises(NotFoundError):
            tm.get_token(t.token_id)
        self.assertEqual(tm.list_tokens(), [])
        with self.assertRaises(NotFoundError):
            tm.delete_token(t.token_id)
        types = [e.type for e in tm.token_audit(t.token_id)]  # the trail stays
        self.assertEqual(types, ["TokenIssued", "TokenSuspended", "TokenReactivated", "TokenCanceled", "TokenDeleted"])

    def test_expired(self) -> None:
        tm = self.account()
        token, secret = tm.create_token("brief", int(time.time()) + 2)
        self.assertFalse(token.expired)
        self.assertTrue(tm.introspect(secret).active)
        time.sleep(max(0.0, token.expiration_date - time.time()) + 0.1)
        t = tm.get_token(token.token_id)
        self.assertTrue(t.expired)
        self.assertEqual(t.status, Status.ACTIVE)  # it keeps its status
        self.assertFalse(tm.introspect(secret).active)
        self.assertEqual([x.token_id for x in tm.list_tokens(status="ACTIVE")], [token.token_id])

    def test_if_match(self) -> None:
        tm = self.account()
        t = tm.create_token("t", timedelta(days=1)).token
        u = tm.update_token(t.token_id, name="u", if_match=t.version)
        self.assertEqual(u.version, t.version + 1)
        with self.assertRaises(VersionConflictError) as cm:
            tm.update_token(t.token_id, name="v", if_match=t.version)
        self.assertEqual(cm.exception.status, 412)
        with self.assertRaises(VersionConflictError):
            tm.cancel_token(t.token_id, if_match=t.version)
        with self.assertRaises(VersionConflictError):
            tm.delete_token(t.token_id, if_match=t.version)
        self.assertEqual(tm.get_token(t.token_id).name, "u")
        tm.cancel_token(t.token_id, if_match=u.version)

    def test_idempotency_keys(self) -> None:
        tm = self.account()
        key = "3b241101-e2bb-4255-8caf-4136c566a962"
        first = tm.create_token("once", timedelta(days=1), idempotency_key=key)
        self.assertIsNotNone(first.secret)
        repeat = tm.create_token("once", timedelta(days=1), idempotency_key=key)
        self.assertEqual(repeat.token_id, first.token_id)
        self.assertIsNone(repeat.secret)  # shown once only
        self.assertEqual(len(tm.list_tokens()), 1)
        m1 = tm.create_model("m", idempotency_key=key)
        self.assertEqual(tm.create_model("m", idempotency_key=key), m1)
        self.assertEqual(len(tm.list_models()), 1)
        k2 = "7a1b0c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d"
        tm.update_token(first.token_id, name="renamed", idempotency_key=k2)
        other = tm.update_token(first.token_id, name="other")
        # a repeat is not carried out again: it answers the token as it is
        again = tm.update_token(first.token_id, name="renamed", idempotency_key=k2)
        self.assertEqual((again.name, again.version), ("other", other.version))
        self.assertEqual(tm.get_token(first.token_id).name, "other")
        with self.assertRaises(InvalidArgumentError) as cm:
            tm.create_model("m", idempotency_key="not-a-uuid")
        self.assertEqual(cm.exception.field, "Idempotency-Key")

    def test_read_your_writes(self) -> None:
        tm = self.account()
        self.assertEqual(tm.last_sequence, 0)
        t = tm.create_token("t", timedelta(days=1)).token
        s1 = tm.last_sequence
        self.assertGreater(s1, 0)
        tm.update_token(t.token_id, name="u")
        self.assertGreater(tm.last_sequence, s1)
        # every write is read back at once, by this client and by one told its sequence
        for i in range(5):
            tm.update_token(t.token_id, name=f"n{i}")
            self.assertEqual(tm.get_token(t.token_id).name, f"n{i}")
            self.assertEqual(tm.list_tokens()[0].name, f"n{i}")
        reader = self.client(tm._t.license)
        reader.observe_sequence(tm.last_sequence)
        self.assertEqual(reader.get_token(t.token_id).name, "n4")
        # a sequence the service never reaches: it waits 5 s, then 503 projection_behind
        impatient = self.client(tm._t.license, retry=NO_RETRIES)
        impatient.observe_sequence(tm.last_sequence + 1_000_000)
        started = time.monotonic()
        with self.assertRaises(ProjectionBehindError) as cm:
            impatient.get_account()
        self.assertGreaterEqual(time.monotonic() - started, 4.0)
        self.assertEqual((cm.exception.status, cm.exception.code), (503, "projection_behind"))
        self.assertGreaterEqual(cm.exception.retry_after or 0, 1)

    def test_models(self) -> None:
        tm = self.account()
        self.assertEqual(tm.list_models(), [])
        a, b = tm.create_model("alpha"), tm.create_model("beta")
        self.assertEqual(a.name, "alpha")
        self.assertEqual(sorted(m.model_id for m in tm.list_models()), sorted([a.model_id, b.model_id]))
        self.assertEqual(tm.get_model(a.model_id), a)
        with self.assertRaises(NotFoundError):
            tm.get_model("no-such-model")
        with self.assertRaises(NotFoundError):
            self.account().get_model(a.model_id)  # another account's
        # an end user's secret reads the model its token is assigned to
        token, secret = tm.create_token("u", timedelta(days=1), model_id=b.model_id)
        end_user = self.client(secret)
        self.assertEqual(end_user.get_model(b.model_id), b)
        with self.assertRaises(NotFoundError):
            end_user.get_model(a.model_id)

    def test_introspect(self) -> None:
        tm = self.account()
        m = tm.create_model("gpt")
        token, secret = tm.create_token("eve", timedelta(days=3), note="private", model_id=m.model_id)
        anonymous = self.client(None)  # needs no license
        got = anonymous.introspect(secret)
        self.assertTrue(got.active)
        v = got.view
        self.assertEqual((v.token_id, v.name, v.status, v.model_id, v.model_name),
                         (token.token_id, "eve", Status.ACTIVE, m.model_id, "gpt"))
        self.assertEqual(v.expiration_date, token.expiration_date)
        self.assertFalse(hasattr(v, "note"))
        # suspended → inactive, and the client reads its own write at once
        tm.suspend_token(token.token_id)
        self.assertEqual(tm.introspect(secret).active, False)
        self.assertIsNone(tm.introspect(secret).view)
        tm.reactivate_token(token.token_id)
        self.assertTrue(tm.introspect(secret).active)
        for bad in ("tkn_nope", "", "lic_" + secret[4:], secret[:-1] + ("A" if secret[-1] != "A" else "B")):
            self.assertFalse(anonymous.introspect(bad).active, bad)
        tm.delete_token(token.token_id)
        self.assertFalse(tm.introspect(secret).active)

    def test_audit(self) -> None:
        tm = self.account()
        m = tm.create_model("m")
        t = tm.create_token("a", timedelta(days=1), note="n").token
        tm.update_token(t.token_id, name="b")
        tm.assign_model(t.token_id, m.model_id)
        tm.unassign_model(t.token_id)
        tm.cancel_token(t.token_id)
        trail = tm.token_audit(t.token_id)
        self.assertEqual([e.type for e in trail],
                         ["TokenIssued", "TokenRenamed", "ModelAssigned", "ModelUnassigned", "TokenCanceled"])
        self.assertEqual([e.sequence for e in trail], sorted(e.sequence for e in trail))
        issued = trail[0]
        self.assertEqual(issued.token_id, t.token_id)
        self.assertEqual(issued.changes["name"].from_, None)
        self.assertEqual(issued.changes["name"].to, "a")
        self.assertEqual(issued.changes["expirationDate"].to, t.expiration_date)
        self.assertEqual(issued.actor.kind, "license")
        self.assertTrue(issued.actor.id)
        self.assertEqual(issued.at.tzinfo, timezone.utc)
        self.assertLess(abs(issued.at.timestamp() - time.time()), 60)
        self.assertRegex(issued.at_text, r"\.\d{9}Z$")
        self.assertTrue(issued.event_id and issued.command_id)
        self.assertEqual(tuple(trail[1].changes["name"]), ("a", "b"))
        self.assertEqual(trail[2].changes["modelId"].to, m.model_id)

        # paging
        self.assertEqual(tm.token_audit(t.token_id, page_size=2), trail)
        self.assertEqual(tm.token_audit(t.token_id, limit=2), trail[:2])
        page = tm.token_audit_page(t.token_id, page_size=3)
        self.assertEqual(page.entries, trail[:3])
        self.assertIsNotNone(page.next_cursor)
        rest = tm.token_audit_page(t.token_id, page_size=3, cursor=page.next_cursor)
        self.assertEqual(rest.entries, trail[3:])
        self.assertIsNone(rest.next_cursor)
        with self.assertRaises(NotFoundError):
            self.account().token_audit(t.token_id)  # another account's

        # the account's trail: account-level events too, filters, paging
        everything = tm.account_audit()
        types = [e.type for e in everything]
        self.assertEqual(types[:2], ["AccountCreated", "ModelRegistered"])
        self.assertIsNone(everything[0].token_id)
        self.assertEqual(types[2:], [e.type for e in trail])
        self.assertEqual(tm.account_audit(page_size=2), everything)
        self.assertEqual(list(tm.iter_account_audit(page_size=3)), everything)
        self.assertEqual(tm.account_audit(limit=3), everything[:3])
        self.assertEqual([e.type for e in tm.account_audit(type="TokenRenamed")], ["TokenRenamed"])
        self.assertEqual([e.type for e in tm.account_audit(type="modelregistered")], ["ModelRegistered"])
        self.assertEqual(tm.account_audit(since=timedelta(hours=1)), [])
        self.assertEqual(tm.account_audit(until=timedelta(hours=-1)), [])
        start = int(everything[0].at.timestamp())
        self.assertEqual(tm.account_audit(since=start, until=datetime.now(timezone.utc) + timedelta(seconds=5)),
                         everything)
        page = tm.account_audit_page(page_size=4)
        self.assertEqual(page.entries, everything[:4])
        self.assertEqual(tm.account_audit_page(page_size=4, cursor=page.next_cursor).entries, everything[4:])


if __name__ == "__main__":
    unittest.main()
