package buildspecs_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/stagecoach/stagecoach/internal/buildspecs"
	"github.com/stagecoach/stagecoach/internal/contract"
)

// spec is the part of a buildspec these tests look at.
type spec struct {
	Version any `yaml:"version"`
	Env     struct {
		Shell     string            `yaml:"shell"`
		Variables map[string]string `yaml:"variables"`
	} `yaml:"env"`
	Phases map[string]struct {
		OnFailure string   `yaml:"on-failure"`
		Commands  []string `yaml:"commands"`
		Finally   []string `yaml:"finally"`
	} `yaml:"phases"`
}

func (s spec) commands() []string {
	var out []string
	for _, name := range []string{"install", "pre_build", "build", "post_build"} {
		p := s.Phases[name]
		out = append(out, p.Commands...)
		out = append(out, p.Finally...)
	}
	return out
}

// buildEnv and releaseEnv are the variables a buildspec may read: the contract's,
// plus the ones CodeBuild and bash set. Our release.yml also reads what stagecoach
// passes beyond the seed, and the two settings it documents for users; our
// build.yml the two optional Docker Hub build secrets it documents.
var (
	codebuildEnv = []string{"AWS_REGION", "CODEBUILD_RESOLVED_SOURCE_VERSION", "CODEBUILD_BUILD_SUCCEEDING", "SECONDS"}
	buildEnv     = slices.Concat(contract.BuildVariables, []string{contract.DockerfilePath}, codebuildEnv)
	ourBuild     = slices.Concat(buildEnv, []string{"DOCKERHUB_USERNAME", "DOCKERHUB_TOKEN"})
	releaseEnv   = slices.Concat(contract.ReleaseVariables, codebuildEnv)
	ourRelease   = slices.Concat(releaseEnv,
		[]string{contract.ImageDigest, contract.RegionalECREndpoint, contract.RegionalECRImageURL},
		[]string{"RELEASE_TIMEOUT_SECONDS", "RELEASE_POLL_SECONDS"})
)

var cases = []struct {
	file    string
	text    string
	allowed []string // variables the file may read besides its own locals
	ours    bool     // held to our stricter rules, not only the contract's
}{
	{"build.yml", buildspecs.Build, ourBuild, true},
	{"release.yml", buildspecs.Release, ourRelease, true},
	{"seed-build.yml", buildspecs.SeedBuild, buildEnv, false},
	{"seed-release.yml", buildspecs.SeedRelease, releaseEnv, false},
}

func parse(t *testing.T, file, text string) spec {
	t.Helper()
	var s spec
	if err := yaml.UnmarshalWithOptions([]byte(text), &s, yaml.Strict()); err != nil {
		t.Fatalf("%s: not a buildspec we can read: %v", file, err)
	}
	return s
}

func TestValidAgainstSchema(t *testing.T) {
	schema := compileSchema(t)
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			var doc any
			if err := yaml.Unmarshal([]byte(tc.text), &doc); err != nil {
				t.Fatalf("%s is not YAML: %v", tc.file, err)
			}
			// Round-trip through JSON so the validator sees JSON types, as it would
			// for a buildspec written in JSON.
			raw, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			if err := schema.Validate(inst); err != nil {
				t.Errorf("%s does not match the buildspec 0.2 schema:\n%v", tc.file, err)
			}
		})
	}
}

// TestSchemaRejectsMistakes proves the validator is wired up: a misspelt phase
// and an unknown on-failure value must both be caught.
func TestSchemaRejectsMistakes(t *testing.T) {
	schema := compileSchema(t)
	for _, bad := range []string{
		`{"version": 0.2, "phases": {"biuld": {"commands": ["true"]}}}`,
		`{"version": 0.2, "phases": {"build": {"on-failure": "IGNORE", "commands": ["true"]}}}`,
	} {
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		if schema.Validate(inst) == nil {
			t.Errorf("schema accepted %s", bad)
		}
	}
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	path := filepath.Join("testdata", "buildspec-0.2.schema.json")
	c := jsonschema.NewCompiler()
	schema, err := c.Compile(path)
	if err != nil {
		t.Fatalf("compile %s: %v", path, err)
	}
	return schema
}

