package projections

import (
	"path/filepath"
	"testing"

	"github.com/tokend/tokend/domain"
)

// TestLicenseCacheTakesNoRecordOlderThanADrop: a reader that read a license
// from Badger before the projector changed it must not put what it read
// after the projector dropped it, or the cache would answer the old record
// (a revoked license still working) until it is next dropped.
func TestLicenseCacheTakesNoRecordOlderThanADrop(t *testing.T) {
	c := newLicenseCache()
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
	_, js := startJS(t)
	s := openStore(t, filepath.Join(t.TempDir(), ReadModelDir), baseTime)
	runProjector(t, NewProjector(s, js, quiet))
	w := newWorld(t, "acme", publishSink(t, js))
	w.createAccount("Acme")
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
