package console_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/tokend/tokend/domain"
)

var updateScreenshots = flag.Bool("update-screenshots", false, "write the browser test's screenshots to docs/screenshots")

// screenshotDir is where -update-screenshots writes, from this package's folder.
const screenshotDir = "../../docs/screenshots"

// findBrowser returns the Chromium to drive: $CHROMIUM when set, else
// Debian's /usr/bin/chromium or a Chromium or Chrome on PATH; "" if none.
func findBrowser() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		if p, err := exec.LookPath(p); err == nil {
			return p
		}
		return ""
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser drives one tab of a headless Chromium.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	messages []chromedp.ConsoleMessage // what the page logged: exceptions, CSP reports, failed loads
}

// do runs steps and fails the test on the first error.
func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v\n%s", err, b.state())
	}
}

// eval evaluates a JavaScript expression into a T. It goes through the
// DevTools protocol (Runtime.evaluate), which the page's CSP does not
// govern; chromedp's Poll builds functions from strings, which the CSP
// rightly refuses, so waitFor polls with eval instead.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v\n%s", expr, err, b.state())
	}
	return v
}

// waitFor waits until the expression is truthy, at most 10 s.
func (b *browser) waitFor(what, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool]("Boolean("+expr+")"))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("waiting for %s: %v (%s)\n%s", what, err, expr, b.state())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// state describes the page for a failure message: the page shown, the
// open dialogs, the visible errors and the status line.
func (b *browser) state() string {
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`JSON.stringify({
		hash: location.hash,
		page: [...document.querySelectorAll('.page')].filter(p => !p.hidden).map(p => p.id),
		dialogs: [...document.querySelectorAll('dialog[open]')].map(d => d.id),
		errors: [...document.querySelectorAll('.field-error:not([hidden]), .banner:not([hidden])')].map(e => e.id + ': ' + e.textContent.trim()),
		toast: document.getElementById('toast').textContent,
		focus: document.activeElement && (document.activeElement.id || document.activeElement.outerHTML.slice(0, 80)),
		rows: [...document.querySelectorAll('#tokens-body tr')].map(r => r.innerText.replace(/\s+/g, ' ').slice(0, 120)),
	})`))
	if err != nil {
		return "(page state unavailable: " + err.Error() + ")"
	}
	return "page: " + v
}

// shot captures the viewport (or the whole page) as PNG and, with
// -update-screenshots, writes it to docs/screenshots/name.
func (b *browser) shot(name string, full bool) {
	b.t.Helper()
	// The status line and the mouse's hover would only clutter the picture.
	b.do(
		chromedp.Evaluate[chromedp.Void](`document.getElementById('toast').classList.remove('show')`),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, 1, 1),
	)
	time.Sleep(250 * time.Millisecond) // let the transitions settle
	act := chromedp.CaptureScreenshot()
	if full {
		act = chromedp.FullScreenshot(100)
	}
	png, err := chromedp.Run(b.ctx, act)
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if *updateScreenshots {
		if err := os.WriteFile(filepath.Join(screenshotDir, name), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
}

// js quotes s as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// clear empties the field with the id, as selecting all and deleting would.
func clear(id string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`document.getElementById(` + js(id) + `).value = ''`)
}

// row is the expression of the table row of the token named name (or undefined).
func row(name string) string {
	return `[...document.querySelectorAll('#tokens-body tr')].find(r => r.querySelector('.token-name').textContent === ` + js(name) + `)`
}

// rowByID is the expression of the table row of the token id.
func rowByID(id string) string {
	return `document.querySelector('#tokens-body tr[data-id=` + js(id) + `]')`
}

const (
	uiNames    = `JSON.stringify([...document.querySelectorAll('#tokens-body .token-name')].map(e => e.textContent))`
	listIdle   = `!document.getElementById('tokens-table').hasAttribute('aria-busy')`
	noDialog   = `!document.querySelector('dialog[open]')`
	editOpen   = `document.getElementById('edit-dialog').open`
	activeID   = `document.activeElement.id`
	activeMenu = `document.activeElement.dataset.menuFor`
)

