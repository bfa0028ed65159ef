package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/stagecoach/stagecoach/config"
	"github.com/stagecoach/stagecoach/internal/names"
)

// Tests of the smaller protections of a stage and its secrets: deletion protection
// and the plain-HTTP warning for stages behind an approval, secrets scoped to
// stages, and decryption with customer managed KMS keys.

// loadBalancerAttribute returns the value of one attribute of the stack's load
// balancer, or "" when the template does not set it.
func loadBalancerAttribute(t *testing.T, tmpl map[string]any, key string) string {
	t.Helper()
	lbs := resources(tmpl, "AWS::ElasticLoadBalancingV2::LoadBalancer")
	if len(lbs) != 1 {
		t.Fatalf("%d load balancers, want 1", len(lbs))
	}
	for _, lb := range lbs {
		attrs, _ := lb["LoadBalancerAttributes"].([]any)
		for _, a := range attrs {
			m := a.(map[string]any)
			if m["Key"] == key {
				return render(m["Value"])
			}
		}
	}
	return ""
}

// plainHTTPWarnings returns the synth warnings about stages serving plain HTTP.
func plainHTTPWarnings(s *synthesis) []string {
	var out []string
	for _, w := range s.warnings {
		if strings.Contains(w, "has no certificate: its load balancer serves plain HTTP") {
			out = append(out, w)
		}
	}
	return out
}

// TestStagesBehindApproval: in every golden config, a stage with an approval has
// a load balancer with deletion protection (unless the config turns it off), and
// one without a certificate gets a synth warning naming it; other stages neither.
func TestStagesBehindApproval(t *testing.T) {
	forEachConfig(t, func(t *testing.T, s *synthesis) {
		warned := plainHTTPWarnings(s)
		for _, st := range s.cfg.Stages {
			tmpl, ok := s.templates[names.StageStack(s.cfg.App, st.Name)]
			if !ok {
				continue // a stack the golden config leaves out
			}
			want := "false"
			if *st.DeletionProtection {
				want = "true"
			}
			if got := loadBalancerAttribute(t, tmpl, "deletion_protection.enabled"); got != want {
				t.Errorf("%s: deletion_protection.enabled = %q, want %s (approval %v)", st.Name, got, want, st.Approval)
			}
			if st.Approval && !*st.DeletionProtection {
				t.Errorf("%s: has an approval but no deletion protection by default", st.Name)
			}
			warning := slices.ContainsFunc(warned, func(w string) bool { return strings.Contains(w, "stage "+st.Name+" needs an approval") })
			if want := st.Approval && st.Certificate == ""; warning != want {
				t.Errorf("%s: plain-HTTP warning %v, want %v (approval %v, certificate %q)", st.Name, warning, want, st.Approval, st.Certificate)
			}
		}
	})
}

// scopedSecretsConfig has a service-level secret for prod alone, secrets encrypted
// with keys in two regions, build secrets, and a service without secrets. prod turns
// its deletion protection off.
const scopedSecretsConfig = `app: acme
region: us-east-1
source:
  repository: acme/shop
stages:
  - name: dev
  - name: prod
    approval: true
    deletionProtection: false
services:
  - name: web
    secrets:
      SESSION_KEY: arn:aws:secretsmanager:us-east-1:012345678901:secret:web/session-AbCdEf
      DB_PASSWORD: arn:aws:secretsmanager:us-east-1:012345678901:secret:prod/db-AbCdEf
    secretStages:
      DB_PASSWORD: [prod]
    secretKeys:
      - arn:aws:kms:us-east-1:012345678901:key/11111111-2222-3333-4444-555555555555
      - arn:aws:kms:eu-west-1:012345678901:key/66666666-7777-8888-9999-000000000000
    build:
      secrets:
        NPM_TOKEN: /acme/npm-token
  - name: api
    route:
      paths: ["/api/*"]
`

// kmsGrant is one kms statement: the keys and the services it may be used through.
type kmsGrant struct {
	Actions, Keys, ViaService []string
}

// kmsGrants returns the statements granting any kms: action to the roles whose
// logical ID starts with rolePrefix.
func kmsGrants(t *testing.T, tmpl map[string]any, rolePrefix string) []kmsGrant {
	t.Helper()
	var out []kmsGrant
	for _, p := range resources(tmpl, "AWS::IAM::Policy") {
		attached := false
		for _, r := range p["Roles"].([]any) {
			attached = attached || strings.HasPrefix(stripRef(render(r)), rolePrefix)
		}
		if !attached {
			continue
		}
		for _, s := range p["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			st := s.(map[string]any)
			actions := strs(st["Action"])
			if !slices.ContainsFunc(actions, func(a string) bool { return strings.HasPrefix(a, "kms:") }) {
				continue
			}
			g := kmsGrant{Actions: actions, Keys: strs(st["Resource"])}
			if cond, ok := st["Condition"].(map[string]any)["StringEquals"].(map[string]any); ok {
				g.ViaService = strs(cond["kms:ViaService"])
			}
			out = append(out, g)
		}
	}
	return out
}

