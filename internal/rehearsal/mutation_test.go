package rehearsal

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stagecoach/stagecoach/internal/buildspecs"
)

// Mutation checks (issue 12). Three breakages of the default buildspecs passed
// every scenario while the stand-ins were permissive. Each is applied here to a
// copy of release.yml or build.yml, and the scenarios that must notice run again
// on the copy, in a child process of this test binary; each must fail, for the
// reason the mutant introduces. The checks keep the stand-ins from drifting back.

// mutantEnv names a mutated buildspec for a child process: "build=PATH" or
// "release=PATH" replaces buildspecs.Build or buildspecs.Release.
const mutantEnv = "STAGECOACH_REHEARSAL_MUTANT"

// pristineRelease is the default release.yml as shipped, even in a child run of
// a mutant (package variables are set before init runs).
var pristineRelease = buildspecs.Release

func init() {
	v := os.Getenv(mutantEnv)
	if v == "" {
		return
	}
	which, path, _ := strings.Cut(v, "=")
	b, err := os.ReadFile(path)
	if err != nil {
		panic(fmt.Sprintf("%s=%s: %v", mutantEnv, v, err))
	}
	switch which {
	case "build":
		buildspecs.Build = string(b)
	case "release":
		buildspecs.Release = string(b)
	default:
		panic(fmt.Sprintf("%s=%s: want build=PATH or release=PATH", mutantEnv, v))
	}
}

// mutant is one breakage: how to make it from the original, which scenarios must
// fail on it, and what their failure must say.
type mutant struct {
	name, which string // which: build or release
	mutate      func(spec string) (string, error)
	run         string // -test.run pattern
	says        string
}

var mutants = []mutant{
	{
		// ECS resolves the stage tag when the deployment is created: deployed
		// before the tag moves, the service runs the previous image while the log
		// says "stable on" the new one. release.yml's own check that the tag is on
		// the release's image before it deploys would stop this mutant by itself;
		// the mutant drops that check too, so that what is checked is the
		// endpoint's deployment-time resolution.
		name: "put-image after update-service", which: "release",
		mutate: func(spec string) (string, error) {
			check := "        now=$(tag_now) || give_up \"could not read :$STAGE_NAME\"\n" +
				"        if [ \"$now\" != \"$digest\" ]; then\n" +
				"          give_up \":$STAGE_NAME moved to $now before the deployment (not by this release); not deploying\"\n" +
				"        fi\n"
			if !strings.Contains(spec, check) {
				return "", fmt.Errorf("no check of the stage tag before the deployment")
			}
			spec = strings.Replace(spec, check, "", 1)
			start := strings.Index(spec, "      - |\n        if out=$(aws ecr put-image --repository-name \"$repository\"")
			if start < 0 {
				return "", fmt.Errorf("no put-image command in the build phase")
			}
			end := strings.Index(spec[start:], "        fi\n")
			if end < 0 {
				return "", fmt.Errorf("the put-image command does not end")
			}
			end += start + len("        fi\n")
			put := strings.TrimPrefix(spec[start:end], "      - |\n")
			spec = spec[:start] + spec[end:]
			anchor := "        echo \"release: deploying $SERVICE_NAME in $CLUSTER_ARN: $deployment\"\n"
			if !strings.Contains(spec, anchor) {
				return "", fmt.Errorf("no deploy line to put the put-image after")
			}
			return strings.Replace(spec, anchor, anchor+put, 1), nil
		},
		run:  "^TestReleaseOfANewerImage$",
		says: "the service's PRIMARY deployment runs",
	},
	{
		// Commit tags are immutable: a second push of the same commit's tag is
		// refused, and an unguarded push fails the rebuild.
		name: "unguarded commit-tag push", which: "build",
		mutate: func(spec string) (string, error) {
			start := strings.Index(spec, "          if ! out=$(docker push \"$ECR_IMAGE_URL:$commit\" 2>&1); then\n")
			end := strings.Index(spec, "        else\n          echo \"No commit ID")
			if start < 0 || end < start {
				return "", fmt.Errorf("no guarded commit-tag push")
			}
			return spec[:start] + "          docker push \"$ECR_IMAGE_URL:$commit\"\n" + spec[end:], nil
		},
		run:  "^TestSameCommitBuiltTwice$",
		says: "second build of the commit failed",
	},
	{
		// The regional copy has a digest of its own: restoring the regional tag
		// with the home repository's previous digest cannot work.
		name: "regional restore with the home digest", which: "release",
		mutate: func(spec string) (string, error) {
			from := "            restore \"$regional_repository\" \"$region\" \"$regional_previous\"\n"
			if !strings.Contains(spec, from) {
				return "", fmt.Errorf("no regional restore in give_up")
			}
			return strings.Replace(spec, from, "            restore \"$regional_repository\" \"$region\" \"$previous\"\n", 1), nil
		},
		run:  "^TestRegionalReleaseFailsBack$",
		says: "after the failed release, want",
	},
}

func TestMutantsFail(t *testing.T) {
	if os.Getenv(mutantEnv) != "" {
		t.Skip("a child run of a mutant")
	}
	if os.Getenv("STAGECOACH_REQUIRE_REGISTRY") == "" {
		if _, err := exec.LookPath("docker-registry"); err != nil {
			t.Skip("no docker-registry: the scenarios skip, so mutants cannot fail them")
		}
	}
	t.Parallel()
	for _, m := range mutants {
		t.Run(m.name, func(t *testing.T) {
			orig := buildspecs.Release
			if m.which == "build" {
				orig = buildspecs.Build
			}
			spec, err := m.mutate(orig)
			if err != nil {
				t.Fatalf("could not make the mutant (has %s.yml changed?): %v", m.which, err)
			}
			if spec == orig {
				t.Fatal("the mutant is the original")
			}
			if _, err := Parse(spec); err != nil {
				t.Fatalf("the mutant does not parse: %v", err)
			}
			path := filepath.Join(t.TempDir(), m.which+".yml")
			if err := os.WriteFile(path, []byte(spec), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0], "-test.run", m.run, "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), mutantEnv+"="+m.which+"="+path)
			out, err := cmd.CombinedOutput()
			if strings.Contains(string(out), "--- SKIP") && !strings.Contains(string(out), "--- FAIL") {
				t.Skipf("the scenarios for %q skipped:\n%s", m.name, out)
			}
			if err == nil {
				t.Fatalf("the scenarios passed with the mutant %q:\n%s", m.name, out)
			}
			if !strings.Contains(string(out), m.says) {
				t.Errorf("the scenarios failed on the mutant %q, but not saying %q:\n%s", m.name, m.says, out)
			}
		})
	}
}
