package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stagecoach/stagecoach/config"
)

func TestParseRemote(t *testing.T) {
	for _, c := range []struct {
		url, provider, repo, err string
	}{
		{"https://github.com/acme/shop.git", "GitHub", "acme/shop", ""},
		{"https://github.com/acme/shop", "GitHub", "acme/shop", ""},
		{"git@github.com:acme/shop.git", "GitHub", "acme/shop", ""},
		{"ssh://git@github.com/acme/shop.git", "GitHub", "acme/shop", ""},
		{"ssh://git@github.com:22/acme/shop.git", "GitHub", "acme/shop", ""},
		{"https://gitlab.com/group/sub/shop.git", "GitLab", "group/sub/shop", ""},
		{"git@gitlab.com:group/sub/shop.git", "GitLab", "group/sub/shop", ""},
		{"https://jane@bitbucket.org/acme/shop.git", "Bitbucket", "acme/shop", ""},
		{"git@bitbucket.org:acme/shop.git", "Bitbucket", "acme/shop", ""},
		{"https://git.example.com/acme/shop.git", "", "", "not github.com, gitlab.com or bitbucket.org"},
		{"https://github.com/acme/team/shop.git", "", "", "is not owner/name"},
		{"/srv/git/shop.git", "", "", "neither an HTTPS nor an SSH URL"},
	} {
		got, err := ParseRemote(c.url)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseRemote(%q) = %+v, %v; want an error containing %q", c.url, got, err, c.err)
			}
			continue
		}
		if err != nil || got.Provider != c.provider || got.Repository != c.repo {
			t.Errorf("ParseRemote(%q) = %+v, %v; want %s %s", c.url, got, err, c.provider, c.repo)
		}
	}
}

func TestExposedPorts(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		text  string
		ports []int
		other string
	}{
		{"FROM node:20\nEXPOSE 3000\nCMD node app.js\n", []int{3000}, ""},
		{"FROM node:20\nexpose 3000/tcp 9229/udp 8080\n", []int{3000, 8080}, ""},
		// Only the last stage runs.
		{"FROM golang AS build\nEXPOSE 9000\nFROM alpine\nEXPOSE 80\n", []int{80}, ""},
		{"FROM alpine\nEXPOSE \\\n  4000\n", []int{4000}, ""},
		{"FROM alpine\nARG PORT=3000\nEXPOSE $PORT\n", nil, "$PORT"},
		{"FROM alpine\n# EXPOSE 3000\n", nil, ""},
	} {
		f := filepath.Join(dir, "Dockerfile")
		os.WriteFile(f, []byte(c.text), 0o644)
		got, err := exposedPorts(f)
		if err != nil || !reflect.DeepEqual(got.Ports, c.ports) || got.Other != c.other {
			t.Errorf("exposedPorts(%q) = %+v, %v; want %v %q", c.text, got, err, c.ports, c.other)
		}
	}
}

