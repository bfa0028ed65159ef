package config

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stagecoach/stagecoach/internal/contract"
)

// The bad-input corpus: testdata/invalid/NAME.yaml is a config Load must refuse, and
// NAME.want lists substrings its error must contain, one per line. Validation errors
// are listed as ":LINE:COLUMN: path: what is wrong", after a "has N problems:" line
// that pins the count; syntax errors as their first line and the excerpt line marked
// ">". Plaintext secrets in the corpus contain "s3cr3t", which no error may repeat.
//
// To add a case, write NAME.yaml, run the test to see the error, and copy into
// NAME.want the parts that must not change.

// secretMarker is in every plaintext secret value of the corpus.
const secretMarker = "s3cr3t"

// parseBound is how long one Parse may take. The worst inputs below take about
// 0.5 s on a 2-core CI machine; the bound leaves room for a loaded one.
const parseBound = 5 * time.Second

func TestInvalidCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			wantFile := strings.TrimSuffix(f, ".yaml") + ".want"
			data, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatalf("%s has no %s listing the expected messages: %v", f, wantFile, err)
			}
			start := time.Now()
			_, err = Load(f)
			checkRefused(t, err, time.Since(start), nonEmptyLines(string(data)))
		})
	}
	wants, _ := filepath.Glob("testdata/invalid/*.want")
	for _, w := range wants {
		if _, err := os.Stat(strings.TrimSuffix(w, ".want") + ".yaml"); err != nil {
			t.Errorf("%s has no .yaml beside it", w)
		}
	}
}

// checkRefused asserts err is an error holding every wanted substring, that it
// repeats no plaintext secret and that producing it took less than parseBound.
func checkRefused(t *testing.T, err error, took time.Duration, wants []string) {
	t.Helper()
	if err == nil {
		t.Fatal("the config was accepted; want an error")
	}
	msg := err.Error()
	for _, w := range wants {
		if !strings.Contains(msg, w) {
			t.Errorf("the error lacks %q", w)
		}
	}
	if strings.Contains(msg, secretMarker) {
		t.Errorf("the error repeats a plaintext secret (%q); secrets must never reach logs", secretMarker)
	}
	if took > parseBound {
		t.Errorf("refusing took %v; want under %v", took, parseBound)
	}
	if t.Failed() {
		t.Logf("full error:\n%s", msg)
	}
}

func nonEmptyLines(s string) []string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// TestCorpusCoversReservedNames keeps the reserved-*.yaml cases complete: a
// variable added to the contract must be refused in every scope.
func TestCorpusCoversReservedNames(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/reserved-*.yaml")
	for _, f := range files {
		if strings.HasSuffix(f, "reserved-prefixes.yaml") {
			continue
		}
		_, err := Load(f)
		if err == nil {
			t.Errorf("%s was accepted", f)
			continue
		}
		for _, name := range contract.Reserved() {
			if !strings.Contains(err.Error(), "."+name+": "+name+" is set by stagecoach") {
				t.Errorf("%s does not refuse %s; add it to the file and to its .want", f, name)
			}
		}
	}
}

// TestRefuseGenerated covers inputs too large or too odd to commit.
func TestRefuseGenerated(t *testing.T) {
	const valid = "app: acme\nregion: us-east-1\nsource:\n  repository: acme/shop\nstages:\n  - name: dev\nservices:\n  - name: web\n"
	junk := func(n int) []byte {
		r := rand.New(rand.NewPCG(1, 2))
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		return b
	}
	tests := []struct {
		name string
		data []byte
		want []string
	}{
		{"binary junk", junk(4096), []string{"stagecoach.yaml:1:", "is this the right file?"}},
		{"gzip header", append([]byte{0x1f, 0x8b, 0x08, 0x00}, junk(64)...), []string{"stagecoach.yaml:1:1: control character U+001F is not allowed in YAML"}},
		{"NUL in a value", []byte("app: ac\x00me\n"), []string{"stagecoach.yaml:1:8: control character U+0000 is not allowed in YAML"}},
		{"20 MB", []byte(strings.Repeat(valid, 20<<20/len(valid))), []string{"stagecoach.yaml: the file is 20.0 MiB, but a config may be at most 256 KiB"}},
		{"just over the limit", []byte(valid + "# " + strings.Repeat("x", MaxFileSize) + "\n"), []string{"but a config may be at most 256 KiB"}},
		{"deep flow", []byte("app: " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000)), []string{"stagecoach.yaml:1:21: lists and mappings nest more than 16 levels deep"}},
		{"deep flow, unclosed", []byte("app: " + strings.Repeat("{a: ", 60000)), []string{"nest more than 16 levels deep"}},
		{"deep block", []byte(strings.Repeat("- ", 100000) + "x"), []string{"nest more than 16 levels deep"}},
		{"deep keys", []byte(strings.Repeat("? ", 100000) + "x"), []string{"nest more than 16 levels deep"}},
		{"wide block mapping", []byte(valid + "    env:\n" + wideMap(5000, "      ", "\n")), []string{"stagecoach.yaml:1010:7: a list or mapping has more than 1000 entries"}},
		{"wide flow mapping", []byte(valid + "    env: {" + wideMap(5000, "", ", ") + "}\n"), []string{"a list or mapping has more than 1000 entries"}},
		{"wide list", []byte("app: [" + strings.Repeat("a, ", 50000) + "]\n"), []string{"a list or mapping has more than 1000 entries"}},
		{"alias bomb, 30 levels", aliasBomb(30), []string{"aliases expand the file by more than 10000 values"}},
		{"long line", []byte("app: acme\nregion: " + strings.Repeat("a: ", 80000) + "\n"), []string{"stagecoach.yaml:2:"}},
		{"long value", []byte("app: " + strings.Repeat("a", 200000) + "\n"), []string{"app: \"aaaa", "aaaa…\" has 200000 characters"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := Parse(tc.data, "stagecoach.yaml")
			checkRefused(t, err, time.Since(start), tc.want)
			if err != nil && len(err.Error()) > 20000 {
				t.Errorf("the error has %d characters; it must stay readable", len(err.Error()))
			}
		})
	}
}

func wideMap(n int, indent, sep string) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(indent + "K" + strings.Repeat("x", i%7) + strconv.Itoa(i) + ": v" + sep)
	}
	return b.String()
}

// aliasBomb nests aliases levels deep, each level nine aliases of the one before.
func aliasBomb(levels int) []byte {
	var b strings.Builder
	b.WriteString("app: acme\nregion: us-east-1\nsource: {repository: acme/shop}\nstages: [{name: dev}]\nservices:\n  - name: web\n    paths: &l0 [a, b, c, d, e, f, g, h, i]\n")
	for i := 1; i < levels; i++ {
		b.WriteString("  - name: s\n    paths: &l" + strconv.Itoa(i) + " [")
		for k := range 9 {
			if k > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*l" + strconv.Itoa(i-1))
		}
		b.WriteString("]\n")
	}
	return []byte(b.String())
}

// TestLoadRefusesHugeFileEarly checks Load reports a huge file's real size and does
// not read all of it first.
func TestLoadRefusesHugeFileEarly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stagecoach.yaml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	// A sparse 1 GiB file: reading it all would take seconds and a gigabyte.
	if err := f.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	start := time.Now()
	_, err = Load(path)
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), path+": the file is 1024.0 MiB, but a config may be at most 256 KiB") {
		t.Errorf("Load of a 1 GiB file: %v", err)
	}
	if took > time.Second {
		t.Errorf("Load took %v to refuse a 1 GiB file; it should stop reading at the limit", took)
	}
}
