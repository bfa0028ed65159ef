package main

import (
	"testing"
)

// CloudFormation's per-template quotas.
const (
	maxResources  = 500
	maxOutputs    = 200
	maxParameters = 200
	// maxTemplateBytes is the size of a template CloudFormation reads from S3 (the
	// CDK uploads every template there).
	maxTemplateBytes = 1 << 20
)

// headroom is the share of each quota a template may use: the rest is left for the
// resources a user adds to the stacks and for later stagecoach versions.
const headroom = 0.8

// TestCloudFormationLimits keeps every stack of every golden config, the 10-service ×
// 4-stage one included, well inside CloudFormation's quotas.
func TestCloudFormationLimits(t *testing.T) {
	forEachConfig(t, func(t *testing.T, s *synthesis) {
		for stack, tmpl := range s.templates {
			count := func(key string) int {
				m, _ := tmpl[key].(map[string]any)
				return len(m)
			}
			for _, q := range []struct {
				what        string
				used, quota int
			}{
				{"resources", count("Resources"), maxResources},
				{"outputs", count("Outputs"), maxOutputs},
				{"parameters", count("Parameters"), maxParameters},
				{"bytes", len(s.raw[stack]), maxTemplateBytes},
			} {
				if float64(q.used) > headroom*float64(q.quota) {
					t.Errorf("%s has %d %s, more than %.0f%% of CloudFormation's %d", stack, q.used, q.what, headroom*100, q.quota)
				}
			}
		}
	})
}
