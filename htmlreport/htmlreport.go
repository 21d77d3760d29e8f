package htmlreport

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"sync"
	"time"
)

//go:embed templates/*.html.tmpl
var templateFS embed.FS

// templates are parsed on first use, not at start-up: every ferry
// process (a scan too) would pay for parsing them.
var templates = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("").Funcs(template.FuncMap{
		"join": func(s any, sep string) string {
			switch v := s.(type) {
			case []string:
				return strings.Join(v, sep)
			case fmt.Stringer:
				return v.String()
			}
			return fmt.Sprint(s)
		},
	}).ParseFS(templateFS, "templates/*.html.tmpl"))
})

// page is what every report's head and foot need.
type page struct {
	Title        string
	FerryVersion string
	// Source names the command that wrote the report.
	Source string
}

// render executes the named template into a buffer first, so that w gets
// a whole report or nothing of it.
func render(w io.Writer, name string, data any) error {
	var buf bytes.Buffer
	if err := templates().ExecuteTemplate(&buf, name, data); err != nil {
		return fmt.Errorf("rendering %s report: %w", name, err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// timeText is how reports print a time: UTC, RFC 3339; "" for the zero
// time.
func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
