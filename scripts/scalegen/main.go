// Command scalegen writes N OSV records made from the real records of a
// corpus, for the scale benchmark (scripts/bench-scale.sh): a zip of
// N .json files, as an OSV ecosystem's all.zip.
//
// Record i is a copy of corpus record i mod M (M records in the corpus,
// every ecosystem, in sorted path order, one per id). Copy 0 is the record
// as it is, but for its packages' purls, which are dropped; copy k > 0 also
// gets the id "<id>-s<k>", package names "<name>-s<k>" and its aliases,
// related and upstream ids suffixed alike, so that every id, alias and
// (ecosystem, name) of a copy is distinct while each record keeps its real
// shape and size. A store of any N therefore holds the corpus's real
// records, and the same scan targets find the same vulnerabilities in
// every store.
//
//	go run ./scripts/scalegen -corpus ../shared/corpus/osv -n 50000 -o osv-50000.zip
//
// -set S > 0 writes the same sequence with every copy renamed, copy 0
// included: the suffix is "-v<S>s<k>". The records of set S have the shape
// and nearly the size of those of set 0, and none of their ids, aliases
// or package names is in another set: the records of a kit that replaces
// the first one.
//
// -modify M > 0 gives every M-th record (i mod M = 0) another modification
// time: the same records on a later day, for a delta kit.
//
// It prints "records N json BYTES": BYTES is the records' compact JSON
// size.
package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/klauspost/compress/flate"
)

// marker stands for the copy suffix in a template: JSON-encoded it is
// `\u0001K`, which no real record contains.
const marker = "\x01K"

func main() {
	corpus := flag.String("corpus", "", "directory of OSV records (searched recursively for *.json)")
	n := flag.Int("n", 50000, "records to write")
	set := flag.Int("set", 0, "the record set: every set > 0 renames all its records (copy k gets the suffix -v<set>s<k>)")
	modify := flag.Int("modify", 0, "give every M-th record another modification time (a later day)")
	out := flag.String("o", "", "the zip to write")
	flag.Parse()
	if *corpus == "" || *out == "" || *n <= 0 || *set < 0 || *modify < 0 {
		fmt.Fprintln(os.Stderr, "usage: scalegen -corpus DIR -n N [-set S] [-modify M] -o OUT.zip")
		os.Exit(2)
	}
	if err := run(*corpus, *n, *set, *modify, *out); err != nil {
		fmt.Fprintln(os.Stderr, "scalegen:", err)
		os.Exit(1)
	}
}

func run(corpus string, n, set, modify int, out string) error {
	var paths []string
	err := filepath.WalkDir(corpus, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(p) == ".json" {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		return err
	}
	slices.Sort(paths)
	var templates [][]byte
	ids := map[string]bool{}
	for _, p := range paths {
		id, t, err := template(p)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if t != nil && !ids[id] { // AlmaLinux releases share some ids
			ids[id] = true
			templates = append(templates, t)
		}
	}
	if len(templates) == 0 {
		return fmt.Errorf("no OSV records under %s", corpus)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestSpeed)
	})
	enc := []byte(`\u0001K`)
	var size int64
	for i := range n {
		k := i / len(templates)
		suffix := ""
		switch {
		case set > 0:
			suffix = "-v" + strconv.Itoa(set) + "s" + strconv.Itoa(k)
		case k > 0:
			suffix = "-s" + strconv.Itoa(k)
		}
		rec := bytes.ReplaceAll(templates[i%len(templates)], enc, []byte(suffix))
		if modify > 0 && i%modify == 0 {
			rec = remodified(rec)
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("r%07d.json", i), Method: zip.Deflate})
		if err != nil {
			return err
		}
		if _, err := w.Write(rec); err != nil {
			return err
		}
		size += int64(len(rec))
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Printf("records %d json %d\n", n, size)
	return nil
}

// template reads one record and marks where a copy's suffix goes; it
// returns nil for a file that is not an OSV record with an id.
func template(p string) (string, []byte, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return "", nil, err
	}
	var rec map[string]any
	if err := json.Unmarshal(data, &rec); err != nil {
		return "", nil, err
	}
	id, _ := rec["id"].(string)
	if id == "" {
		return "", nil, nil
	}
	rec["id"] = id + marker
	// Aliases, related and upstream ids get the suffix too: in a real
	// database an alias links a handful of records, not one per copy.
	for _, k := range []string{"aliases", "related", "upstream"} {
		ids, _ := rec[k].([]any)
		for i, a := range ids {
			if a, ok := a.(string); ok {
				ids[i] = a + marker
			}
		}
	}
	affected, _ := rec["affected"].([]any)
	for _, a := range affected {
		a, _ := a.(map[string]any)
		pkg, _ := a["package"].(map[string]any)
		if name, ok := pkg["name"].(string); ok && name != "" {
			pkg["name"] = name + marker
			delete(pkg, "purl")
		}
	}
	t, err := json.Marshal(rec)
	return id, t, err
}

// remodified returns rec with the modification time of a later day.
func remodified(rec []byte) []byte {
	key := []byte(`"modified":"`)
	i := bytes.Index(rec, key)
	if i < 0 {
		return rec
	}
	start := i + len(key)
	end := bytes.IndexByte(rec[start:], '"')
	if end < 0 {
		return rec
	}
	return slices.Concat(rec[:start], []byte("2026-12-01T00:00:00Z"), rec[start+end:])
}
