package domain_test

import (
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// allowedImport reports whether the domain may depend on path: the standard
// library (no dot in the first path element), github.com/google/uuid, and
// the domain itself.
func allowedImport(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".") || path == "github.com/google/uuid" || path == "github.com/tokend/tokend/domain"
}

// TestImportsDirect reads the import lists of the package's own (non-test)
// files: standard library and uuid only.
func TestImportsDirect(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		n++
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !allowedImport(p) {
				t.Errorf("%s imports %s: the domain may import only the standard library and github.com/google/uuid", f, p)
			}
		}
	}
	if n == 0 {
		t.Fatal("no source files found")
	}
}

// TestImportsTransitive asks `go list -deps` for everything the package
// builds on: nothing outside the standard library but uuid.
func TestImportsTransitive(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH; TestImportsDirect still holds the rule")
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if p != "github.com/google/uuid" && p != "github.com/tokend/tokend/domain" {
			t.Errorf("the domain depends on %s: it may import only the standard library and github.com/google/uuid", p)
		}
	}
}