func TestScopedSecretsAndKeys(t *testing.T) {
	cfg, err := config.Parse([]byte(scopedSecretsConfig), "scoped-secrets.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := synthesizeConfig(t, "scoped-secrets", cfg, false)
	const prodDB = "arn:aws:secretsmanager:us-east-1:012345678901:secret:prod/db-AbCdEf"
	wantKMS := []kmsGrant{
		{[]string{"kms:Decrypt"}, []string{"arn:aws:kms:eu-west-1:012345678901:key/66666666-7777-8888-9999-000000000000"},
			[]string{"secretsmanager.eu-west-1.amazonaws.com", "ssm.eu-west-1.amazonaws.com"}},
		{[]string{"kms:Decrypt"}, []string{"arn:aws:kms:us-east-1:012345678901:key/11111111-2222-3333-4444-555555555555"},
			[]string{"secretsmanager.us-east-1.amazonaws.com", "ssm.us-east-1.amazonaws.com"}},
	}
	for _, stage := range []string{"dev", "prod"} {
		tmpl := s.templates["acme-"+stage]
		// The prod-only secret: in prod's task and readable by prod's execution role
		// alone.
		var taskSecrets []string
		for _, td := range resources(tmpl, "AWS::ECS::TaskDefinition") {
			if td["Family"] != "acme-"+stage+"-web" {
				continue
			}
			list, _ := td["ContainerDefinitions"].([]any)[0].(map[string]any)["Secrets"].([]any)
			for _, x := range list {
				taskSecrets = append(taskSecrets, x.(map[string]any)["Name"].(string))
			}
		}
		slices.Sort(taskSecrets)
		readable := grantsOf(tmpl, "WebTaskExecutionRole")["secretsmanager:GetSecretValue"]
		canReadDB := slices.ContainsFunc(readable, func(r string) bool { return strings.HasPrefix(r, strings.TrimSuffix(prodDB, "-AbCdEf")) })
		if stage == "dev" {
			if want := []string{"SESSION_KEY"}; !slices.Equal(taskSecrets, want) {
				t.Errorf("dev's task reads %v, want %v: DB_PASSWORD is scoped to prod", taskSecrets, want)
			}
			if canReadDB {
				t.Errorf("dev's execution role may read prod's database secret: %v", readable)
			}
		} else {
			if want := []string{"DB_PASSWORD", "SESSION_KEY"}; !slices.Equal(taskSecrets, want) {
				t.Errorf("prod's task reads %v, want %v", taskSecrets, want)
			}
			if !canReadDB {
				t.Errorf("prod's execution role may not read its database secret: %v", readable)
			}
		}
		// Both stages read a secret: each execution role decrypts with both keys,
		// only through Secrets Manager or SSM of the key's region.
		if got := kmsGrants(t, tmpl, "WebTaskExecutionRole"); !equalGrants(got, wantKMS) {
			t.Errorf("%s: web's execution role has kms grants %+v, want %+v", stage, got, wantKMS)
		}
		if got := kmsGrants(t, tmpl, "ApiTaskExecutionRole"); len(got) != 0 {
			t.Errorf("%s: api reads no secrets but its execution role has kms grants %+v", stage, got)
		}
		// No other role of the stage touches the keys.
		if got := kmsGrants(t, tmpl, ""); len(got) != len(wantKMS) {
			t.Errorf("%s: %d kms statements in the stack, want %d (web's execution role only)", stage, len(got), len(wantKMS))
		}
	}
	// The build has a secret: its role decrypts too; no release role does.
	pipeline := s.templates["acme-web-pipeline"]
	if got := kmsGrants(t, pipeline, "BuildProjectRole"); !equalGrants(got, wantKMS) {
		t.Errorf("web's build role has kms grants %+v, want %+v", got, wantKMS)
	}
	if got := kmsGrants(t, pipeline, ""); len(got) != len(wantKMS) {
		t.Errorf("%d kms statements in the pipeline stack, want %d (the build role's only)", len(got), len(wantKMS))
	}
	if got := kmsGrants(t, s.templates["acme-api-pipeline"], ""); len(got) != 0 {
		t.Errorf("api's pipeline stack has kms grants %+v; api has no secrets", got)
	}

	// deletionProtection: false wins over the approval's default; the warning stays.
	if got := loadBalancerAttribute(t, s.templates["acme-prod"], "deletion_protection.enabled"); got != "false" {
		t.Errorf("prod with deletionProtection: false has deletion_protection.enabled = %q", got)
	}
	if w := plainHTTPWarnings(s); len(w) != 1 || !strings.Contains(w[0], "stage prod needs an approval") {
		t.Errorf("plain-HTTP warnings %q, want one for prod", w)
	}
}

func equalGrants(a, b []kmsGrant) bool {
	sortGrants := func(g []kmsGrant) []kmsGrant {
		g = slices.Clone(g)
		slices.SortFunc(g, func(x, y kmsGrant) int { return strings.Compare(strings.Join(x.Keys, ","), strings.Join(y.Keys, ",")) })
		return g
	}
	a, b = sortGrants(a), sortGrants(b)
	return slices.EqualFunc(a, b, func(x, y kmsGrant) bool {
		return slices.Equal(x.Actions, y.Actions) && slices.Equal(x.Keys, y.Keys) && slices.Equal(x.ViaService, y.ViaService)
	})
}
