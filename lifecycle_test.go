package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stagecoach/stagecoach/config"
	"github.com/stagecoach/stagecoach/internal/awsmodel/ecrlifecycle"
	"github.com/stagecoach/stagecoach/internal/awsmodel/ecrtags"
	"github.com/stagecoach/stagecoach/internal/contract"
	"github.com/stagecoach/stagecoach/internal/imagetags"
	"github.com/stagecoach/stagecoach/internal/names"
)

// registry is one ECR repository over time, as builds and releases leave it: images
// in push order, and the image each tag is on (a tag is on one image at a time).
type registry struct {
	images []*ecrlifecycle.Image
	clock  time.Time
}

func (r *registry) push(digest string, tags ...string) {
	r.clock = r.clock.Add(time.Hour)
	for _, t := range tags {
		r.untag(t)
	}
	r.images = append(r.images, &ecrlifecycle.Image{Digest: digest, Tags: tags, PushedAt: r.clock})
}

func (r *registry) untag(tag string) {
	for _, img := range r.images {
		img.Tags = slices.DeleteFunc(img.Tags, func(t string) bool { return t == tag })
	}
}

func (r *registry) on(tag string) string {
	for _, img := range r.images {
		if slices.Contains(img.Tags, tag) {
			return img.Digest
		}
	}
	return ""
}

// move puts tag on digest, as put-image does (the image keeps its push time).
func (r *registry) move(tag, digest string) {
	r.untag(tag)
	for _, img := range r.images {
		if img.Digest == digest {
			img.Tags = append(img.Tags, tag)
		}
	}
}

// release does what the default release.yml does to a stage's tags: the rollback
// tag goes on the image the stage runs now, then the stage tag on the new one.
func (r *registry) release(stage, digest string) {
	if cur := r.on(stage); cur != "" && cur != digest {
		r.move(imagetags.Rollback(stage), cur)
	}
	r.move(stage, digest)
}

func (r *registry) snapshot() []ecrlifecycle.Image {
	out := make([]ecrlifecycle.Image, len(r.images))
	for i, img := range r.images {
		out[i] = *img
		out[i].Tags = slices.Clone(img.Tags)
	}
	return out
}

// allConfigs is the default config and every config in testdata/configs.
func allConfigs(t *testing.T) []string {
	paths, err := filepath.Glob("testdata/configs/*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no configs in testdata/configs: %v", err)
	}
	return append([]string{"stagecoach.yaml"}, paths...)
}

// synthesizeAny synthesizes a config: from the shared cache when it is a golden
// config, else without the (slow) CloudFormation validation the goldens already get.
func synthesizeAny(t *testing.T, path string) *synthesis {
	t.Helper()
	for _, gc := range goldenConfigs {
		if gc.path == path {
			return synthesize(t, path)
		}
	}
	if s, ok := cache[path]; ok {
		return s
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	s := synthesizeConfig(t, path, cfg, false)
	cache[path] = s
	return s
}

// repositories returns every ECR repository of a synthesis, by stack and logical ID,
// with whether it is a service's home repository (in its pipeline stack).
func repositories(s *synthesis) map[string]struct {
	props map[string]any
	home  bool
} {
	home := map[string]bool{}
	for _, svc := range s.cfg.Services {
		home[names.PipelineStack(s.cfg.App, svc.Name)] = true
	}
	out := map[string]struct {
		props map[string]any
		home  bool
	}{}
	for stack, tmpl := range s.templates {
		for id, props := range resources(tmpl, "AWS::ECR::Repository") {
			out[stack+"/"+id] = struct {
				props map[string]any
				home  bool
			}{props, home[stack]}
		}
	}
	return out
}

// TestLifecycleKeepsWhatStagesRun rehearses months of pushes against the lifecycle
// policy of every repository, home and regional, of every config, with ECR's
// documented evaluation (awsmodel/ecrlifecycle): the image each stage runs, the
// image it ran before (its rollback target, tagged by the release) and :latest's
// image survive however old they are, while old commit images still expire.
func TestLifecycleKeepsWhatStagesRun(t *testing.T) {
	for _, path := range allConfigs(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			s := synthesizeAny(t, path)
			var stages, regional []string
			for i, st := range s.cfg.Stages {
				stages = append(stages, st.Name)
				if s.cfg.PullsRegionally(i) {
					regional = append(regional, st.Name)
				}
			}
			repos := repositories(s)
			if len(repos) == 0 {
				t.Fatal("no ECR repository")
			}
			for where, repo := range repos {
				policy, ok, err := ecrlifecycle.FromTemplate(repo.props)
				if err != nil {
					t.Errorf("%s: ECR would refuse the lifecycle policy: %v", where, err)
					continue
				}
				if !ok {
					t.Errorf("%s: no lifecycle policy: the repository grows forever", where)
					continue
				}
				if repo.home {
					homeScenario(t, where, policy, stages)
				} else {
					regionalScenario(t, where, policy, regional)
				}
			}
		})
	}
}

