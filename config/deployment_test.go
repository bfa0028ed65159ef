package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestDeployment(t *testing.T) {
	src := minimal + `    cpu: 512
    memory: 1024
    scale: {min: 2, max: 4, cpuTarget: 60}
    env: {A: service, B: service}
    secrets: {S: /acme/s, DB: /acme/db}
    secretStages: {DB: [staging, prod]}
    stages:
      prod:
        env: {B: prod, C: prod}
        secrets: {T: /acme/t}
        scale: {max: 8}
        cpu: 1024
        memory: 2048
      staging:
        memory: 2048
`
	src = strings.Replace(src, "  - name: dev\n", "  - name: dev\n  - name: staging\n  - name: prod\n    approval: true\n    region: eu-west-1\n", 1)
	c, err := Parse(yml(src), "stagecoach.yaml")
	if err != nil {
		t.Fatal(err)
	}
	svc := &c.Services[0]
	on, off := true, false
	tests := []struct {
		stage int
		want  Deployment
	}{
		{0, Deployment{
			Service: svc, Stage: Stage{Name: "dev", Region: "us-east-1", Images: "regional", DeletionProtection: &off}, Region: "us-east-1",
			CPU: 512, Memory: 1024, Scale: Scale{Min: 2, Max: 4, CPUTarget: 60},
			Env: map[string]string{"A": "service", "B": "service"}, Secrets: map[string]string{"S": "/acme/s"},
		}},
		{1, Deployment{
			Service: svc, Stage: Stage{Name: "staging", Region: "us-east-1", Images: "regional", DeletionProtection: &off}, Region: "us-east-1",
			CPU: 512, Memory: 2048, Scale: Scale{Min: 2, Max: 4, CPUTarget: 60},
			Env: map[string]string{"A": "service", "B": "service"}, Secrets: map[string]string{"S": "/acme/s", "DB": "/acme/db"},
		}},
		{2, Deployment{
			Service: svc, Stage: Stage{Name: "prod", Approval: true, Region: "eu-west-1", Images: "regional", DeletionProtection: &on}, Region: "eu-west-1",
			CPU: 1024, Memory: 2048, Scale: Scale{Min: 2, Max: 8, CPUTarget: 60},
			Env:     map[string]string{"A": "service", "B": "prod", "C": "prod"},
			Secrets: map[string]string{"S": "/acme/s", "DB": "/acme/db", "T": "/acme/t"},
		}},
	}
	for _, tc := range tests {
		got := c.Deployment(0, tc.stage)
		if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Deployment(0, %d) (-want +got):\n%s", tc.stage, diff)
		}
	}

	// The maps are fresh: callers may change them without touching the config.
	d := c.Deployment(0, 2)
	d.Env["A"] = "changed"
	d.Secrets["X"] = "/x"
	if svc.Env["A"] != "service" || svc.Stages["prod"].Env["A"] != "" || len(svc.Secrets) != 2 {
		t.Error("changing a Deployment's maps changed the config")
	}

	if got := c.PreviousStage(0); got != "latest" {
		t.Errorf("PreviousStage(0) = %q, want latest", got)
	}
	if got := c.PreviousStage(2); got != "staging" {
		t.Errorf("PreviousStage(2) = %q, want staging", got)
	}
	if got := c.StageRegion(2); got != "eu-west-1" {
		t.Errorf("StageRegion(2) = %q, want eu-west-1", got)
	}
}

func TestImageRegion(t *testing.T) {
	c := &Config{Region: "us-east-1", Stages: []Stage{
		{Name: "dev"},
		{Name: "eu", Region: "eu-west-1"},
		{Name: "euhome", Region: "eu-west-1", Images: ImagesHome},
	}}
	for i, want := range []string{"us-east-1", "eu-west-1", "us-east-1"} {
		if got := c.ImageRegion(i); got != want {
			t.Errorf("stage %s: ImageRegion %q, want %q", c.Stages[i].Name, got, want)
		}
	}
}
