package commands

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tokend/tokend/adapters/natsjs"
	"github.com/tokend/tokend/domain"
)

// AdminLicenseFile is the file, in the data directory, that holds the admin
// license the service drew on its first start.
const AdminLicenseFile = "admin.license"

// bootstrapCommandID is the id of the command that creates the default
// account: the same on every replica, so two replicas starting at once
// create it once.
var bootstrapCommandID = uuid.NewSHA1(uuid.NameSpaceURL, []byte("tokend:bootstrap:account:default"))

// Bootstrap creates the account "default" and its admin license when the
// log has no such account (API.md): the license is adminLicense when given
// (checked by the caller), else the one in <dataDir>/admin.license left by
// an earlier, interrupted start, else a new one written there (mode 0600)
// before the account is created, so that it cannot be lost. It is never
// printed. The file holds the license alone, with no newline, so that
// `$(cat admin.license)` and a plain read both give the bearer as it is.
// created reports whether this call created the account.
func (s *Service) Bootstrap(ctx context.Context, dataDir, adminLicense string) (created bool, err error) {
	var acc domain.Account
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		// A cluster that just started may not answer yet: wait for it as
		// long as ctx allows (Execute below does the same).
		acc, _, _, err = s.account(ctx, domain.DefaultAccountID, true)
		if !natsjs.IsUnavailable(err) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	if err != nil || acc.Exists() {
		return false, err
	}
	path := filepath.Join(dataDir, AdminLicenseFile)
	license, wrote := adminLicense, false
	if license == "" {
		if license, err = readLicense(path); err != nil {
			return false, err
		}
	}
	if license == "" {
		if license, err = domain.NewSecret(domain.LicensePrefix); err != nil {
			return false, fmt.Errorf("bootstrap: draw the admin license: %w", err)
		}
		if err := writeFileAtomic(path, []byte(license), 0o600); err != nil {
			return false, fmt.Errorf("bootstrap: write %s: %w", path, err)
		}
		wrote = true
	}
	hash := domain.HashSecret(license)
	licenseID := LicenseIDFor(bootstrapCommandID)
	res, err := s.Execute(ctx, domain.Command{
		ID:        bootstrapCommandID,
		AccountID: domain.DefaultAccountID,
		Actor:     domain.SystemActor,
		Body: domain.CreateAccount{
			Name:          domain.DefaultAccountID,
			LicenseID:     licenseID,
			LicenseSha256: hash,
		},
	})
	if err != nil && !errors.Is(err, domain.ErrVersionConflict) {
		return false, fmt.Errorf("bootstrap: create the default account: %w", err)
	}
	if l, ok := res.Account.License(licenseID); err != nil || !ok || l.Sha256 != hash {
		// Another replica created the account first, with its own license.
		s.logger.Warn("the default account was created by another tokend; its admin license is in that replica's data directory")
		if wrote {
			_ = os.Remove(path)
		}
		return false, nil
	}
	return len(res.Emitted) > 0, nil
}

// readLicense returns the license in path, "" when there is none.
func readLicense(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	l := strings.TrimSpace(string(b))
	if !domain.CheckSecret(domain.LicensePrefix, l) {
		return "", fmt.Errorf("bootstrap: %s does not hold a well-formed license", path)
	}
	return l, nil
}

// writeFileAtomic writes data to path through a synced temporary file and a
// rename, so that a crash leaves either no file or the whole one.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
