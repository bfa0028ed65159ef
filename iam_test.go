package main

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stagecoach/stagecoach/internal/names"
)

// statement is one IAM policy statement, rendered.
type statement struct {
	Policy    string   // logical ID of the AWS::IAM::Policy
	Roles     []string // logical IDs of the roles it is attached to
	Actions   []string
	Resources []string
}

func statements(tmpl map[string]any) []statement {
	var out []statement
	for id, p := range resources(tmpl, "AWS::IAM::Policy") {
		var roles []string
		for _, r := range p["Roles"].([]any) {
			roles = append(roles, stripRef(render(r)))
		}
		doc := p["PolicyDocument"].(map[string]any)
		for _, s := range doc["Statement"].([]any) {
			st := s.(map[string]any)
			if st["Effect"] != "Allow" {
				continue
			}
			out = append(out, statement{Policy: id, Roles: roles, Actions: strs(st["Action"]), Resources: strs(st["Resource"])})
		}
	}
	return out
}

// strs renders a string or a list of values.
func strs(v any) []string {
	if l, ok := v.([]any); ok {
		var out []string
		for _, x := range l {
			out = append(out, render(x))
		}
		return out
	}
	return []string{render(v)}
}

// wildcardActions are the only actions granted on "*", each because AWS offers no
// resource-level permission for it (see the README's security section).
var wildcardActions = []string{
	"ecr:GetAuthorizationToken",
	"codepipeline:PutJobSuccessResult", "codepipeline:PutJobFailureResult",
	"lambda:ListFunctions",
	// Only on release roles of services with their own release.yml (grantTaskDefinitions).
	"ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition",
}

// TestOnlyUnscopableActionsOnStar pins that no role gets any action on "*" except
// the ones AWS cannot scope.
func TestOnlyUnscopableActionsOnStar(t *testing.T) {
	forEachConfig(t, func(t *testing.T, s *synthesis) {
		for stack, tmpl := range s.templates {
			for _, st := range statements(tmpl) {
				if !slices.Contains(st.Resources, "*") {
					continue
				}
				for _, a := range st.Actions {
					if !slices.Contains(wildcardActions, a) {
						t.Errorf("%s/%s grants %s on *", stack, st.Policy, a)
					}
				}
			}
		}
	})
}

// grantsOf returns every action → resources granted to the roles whose logical ID
// starts with prefix.
func grantsOf(tmpl map[string]any, prefix string) map[string][]string {
	out := map[string][]string{}
	for _, st := range statements(tmpl) {
		if !slices.ContainsFunc(st.Roles, func(r string) bool { return strings.HasPrefix(r, prefix) }) {
			continue
		}
		for _, a := range st.Actions {
			out[a] = append(out[a], st.Resources...)
		}
	}
	for a := range out {
		sort.Strings(out[a])
		out[a] = slices.Compact(out[a])
	}
	return out
}

