package main

import (
	"testing"

	"github.com/stagecoach/stagecoach/internal/awsmodel/ecrtags"
	"github.com/stagecoach/stagecoach/internal/contract"
	"github.com/stagecoach/stagecoach/internal/names"
)

// TestCommitTagsAndOwnBuildspecs pins the tag policy a TinyStacks build.yml needs: the
// repositories (home and regional) of a service that names its own build.yml keep
// every tag mutable, so a re-run of a commit can push its commit tag again; those of
// a service on stagecoach's build.yml keep a commit tag immutable (the default build.yml
// skips one that exists), and :latest and the stage tags always move.
func TestCommitTagsAndOwnBuildspecs(t *testing.T) {
	const commit = "0123456789abcdef0123456789abcdef01234567"
	forEachConfig(t, func(t *testing.T, s *synthesis) {
		cfg := s.cfg
		for _, svc := range cfg.Services {
			seen := 0
			for stack, tmpl := range s.templates {
				for id, props := range resources(tmpl, "AWS::ECR::Repository") {
					if props["RepositoryName"] != names.Repository(cfg.App, svc.Name) {
						continue
					}
					seen++
					p := ecrtags.FromTemplate(props)
					if err := p.Validate(); err != nil {
						t.Errorf("%s/%s: ECR would refuse %+v: %v", stack, id, p, err)
					}
					for _, tag := range append([]string{contract.LatestTag}, stageNames(s)...) {
						if p.Immutable(tag) {
							t.Errorf("%s/%s: :%s is immutable; releases and builds must move it", stack, id, tag)
						}
					}
					own := svc.Build.Buildspec != ""
					switch {
					case own && p.Immutable(commit):
						t.Errorf("%s/%s: service %s runs its own build.yml, yet commit tags are immutable: a re-run of a commit would fail its build", stack, id, svc.Name)
					case !own && len(cfg.Stages) < ecrtags.MaxFilters && !p.Immutable(commit):
						t.Errorf("%s/%s: service %s runs stagecoach's build.yml, yet commit tags are mutable", stack, id, svc.Name)
					}
				}
			}
			if seen == 0 {
				t.Errorf("no repository of service %s", svc.Name)
			}
		}
	})
}

func stageNames(s *synthesis) []string {
	var out []string
	for _, st := range s.cfg.Stages {
		out = append(out, st.Name)
	}
	return out
}
