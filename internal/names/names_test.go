package names

import (
	"strings"
	"testing"
)

func TestFit(t *testing.T) {
	tests := []struct {
		name string
		max  int
		want string
	}{
		{"acme-dev", 32, "acme-dev"},
		{strings.Repeat("a", 32), 32, strings.Repeat("a", 32)},
	}
	for _, tc := range tests {
		if got := Fit(tc.name, tc.max); got != tc.want {
			t.Errorf("Fit(%q, %d) = %q, want %q", tc.name, tc.max, got, tc.want)
		}
	}
	long1 := Fit(strings.Repeat("a", 40)+"-x", 32)
	long2 := Fit(strings.Repeat("a", 40)+"-y", 32)
	if len(long1) != 32 || len(long2) != 32 {
		t.Errorf("cut names %q, %q are not 32 characters", long1, long2)
	}
	if long1 == long2 {
		t.Errorf("two different long names cut to the same %q", long1)
	}
	if Fit(strings.Repeat("a", 40)+"-x", 32) != long1 {
		t.Error("Fit is not deterministic")
	}
	if strings.Contains(Fit(strings.Repeat("a", 24)+"-"+strings.Repeat("b", 20), 32), "--") {
		t.Error("Fit left a double hyphen at the cut")
	}
}

func TestNamesAtLimits(t *testing.T) {
	// The longest names config accepts: app 16, service 24, stage 12 characters.
	app, service, stage := strings.Repeat("a", 16), strings.Repeat("s", 24), strings.Repeat("e", 12)
	checks := []struct {
		what string
		got  string
		max  int
	}{
		{"load balancer", LoadBalancer(app, stage), MaxLoadBalancer},
		{"connection", Connection(app, service), MaxConnection},
		{"pipeline stack", PipelineStack(app, service), MaxStack},
		{"stage stack", StageStack(app, stage), MaxStack},
		{"region stack", RegionStack(app, "ap-southeast-2"), MaxStack},
		{"build project", BuildProject(app, service), 255},
		{"release project", ReleaseProject(app, service, stage), 255},
		{"pipeline", Pipeline(app, service), 100},
		{"cluster", Cluster(app, stage), 255},
		{"service", Service(app, stage, service), 255},
		{"repository", Repository(app, service), 256},
		{"log group", LogGroup(app, stage, service), 512},
		{"task role", TaskRole(app, stage, service), MaxRole},
		{"execution role", ExecutionRole(app, stage, service), MaxRole},
	}
	if TaskRole(app, stage, service) == ExecutionRole(app, stage, service) {
		t.Error("the task role and the execution role share a name")
	}
	for _, c := range checks {
		if len(c.got) > c.max {
			t.Errorf("%s name %q has %d characters, limit %d", c.what, c.got, len(c.got), c.max)
		}
	}
}
