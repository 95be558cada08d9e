package projections

import (
	"fmt"
	"testing"

	"github.com/tokend/tokend/domain"
)

// TestReadCacheTakesNoValueOlderThanADrop: a reader that read a license
// from Badger before the projector changed it must not put what it read
// after the projector dropped it, or the cache would answer the old record
// (a revoked license still working) until it is next dropped.
func TestReadCacheTakesNoValueOlderThanADrop(t *testing.T) {
	c := newReadCache[LicenseRecord](8)
	_, ok, gen := c.get("sha")
	if ok {
		t.Fatal("empty cache answered")
	}
	c.drop([]string{"sha"}) // the projector commits a revocation
	c.put("sha", LicenseRecord{AccountID: "acme", LicenseID: "l1"}, gen)
	if r, ok, _ := c.get("sha"); ok {
		t.Fatalf("stale record kept: %+v", r)
	}

	_, _, gen = c.get("sha")
	c.put("sha", LicenseRecord{AccountID: "acme", LicenseID: "l1", Revoked: true}, gen)
	if r, ok, _ := c.get("sha"); !ok || !r.Revoked {
		t.Fatalf("fresh record not kept: %+v %v", r, ok)
	}
	c.drop([]string{"other"}) // any change invalidates readers in flight, and only drops its own
	if _, ok, _ := c.get("sha"); !ok {
		t.Fatal("a drop of another license dropped this one")
	}
	c.clear()
	if _, ok, _ := c.get("sha"); ok {
		t.Fatal("clear kept a record")
	}
}

// TestLicenseChangesReachACachedLicense: a license read (and so cached)
// before it is revoked is answered revoked once the revocation's
// checkpoint is reached.
func TestLicenseChangesReachACachedLicense(t *testing.T) {
	s, w := liveAcme(t)
	sha := domain.HashSecret("lic-acme-2")
	w.do("", domain.IssueLicense{LicenseID: "lic-acme-2", LicenseSha256: sha})
	waitFor(t, s, w.lastSeq)
	for range 2 { // the second answer comes from the cache
		if l, ok, err := s.License(sha); !ok || err != nil || l.Revoked {
			t.Fatalf("issued license = %+v %v %v", l, ok, err)
		}
	}
	w.do("", domain.RevokeLicense{LicenseID: "lic-acme-2"})
	waitFor(t, s, w.lastSeq)
	if l, ok, err := s.License(sha); !ok || err != nil || !l.Revoked {
		t.Fatalf("license after its revocation was applied = %+v %v %v", l, ok, err)
	}
}

// TestReadCacheStaysBounded: a full cache evicts to take a new key, and a
// cache of size 0 keeps nothing.
func TestReadCacheStaysBounded(t *testing.T) {
	c := newReadCache[int](16)
	for i := range 100 {
		_, _, gen := c.get(fmt.Sprint(i))
		c.put(fmt.Sprint(i), i, gen)
		if len(c.items) > 16 {
			t.Fatalf("%d items after %d puts", len(c.items), i+1)
		}
		if v, ok, _ := c.get(fmt.Sprint(i)); !ok || v != i {
			t.Fatalf("the value just put is not there: %v %v", v, ok)
		}
	}
	none := newReadCache[int](0)
	none.put("k", 1, 0)
	if _, ok, _ := none.get("k"); ok {
		t.Fatal("a cache of size 0 kept a value")
	}
}

// TestIntrospectionSeesEveryChangeOfACachedView: a secret introspected (and
// so cached) answers each later change of its token as soon as the
// change's checkpoint is reached: a rename, a suspension, a cancellation,
// and a deletion.
func TestIntrospectionSeesEveryChangeOfACachedView(t *testing.T) {
	s, w := liveAcme(t)
	w.issue("t1", "first", 30, "", "")
	w.issue("t2", "second", 30, "", "")
	sha := func(id string) string { return w.tokens[id].Snapshot().SecretSha256 }
	introspect := func(id string) Introspection {
		t.Helper()
		waitFor(t, s, w.lastSeq)
		var in Introspection
		for range 2 { // the second answer comes from the cache
			var err error
			if in, err = s.Introspect(sha(id)); err != nil {
				t.Fatal(err)
			}
		}
		return in
	}
	if in := introspect("t1"); !in.Active || in.View.Name != "first" {
		t.Fatalf("issued: %+v", in)
	}
	w.do("t1", domain.RenameToken{Name: "renamed"})
	if in := introspect("t1"); !in.Active || in.View.Name != "renamed" {
		t.Fatalf("after a rename: %+v", in)
	}
	w.do("t1", domain.SuspendToken{})
	if in := introspect("t1"); in.Active {
		t.Fatalf("after a suspension: %+v", in)
	}
	w.do("t1", domain.ReactivateToken{})
	if in := introspect("t1"); !in.Active {
		t.Fatalf("after a reactivation: %+v", in)
	}
	w.do("t1", domain.CancelToken{})
	if in := introspect("t1"); in.Active {
		t.Fatalf("after a cancellation: %+v", in)
	}
	if in := introspect("t2"); !in.Active {
		t.Fatalf("the other token: %+v", in)
	}
	w.do("t2", domain.DeleteToken{})
	if in := introspect("t2"); in.Active {
		t.Fatalf("after a deletion: %+v", in)
	}
}
