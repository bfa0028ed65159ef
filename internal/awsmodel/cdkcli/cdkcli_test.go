package cdkcli

import (
	"slices"
	"testing"
)

// A manifest shaped like the one stagecoach synthesized before stacks became
// independent: every stage stack depended on the pipeline stack, a later stage in a
// region on the first one there, and stacks on their asset manifests.
const manifest = `{"version": "48.0.0", "artifacts": {
  "acme-web-pipeline.assets": {"type": "cdk:asset-manifest"},
  "acme-web-pipeline": {"type": "aws:cloudformation:stack", "dependencies": ["acme-web-pipeline.assets"]},
  "acme-dev": {"type": "aws:cloudformation:stack", "dependencies": ["acme-web-pipeline", "acme-dev.assets"]},
  "acme-eu": {"type": "aws:cloudformation:stack", "dependencies": ["acme-web-pipeline"]},
  "acme-eu2": {"type": "aws:cloudformation:stack", "dependencies": ["acme-eu"]},
  "Tree": {"type": "cdk:tree"}
}}`

func TestSelection(t *testing.T) {
	m, err := Read([]byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		destroy     bool
		patterns    []string
		exclusively bool
		want        []string
	}{
		{"destroy takes the dependants along", true, []string{"acme-web-pipeline"}, false, []string{"acme-dev", "acme-eu", "acme-eu2", "acme-web-pipeline"}},
		{"transitively", true, []string{"acme-eu"}, false, []string{"acme-eu", "acme-eu2"}},
		{"unless exclusively", true, []string{"acme-web-pipeline"}, true, []string{"acme-web-pipeline"}},
		{"a stack nothing depends on", true, []string{"acme-dev"}, false, []string{"acme-dev"}},
		{"wildcards", true, []string{"acme-eu*"}, false, []string{"acme-eu", "acme-eu2"}},
		{"deploy takes the dependencies along", false, []string{"acme-eu2"}, false, []string{"acme-eu", "acme-eu2", "acme-web-pipeline"}},
		{"deploy exclusively", false, []string{"acme-eu2"}, true, []string{"acme-eu2"}},
		{"no match", true, []string{"other"}, false, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sel := m.Deploy
			if tc.destroy {
				sel = m.Destroy
			}
			got, err := sel(tc.patterns, tc.exclusively)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	if got := m.Stacks(); len(got) != 4 {
		t.Errorf("stacks %v: the asset manifests and the tree are no stacks", got)
	}
}
