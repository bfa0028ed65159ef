package rehearsal

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Resolver evaluates CloudFormation intrinsic functions in a synthesized
// template, with fake but consistent values for what only a deployment would
// know: the account, the region, and the physical names of resources.
// Zero fields take the documented defaults.
type Resolver struct {
	// AccountID answers AWS::AccountId. Default: 123456789012.
	AccountID string
	// Region answers AWS::Region. Default: us-east-1.
	Region string
	// Partition answers AWS::Partition. Default: aws.
	Partition string
	// URLSuffix answers AWS::URLSuffix. Default: amazonaws.com.
	URLSuffix string
	// StackName answers AWS::StackName. Default: "stack".
	StackName string
	// Parameters gives template parameters their values; a parameter not
	// listed takes its Default.
	Parameters map[string]string
}

func (r Resolver) withDefaults() Resolver {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&r.AccountID, "123456789012")
	def(&r.Region, "us-east-1")
	def(&r.Partition, "aws")
	def(&r.URLSuffix, "amazonaws.com")
	def(&r.StackName, "stack")
	return r
}

// EnvVar is one entry of a CodeBuild project's Environment.EnvironmentVariables.
type EnvVar struct {
	Name  string
	Value string
	// Type is PLAINTEXT, PARAMETER_STORE or SECRETS_MANAGER.
	Type string
}

// ProjectMatcher selects a CodeBuild project by its logical ID and raw
// (unresolved) properties.
type ProjectMatcher func(logicalID string, properties map[string]any) bool

// ByLogicalID selects the project with that logical ID.
func ByLogicalID(id string) ProjectMatcher {
	return func(logicalID string, _ map[string]any) bool { return logicalID == id }
}

// ByName selects the project whose Name property is that literal string.
func ByName(name string) ProjectMatcher {
	return func(_ string, props map[string]any) bool { return props["Name"] == name }
}

// EnvFromTemplate returns the environment variables of the one
// AWS::CodeBuild::Project in template that match selects, in template order,
// with intrinsic functions resolved by r.
func EnvFromTemplate(template map[string]any, match ProjectMatcher, r Resolver) ([]EnvVar, error) {
	resources, _ := template["Resources"].(map[string]any)
	var ids []string
	for id, res := range resources {
		res, _ := res.(map[string]any)
		props, _ := res["Properties"].(map[string]any)
		if res["Type"] == "AWS::CodeBuild::Project" && match(id, props) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	switch len(ids) {
	case 0:
		return nil, fmt.Errorf("rehearsal: no AWS::CodeBuild::Project in the template matches")
	case 1:
	default:
		return nil, fmt.Errorf("rehearsal: %d CodeBuild projects match (%s); select one", len(ids), strings.Join(ids, ", "))
	}
	id := ids[0]
	props, _ := resources[id].(map[string]any)["Properties"].(map[string]any)
	env, _ := props["Environment"].(map[string]any)
	raw, ok := env["EnvironmentVariables"]
	if !ok {
		return nil, nil
	}
	ev := &evaluator{r: r.withDefaults(), t: template}
	val, err := ev.eval(raw, "Resources."+id+".Properties.Environment.EnvironmentVariables")
	if err != nil {
		return nil, err
	}
	list, ok := val.([]any)
	if !ok {
		return nil, fmt.Errorf("rehearsal: %s: EnvironmentVariables is %T, want a list", id, val)
	}
	var out []EnvVar
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("rehearsal: %s: EnvironmentVariables[%d] is %T, want an object", id, i, item)
		}
		v := EnvVar{Type: "PLAINTEXT"}
		v.Name, _ = m["Name"].(string)
		v.Value = scalar(m["Value"])
		if t, ok := m["Type"].(string); ok {
			v.Type = t
		}
		if v.Name == "" {
			return nil, fmt.Errorf("rehearsal: %s: EnvironmentVariables[%d] has no Name", id, i)
		}
		out = append(out, v)
	}
	return out, nil
}

