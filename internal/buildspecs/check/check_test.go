package check

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/stagecoach/stagecoach/config"
	"github.com/stagecoach/stagecoach/internal/buildspecs"
)

const corpusDir = "../../rehearsal/testdata/tinystacks"

// got renders findings as "LINE severity rule", the part the tests pin.
func got(fs []Finding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%d %s %s", f.Line, f.Severity, f.Rule))
	}
	return out
}

func load(t *testing.T, path string) *config.Config {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCorpus pins every finding on every file of the TinyStacks corpus, checked as the
// buildspecs of the monorepo example's api service (four stages, prod in another
// region pulling from its own repository, its own build.yml and release.yml).
func TestCorpus(t *testing.T) {
	cfg := load(t, "../../../testdata/configs/monorepo.yaml")
	want := map[string][]string{
		"later-build.yml":           {},
		"later-release-fargate.yml": {"33 note task-definition-drift"},
		"later-release.yml": {
			"24 error ecs-region", "25 error ecs-region", "28 error ecs-region",
			"28 error task-definition-image", "28 error fargate-fields", "28 note task-definition-drift",
			"29 error ecs-region",
		},
		"regional-release.yml": {},
		"lambda-release.yml":   {"0 error regional-copy", "15 note never-set", "23 note never-set"},
		// The seed's pair, verbatim.
		"../../../buildspecs/seed-build.yml":   {},
		"../../../buildspecs/seed-release.yml": {"0 error regional-copy"},
	}
	files, _ := filepath.Glob(filepath.Join(corpusDir, "*.yml"))
	for _, f := range files {
		if _, ok := want[filepath.Base(f)]; !ok {
			t.Errorf("%s: no expected findings; add the file to TestCorpus", f)
		}
	}
	for name, w := range want {
		t.Run(filepath.Base(name), func(t *testing.T) {
			use, err := Find(cfg, filepath.Join(corpusDir, name), "api", "")
			if err != nil {
				t.Fatal(err)
			}
			fs, err := Check(read(t, filepath.Join(corpusDir, name)), use.Options)
			if err != nil {
				t.Fatal(err)
			}
			if g := got(fs); !slices.Equal(g, w) {
				t.Errorf("findings %q\nwant %q\n%v", g, w, fs)
			}
			for _, f := range fs {
				if f.Message == "" || f.Fix == "" {
					t.Errorf("finding without a message or a fix: %+v", f)
				}
			}
		})
	}
}

// TestCorpusElsewhere pins the findings that depend on where a file runs: under dash
// (an Ubuntu build image), and in a repository whose commit tags are immutable (the
// policy before a user's build.yml made them mutable).
func TestCorpusElsewhere(t *testing.T) {
	cfg := load(t, "../../../testdata/configs/monorepo.yaml")
	for _, tc := range []struct {
		file   string
		change func(*Options)
		want   []string
	}{
		{"later-build.yml", func(o *Options) { o.ImmutableTags = true }, []string{"15 error immutable-push"}},
		{"../../../buildspecs/seed-release.yml", func(o *Options) { o.Sh = "dash" }, []string{"0 error regional-copy", "13 error bash-syntax"}},
		{"later-release-fargate.yml", func(o *Options) { o.Sh = "dash" }, []string{
			"24 error bash-syntax", "31 error bash-syntax", "32 error bash-syntax", "33 error bash-syntax", "33 note task-definition-drift"}},
		{"lambda-release.yml", func(o *Options) { o.Regional, o.MultiRegion = false, false }, []string{"15 note never-set", "23 note never-set"}},
		{"later-release.yml", func(o *Options) { o.Regional, o.MultiRegion = false, false }, []string{"28 error fargate-fields", "28 note task-definition-drift"}},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			use, err := Find(cfg, filepath.Join(corpusDir, tc.file), "api", "")
			if err != nil {
				t.Fatal(err)
			}
			o := use.Options
			tc.change(&o)
			fs, err := Check(read(t, filepath.Join(corpusDir, tc.file)), o)
			if err != nil {
				t.Fatal(err)
			}
			if g := got(fs); !slices.Equal(g, tc.want) {
				t.Errorf("findings %q\nwant %q\n%v", g, tc.want, fs)
			}
		})
	}
}

// TestDefaultsHaveNoFinding: stagecoach's own buildspecs, under every example config
// and with immutable commit tags (which the default build.yml runs with).
func TestDefaultsHaveNoFinding(t *testing.T) {
	configs, _ := filepath.Glob("../../../testdata/configs/*.yaml")
	configs = append(configs, "../../../stagecoach.yaml")
	for _, path := range configs {
		cfg := load(t, path)
		for _, svc := range cfg.Services {
			for _, tc := range []struct {
				kind Kind
				text string
			}{{Build, buildspecs.Build}, {Release, buildspecs.Release}} {
				o := ForService(cfg, svc.Name, tc.kind)
				o.ImmutableTags = true
				for _, sh := range []string{"bash", "dash"} {
					o.Sh = sh
					fs, err := Check(tc.text, o)
					if err != nil || len(fs) > 0 {
						t.Errorf("%s, service %s, default %s.yml under %s: %v %v", path, svc.Name, tc.kind, sh, err, fs)
					}
				}
			}
		}
	}
}

