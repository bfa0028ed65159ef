package rehearsal

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Step is one CodeBuild action of a synthesized pipeline: the project it starts
// and everything the project's environment, the action and the project's role
// define, so a rehearsal runs the build or release exactly as deployed.
type Step struct {
	// Stage is the pipeline stage the action belongs to, e.g. "Build" or "dev".
	Stage string
	// Action is the action's name, e.g. "Release".
	Action string
	// Project is the logical ID of the CodeBuild project the action starts.
	Project string
	// Vars is the project's environment, resolved (see EnvFromTemplate).
	Vars []EnvVar
	// Overrides are the action's EnvironmentVariables. Pipeline variables such
	// as #{Image.IMAGE_DIGEST} are left as written: only a pipeline execution
	// knows them (see PipelineVariables).
	Overrides []EnvVar
	// Allowed lists the IAM actions the project's role may call, from the
	// identity policies attached to it in the template, sorted.
	Allowed []string
	// Policy holds the role's statements with their resources resolved, so the
	// stand-ins decide by resource (REHEARSAL_IAM_POLICY).
	Policy []Statement
	// Privileged is the project's Environment.PrivilegedMode: only then does
	// CodeBuild run a Docker daemon the build can use.
	Privileged bool
}

// Statement is one statement of a role's identity policies: Allow or Deny, its
// actions, resource ARNs and condition block (see package iampolicy).
type Statement struct {
	Effect    string                    `json:"Effect"`
	Action    []string                  `json:"Action"`
	Resource  []string                  `json:"Resource"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

// PipelineFromTemplate returns the CodeBuild actions of the one
// AWS::CodePipeline::Pipeline in template, in the order an execution runs them.
func PipelineFromTemplate(template map[string]any, r Resolver) ([]Step, error) {
	resources, _ := template["Resources"].(map[string]any)
	var pipelines []string
	for id, res := range resources {
		if m, _ := res.(map[string]any); m["Type"] == "AWS::CodePipeline::Pipeline" {
			pipelines = append(pipelines, id)
		}
	}
	if len(pipelines) != 1 {
		return nil, fmt.Errorf("rehearsal: the template has %d CodePipeline pipelines, want 1", len(pipelines))
	}
	props, _ := resources[pipelines[0]].(map[string]any)["Properties"].(map[string]any)
	stages, _ := props["Stages"].([]any)
	var steps []Step
	for _, st := range stages {
		st, _ := st.(map[string]any)
		stage, _ := st["Name"].(string)
		actions, _ := st["Actions"].([]any)
		// Actions run by RunOrder; CloudFormation keeps their order otherwise.
		sorted := slices.Clone(actions)
		sort.SliceStable(sorted, func(i, j int) bool { return runOrder(sorted[i]) < runOrder(sorted[j]) })
		for _, a := range sorted {
			a, _ := a.(map[string]any)
			typ, _ := a["ActionTypeId"].(map[string]any)
			if typ["Provider"] != "CodeBuild" {
				continue
			}
			name, _ := a["Name"].(string)
			where := fmt.Sprintf("pipeline stage %s, action %s", stage, name)
			conf, _ := a["Configuration"].(map[string]any)
			ref, _ := conf["ProjectName"].(map[string]any)
			project, ok := ref["Ref"].(string)
			if !ok {
				return nil, fmt.Errorf("rehearsal: %s: ProjectName is not a Ref to a project of this template", where)
			}
			step := Step{Stage: stage, Action: name, Project: project}
			var err error
			if step.Vars, err = EnvFromTemplate(template, ByLogicalID(project), r); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			if raw, ok := conf["EnvironmentVariables"]; ok {
				if step.Overrides, err = actionVariables(raw, r, template); err != nil {
					return nil, fmt.Errorf("rehearsal: %s: EnvironmentVariables: %w", where, err)
				}
			}
			if step.Allowed, err = AllowedActions(template, project); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			if step.Policy, err = RoleStatements(template, project, r); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			res, _ := resources[project].(map[string]any)
			projectProps, _ := res["Properties"].(map[string]any)
			environment, _ := projectProps["Environment"].(map[string]any)
			step.Privileged, _ = environment["PrivilegedMode"].(bool)
			steps = append(steps, step)
		}
	}
	return steps, nil
}

func runOrder(a any) float64 {
	m, _ := a.(map[string]any)
	if n, ok := m["RunOrder"].(float64); ok {
		return n
	}
	return 1
}

// actionVariables reads a CodeBuild action's EnvironmentVariables: a JSON
// string (possibly built with intrinsics) of [{name, value, type}].
func actionVariables(raw any, r Resolver, template map[string]any) ([]EnvVar, error) {
	v, err := r.Resolve(template, raw)
	if err != nil {
		return nil, err
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("is %T, want a JSON string", v)
	}
	var list []struct{ Name, Value, Type string }
	if err := json.Unmarshal([]byte(s), &list); err != nil {
		return nil, err
	}
	out := make([]EnvVar, len(list))
	for i, e := range list {
		if e.Type == "" {
			e.Type = "PLAINTEXT"
		}
		out[i] = EnvVar{Name: e.Name, Value: e.Value, Type: e.Type}
	}
	return out, nil
}

var pipelineVar = regexp.MustCompile(`#\{([A-Za-z0-9@\-_]+\.[A-Za-z0-9@\-_]+)\}`)

// PipelineVariables resolves the pipeline variables (#{Namespace.NAME}) in an
// action's variables with values, as one pipeline execution would. A variable
// without a value is an error: the execution would fail there too.
func PipelineVariables(vars []EnvVar, values map[string]string) (map[string]string, error) {
	out := map[string]string{}
	var missing []string
	for _, v := range vars {
		if v.Type != "PLAINTEXT" {
			return nil, fmt.Errorf("rehearsal: action variable %s is %s; only PLAINTEXT is resolved", v.Name, v.Type)
		}
		out[v.Name] = pipelineVar.ReplaceAllStringFunc(v.Value, func(m string) string {
			name := m[2 : len(m)-1]
			val, ok := values[name]
			if !ok {
				missing = append(missing, name)
			}
			return val
		})
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("rehearsal: no value for pipeline variables %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// AllowedActions returns the IAM actions the service role of the CodeBuild
// project with logical ID project is allowed, from the AWS::IAM::Policy
// resources and inline policies attached to the role in template: the actions
// of its Allow statements. What narrows them (resources, conditions, Deny
// statements) is in RoleStatements. NotAction, NotResource and managed policies
// are not modelled: a role that uses them is an error rather than a guess.
// Statements only about the source connection are skipped: CodeBuild uses the
// connection for the clone before the buildspec runs, never through a command a
// rehearsal stands in for (the IAM simulation, iam_simulation_test.go, checks
// them).
func AllowedActions(template map[string]any, project string) ([]string, error) {
	role, docs, err := roleDocuments(template, project)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, d := range docs {
		d, _ := d.(map[string]any)
		statements, _ := d["Statement"].([]any)
		for _, st := range statements {
			st, _ := st.(map[string]any)
			if connectionOnly(st["Action"]) {
				continue
			}
			if err := modelled(role, st); err != nil {
				return nil, err
			}
			if st["Effect"] != "Allow" {
				continue
			}
			for _, a := range stringList(st["Action"]) {
				seen[a] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for a := range seen {
		out = append(out, a)
	}
	sort.Strings(out)
	return out, nil
}

// modelled refuses a statement the rehearsal's IAM check cannot decide.
func modelled(role string, st map[string]any) error {
	if (st["Effect"] != "Allow" && st["Effect"] != "Deny") || st["NotAction"] != nil || st["NotResource"] != nil {
		return fmt.Errorf("rehearsal: role %s has a statement rehearsals do not model (NotAction or NotResource): %v", role, st)
	}
	return nil
}

// RoleStatements returns the statements of the service role of the CodeBuild
// project with logical ID project, Allow and Deny, with their Resource and
// Condition resolved by r, under the same limits as AllowedActions.
func RoleStatements(template map[string]any, project string, r Resolver) ([]Statement, error) {
	role, docs, err := roleDocuments(template, project)
	if err != nil {
		return nil, err
	}
	var out []Statement
	for _, d := range docs {
		d, _ := d.(map[string]any)
		statements, _ := d["Statement"].([]any)
		for _, st := range statements {
			st, _ := st.(map[string]any)
			if err := modelled(role, st); err != nil {
				return nil, err
			}
			res, err := r.Resolve(template, st["Resource"])
			if err != nil {
				return nil, fmt.Errorf("rehearsal: role %s: %w", role, err)
			}
			s := Statement{Effect: st["Effect"].(string), Action: stringList(st["Action"]), Resource: stringList(res)}
			if c, ok := st["Condition"]; ok {
				resolved, err := r.Resolve(template, c)
				if err != nil {
					return nil, fmt.Errorf("rehearsal: role %s: Condition: %w", role, err)
				}
				b, _ := json.Marshal(resolved)
				if err := json.Unmarshal(b, &s.Condition); err != nil {
					return nil, fmt.Errorf("rehearsal: role %s: Condition is not OPERATOR: {KEY: VALUE}: %v", role, c)
				}
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// stringList reads a policy element that is a string or a list of strings.
func stringList(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// roleDocuments returns the policy documents attached to the service role of a
// project: its inline policies and the AWS::IAM::Policy resources naming it.
func roleDocuments(template map[string]any, project string) (string, []any, error) {
	resources, _ := template["Resources"].(map[string]any)
	res, _ := resources[project].(map[string]any)
	props, _ := res["Properties"].(map[string]any)
	att, _ := props["ServiceRole"].(map[string]any)["Fn::GetAtt"].([]any)
	if len(att) != 2 {
		return "", nil, fmt.Errorf("rehearsal: project %s: ServiceRole is not Fn::GetAtt of a role of this template", project)
	}
	role, _ := att[0].(string)
	roleProps, _ := resources[role].(map[string]any)["Properties"].(map[string]any)
	if _, ok := roleProps["ManagedPolicyArns"]; ok {
		return "", nil, fmt.Errorf("rehearsal: role %s has managed policies, which rehearsals cannot read", role)
	}
	var docs []any
	if inline, ok := roleProps["Policies"].([]any); ok {
		for _, p := range inline {
			p, _ := p.(map[string]any)
			docs = append(docs, p["PolicyDocument"])
		}
	}
	for _, r := range resources {
		r, _ := r.(map[string]any)
		if r["Type"] != "AWS::IAM::Policy" {
			continue
		}
		p, _ := r["Properties"].(map[string]any)
		roles, _ := p["Roles"].([]any)
		for _, ref := range roles {
			if m, _ := ref.(map[string]any); m["Ref"] == role {
				docs = append(docs, p["PolicyDocument"])
			}
		}
	}
	return role, docs, nil
}

// connectionOnly reports whether a statement's Action names only connection actions.
func connectionOnly(action any) bool {
	var actions []any
	switch a := action.(type) {
	case string:
		actions = []any{a}
	case []any:
		actions = a
	}
	for _, a := range actions {
		s, _ := a.(string)
		if !strings.HasPrefix(s, "codeconnections:") && !strings.HasPrefix(s, "codestar-connections:") {
			return false
		}
	}
	return len(actions) > 0
}