func TestAppName(t *testing.T) {
	for in, want := range map[string]string{
		"acme/shop": "shop", "acme/My_Shop.API": "my-shop-api", "g/s/2fast": "fast",
		"acme/a-very-long-repository-name": "a-very-long-repo", "acme/___": "app",
	} {
		if got := appName(in, config.MaxAppName); got != want {
			t.Errorf("appName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLockMatchesRepository: the generated lock pins the CLI this module tests with,
// and the generated go.mod asks for the Go this module needs.
func TestLockMatchesRepository(t *testing.T) {
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(gomod), "\ngo "+goVersion+"\n") {
		t.Errorf("go.mod's go directive is not %s: update goVersion", goVersion)
	}
	b, err := os.ReadFile("../../package-lock.json")
	if err != nil {
		t.Fatal(err)
	}
	var lock struct {
		Packages map[string]struct{ Version, Integrity string } `json:"packages"`
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		t.Fatal(err)
	}
	ours := lock.Packages["node_modules/aws-cdk"]
	if ours.Version != CDKCLIVersion || ours.Integrity != cdkCLIIntegrity {
		t.Errorf("package-lock.json pins aws-cdk %s %s; cmd/stagecoach writes %s %s: update CDKCLIVersion and cdkCLIIntegrity",
			ours.Version, ours.Integrity, CDKCLIVersion, cdkCLIIntegrity)
	}
	var gen struct {
		Packages map[string]struct{ Version, Integrity string } `json:"packages"`
	}
	json.Unmarshal([]byte(packageLock()), &gen)
	if gen.Packages["node_modules/aws-cdk"] != ours {
		t.Errorf("the generated lock's aws-cdk entry %+v differs from ours %+v", gen.Packages["node_modules/aws-cdk"], ours)
	}
}

// appRepo makes a Git repository with a remote and the given files.
func appRepo(t *testing.T, remote string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for _, args := range [][]string{{"init", "-q", "-b", "trunk"}, {"remote", "add", "origin", remote}} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	for name, text := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestInitPrefillsAndRefuses runs init without go mod tidy: the config it writes, the
// buildspec check, and the refusal to overwrite.
func TestInitPrefillsAndRefuses(t *testing.T) {
	checkout, _ := filepath.Abs("../..")
	dir := appRepo(t, "git@gitlab.com:acme/tools/Shop-API.git", map[string]string{
		"docker/web/Dockerfile": "FROM node:20\nEXPOSE 3000\n",
		"build.yml":             "version: 0.2\nphases:\n  build:\n    commands:\n      - docker build -t $ECR_REPOSITORY_URI:latest .\n      - docker push $ECR_REPOSITORY_URI:latest\n",
	})
	var out, errs bytes.Buffer
	if code := run([]string{"init", "-C", dir, "--local", checkout, "--no-tidy", "--region", "eu-west-1"}, &out, &errs); code != 0 {
		t.Fatalf("init: %d\n%s%s", code, out.String(), errs.String())
	}
	cfg, err := config.Load(filepath.Join(dir, "stagecoach.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Services[0]
	if cfg.Source.Provider != "GitLab" || cfg.Source.Repository != "acme/tools/Shop-API" || cfg.Source.Branch != "trunk" ||
		cfg.App != "shop-api" || cfg.Region != "eu-west-1" || s.Port != 3000 || s.Dockerfile != "docker/web/Dockerfile" || s.Build.Buildspec != "build.yml" {
		t.Errorf("config: %+v %+v", cfg, s)
	}
	text, _ := os.ReadFile(filepath.Join(dir, "stagecoach.yaml"))
	if !strings.HasPrefix(string(text), "# yaml-language-server: $schema="+filepath.Join(checkout, "stagecoach.schema.json")+"\n") {
		t.Errorf("stagecoach.yaml does not name the checkout's schema:\n%s", text)
	}
	for _, want := range []string{"infra/cdk.json", "infra/snapshot_test.go", "services[0].port 3000 from docker/web/Dockerfile:2", "services[0].build.buildspec build.yml", "The buildspec check"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, out.String())
		}
	}
	gomod, _ := os.ReadFile(filepath.Join(dir, "infra", "go.mod"))
	if !strings.Contains(string(gomod), "replace github.com/stagecoach/stagecoach => "+checkout+"\n") {
		t.Errorf("go.mod:\n%s", gomod)
	}
	var cdk struct{ Context map[string]any }
	b, _ := os.ReadFile(filepath.Join(dir, "infra", "cdk.json"))
	json.Unmarshal(b, &cdk)
	if _, ok := cdk.Context["stagecoach:config"]; ok || cdk.Context["@aws-cdk/core:enablePartitionLiterals"] != true {
		t.Errorf("cdk.json context: %v", cdk.Context)
	}

	// A second run writes nothing and names what exists.
	os.Remove(filepath.Join(dir, "infra", "Makefile"))
	out.Reset()
	errs.Reset()
	if code := run([]string{"init", "-C", dir, "--local", checkout, "--no-tidy"}, &out, &errs); code != 1 ||
		!strings.Contains(errs.String(), "refusing to overwrite stagecoach.yaml: nothing written; to write infra/ around it, pass --keep-config") {
		t.Errorf("second init: %d\n%s", code, errs.String())
	}
	errs.Reset()
	if code := run([]string{"init", "-C", dir, "--local", checkout, "--no-tidy", "--keep-config"}, &out, &errs); code != 1 ||
		!strings.Contains(errs.String(), "refusing to overwrite infra/go.mod, infra/main.go, infra/cdk.json") || !strings.Contains(errs.String(), "infra/go.sum") {
		t.Errorf("second init with --keep-config: %d\n%s", code, errs.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "infra", "Makefile")); err == nil {
		t.Error("the refused init wrote infra/Makefile")
	}
}

func TestInitNeedsARemoteAndADockerfile(t *testing.T) {
	checkout, _ := filepath.Abs("../..")
	dir := appRepo(t, "https://github.com/acme/shop.git", nil)
	var out, errs bytes.Buffer
	if code := run([]string{"init", "-C", dir, "--local", checkout, "--no-tidy"}, &out, &errs); code != 1 || !strings.Contains(errs.String(), "no Dockerfile") {
		t.Errorf("init without a Dockerfile: %d %s", code, errs.String())
	}
	errs.Reset()
	if code := run([]string{"init", "-C", dir, "--no-tidy"}, &out, &errs); code != 1 || !strings.Contains(errs.String(), "no stagecoach version") {
		t.Errorf("init without a version: %d %s", code, errs.String())
	}
}

// TestInitKeepConfig: a repository that has its stagecoach.yaml already gets infra/
// around it with --keep-config, the file untouched; an invalid one is refused.
func TestInitKeepConfig(t *testing.T) {
	checkout, _ := filepath.Abs("../..")
	own := "app: shop\nregion: eu-west-1\nsource: {repository: acme/shop}\nstages: [{name: dev}]\nservices: [{name: web, port: 3000}]\n"
	dir := appRepo(t, "https://github.com/acme/shop.git", map[string]string{"stagecoach.yaml": own})
	var out, errs bytes.Buffer
	if code := run([]string{"init", "-C", dir, "--local", checkout, "--no-tidy"}, &out, &errs); code != 1 || !strings.Contains(errs.String(), "refusing to overwrite stagecoach.yaml") {
		t.Errorf("init without --keep-config: %d %s", code, errs.String())
	}
	errs.Reset()
	if code := run([]string{"init", "-C", dir, "--local", checkout, "--no-tidy", "--keep-config"}, &out, &errs); code != 0 {
		t.Fatalf("init --keep-config: %d\n%s", code, errs.String())
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "stagecoach.yaml")); string(b) != own {
		t.Errorf("--keep-config changed stagecoach.yaml:\n%s", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "infra", "main.go")); err != nil {
		t.Errorf("--keep-config wrote no infra/main.go: %v", err)
	}
	if !strings.Contains(out.String(), "stagecoach.yaml kept as it is (app shop, 1 service(s), 1 stage(s))") {
		t.Errorf("the report does not say the config was kept:\n%s", out.String())
	}

	bad := appRepo(t, "https://github.com/acme/shop.git", map[string]string{"stagecoach.yaml": "app: Shop\n"})
	errs.Reset()
	if code := run([]string{"init", "-C", bad, "--local", checkout, "--no-tidy", "--keep-config"}, &out, &errs); code != 1 || !strings.Contains(errs.String(), "--keep-config: ") {
		t.Errorf("init --keep-config with an invalid config: %d %s", code, errs.String())
	}
	if _, err := os.Stat(filepath.Join(bad, "infra")); err == nil {
		t.Error("init --keep-config with an invalid config wrote infra/")
	}
}
