package verify

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/bundle"
)

// TestWriteTextNamesBase checks that the table of a delta kit's report says
// which base the kit needs.
func TestWriteTextNamesBase(t *testing.T) {
	at := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	r := newReport(at)
	r.OK = true
	r.setInfo(bundle.Info{
		Name: "acme-42", Channel: "acme", Version: 42, Created: at, Expires: at.Add(time.Hour),
		Base: &bundle.Base{Channel: "acme", Version: 41, TargetsSHA256: "abc123"},
	})
	var buf bytes.Buffer
	if err := r.WriteText(&buf, "acme-42.delta.kit.tar.zst"); err != nil {
		t.Fatal(err)
	}
	if want := "acme v41 (targets sha256 abc123)"; !strings.Contains(buf.String(), want) {
		t.Errorf("report does not name the base %q:\n%s", want, buf.String())
	}
}
