package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeModule is the path the test serves this checkout under: a released version of
// github.com/stagecoach/stagecoach must never be shadowed in the module cache by a
// test's build, and .test is a reserved top-level domain.
const fakeModule = "stagecoach.test/stagecoach"

// TestUpgradeThroughModuleProxy plays a release and an upgrade offline: this checkout
// is served as v0.1.0, v0.1.1 (the same code) and v0.2.0 (one construct ID renamed: the
// pipeline stack's access-log bucket) from a file GOPROXY, with the module zips built
// here. `go run …/cmd/stagecoach@v0.1.0 init` sets up an app repository; the upgrade
// check finds no stateful replacement from v0.1.0 to v0.1.1, and from v0.1.0 to v0.2.0
// reports the bucket and fails with -fail.
//
// Three versions mean three links of a CDK binary and four synths; -short skips it.
func TestUpgradeThroughModuleProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: links three CDK binaries")
	}
	checkout, _ := filepath.Abs("../..")
	cdk := filepath.Join(checkout, "node_modules", ".bin", "cdk")
	if _, err := os.Stat(cdk); err != nil {
		t.Fatalf("the CDK CLI is not installed (make deps): %v", err)
	}
	start := time.Now()
	modcache := strings.TrimSpace(goEnv(t, "GOMODCACHE"))
	t.Cleanup(func() {
		// What the test put into the shared module cache goes again.
		for _, d := range []string{filepath.Join(modcache, "stagecoach.test"), filepath.Join(modcache, "cache", "download", "stagecoach.test")} {
			filepath.WalkDir(d, func(p string, _ fs.DirEntry, _ error) error { os.Chmod(p, 0o755); return nil })
			os.RemoveAll(d)
		}
	})
	proxy := t.TempDir()
	files, err := exec.Command("git", "-C", checkout, "ls-files", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatal(err)
	}
	rename := func(path string, b []byte) []byte {
		if path != "internal/stacks/pipeline.go" {
			return b
		}
		const from, to = `logstore.AccessLogBucket(st.Stack, "AccessLogs",`, `logstore.AccessLogBucket(st.Stack, "AccessLog",`
		if !bytes.Contains(b, []byte(from)) {
			t.Fatalf("internal/stacks/pipeline.go no longer has %s: pick another construct ID to rename", from)
		}
		return bytes.Replace(b, []byte(from), []byte(to), 1)
	}
	for _, v := range []struct {
		version string
		patch   func(string, []byte) []byte
	}{{"v0.1.0", nil}, {"v0.1.1", nil}, {"v0.2.0", rename}} {
		serve(t, proxy, checkout, strings.Split(strings.TrimSpace(string(files)), "\n"), v.version, v.patch)
	}
	if err := os.WriteFile(filepath.Join(proxy, fakeModule, "@v", "list"), []byte("v0.1.0\nv0.1.1\nv0.2.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOPROXY", "file://"+proxy+",file://"+filepath.Join(modcache, "cache", "download"))
	// Every other module comes from the module cache, verified when it was downloaded.
	t.Setenv("GOSUMDB", "off")
	t.Setenv("GOFLAGS", "-mod=mod")
	// The go command's module index (in GOCACHE) trusts a module version never to
	// change; these test versions are rebuilt from the working tree on every run, so
	// an index kept from an earlier run would hold stale import lists.
	t.Setenv("GODEBUG", "goindex=0")
	t.Setenv("CI", "")

	repo := t.TempDir()
	for _, args := range [][]string{{"init", "-q"}, {"remote", "add", "origin", "https://github.com/acme/shop.git"}} {
		if out, err := exec.Command("git", append([]string{"-C", repo}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	os.WriteFile(filepath.Join(repo, "Dockerfile"), []byte("FROM node:20\nEXPOSE 3000\n"), 0o644)
	cmd := exec.Command("go", "run", fakeModule+"/cmd/stagecoach@v0.1.0", "init", "-C", repo)
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run …@v0.1.0 init: %v\n%s", err, out)
	}
	infra := filepath.Join(repo, "infra")
	gomod, _ := os.ReadFile(filepath.Join(infra, "go.mod"))
	if !strings.Contains(string(gomod), fakeModule+" v0.1.0") {
		t.Fatalf("infra/go.mod does not require v0.1.0:\n%s", gomod)
	}
	t.Logf("init from the proxy: %v", since(start))

	old := stagecoachModule
	stagecoachModule = fakeModule
	t.Cleanup(func() { stagecoachModule = old })
	check := func(version string, fail bool) (string, error) {
		return run(context.Background(), options{
			repo: infra, out: filepath.Join(t.TempDir(), "out"), report: filepath.Join(t.TempDir(), "upgrade.md"),
			comment: filepath.Join(t.TempDir(), "c.md"), cdk: cdk, jobs: 1, upgrade: version, fail: fail,
		})
	}
	report, err := check("v0.1.1", true)
	if err != nil {
		t.Fatalf("v0.1.0 → v0.1.1 with -fail: %v\n%s", err, report)
	}
	if !strings.Contains(report, "no stateful replacement") || !strings.Contains(report, "stagecoach v0.1.0") {
		t.Errorf("v0.1.0 → v0.1.1:\n%s", report)
	}
	t.Logf("v0.1.0 → v0.1.1: %v", since(start))
	report, err = check("v0.2.0", true)
	if err == nil || !strings.Contains(err.Error(), "replaces or removes stateful resources") {
		t.Errorf("v0.1.0 → v0.2.0 with -fail: %v", err)
	}
	if !strings.Contains(report, "stateful replacement(s) or removal(s)") || !strings.Contains(report, "AccessLogs (AWS::S3::Bucket)") {
		t.Errorf("v0.1.0 → v0.2.0 does not report the renamed bucket:\n%s", report)
	}
	if after, _ := os.ReadFile(filepath.Join(infra, "go.mod")); !bytes.Equal(after, gomod) {
		t.Errorf("the upgrade check changed infra/go.mod:\n%s", after)
	}
	t.Logf("total: %v", since(start))
}

func goEnv(t *testing.T, name string) string {
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// serve writes version of the checkout's files, under fakeModule, into the file
// proxy: the .info, .mod and .zip a GOPROXY serves.
func serve(t *testing.T, proxy, checkout string, files []string, version string, patch func(string, []byte) []byte) {
	t.Helper()
	dir := filepath.Join(proxy, fakeModule, "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var zbuf bytes.Buffer
	z := zip.NewWriter(&zbuf)
	var mod []byte
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(checkout, filepath.FromSlash(f)))
		if os.IsNotExist(err) {
			continue // deleted in the working tree
		} else if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, ".go") || f == "go.mod" {
			b = bytes.ReplaceAll(b, []byte("github.com/stagecoach/stagecoach"), []byte(fakeModule))
		}
		if patch != nil {
			b = patch(f, b)
		}
		if f == "go.mod" {
			mod = b
		}
		w, err := z.Create(fakeModule + "@" + version + "/" + f)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	info, _ := json.Marshal(map[string]string{"Version": version, "Time": "2026-12-01T00:00:00Z"})
	for name, b := range map[string][]byte{version + ".info": info, version + ".mod": mod, version + ".zip": zbuf.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