// homeScenario: 150 builds, each pushing its commit tag; the last 30 failed after
// that push, so :latest is on build 120. Each stage was released twice, long ago,
// later stages longer ago (prod waits behind its approval).
func homeScenario(t *testing.T, where string, policy ecrlifecycle.Policy, stages []string) {
	r := &registry{clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	digest := func(i int) string { return fmt.Sprintf("sha256:%064x", i) }
	current, previous := map[string]int{}, map[string]int{}
	for k, st := range stages {
		current[st] = max(100-7*k, 30+k)
		previous[st] = current[st] - 5
	}
	for i := 1; i <= 150; i++ {
		tags := []string{fmt.Sprintf("%040x", i)}
		if i <= 120 {
			tags = append(tags, contract.LatestTag)
		}
		r.push(digest(i), tags...)
		for _, st := range stages {
			if i == previous[st] || i == current[st] {
				r.release(st, digest(i))
			}
		}
	}
	keep := map[string]string{digest(120): "latest"}
	for _, st := range stages {
		keep[digest(current[st])] = st
		keep[digest(previous[st])] = imagetags.Rollback(st)
	}
	checkLifecycle(t, where, policy, r, keep, 25)
}

// regionalScenario: the regional repository only receives releases (a docker push of
// the stage tag, then the rollback tag by put-image): 150 of them, round robin over
// the stages that pull from a regional repository, then a month without a release.
func regionalScenario(t *testing.T, where string, policy ecrlifecycle.Policy, stages []string) {
	if len(stages) == 0 {
		t.Errorf("%s: a regional repository, but no stage pulls regionally", where)
		return
	}
	r := &registry{clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	keep := map[string]string{}
	for i := 1; i <= 150; i++ {
		st := stages[i%len(stages)]
		d := fmt.Sprintf("sha256:%064x", i)
		prev := r.on(st)
		r.push(d) // the copy arrives, then the tags move
		r.release(st, d)
		if prev != "" {
			keep[prev] = imagetags.Rollback(st)
		}
		keep[d] = st
		// Only the last two releases of each stage stay in keep.
		for dg, tag := range keep {
			if r.on(tag) != dg {
				delete(keep, dg)
			}
		}
	}
	checkLifecycle(t, where, policy, r, keep, 0)
}

// checkLifecycle evaluates the policy a month after the last push. Every image in
// keep (digest → the tag that needs it) must survive; of the others, at most
// maxOthers (the newest) may.
func checkLifecycle(t *testing.T, where string, policy ecrlifecycle.Policy, r *registry, keep map[string]string, maxOthers int) {
	t.Helper()
	images := r.snapshot()
	expired := policy.Expire(images, r.clock.Add(30*24*time.Hour))
	for d, tag := range keep {
		if rule, ok := expired[d]; ok {
			t.Errorf("%s: rule %d expires the image :%s is on (%s)", where, rule, tag, d)
		}
	}
	others := 0
	for _, img := range images {
		if _, gone := expired[img.Digest]; !gone && keep[img.Digest] == "" {
			others++
		}
	}
	if others > maxOthers {
		t.Errorf("%s: %d images that nothing runs survive, want at most %d: the repository grows forever", where, others, maxOthers)
	}
	if len(expired) == 0 {
		t.Errorf("%s: nothing expires", where)
	}
}

// TestTagMutabilityKeepsCommitTagsImmutable reads each repository's tag mutability
// with the ecrtags model: latest, the stage tags and the rollback tags must move;
// commit tags must not, whenever ECR's five exclusion filters can be made to allow it.
func TestTagMutabilityKeepsCommitTagsImmutable(t *testing.T) {
	commits := []string{"0123456789abcdef0123456789abcdef01234567", "deadbee", "4b825dc642cb6eb9a060e54bf8d69288fbee4904", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"}
	for _, path := range allConfigs(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			s := synthesizeAny(t, path)
			var stages []string
			for _, st := range s.cfg.Stages {
				stages = append(stages, st.Name)
			}
			for where, repo := range repositories(s) {
				p := ecrtags.FromTemplate(repo.props)
				if err := p.Validate(); err != nil {
					t.Errorf("%s: ECR would refuse the mutability: %v", where, err)
				}
				for _, tag := range imagetags.Moving(stages) {
					if p.Immutable(tag) {
						t.Errorf("%s: :%s cannot move (%+v)", where, tag, p)
					}
				}
				if own := ownBuildspecRepositories(s)[fmt.Sprint(repo.props["RepositoryName"])]; own {
					// A service with its own build.yml keeps mutable tags, so that its
					// re-runs of a commit work (TestCommitTagsAndOwnBuildspecs).
					if p.Immutable(commits[0]) {
						t.Errorf("%s: the service runs its own build.yml, yet commit tags are immutable (%+v)", where, p)
					}
					continue
				}
				if _, ok := imagetags.Cover(imagetags.Moving(stages), ecrtags.MaxFilters); ok {
					for _, c := range commits {
						if !p.Immutable(c) {
							t.Errorf("%s: commit tag %s is mutable (%+v)", where, c, p)
						}
					}
				}
			}
		})
	}
}

// TestMutableFallbackWarns: stage names made only of hex characters each need an
// exclusion filter of their own; with five of them nothing is left for latest, so
// the repository is MUTABLE, and synth says so on every repository.
func TestMutableFallbackWarns(t *testing.T) {
	cfg, err := config.Load("stagecoach.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Stages = nil
	for i := range cfg.Services {
		cfg.Services[i].Stages = nil // the overrides name the default stages
	}
	for _, name := range []string{"beef", "cafe", "a1", "dead", "add"} {
		cfg.Stages = append(cfg.Stages, config.Stage{Name: name, Images: config.ImagesRegional})
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s := synthesizeConfig(t, "hex stages", cfg, false)
	for where, repo := range repositories(s) {
		if p := ecrtags.FromTemplate(repo.props); p.Mutability != ecrtags.Mutable {
			t.Errorf("%s: %+v, want MUTABLE", where, p)
		}
	}
	warned := 0
	for _, w := range s.warnings {
		if strings.Contains(w, "commit tags included") {
			warned++
		}
	}
	if warned != len(cfg.Services) {
		t.Errorf("%d warnings about mutable commit tags, want one per repository (%d): %q", warned, len(cfg.Services), s.warnings)
	}
}

// ownBuildspecRepositories names the repositories of services that run a build.yml
// of their own.
func ownBuildspecRepositories(s *synthesis) map[string]bool {
	out := map[string]bool{}
	for _, svc := range s.cfg.Services {
		if svc.Build.Buildspec != "" {
			out[names.Repository(s.cfg.App, svc.Name)] = true
		}
	}
	return out
}