// TestConsoleInBrowser drives the console in Debian's Chromium against the
// real stack: sign-in, models, creating a token and seeing its secret once,
// every field of the edit window with the table following, a stale edit
// (version_conflict and reload), the "unassign first" refusal, unassigning
// and reassigning, filters, sorting and paging, cancel, delete, the audit
// trail, phone width, dark mode and sign-out. It checks keyboard use of the
// row menu and dialogs, and that the page logged no exception and no CSP
// violation. With -update-screenshots it writes docs/screenshots/*.png.
func TestConsoleInBrowser(t *testing.T) {
	path := findBrowser()
	if path == "" {
		if os.Getenv("REQUIRE_BROWSER") == "1" {
			t.Fatal("REQUIRE_BROWSER=1 but no Chromium was found: install Debian's (apt-get install -y chromium) or set CHROMIUM to a Chrome binary")
		}
		t.Skip("no Chromium found, so the console's browser test is skipped: apt-get install -y chromium to run it (REQUIRE_BROWSER=1 makes a missing browser a failure)")
	}
	start := time.Now()
	s := newStack(t)
	lic := s.tenant("Acme AI")
	now := time.Now()

	// --- The account's data besides what the test makes in the browser.
	var embed struct{ ID string }
	s.call(lic, "POST", "/v1/models", map[string]any{"name": "embed-v2"}, 201, &embed)
	seed := func(name string, expires time.Duration, model, status string) tokenView {
		body := map[string]any{"name": name, "expirationDate": now.Add(expires).Unix()}
		if model != "" {
			body["modelId"] = model
		}
		var out struct{ Token tokenView }
		s.call(lic, "POST", "/v1/tokens", body, 201, &out)
		if status != "" {
			s.call(lic, "PATCH", "/v1/tokens/"+out.Token.ID, map[string]any{"status": status}, 200, &out.Token)
		}
		return out.Token
	}
	day := 24 * time.Hour
	seed("legacy-import", 3*time.Second, "", "") // expired by the time the table shows it
	seed("ci-runner", 200*day, embed.ID, "")
	seed("mobile-app", 12*day+time.Hour, embed.ID, "")
	seed("staging-bot", 45*day, "", "SUSPENDED")
	seed("analytics", 90*day, embed.ID, "")
	seed("partner-acme", 3*day, embed.ID, "SUSPENDED")
	seed("support-desk", 30*day, "", "")
	seed("research-notebook", 300*day, embed.ID, "CANCELED")
	seed("batch-jobs", 7*day, "", "")
	seed("demo-kiosk", 2*day, embed.ID, "")
	seeded := 10

	// --- The browser: a fresh profile, killed in Cleanup even on failure.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Env("TZ=UTC", "LANG=en_US.UTF-8"), // dates on screen and in the pickers are UTC
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc) // kills the browser and waits for it
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	if err := chromedp.Do(tabCtx); err != nil { // starts the browser, with no timeout of its own
		t.Fatalf("start %s: %v", path, err)
	}
	ctx, cancel := context.WithTimeout(tabCtx, 90*time.Second)
	t.Cleanup(cancel)
	b := &browser{t: t, ctx: ctx}
	messages := chromedp.Console(tabCtx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.messages = append(b.messages, m)
			b.mu.Unlock()
		}
	}()
	b.do(chromedp.EmulateViewport(1280, 900))

	// --- Sign-in.
	b.do(chromedp.Navigate(s.url + "/"))
	b.waitFor("the sign-in page", `!document.getElementById('page-signin').hidden && location.hash === '#/signin'`)
	b.waitFor("focus in the license field", activeID+` === 'signin-license'`)
	b.shot("signin.png", false)
	b.do(chromedp.SendKeys(chromedp.ID("signin-license"), "lic_nope"), chromedp.Click(chromedp.ID("signin-submit")))
	b.waitFor("a malformed license refused", `document.getElementById('signin-license-error').textContent.includes('lic_ followed by 49')`)
	other, _ := domain.NewSecret(domain.LicensePrefix)
	b.do(chromedp.SetValue(chromedp.ID("signin-license"), other), chromedp.Click(chromedp.ID("signin-submit")))
	b.waitFor("an unknown license refused", `document.getElementById('signin-license-error').textContent.includes('not valid')`)
	if eval[bool](b, `sessionStorage.length === 0`) != true {
		t.Fatal("a refused license was kept")
	}
	b.do(clear("signin-license"), chromedp.SendKeys(chromedp.ID("signin-license"), lic+"\n"))
	b.waitFor("the Tokens page", `!document.getElementById('page-tokens').hidden && document.getElementById('account-name').textContent === 'Acme AI'`)
	if got := eval[string](b, `sessionStorage.getItem('tokend.license')`); got != lic {
		t.Fatalf("session storage holds %q", got)
	}
	if n := eval[int](b, `document.cookie.length`); n != 0 {
		t.Fatalf("the console set cookies: %d bytes", n)
	}
	b.do(chromedp.Reload())
	b.waitFor("still signed in after a reload", `!document.getElementById('page-tokens').hidden && document.getElementById('account-name').textContent === 'Acme AI'`)

	// --- Models: create two, see a refusal next to the field.
	b.do(chromedp.Click(chromedp.ID("nav-models")))
	b.waitFor("the Models page", `!document.getElementById('page-models').hidden && document.querySelectorAll('#models-body tr').length === 1`)
	b.do(chromedp.Click(chromedp.ID("model-submit")))
	b.waitFor("an empty model name refused next to the field", `!document.getElementById('model-name-error').hidden && document.getElementById('model-name').getAttribute('aria-invalid') === 'true'`)
	for _, name := range []string{"gpt-large", "gpt-small"} {
		b.do(chromedp.SendKeys(chromedp.ID("model-name"), name), chromedp.Click(chromedp.ID("model-submit")))
		b.waitFor("model "+name+" listed", `[...document.querySelectorAll('#models-body td')].some(td => td.textContent === `+js(name)+`)`)
	}
	b.waitFor("three models", `document.querySelectorAll('#models-body tr').length === 3`)
	b.shot("models.png", false)
	var models struct{ Models []struct{ ID, Name string } }
	s.call(lic, "GET", "/v1/models", nil, 200, &models)
	modelID := map[string]string{}
	for _, m := range models.Models {
		modelID[m.Name] = m.ID
	}
	if modelID["gpt-large"] == "" || modelID["gpt-small"] == "" {
		t.Fatalf("models = %+v", models)
	}

	// --- Tokens page: the seeded tokens with their details.
	b.do(chromedp.Click(chromedp.ID("nav-tokens")))
	b.waitFor("the seeded tokens", `document.querySelectorAll('#tokens-body tr').length === `+fmt.Sprint(seeded))
	mobile := row("mobile-app")
	b.waitFor("mobile-app's details", mobile+`.querySelector('.cell-expiration .relative').textContent === 'in 12 days' && `+
		mobile+`.querySelector('.cell-model').textContent === 'embed-v2' && `+
		mobile+`.querySelector('.cell-status').textContent === 'Active' && `+
		mobile+`.querySelector('.cell-hint code').textContent.startsWith('tkn_')`)
	time.Sleep(time.Until(now.Add(3500 * time.Millisecond))) // legacy-import expires
	b.do(chromedp.Click(chromedp.ID("f-reset")))             // reloads the list
	b.waitFor("the expired token flagged", row("legacy-import")+`.querySelector('.badge-expired') && `+
		row("legacy-import")+`.querySelector('.relative').textContent.startsWith('expired ')`)

	// --- Create a token: the secret is shown once, with a copy button.
	b.do(chromedp.Click(chromedp.ID("create-open")))
	b.waitFor("the create dialog, focus on the name", `document.getElementById('create-dialog').open && `+activeID+` === 'create-name'`)
	b.do(
		chromedp.SendKeys(chromedp.ID("create-name"), "alice-laptop"),
		chromedp.SendKeys(chromedp.ID("create-note"), "Alice's work laptop"),
		chromedp.SetValue(chromedp.ID("create-model"), modelID["gpt-large"]),
		chromedp.Click(chromedp.ID("create-submit")),
	)
	b.waitFor("the secret", `!document.getElementById('create-done').hidden && document.getElementById('create-secret').value.startsWith('tkn_')`)
	secret := eval[string](b, `document.getElementById('create-secret').value`)
	if !regexp.MustCompile(`^tkn_[0-9A-Za-z]{49}$`).MatchString(secret) {
		t.Fatalf("secret %q", secret)
	}
	b.waitFor("the warning", `document.getElementById('create-warning').textContent.includes('will not be shown again')`)
	b.do(chromedp.Click(chromedp.ID("create-copy")))
	b.waitFor("the copy button's answer", `document.getElementById('create-copy-status').textContent !== ''`)
	b.shot("create-secret.png", false)
	b.do(chromedp.Click(chromedp.ID("create-done-close")))
	b.waitFor("the dialog closed, focus back on its opener, the secret gone",
		noDialog+` && `+activeID+` === 'create-open' && document.getElementById('create-secret').value === ''`)
	var intro struct {
		Active bool
		Name   string
	}
	s.call("", "POST", "/v1/introspect", map[string]any{"token": secret}, 200, &intro)
	if !intro.Active || intro.Name != "alice-laptop" {
		t.Fatalf("introspect = %+v", intro)
	}
	alice := row("alice-laptop")
	b.waitFor("the new token in the table", alice+` && `+alice+`.querySelector('.cell-model').textContent === 'gpt-large' && `+
		alice+`.querySelector('.cell-hint code').textContent === `+js(secret[:8]+"…"))
	id := eval[string](b, alice+`.dataset.id`)
	aliceRow := rowByID(id)
	menuButton := `[data-menu-for=` + js(id) + `]`

	// --- The row menu from the keyboard.
	b.do(chromedp.Focus(chromedp.CSS(menuButton)), chromedp.KeyEvent(kb.ArrowDown))
	b.waitFor("the menu open on its first item", `document.activeElement.dataset.action === 'edit' && document.querySelector(`+js(menuButton)+`).getAttribute('aria-expanded') === 'true'`)
	b.do(chromedp.KeyEvent(kb.ArrowDown))
	b.waitFor("the second item", `document.activeElement.dataset.action === 'audit'`)
	b.do(chromedp.KeyEvent(kb.Escape))
	b.waitFor("the menu closed, focus on its button", activeMenu+` === `+js(id)+` && document.querySelector(`+js(menuButton)+`).getAttribute('aria-expanded') === 'false' && document.querySelector('.menu:not([hidden])') === null`)
	b.do(chromedp.KeyEvent(kb.Enter))
	b.waitFor("the menu open from Enter", `document.activeElement.dataset.action === 'edit'`)
	b.do(chromedp.KeyEvent(kb.Enter))
	b.waitFor("the edit window", editOpen+` && document.getElementById('edit-name').value === 'alice-laptop' && `+activeID+` === 'edit-name'`)
	b.waitFor("an assigned token's model: shown, not selectable, with Unassign",
		`document.getElementById('edit-model').disabled && document.getElementById('edit-model').value === `+js(modelID["gpt-large"])+` && !document.getElementById('edit-unassign').hidden`)
	b.do(chromedp.KeyEvent(kb.Escape))
	b.waitFor("Escape closes the window, focus back on the row's menu button", noDialog+` && `+activeMenu+` === `+js(id))

	// openEdit opens the edit window of the token from its row's menu, by mouse.
	openEdit := func() {
		t.Helper()
		b.do(chromedp.Click(chromedp.CSS(menuButton)))
		b.waitFor("the menu", `document.querySelector(`+js(menuButton)+`).getAttribute('aria-expanded') === 'true'`)
		b.do(chromedp.Click(chromedp.CSS(`#tokens-body tr[data-id=` + js(id) + `] [data-action=edit]`)))
		b.waitFor("the edit window", editOpen+` && `+activeID+` === 'edit-name'`)
	}
	// update presses Update Token and waits for the window to close and the table to settle.
	update := func() {
		t.Helper()
		b.do(chromedp.Click(chromedp.ID("edit-submit")))
		b.waitFor("the window closed after Update Token", noDialog+` && `+listIdle)
	}
	api := func() tokenView {
		var v tokenView
		s.call(lic, "GET", "/v1/tokens/"+id, nil, 200, &v)
		return v
	}

	// --- Each field through the edit window; the table follows.
	openEdit()
	b.do(clear("edit-name"), chromedp.SendKeys(chromedp.ID("edit-name"), "alice-laptop-2"))
	update()
	b.waitFor("the new name in the table", aliceRow+`.querySelector('.token-name').textContent === 'alice-laptop-2'`)
	b.waitFor("focus back on the row's menu button", activeMenu+` === `+js(id))

	openEdit()
	b.do(chromedp.SetValue(chromedp.ID("edit-note"), "Alice's new laptop, issued by IT on day one"))
	b.shot("edit-dialog.png", false)
	update()
	b.waitFor("the new note in the table", aliceRow+`.querySelector('.note').textContent === "Alice's new laptop, issued by IT on day one"`)

	exp := now.Add(12*day + 2*time.Hour).UTC().Truncate(time.Minute)
	openEdit()
	b.do(chromedp.SetValue(chromedp.ID("edit-expiration"), exp.Format("2006-01-02T15:04")))
	update()
	b.waitFor("the new expiration in the table", aliceRow+`.querySelector('.cell-expiration .relative').textContent === 'in 12 days'`)
	if v := api(); v.ExpirationDate != exp.Unix() {
		t.Fatalf("expirationDate = %d, want %d (%s)", v.ExpirationDate, exp.Unix(), exp)
	}

	openEdit()
	b.do(chromedp.SetValue(chromedp.ID("edit-status"), "SUSPENDED"))
	update()
	b.waitFor("the Suspended badge", aliceRow+`.querySelector('.cell-status').textContent === 'Suspended'`)

	// A stale window: another client renames the token meanwhile.
	openEdit()
	s.call(lic, "PATCH", "/v1/tokens/"+id, map[string]any{"name": "alice-laptop-3"}, 200, nil)
	b.do(chromedp.SetValue(chromedp.ID("edit-note"), "a stale edit"), chromedp.Click(chromedp.ID("edit-submit")))
	b.waitFor("version_conflict with a reload", `!document.getElementById('edit-error').hidden && document.getElementById('edit-error-text').textContent.includes('changed elsewhere') && `+activeID+` === 'edit-reload'`)
	b.do(chromedp.Click(chromedp.ID("edit-reload")))
	b.waitFor("the reloaded token", `document.getElementById('edit-name').value === 'alice-laptop-3' && document.getElementById('edit-error').hidden`)
	b.do(chromedp.Click(chromedp.CSS(`#edit-dialog .close-dialog`)))
	b.waitFor("the table shows the other client's name", noDialog+` && `+aliceRow+`.querySelector('.token-name').textContent === 'alice-laptop-3'`)
	if v := api(); v.Note == nil || *v.Note == "a stale edit" {
		t.Fatalf("the stale edit was saved: %+v", v)
	}

	// Another model while assigned: the API says unassign first. The select is
	// disabled for an assigned token, so the test enables it, as a stale or
	// tampered form would, to see the refusal land next to the model.
	openEdit()
	b.do(
		chromedp.Evaluate[chromedp.Void](`document.getElementById('edit-model').disabled = false`),
		chromedp.SetValue(chromedp.ID("edit-model"), modelID["gpt-small"]),
		chromedp.Click(chromedp.ID("edit-submit")),
	)
	b.waitFor("'unassign first' next to the model", `!document.getElementById('edit-model-error').hidden && document.getElementById('edit-model-error').textContent.includes('unassign first') && document.getElementById('edit-model').getAttribute('aria-invalid') === 'true'`)
	b.shot("edit-unassign-first.png", false)
	if v := api(); v.ModelName == nil || *v.ModelName != "gpt-large" {
		t.Fatalf("model after the refusal = %+v", v.ModelName)
	}
	// Unassign, then assign the other model.
	b.do(chromedp.Click(chromedp.ID("edit-unassign")))
	b.waitFor("the model unassigned, the select enabled", `!document.getElementById('edit-model').disabled && document.getElementById('edit-model').value === '' && document.getElementById('edit-unassign').hidden && `+activeID+` === 'edit-model'`)
	b.waitFor("the table shows no model, the window says so", aliceRow+`.querySelector('.cell-model').textContent === 'Unassigned' && document.getElementById('edit-said').textContent.startsWith('Model unassigned')`)
	b.do(chromedp.SetValue(chromedp.ID("edit-model"), modelID["gpt-small"]))
	update()
	b.waitFor("the table shows the new model", aliceRow+`.querySelector('.cell-model').textContent === 'gpt-small'`)

	// --- Filters, sorting and paging, each checked against the API's answer.
	total := seeded + 1
	expect := func(what, query string) {
		t.Helper()
		var page struct{ Tokens []tokenView }
		s.call(lic, "GET", "/v1/tokens?"+query, nil, 200, &page)
		names := make([]string, len(page.Tokens))
		for i, v := range page.Tokens {
			names[i] = v.Name
		}
		want, _ := json.Marshal(names)
		b.waitFor(what+": "+string(want), listIdle+` && `+uiNames+` === `+js(string(want)))
	}
	b.do(chromedp.Click(chromedp.CSS(`#filters input[name=status][value=SUSPENDED]`)))
	expect("status Suspended", "status=SUSPENDED&limit=25")
	b.do(chromedp.Click(chromedp.CSS(`#filters input[name=status][value=CANCELED]`)))
	expect("status Suspended or Canceled", "status=SUSPENDED&status=CANCELED&limit=25")
	b.do(chromedp.Click(chromedp.ID("f-reset")))
	b.do(chromedp.SendKeys(chromedp.ID("f-q"), "ALICE"))
	expect("a name search", "q=alice")
	b.do(chromedp.Click(chromedp.ID("f-reset")))
	b.do(chromedp.SetValue(chromedp.ID("f-model"), embed.ID))
	expect("model embed-v2", "modelId="+embed.ID)
	b.do(chromedp.Click(chromedp.ID("f-reset")))
	b.do(chromedp.SetValue(chromedp.ID("f-assigned"), "false"))
	expect("unassigned", "assigned=false")
	b.do(chromedp.Click(chromedp.ID("f-reset")))
	before := now.Add(8 * day).UTC().Truncate(time.Minute)
	b.do(chromedp.SetValue(chromedp.ID("f-before"), before.Format("2006-01-02T15:04")))
	expect("expiring within 8 days", "expiresBefore="+fmt.Sprint(before.Unix()))
	b.do(chromedp.Click(chromedp.ID("f-reset")))
	expect("no filter", "limit=25")

	b.do(chromedp.Click(chromedp.CSS(`th[data-sort=name] button`)))
	expect("sorted by name", "sort=name")
	b.waitFor("aria-sort ascending", `document.querySelector('th[data-sort=name]').getAttribute('aria-sort') === 'ascending' && document.querySelector('th[data-sort=createdAt]').getAttribute('aria-sort') === 'none'`)
	b.do(chromedp.Click(chromedp.CSS(`th[data-sort=name] button`)))
	expect("sorted by name, descending", "sort=-name")
	b.do(chromedp.Click(chromedp.CSS(`th[data-sort=expirationDate] button`)))
	expect("sorted by expiration", "sort=expirationDate")

	b.do(chromedp.SetValue(chromedp.ID("f-limit"), "10"))
	expect("the first page of ten", "sort=expirationDate&limit=10")
	var first struct{ NextCursor string }
	s.call(lic, "GET", "/v1/tokens?sort=expirationDate&limit=10", nil, 200, &first)
	b.waitFor("Next enabled, Previous not", `!document.getElementById('page-next').disabled && document.getElementById('page-prev').disabled`)
	b.do(chromedp.Click(chromedp.ID("page-next")))
	expect("the second page", "sort=expirationDate&limit=10&cursor="+url.QueryEscape(first.NextCursor))
	b.waitFor("the last page", `document.getElementById('page-next').disabled && !document.getElementById('page-prev').disabled && document.getElementById('tokens-summary').textContent === 'Page 2: tokens 11 to `+fmt.Sprint(total)+`'`)
	b.do(chromedp.Click(chromedp.ID("page-prev")))
	expect("back on the first page", "sort=expirationDate&limit=10")
	b.do(chromedp.Click(chromedp.ID("f-reset")))
	b.do(chromedp.Click(chromedp.CSS(`th[data-sort=createdAt] button`)), chromedp.Click(chromedp.CSS(`th[data-sort=createdAt] button`)))
	expect("newest first again", "sort=-createdAt")
	b.shot("tokens.png", true)

	// --- Phone width: the rows become cards.
	b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	b.waitFor("cards", `getComputedStyle(document.querySelector('#tokens-body tr')).display === 'block' && document.documentElement.scrollWidth <= 390`)
	b.do(chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, document.getElementById('filters').getBoundingClientRect().bottom + scrollY - 60)`))
	b.shot("tokens-phone.png", false)
	b.do(chromedp.EmulateViewport(1280, 900))

	// --- Dark.
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
	}); err != nil {
		t.Fatal(err)
	}
	b.waitFor("dark colours", `matchMedia('(prefers-color-scheme: dark)').matches && getComputedStyle(document.body).backgroundColor === 'rgb(18, 21, 26)'`)
	b.shot("tokens-dark.png", false)
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "light"}},
	}); err != nil {
		t.Fatal(err)
	}

	// --- Markup in a name is text: nothing parses it, nothing runs.
	hostile := `<img src=x onerror="window.pwned=1"><b>bold</b>`
	seed(hostile, 5*day, "", "")
	seeded++
	b.do(chromedp.Click(chromedp.ID("f-reset"))) // reloads the list
	b.waitFor("the hostile name shown as text", row(hostile)+` && `+row(hostile)+`.querySelector('.token-name').childElementCount === 0`)
	if eval[bool](b, `window.pwned === undefined && document.querySelectorAll('#tokens-body img, #tokens-body b').length === 0`) != true {
		t.Fatal("a token's name became markup")
	}

	// --- Cancel, after a confirmation.
	b.do(chromedp.Click(chromedp.CSS(menuButton)), chromedp.Click(chromedp.CSS(`#tokens-body tr[data-id=`+js(id)+`] [data-action=cancel]`)))
	b.waitFor("the confirmation, focus on the safe choice", `document.getElementById('confirm-dialog').open && `+activeID+` === 'confirm-cancel' && document.getElementById('confirm-ok').textContent === 'Cancel token'`)
	b.do(chromedp.Click(chromedp.ID("confirm-ok")))
	b.waitFor("the Canceled badge", noDialog+` && `+aliceRow+`.querySelector('.cell-status').textContent === 'Canceled' && `+
		aliceRow+`.querySelector('[data-action=cancel]').getAttribute('aria-disabled') === 'true'`)
	// A canceled token refuses changes, and the window says so.
	openEdit()
	b.do(chromedp.SendKeys(chromedp.ID("edit-name"), "-x"), chromedp.Click(chromedp.ID("edit-submit")))
	b.waitFor("token_canceled", `document.getElementById('edit-error-text').textContent.includes('canceled')`)
	b.do(chromedp.Click(chromedp.CSS(`#edit-dialog .close-dialog`)))
	b.waitFor("closed", noDialog)

	// --- Delete: "Keep it" keeps it; confirming deletes it.
	b.do(chromedp.Click(chromedp.CSS(menuButton)), chromedp.Click(chromedp.CSS(`#tokens-body tr[data-id=`+js(id)+`] [data-action=delete]`)))
	b.waitFor("the delete confirmation", `document.getElementById('confirm-dialog').open && document.getElementById('confirm-ok').textContent === 'Delete token'`)
	b.do(chromedp.Click(chromedp.ID("confirm-cancel")))
	b.waitFor("kept, focus back on the menu button", noDialog+` && `+aliceRow+` && `+activeMenu+` === `+js(id))
	b.do(chromedp.Click(chromedp.CSS(menuButton)), chromedp.Click(chromedp.CSS(`#tokens-body tr[data-id=`+js(id)+`] [data-action=delete]`)))
	b.waitFor("the delete confirmation", `document.getElementById('confirm-dialog').open`)
	b.do(chromedp.Click(chromedp.ID("confirm-ok")))
	b.waitFor("the row gone", noDialog+` && `+listIdle+` && !`+aliceRow+` && document.querySelectorAll('#tokens-body tr').length === `+fmt.Sprint(seeded))
	s.call(lic, "GET", "/v1/tokens/"+id, nil, 404, nil)

	// --- The audit trail of the deleted token: every change, from → to, actor, time.
	b.do(chromedp.Evaluate[chromedp.Void](`location.hash = '#/tokens/' + encodeURIComponent(` + js(id) + `) + '/audit'`))
	wantTypes := []string{"Issued", "Renamed", "Note changed", "Expiration changed", "Suspended", "Renamed", "Model unassigned", "Model assigned", "Canceled", "Deleted"}
	b.waitFor("the whole trail", `document.querySelectorAll('#audit-list li').length === `+fmt.Sprint(len(wantTypes)))
	var types []string
	if err := json.Unmarshal([]byte(eval[string](b, `JSON.stringify([...document.querySelectorAll('#audit-list .event-type')].map(e => e.textContent))`)), &types); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(types, wantTypes) {
		t.Fatalf("trail = %q, want %q", types, wantTypes)
	}
	entry := func(i int) string {
		return eval[string](b, `document.querySelectorAll('#audit-list li')[`+fmt.Sprint(i)+`].innerText.replace(/\s+/g, ' ')`)
	}
	for i, want := range map[int][]string{
		0: {"Name alice-laptop", "Model gpt-large", "Status Active", "by license "},
		1: {"alice-laptop → alice-laptop-2"},
		4: {"Status Active → Suspended"},
		6: {"Model gpt-large → none"},
		7: {"Model none → gpt-small"},
		8: {"Suspended → Canceled"},
	} {
		got := entry(i)
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("audit entry %d = %q, lacks %q", i, got, w)
			}
		}
	}
	b.waitFor("the subtitle of a deleted token", `document.getElementById('audit-sub').textContent.includes('deleted')`)
	b.waitFor("times", `[...document.querySelectorAll('#audit-list time')].every(t => t.dateTime.endsWith('Z') && t.textContent !== '')`)
	b.do(chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	b.shot("audit.png", true)

	// The menu's Audit trail item, from the table.
	b.do(chromedp.Click(chromedp.CSS(".back")))
	b.waitFor("the table, loaded afresh", `!document.getElementById('page-tokens').hidden && `+listIdle)
	mobileID := eval[string](b, row("mobile-app")+`.dataset.id`)
	b.do(chromedp.Click(chromedp.CSS(`[data-menu-for=`+js(mobileID)+`]`)), chromedp.Click(chromedp.CSS(`#tokens-body tr[data-id=`+js(mobileID)+`] [data-action=audit]`)))
	b.waitFor("mobile-app's trail", `document.getElementById('audit-title').textContent.includes('mobile-app') && document.querySelectorAll('#audit-list li').length === 1`)

	// --- Sign out: the license leaves the tab.
	b.do(chromedp.Click(chromedp.ID("sign-out")))
	b.waitFor("the sign-in page, nothing stored", `!document.getElementById('page-signin').hidden && sessionStorage.length === 0 && document.getElementById('topbar').hidden`)
	b.do(chromedp.Evaluate[chromedp.Void](`location.hash = '#/tokens'`))
	b.waitFor("signed out stays signed out", `location.hash === '#/signin' && !document.getElementById('page-signin').hidden`)

	// --- Nothing the CSP refused, no uncaught exception.
	time.Sleep(100 * time.Millisecond)
	b.mu.Lock()
	for _, m := range b.messages {
		if m.IsException() || strings.Contains(m.Text, "Content Security Policy") || strings.Contains(m.Text, "Trusted Type") {
			t.Errorf("the page logged: %s (%s:%d)", m, m.URL, m.Line+1)
		}
	}
	b.mu.Unlock()
	t.Logf("browser test took %v", time.Since(start).Round(time.Millisecond))
}