func TestVersionAndShape(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			s := parse(t, tc.file, tc.text)
			if v, ok := s.Version.(float64); !ok || v != 0.2 {
				t.Errorf("%s: version is %v (%T), want 0.2: version 0.1 runs each command in its own shell", tc.file, s.Version, s.Version)
			}
			if len(s.commands()) == 0 {
				t.Errorf("%s runs no command", tc.file)
			}
			if !tc.ours {
				return
			}
			// Our files use bash syntax and say so, rather than depend on the image's sh.
			if s.Env.Shell != "bash" {
				t.Errorf("%s: env.shell is %q, want bash", tc.file, s.Env.Shell)
			}
			// Defining a contract variable in env.variables would be ignored (the project
			// wins) and would mislead whoever copies the file.
			for name := range s.Env.Variables {
				t.Errorf("%s sets env.variables.%s; the defaults take everything from the project", tc.file, name)
			}
			if !strings.HasPrefix(tc.text, "# ") {
				t.Errorf("%s should open with a comment telling users what it does and how to copy it", tc.file)
			}
		})
	}
}

var (
	// varRef matches $NAME and ${NAME...}; assignment matches NAME= at a word start;
	// readInto matches `read -r NAME...`, which assigns too.
	varRef     = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`)
	assignment = regexp.MustCompile(`(?:^|[\s;(])([A-Za-z_][A-Za-z0-9_]*)=`)
	readInto   = regexp.MustCompile(`\bread -r((?: [A-Za-z_][A-Za-z0-9_]*)+)`)
)

func TestReadsOnlyItsContractVariables(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			s := parse(t, tc.file, tc.text)
			locals := map[string]bool{}
			for _, c := range s.commands() {
				for _, m := range assignment.FindAllStringSubmatch(c, -1) {
					locals[m[1]] = true
				}
				for _, m := range readInto.FindAllStringSubmatch(c, -1) {
					for _, name := range strings.Fields(m[1]) {
						locals[name] = true
					}
				}
			}
			var stray []string
			for _, c := range s.commands() {
				for _, m := range varRef.FindAllStringSubmatch(c, -1) {
					if name := m[1]; !locals[name] && !slices.Contains(tc.allowed, name) && !slices.Contains(stray, name) {
						stray = append(stray, name)
					}
				}
			}
			sort.Strings(stray)
			if len(stray) > 0 {
				t.Errorf("%s reads %v, which its project does not set (allowed: %v)", tc.file, stray, tc.allowed)
			}
		})
	}
}

func TestBuildHonoursDockerfilePath(t *testing.T) {
	if !strings.Contains(buildspecs.Build, `-f "${`+contract.DockerfilePath+`:-Dockerfile}"`) {
		t.Errorf("build.yml must build with -f \"${%s:-Dockerfile}\" so monorepo services pick their Dockerfile", contract.DockerfilePath)
	}
}

func TestBuildPushesLatestLast(t *testing.T) {
	s := parse(t, "build.yml", buildspecs.Build)
	cmds := s.commands()
	last := cmds[len(cmds)-1]
	if want := `docker push "$ECR_IMAGE_URL:` + contract.LatestTag + `"`; last != want {
		t.Errorf("build.yml ends with %q, want %q: :latest must only move once the rest worked", last, want)
	}
}

// TestSeedCopiesAreVerbatim checks seed-*.yml against the seed page, when the
// shared folder that holds it sits beside the repository (it does for developers
// and CI, not in a plain clone).
func TestSeedCopiesAreVerbatim(t *testing.T) {
	page := filepath.Join("..", "..", "..", "shared", "seed", "000_d2453ca6c2025dbd.txt")
	b, err := os.ReadFile(page)
	if os.IsNotExist(err) {
		t.Skipf("%s is not here; nothing to compare the seed copies with", page)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases[2:] {
		if !strings.Contains(string(b), tc.text) {
			t.Errorf("%s is not a verbatim copy of the buildspec on %s", tc.file, page)
		}
	}
}

// TestCommandsParse runs `bash -n` on each command of our files, so a syntax
// error shows here rather than in a user's first CodeBuild run.
func TestCommandsParse(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not on PATH")
	}
	for _, tc := range cases {
		if !tc.ours {
			continue
		}
		for _, c := range parse(t, tc.file, tc.text).commands() {
			if out, err := exec.Command(bash, "-n", "-c", c).CombinedOutput(); err != nil {
				t.Errorf("%s: bash rejects\n%s\n%s", tc.file, c, out)
			}
		}
	}
}

// TestReleaseMovesNoLayersInItsRegion: promotion within the home region is a
// registry-side retag; docker only runs to copy the image to a regional
// repository.
func TestReleaseMovesNoLayersInItsRegion(t *testing.T) {
	const regional = `if [ -n "$` + contract.RegionalECRImageURL + `" ]`
	for _, c := range parse(t, "release.yml", buildspecs.Release).commands() {
		if strings.Contains(c, "docker ") && !strings.HasPrefix(c, regional) {
			t.Errorf("release.yml runs docker outside the regional copy:\n%s", c)
		}
	}
}
