"""Accounts and licenses against a real tokend, and the provider's documented
usage, verbatim."""

from __future__ import annotations

import unittest
from datetime import timedelta

from _support import ServerTestCase

from tokend import (
    NotFoundError,
    PermissionDeniedError,
    Status,
    TokenManagement,
    UnauthenticatedError,
)


class DocumentedUsageTest(ServerTestCase):
    def test_documented_usage(self) -> None:
        # A provider already has tokens.
        made = [self.admin.create_token(n, timedelta(days=d)).token for n, d in (("first", 2), ("second", 1))]
        # newest first; createdAt is in seconds, and ties break by id
        newest = max(made, key=lambda t: (t.created_at, t.token_id))
        other = next(t for t in made if t is not newest)

        url, license = self.server.url, self.server.admin_license

        # -- the documented usage, as written (with the service's URL) --
        from tokend import TokenManagement

        tm = TokenManagement(license, url=url)                         # authenticate with a license
        token_id = tm.list_tokens()[0].token_id                          # get a token id
        tm.update_token(token_id, status="CANCELED")                     # update the token's attributes
        tm.cancel_token(token_id)                                        # or: cancel it
        # ----------------------------------------------------------------

        self.assertEqual(token_id, newest.token_id)  # newest first
        t = tm.get_token(token_id)
        self.assertEqual(t.status, Status.CANCELED)
        self.assertEqual([e.type for e in tm.token_audit(token_id)], ["TokenIssued", "TokenCanceled"])
        self.assertEqual([x.token_id for x in tm.list_tokens(status="ACTIVE")], [other.token_id])


class AccountsTest(ServerTestCase):
    def test_account(self) -> None:
        a = self.admin.get_account()
        self.assertEqual((a.account_id, a.name, a.id), ("default", "default", "default"))
        # the service created it by itself on its first start
        first = self.admin.account_audit(limit=1)[0]
        self.assertEqual((first.type, first.actor.kind, first.actor.id, first.token_id),
                         ("AccountCreated", "system", None, None))
        self.assertEqual(first.changes["name"].to, "default")

    def test_create_account_and_licenses(self) -> None:
        created = self.admin.create_account("acme")
        account, license = created
        self.assertEqual(account.name, "acme")
        self.assertRegex(license, r"^lic_[0-9A-Za-z]{49}$")
        acme = TokenManagement(license, url=self.server.url)
        self.assertEqual(acme.get_account(), account)
        self.assertEqual(acme.list_tokens(), [])
        self.assertEqual(acme.list_models(), [])

        # a new account's first license is listed; keys never are
        first = acme.list_licenses()
        self.assertEqual(len(first), 1)
        self.assertFalse(first[0].revoked)

        # issue another: it works at once
        issued = acme.issue_license()
        lid, key = issued
        self.assertEqual(lid, issued.license_id)
        self.assertRegex(key, r"^lic_[0-9A-Za-z]{49}$")
        second = TokenManagement(key, url=self.server.url)
        self.assertEqual(second.get_account().account_id, account.account_id)
        self.assertEqual({x.license_id for x in acme.list_licenses()}, {first[0].license_id, lid})

        # revoke it: it fails from the next request on, and is listed revoked
        self.assertIsNone(acme.revoke_license(lid))
        with self.assertRaises(UnauthenticatedError):
            second.get_account()
        listed = {x.license_id: x.revoked for x in acme.list_licenses()}
        self.assertEqual(listed, {first[0].license_id: False, lid: True})
        acme.revoke_license(lid)  # revoking again succeeds
        with self.assertRaises(NotFoundError):
            acme.revoke_license("no-such-license")
        with self.assertRaises(NotFoundError):
            self.admin.revoke_license(first[0].license_id)  # another account's

        # only the admin license creates accounts
        with self.assertRaises(PermissionDeniedError) as cm:
            acme.create_account("evil")
        self.assertEqual((cm.exception.status, cm.exception.code), (403, "permission_denied"))
        with self.assertRaises(PermissionDeniedError):
            second_acme = TokenManagement(acme.issue_license().license, url=self.server.url)
            second_acme.create_account("evil")

    def test_idempotent_creations(self) -> None:
        key = "5f0c6a1e-9b7d-4c3e-8a2f-1d4b6e8c0a9f"
        first = self.admin.create_account("once", idempotency_key=key)
        again = self.admin.create_account("once", idempotency_key=key)
        self.assertEqual(again.account, first.account)
        self.assertIsNone(again.license)  # shown once only
        acme = TokenManagement(first.license, url=self.server.url)
        k2 = "0b9c8d7e-6f5a-4b3c-9d2e-1f0a9b8c7d6e"
        l1 = acme.issue_license(idempotency_key=k2)
        l2 = acme.issue_license(idempotency_key=k2)
        self.assertEqual(l2.license_id, l1.license_id)
        self.assertIsNone(l2.license)
        self.assertEqual(len(acme.list_licenses()), 2)

    def test_accounts_are_isolated(self) -> None:
        a = TokenManagement(self.admin.create_account("a").license, url=self.server.url)
        b = TokenManagement(self.admin.create_account("b").license, url=self.server.url)
        t = a.create_token("a's", timedelta(days=1)).token
        self.assertEqual([x.token_id for x in a.list_tokens()], [t.token_id])
        self.assertEqual(b.list_tokens(), [])
        self.assertEqual([e.type for e in b.account_audit()], ["AccountCreated"])


if __name__ == "__main__":
    unittest.main()
