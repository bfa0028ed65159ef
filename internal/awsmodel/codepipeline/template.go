package codepipeline

import (
	"encoding/json"
	"fmt"
)

// FromTemplate reads the structure of the one AWS::CodePipeline::Pipeline in a
// synthesized template. resolve evaluates the CloudFormation intrinsics in a value
// (rehearsal.Resolver does); pipeline variables are left for the model to resolve.
func FromTemplate(template map[string]any, resolve func(any) (any, error)) (Pipeline, error) {
	resources, _ := template["Resources"].(map[string]any)
	var props map[string]any
	for _, r := range resources {
		if r, _ := r.(map[string]any); r["Type"] == "AWS::CodePipeline::Pipeline" {
			if props != nil {
				return Pipeline{}, fmt.Errorf("codepipeline: the template has more than one pipeline")
			}
			props, _ = r["Properties"].(map[string]any)
		}
	}
	if props == nil {
		return Pipeline{}, fmt.Errorf("codepipeline: the template has no pipeline")
	}
	var p Pipeline
	stages, _ := props["Stages"].([]any)
	for _, st := range stages {
		st, _ := st.(map[string]any)
		stage := Stage{}
		stage.Name, _ = st["Name"].(string)
		actions, _ := st["Actions"].([]any)
		for _, a := range actions {
			a, _ := a.(map[string]any)
			typ, _ := a["ActionTypeId"].(map[string]any)
			conf, _ := a["Configuration"].(map[string]any)
			act := Action{RunOrder: 1}
			act.Name, _ = a["Name"].(string)
			act.Namespace, _ = a["Namespace"].(string)
			if n, ok := a["RunOrder"].(float64); ok {
				act.RunOrder = int(n)
			}
			where := stage.Name + "/" + act.Name
			switch typ["Provider"] {
			case "CodeStarSourceConnection":
				act.Kind = Source
			case "Manual":
				act.Kind = Approval
			case "Lambda":
				act.Kind = Lambda
				act.Target = refOf(conf["FunctionName"])
				v, err := resolve(conf["UserParameters"])
				if err != nil {
					return Pipeline{}, fmt.Errorf("codepipeline: %s: UserParameters: %w", where, err)
				}
				act.UserParameters, _ = v.(string)
			case "CodeBuild":
				act.Kind = CodeBuild
				act.Target = refOf(conf["ProjectName"])
				if raw, ok := conf["EnvironmentVariables"]; ok {
					v, err := resolve(raw)
					if err != nil {
						return Pipeline{}, fmt.Errorf("codepipeline: %s: EnvironmentVariables: %w", where, err)
					}
					s, _ := v.(string)
					var list []struct{ Name, Value string }
					if err := json.Unmarshal([]byte(s), &list); err != nil {
						return Pipeline{}, fmt.Errorf("codepipeline: %s: EnvironmentVariables: %w", where, err)
					}
					act.Env = map[string]string{}
					for _, e := range list {
						act.Env[e.Name] = e.Value
					}
				}
			default:
				return Pipeline{}, fmt.Errorf("codepipeline: %s: provider %v is not modelled", where, typ["Provider"])
			}
			stage.Actions = append(stage.Actions, act)
		}
		p.Stages = append(p.Stages, stage)
	}
	return p, nil
}

func refOf(v any) string {
	m, _ := v.(map[string]any)
	s, _ := m["Ref"].(string)
	return s
}