// TestBuildRules covers the rules no corpus file trips.
func TestBuildRules(t *testing.T) {
	o := Options{Kind: Build, Stages: []string{"dev", "prod"}, Sh: "bash"}
	spec := `version: 0.2
phases:
  build:
    commands:
      - aws ecr get-login-password | docker login --username AWS --password-stdin $ECR_ENDPOINT
      - docker build -t builtimage . -f $DOCKERFILE_PATH
      - docker tag builtimage:latest $ECR_IMAGE_URL:dev
      - docker push $ECR_IMAGE_URL:dev
      - echo "$NPM_TOKEN $STAGE_NAME ${OPTIONAL:-x} $CODEBUILD_RESOLVED_SOURCE_VERSION $LOCAL"
      - LOCAL=1
`
	fs, err := Check(spec, o)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"0 error no-latest", "6 error unset-variable", "7 error stage-tag-in-build", "8 error stage-tag-in-build", "9 error unset-variable", "9 error unset-variable"}
	if g := got(fs); !slices.Equal(g, want) {
		t.Errorf("findings %q\nwant %q\n%v", g, want, fs)
	}
	text := fmt.Sprint(fs)
	for _, says := range []string{"DOCKERFILE_PATH is set only when the service names its Dockerfile", "NPM_TOKEN is not set", "STAGE_NAME is a release variable"} {
		if !strings.Contains(text, says) {
			t.Errorf("no finding says %q: %v", says, fs)
		}
	}
	// The config's own variables and a Dockerfile are known; a bare push pushes :latest.
	o.UserVariables, o.DockerfilePath = []string{"NPM_TOKEN"}, true
	spec = strings.Replace(strings.Replace(spec, ":dev\n", ":v1\n", 2), "$STAGE_NAME", "", 1) + "      - docker push $ECR_IMAGE_URL\n"
	fs, err = Check(spec, o)
	if err != nil || len(fs) != 0 {
		t.Errorf("findings %v, %v; want none", fs, err)
	}
	o.ImmutableTags = true
	fs, _ = Check(spec, o)
	if g := got(fs); !slices.Equal(g, []string{"8 error immutable-push"}) {
		t.Errorf("with immutable tags: %q, want the push of :v1 at line 8", g)
	}
}

func TestFind(t *testing.T) {
	cfg := load(t, "../../../testdata/configs/monorepo.yaml")
	u, err := Find(cfg, "services/api/./release.yml", "", "")
	if err != nil || u.Service != "api" || u.Options.Kind != Release || !u.Options.Regional || !u.Options.MultiRegion || u.Options.ImmutableTags {
		t.Errorf("Find(the api release.yml) = %+v, %v", u, err)
	}
	if _, err := Find(cfg, "other.yml", "", ""); err == nil {
		t.Error("a file the config does not name, in a config with two services, needs -service")
	}
	u, err = Find(cfg, "ci/release.yml", "web", "")
	if err != nil || u.Options.Kind != Release || !u.Options.ImmutableTags {
		t.Errorf("a release.yml for web (default build.yml, immutable tags): %+v, %v", u, err)
	}
}

func TestReview(t *testing.T) {
	cfg := load(t, "../../../testdata/configs/monorepo.yaml")
	root := t.TempDir()
	if md, err := Review(cfg, root); err != nil || md != "" {
		t.Errorf("no buildspec file in the repository: %q, %v; want nothing", md, err)
	}
	if err := os.MkdirAll(filepath.Join(root, "services/api"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "services/api/release.yml"), []byte(read(t, filepath.Join(corpusDir, "later-release.yml"))), 0o644); err != nil {
		t.Fatal(err)
	}
	md, err := Review(cfg, root)
	if err != nil {
		t.Fatal(err)
	}
	for _, says := range []string{"### Buildspecs", "`services/api/release.yml` (release.yml of `api`)", "line 28, error `fargate-fields`", "--region $STAGE_REGION"} {
		if !strings.Contains(md, says) {
			t.Errorf("the review lacks %q:\n%s", says, md)
		}
	}
	if strings.Contains(md, "build.yml") {
		t.Errorf("the review names a file the repository does not have:\n%s", md)
	}
}

// TestCorpusIsValidBuildspec: every corpus file is a buildspec CodeBuild accepts, by
// the strict 0.2 schema, so the findings above are about behaviour, not syntax.
func TestCorpusIsValidBuildspec(t *testing.T) {
	schema, err := jsonschema.NewCompiler().Compile("../testdata/buildspec-0.2.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(corpusDir, "*.yml"))
	if len(files) == 0 {
		t.Fatal("no corpus files")
	}
	for _, f := range files {
		var doc any
		if err := yaml.Unmarshal([]byte(read(t, f)), &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		raw, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if err := schema.Validate(inst); err != nil {
			t.Errorf("%s does not match the buildspec 0.2 schema:\n%v", f, err)
		}
	}
}