// PlaintextEnv turns variables into a map for Options.Env. Parameter Store and
// Secrets Manager variables hold a reference, not a value, so they are an
// error: give them values yourself.
func PlaintextEnv(vars []EnvVar) (map[string]string, error) {
	env := map[string]string{}
	var refs []string
	for _, v := range vars {
		if v.Type != "PLAINTEXT" {
			refs = append(refs, v.Name+" ("+v.Type+")")
			continue
		}
		env[v.Name] = v.Value
	}
	if len(refs) > 0 {
		return env, fmt.Errorf("rehearsal: %s hold references a rehearsal cannot resolve; set their values in Options.Env", strings.Join(refs, ", "))
	}
	return env, nil
}

// Resolve evaluates the intrinsic functions in v, a value taken from template.
func (r Resolver) Resolve(template map[string]any, v any) (any, error) {
	ev := &evaluator{r: r.withDefaults(), t: template}
	return ev.eval(v, "value")
}

type evaluator struct {
	r Resolver
	t map[string]any
}

// noValue stands for AWS::NoValue until the enclosing list or object drops it.
type noValue struct{}

func (e *evaluator) eval(v any, path string) (any, error) {
	switch x := v.(type) {
	case []any:
		out := make([]any, 0, len(x))
		for i, item := range x {
			r, err := e.eval(item, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			if _, drop := r.(noValue); !drop {
				out = append(out, r)
			}
		}
		return out, nil
	case map[string]any:
		if len(x) == 1 {
			for fn, arg := range x {
				if fn == "Ref" || strings.HasPrefix(fn, "Fn::") {
					return e.intrinsic(fn, arg, path+"."+fn)
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, item := range x {
			r, err := e.eval(item, path+"."+k)
			if err != nil {
				return nil, err
			}
			if _, drop := r.(noValue); !drop {
				out[k] = r
			}
		}
		return out, nil
	default:
		return v, nil
	}
}

func (e *evaluator) intrinsic(fn string, arg any, path string) (any, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("rehearsal: %s: %s", path, fmt.Sprintf(format, args...))
	}
	switch fn {
	case "Ref":
		name, ok := arg.(string)
		if !ok {
			return nil, bad("Ref takes a name, got %T", arg)
		}
		return e.ref(name, path)
	case "Fn::GetAtt":
		var id, attr string
		switch a := arg.(type) {
		case string:
			id, attr, _ = strings.Cut(a, ".")
		case []any:
			if len(a) == 2 {
				id, _ = a[0].(string)
				r, err := e.eval(a[1], path)
				if err != nil {
					return nil, err
				}
				attr, _ = r.(string)
			}
		}
		if id == "" || attr == "" {
			return nil, bad("Fn::GetAtt takes [LogicalId, Attribute], got %v", arg)
		}
		return e.getAtt(id, attr, path)
	case "Fn::Join":
		a, err := e.args(arg, 2, path)
		if err != nil {
			return nil, err
		}
		delim, ok1 := a[0].(string)
		items, ok2 := a[1].([]any)
		if !ok1 || !ok2 {
			return nil, bad("Fn::Join takes [delimiter, [values]]")
		}
		parts := make([]string, len(items))
		for i, it := range items {
			s, ok := it.(string)
			if !ok {
				return nil, bad("Fn::Join value %d is %T, want a string", i, it)
			}
			parts[i] = s
		}
		return strings.Join(parts, delim), nil
	case "Fn::Sub":
		return e.sub(arg, path)
	case "Fn::Select":
		a, err := e.args(arg, 2, path)
		if err != nil {
			return nil, err
		}
		list, ok := a[1].([]any)
		i, err2 := toIndex(a[0])
		if !ok || err2 != nil || i < 0 || i >= len(list) {
			return nil, bad("Fn::Select index %v out of %d values", a[0], len(list))
		}
		return list[i], nil
	case "Fn::Split":
		a, err := e.args(arg, 2, path)
		if err != nil {
			return nil, err
		}
		delim, ok1 := a[0].(string)
		s, ok2 := a[1].(string)
		if !ok1 || !ok2 {
			return nil, bad("Fn::Split takes [delimiter, string]")
		}
		var out []any
		for _, p := range strings.Split(s, delim) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::GetAZs":
		return []any{e.r.Region + "a", e.r.Region + "b", e.r.Region + "c"}, nil
	case "Fn::Base64":
		v, err := e.eval(arg, path)
		if err != nil {
			return nil, err
		}
		s, ok := v.(string)
		if !ok {
			return nil, bad("Fn::Base64 takes a string")
		}
		return base64.StdEncoding.EncodeToString([]byte(s)), nil
	case "Fn::FindInMap":
		a, err := e.args(arg, 3, path)
		if err != nil {
			return nil, err
		}
		maps, _ := e.t["Mappings"].(map[string]any)
		m1, _ := maps[fmt.Sprint(a[0])].(map[string]any)
		m2, _ := m1[fmt.Sprint(a[1])].(map[string]any)
		v, ok := m2[fmt.Sprint(a[2])]
		if !ok {
			return nil, bad("Fn::FindInMap: no %v.%v.%v in Mappings", a[0], a[1], a[2])
		}
		return v, nil
	case "Fn::If":
		a, ok := arg.([]any)
		if !ok || len(a) != 3 {
			return nil, bad("Fn::If takes [condition, then, else]")
		}
		name, _ := a[0].(string)
		cond, err := e.condition(name, path)
		if err != nil {
			return nil, err
		}
		if cond {
			return e.eval(a[1], path)
		}
		return e.eval(a[2], path)
	case "Fn::ImportValue":
		return nil, bad("Fn::ImportValue: stagecoach stacks share no exports; a template that imports one breaks the deploy-in-any-order rule")
	default:
		return nil, bad("%s is not supported by the rehearsal's resolver", fn)
	}
}

// args evaluates an intrinsic's argument list, which must have n entries.
func (e *evaluator) args(arg any, n int, path string) ([]any, error) {
	v, err := e.eval(arg, path)
	if err != nil {
		return nil, err
	}
	a, ok := v.([]any)
	if !ok || len(a) != n {
		return nil, fmt.Errorf("rehearsal: %s: want a list of %d arguments, got %v", path, n, arg)
	}
	return a, nil
}

func toIndex(v any) (int, error) {
	switch x := v.(type) {
	case float64:
		return int(x), nil
	case int:
		return x, nil
	case string:
		var i int
		_, err := fmt.Sscan(x, &i)
		return i, err
	}
	return 0, fmt.Errorf("not an index: %v", v)
}

func (e *evaluator) condition(name, path string) (bool, error) {
	conds, _ := e.t["Conditions"].(map[string]any)
	c, ok := conds[name]
	if !ok {
		return false, fmt.Errorf("rehearsal: %s: no condition %q in Conditions", path, name)
	}
	return e.condValue(c, path+"("+name+")")
}

func (e *evaluator) condValue(c any, path string) (bool, error) {
	m, ok := c.(map[string]any)
	if !ok || len(m) != 1 {
		return false, fmt.Errorf("rehearsal: %s: a condition is one Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition", path)
	}
	for fn, arg := range m {
		a, _ := arg.([]any)
		switch fn {
		case "Condition":
			name, _ := arg.(string)
			return e.condition(name, path)
		case "Fn::Equals":
			v, err := e.args(arg, 2, path)
			if err != nil {
				return false, err
			}
			return fmt.Sprint(v[0]) == fmt.Sprint(v[1]), nil
		case "Fn::Not":
			if len(a) != 1 {
				return false, fmt.Errorf("rehearsal: %s: Fn::Not takes one condition", path)
			}
			b, err := e.condValue(a[0], path)
			return !b, err
		case "Fn::And", "Fn::Or":
			and := fn == "Fn::And"
			for _, sub := range a {
				b, err := e.condValue(sub, path)
				if err != nil {
					return false, err
				}
				if b != and {
					return b, nil
				}
			}
			return and, nil
		}
		return false, fmt.Errorf("rehearsal: %s: %s is not a condition function", path, fn)
	}
	panic("unreachable")
}

func (e *evaluator) ref(name, path string) (any, error) {
	switch name {
	case "AWS::AccountId":
		return e.r.AccountID, nil
	case "AWS::Region":
		return e.r.Region, nil
	case "AWS::Partition":
		return e.r.Partition, nil
	case "AWS::URLSuffix":
		return e.r.URLSuffix, nil
	case "AWS::StackName":
		return e.r.StackName, nil
	case "AWS::StackId":
		return fmt.Sprintf("arn:%s:cloudformation:%s:%s:stack/%s/00000000-0000-0000-0000-000000000000", e.r.Partition, e.r.Region, e.r.AccountID, e.r.StackName), nil
	case "AWS::NoValue":
		return noValue{}, nil
	case "AWS::NotificationARNs":
		return []any{}, nil
	}
	if params, _ := e.t["Parameters"].(map[string]any); params != nil {
		if p, ok := params[name].(map[string]any); ok {
			if v, ok := e.r.Parameters[name]; ok {
				return v, nil
			}
			if d, ok := p["Default"]; ok {
				return scalar(d), nil
			}
			return nil, fmt.Errorf("rehearsal: %s: parameter %s has no Default; give it a value in Resolver.Parameters", path, name)
		}
	}
	res, typ, err := e.resource(name, path)
	if err != nil {
		return nil, err
	}
	phys, err := e.physicalName(name, res, path)
	if err != nil {
		return nil, err
	}
	// Most resources answer Ref with their name; these answer with an ARN.
	switch typ {
	case "AWS::ECS::Service":
		return e.getAtt(name, "ServiceArn", path)
	case "AWS::SNS::Topic", "AWS::SecretsManager::Secret", "AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::ElasticLoadBalancingV2::TargetGroup", "AWS::ECS::TaskDefinition":
		return e.getAtt(name, "Arn", path)
	}
	return phys, nil
}

func (e *evaluator) resource(id, path string) (map[string]any, string, error) {
	resources, _ := e.t["Resources"].(map[string]any)
	res, ok := resources[id].(map[string]any)
	if !ok {
		return nil, "", fmt.Errorf("rehearsal: %s: %q is neither a pseudo parameter, a parameter nor a resource of the template", path, id)
	}
	typ, _ := res["Type"].(string)
	return res, typ, nil
}

// nameProperties are the properties that set a resource's physical name; a
// resource without one gets its logical ID, lower-cased (CloudFormation would
// generate a name; any stable stand-in does for a rehearsal).
var nameProperties = map[string]string{
	"AWS::ECR::Repository":                      "RepositoryName",
	"AWS::S3::Bucket":                           "BucketName",
	"AWS::ECS::Cluster":                         "ClusterName",
	"AWS::ECS::Service":                         "ServiceName",
	"AWS::CodeBuild::Project":                   "Name",
	"AWS::Logs::LogGroup":                       "LogGroupName",
	"AWS::IAM::Role":                            "RoleName",
	"AWS::SNS::Topic":                           "TopicName",
	"AWS::SecretsManager::Secret":               "Name",
	"AWS::ElasticLoadBalancingV2::LoadBalancer": "Name",
	"AWS::ElasticLoadBalancingV2::TargetGroup":  "Name",
	"AWS::ECS::TaskDefinition":                  "Family",
	"AWS::CodePipeline::Pipeline":               "Name",
}

func (e *evaluator) physicalName(id string, res map[string]any, path string) (string, error) {
	typ, _ := res["Type"].(string)
	if prop, ok := nameProperties[typ]; ok {
		props, _ := res["Properties"].(map[string]any)
		if raw, ok := props[prop]; ok {
			v, err := e.eval(raw, "Resources."+id+".Properties."+prop)
			if err != nil {
				return "", err
			}
			if s, ok := v.(string); ok {
				return s, nil
			}
		}
	}
	return strings.ToLower(id), nil
}

func (e *evaluator) getAtt(id, attr, path string) (any, error) {
	res, typ, err := e.resource(id, path)
	if err != nil {
		return nil, err
	}
	n, err := e.physicalName(id, res, path)
	if err != nil {
		return nil, err
	}
	r := e.r
	arn := func(service, region, account, resource string) string {
		return fmt.Sprintf("arn:%s:%s:%s:%s:%s", r.Partition, service, region, account, resource)
	}
	switch typ + "." + attr {
	case "AWS::ECR::Repository.Arn":
		return arn("ecr", r.Region, r.AccountID, "repository/"+n), nil
	case "AWS::ECR::Repository.RepositoryUri":
		return fmt.Sprintf("%s.dkr.ecr.%s.%s/%s", r.AccountID, r.Region, r.URLSuffix, n), nil
	case "AWS::S3::Bucket.Arn":
		return arn("s3", "", "", n), nil
	case "AWS::S3::Bucket.DomainName":
		return n + ".s3." + r.URLSuffix, nil
	case "AWS::S3::Bucket.RegionalDomainName":
		return n + ".s3." + r.Region + "." + r.URLSuffix, nil
	case "AWS::ECS::Cluster.Arn":
		return arn("ecs", r.Region, r.AccountID, "cluster/"+n), nil
	case "AWS::ECS::Service.Name":
		return n, nil
	case "AWS::ECS::Service.ServiceArn":
		cluster := "default"
		if props, _ := res["Properties"].(map[string]any); props["Cluster"] != nil {
			c, err := e.eval(props["Cluster"], "Resources."+id+".Properties.Cluster")
			if err != nil {
				return nil, err
			}
			s, _ := c.(string)
			cluster = s[strings.LastIndex(s, "/")+1:]
		}
		return arn("ecs", r.Region, r.AccountID, "service/"+cluster+"/"+n), nil
	case "AWS::IAM::Role.Arn":
		return arn("iam", "", r.AccountID, "role/"+n), nil
	case "AWS::Logs::LogGroup.Arn":
		return arn("logs", r.Region, r.AccountID, "log-group:"+n+":*"), nil
	case "AWS::CodeBuild::Project.Arn":
		return arn("codebuild", r.Region, r.AccountID, "project/"+n), nil
	case "AWS::SNS::Topic.Arn", "AWS::SNS::Topic.TopicArn":
		return arn("sns", r.Region, r.AccountID, n), nil
	case "AWS::CodeStarConnections::Connection.ConnectionArn":
		return arn("codestar-connections", r.Region, r.AccountID, "connection/"+n), nil
	case "AWS::SecretsManager::Secret.Arn", "AWS::SecretsManager::Secret.Id":
		return arn("secretsmanager", r.Region, r.AccountID, "secret:"+n), nil
	}
	if attr == "Arn" {
		// A generic ARN keeps templates that reference other resources
		// resolvable; its exact shape is not checked by anything here.
		service := strings.ToLower(strings.Split(typ, "::")[1])
		return arn(service, r.Region, r.AccountID, strings.ToLower(strings.Split(typ, "::")[2])+"/"+n), nil
	}
	return nil, fmt.Errorf("rehearsal: %s: Fn::GetAtt %s.%s (%s) is not supported by the rehearsal's resolver", path, id, attr, typ)
}

var subVar = regexp.MustCompile(`\$\{([^}]*)\}`)

func (e *evaluator) sub(arg any, path string) (any, error) {
	var text string
	vars := map[string]any{}
	switch a := arg.(type) {
	case string:
		text = a
	case []any:
		if len(a) != 2 {
			return nil, fmt.Errorf("rehearsal: %s: Fn::Sub takes a string or [string, {variables}]", path)
		}
		text, _ = a[0].(string)
		m, ok := a[1].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("rehearsal: %s: Fn::Sub variables must be an object", path)
		}
		for k, v := range m {
			r, err := e.eval(v, path+"."+k)
			if err != nil {
				return nil, err
			}
			vars[k] = r
		}
	default:
		return nil, fmt.Errorf("rehearsal: %s: Fn::Sub takes a string or [string, {variables}]", path)
	}
	var firstErr error
	out := subVar.ReplaceAllStringFunc(text, func(m string) string {
		name := m[2 : len(m)-1]
		if strings.HasPrefix(name, "!") {
			return "${" + name[1:] + "}" // ${!Literal} writes ${Literal}
		}
		var v any
		var err error
		if x, ok := vars[name]; ok {
			v = x
		} else if id, attr, ok := strings.Cut(name, "."); ok {
			v, err = e.getAtt(id, attr, path)
		} else {
			v, err = e.ref(name, path)
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
		s, ok := v.(string)
		if !ok && err == nil && firstErr == nil {
			firstErr = fmt.Errorf("rehearsal: %s: ${%s} is %T, not a string", path, name, v)
		}
		return s
	})
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}