// TestLeastPrivilege pins what the build, release and task roles may do: which services
// and which repositories and ECS services. TestIAMSimulation (iam_simulation_test.go)
// evaluates the policies for every call, allowed and refused.
func TestLeastPrivilege(t *testing.T) {
	forEachConfig(t, func(t *testing.T, s *synthesis) {
		cfg := s.cfg
		for _, svc := range cfg.Services {
			tmpl := s.templates[names.PipelineStack(cfg.App, svc.Name)]
			repo := "${" + onlyID(t, tmpl, "AWS::ECR::Repository") + ".Arn}"
			check := func(role string, grants map[string][]string, regionalRepo string) {
				t.Helper()
				repos := []string{repo}
				if regionalRepo != "" {
					repos = append(repos, regionalRepo)
					sort.Strings(repos)
				}
				for action, res := range grants {
					service := strings.SplitN(action, ":", 2)[0]
					switch service {
					case "ecr":
						if action != "ecr:GetAuthorizationToken" && !slices.Equal(res, repos) {
							t.Errorf("%s: %s on %v, want only the service's repositories %v", role, action, res, repos)
						}
					case "ecs":
						if !strings.HasPrefix(role, "Release") {
							t.Errorf("%s may call %s", role, action)
						}
					case "s3", "logs", "codebuild", "codeconnections", "codestar-connections", "ssm", "secretsmanager", "kms":
						// What these allow, key by key (the project's own bucket prefixes, the
						// connection for the configured repository only), TestIAMSimulation checks.
					case "iam":
						// A user's release.yml may pass the stage service's two roles to
						// the task definitions it registers, and nothing else.
						stage := strings.ToLower(strings.TrimPrefix(role, "Release"))
						for _, st := range cfg.Stages {
							if names.Pascal(st.Name) == strings.TrimPrefix(role, "Release") {
								stage = st.Name
							}
						}
						want := []string{
							"arn:${AWS::Partition}:iam::${AWS::AccountId}:role/" + names.ExecutionRole(cfg.App, stage, svc.Name),
							"arn:${AWS::Partition}:iam::${AWS::AccountId}:role/" + names.TaskRole(cfg.App, stage, svc.Name),
						}
						if action != "iam:PassRole" || svc.Release.Buildspec == "" || !slices.Equal(res, want) {
							t.Errorf("%s: %s on %v; only a user's release.yml may pass exactly %v", role, action, res, want)
						}
					default:
						t.Errorf("%s: unexpected %s on %v", role, action, res)
					}
				}
			}
			build := grantsOf(tmpl, "BuildProjectRole")
			if len(build["ecr:PutImage"]) == 0 || len(build["ecr:GetAuthorizationToken"]) == 0 {
				t.Errorf("the build role cannot push: %v", build)
			}
			check("Build", build, "")
			for i, stage := range cfg.Stages {
				role := "Release" + names.Pascal(stage.Name)
				grants := grantsOf(tmpl, role+"ProjectRole")
				regionalRepo := ""
				if r := cfg.StageRegion(i); cfg.PullsRegionally(i) {
					regionalRepo = fmt.Sprintf("arn:${AWS::Partition}:ecr:%s:${AWS::AccountId}:repository/%s", r, names.Repository(cfg.App, svc.Name))
				}
				check(role, grants, regionalRepo)
				want := []string{fmt.Sprintf("arn:${AWS::Partition}:ecs:%s:${AWS::AccountId}:service/%s/%s",
					cfg.StageRegion(i), names.Cluster(cfg.App, stage.Name), names.Service(cfg.App, stage.Name, svc.Name))}
				for _, a := range []string{"ecs:UpdateService", "ecs:DescribeServices"} {
					if !slices.Equal(grants[a], want) {
						t.Errorf("%s: %s on %v, want only %v", role, a, grants[a], want)
					}
				}
			}
		}
		for si, stage := range cfg.Stages {
			tmpl := s.templates[names.StageStack(cfg.App, stage.Name)]
			for _, svc := range cfg.Services {
				grants := grantsOf(tmpl, names.Pascal(svc.Name)+"TaskExecutionRole")
				if len(grants["ecr:BatchGetImage"]) == 0 {
					t.Errorf("%s/%s execution role cannot pull: %v", stage.Name, svc.Name, grants)
				}
				// Each stage pulls from its own region's repository: the home one or
				// the regional copy.
				pullRegion := cfg.Region
				if cfg.PullsRegionally(si) {
					pullRegion = cfg.StageRegion(si)
				}
				repoARN := fmt.Sprintf("arn:${AWS::Partition}:ecr:%s:${AWS::AccountId}:repository/%s", pullRegion, names.Repository(cfg.App, svc.Name))
				for action, res := range grants {
					switch {
					case action == "ecr:GetAuthorizationToken":
					case strings.HasPrefix(action, "ecr:"):
						if !slices.Equal(res, []string{repoARN}) {
							t.Errorf("%s/%s execution role: %s on %v, want only %s", stage.Name, svc.Name, action, res, repoARN)
						}
					case strings.HasPrefix(action, "secretsmanager:"), strings.HasPrefix(action, "ssm:"):
						// Exactly the configured secrets: checked by TestSecretsAreReferences.
					case strings.HasPrefix(action, "logs:"):
					default:
						t.Errorf("%s/%s execution role may %s on %v", stage.Name, svc.Name, action, res)
					}
				}
			}
		}
	})
}

// ownedRepositoryID is the logical ID of the repository called name in tmpl, or "".
func ownedRepositoryID(tmpl map[string]any, name string) string {
	for id, r := range resources(tmpl, "AWS::ECR::Repository") {
		if r["RepositoryName"] == name {
			return id
		}
	}
	return ""
}
