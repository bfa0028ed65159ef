package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stagecoach/stagecoach/config"
	"github.com/stagecoach/stagecoach/internal/names"
)

// credentialLike matches what a leaked credential looks like in text: AWS access key
// IDs, private keys, and assignments of obvious secret names.
var credentialLike = regexp.MustCompile(`AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|(?i)(aws_secret_access_key|password)\s*[=:]\s*["']?[A-Za-z0-9/+]{8,}`)

// TestSecretsAreReferences pins that secrets only ever travel as references: ECS
// task secrets (ValueFrom) and CodeBuild SECRETS_MANAGER / PARAMETER_STORE
// variables, each readable by exactly the roles that need it, and never as a value.
func TestSecretsAreReferences(t *testing.T) {
	forEachConfig(t, func(t *testing.T, s *synthesis) {
		cfg := s.cfg
		for stack, raw := range s.raw {
			if m := credentialLike.Find(raw); m != nil {
				t.Errorf("%s contains something that looks like a credential: %q", stack, m)
			}
		}
		for si, svc := range cfg.Services {
			for i, stage := range cfg.Stages {
				d := cfg.Deployment(si, i)
				tmpl := s.templates[names.StageStack(cfg.App, stage.Name)]
				task := resources(tmpl, "AWS::ECS::TaskDefinition")
				var container map[string]any
				for _, td := range task {
					if td["Family"] == names.Service(cfg.App, stage.Name, svc.Name) {
						container = td["ContainerDefinitions"].([]any)[0].(map[string]any)
					}
				}
				if container == nil {
					t.Fatalf("no task definition for %s in %s", svc.Name, stage.Name)
				}
				got := map[string]string{}
				if list, ok := container["Secrets"].([]any); ok {
					for _, x := range list {
						m := x.(map[string]any)
						got[m["Name"].(string)] = render(m["ValueFrom"])
					}
				}
				if len(got) != len(d.Secrets) {
					t.Errorf("%s/%s: task secrets %v, config %v", stage.Name, svc.Name, got, d.Secrets)
				}
				env, _ := container["Environment"].([]any)
				for _, x := range env {
					m := x.(map[string]any)
					if _, isSecret := d.Secrets[m["Name"].(string)]; isSecret {
						t.Errorf("%s/%s: secret %s is a plain environment variable", stage.Name, svc.Name, m["Name"])
					}
				}
				for name, ref := range d.Secrets {
					sec, _ := config.ParseSecret(ref)
					want := sec.ARN
					if sec.Kind == config.ParameterName {
						want = sec.Name
					}
					if !strings.Contains(got[name], strings.TrimPrefix(want, "/")) {
						t.Errorf("%s/%s: secret %s reads %q, want a reference to %s", stage.Name, svc.Name, name, got[name], want)
					}
				}
				// The execution role reads exactly the secrets of this service.
				readable := grantsOf(tmpl, names.Pascal(svc.Name)+"TaskExecutionRole")["secretsmanager:GetSecretValue"]
				var wantARNs []string
				for _, ref := range d.Secrets {
					if sec, _ := config.ParseSecret(ref); sec.Kind == config.SecretsManager {
						wantARNs = append(wantARNs, sec.ARN)
					}
				}
				for _, r := range readable {
					if !slices.ContainsFunc(wantARNs, func(a string) bool {
						return strings.HasPrefix(r, a) || strings.HasPrefix(a, strings.TrimSuffix(r, "-??????"))
					}) {
						t.Errorf("%s/%s: execution role may read %s, which is not one of its secrets", stage.Name, svc.Name, r)
					}
				}
				if len(readable) < len(wantARNs) {
					t.Errorf("%s/%s: execution role may read %v, want %v", stage.Name, svc.Name, readable, wantARNs)
				}
			}
			// Build secrets are CodeBuild secret variables (checked by value and type in
			// TestBuildEnvironment); none of them may also appear as plaintext.
			tmpl := s.templates[names.PipelineStack(cfg.App, svc.Name)]
			for name, v := range variables(project(t, tmpl, names.BuildProject(cfg.App, svc.Name))) {
				if _, isSecret := svc.Build.Secrets[name]; isSecret && v.Type == "PLAINTEXT" {
					t.Errorf("build secret %s is plaintext", name)
				}
			}
		}
	})
}
