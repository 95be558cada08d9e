package httpapi

import (
	"testing"

	"github.com/tokend/tokend/domain"
)

// TestParseListQuery pins the list query's forms.
func TestParseListQuery(t *testing.T) {
	p, err := parseListQuery("status=active&status=CANCELLED&assigned=false&q=Bob&expiresBefore=10&expiresAfter=1&sort=-name&limit=1000&cursor=abc&modelId=m")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Statuses) != 2 || p.Statuses[1] != domain.StatusCanceled || *p.Assigned || p.Q != "Bob" ||
		*p.ExpiresBefore != 10 || *p.ExpiresAfter != 1 || p.Sort != "-name" || p.Limit != 1000 || p.Cursor != "abc" || p.ModelID != "m" {
		t.Fatalf("parsed %+v", p)
	}
	p, err = parseListQuery("")
	if err != nil || p.Sort != "-createdAt" || p.Limit != 50 || p.Statuses != nil {
		t.Fatalf("defaults %+v %v", p, err)
	}
	for _, q := range []string{"limit=01x", "limit=+5", "limit= 5", "expiresAfter=1e3", "assigned=TRUE", "q=%ff", "x=1", "status=%", "limit=1;sort=name"} {
		if _, err := parseListQuery(q); domain.CodeOf(err) != domain.CodeInvalidArgument {
			t.Errorf("%s: %v", q, err)
		}
	}
	a, err := parseAuditQuery("since=1&until=1&type=tokenissued&limit=5", true)
	if err != nil || *a.Since != 1 || a.Type != domain.TokenIssued || a.Limit != 5 {
		t.Fatalf("audit %+v %v", a, err)
	}
}
