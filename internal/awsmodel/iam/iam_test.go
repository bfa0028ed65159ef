package iam

import "testing"

// TestRules checks the rules the package comment states against the evaluator, in one
// Node process.
func TestRules(t *testing.T) {
	e, err := FindEvaluator(".")
	if err != nil {
		t.Fatal(err)
	}
	const role = "arn:aws:iam::111111111111:role/r"
	current := "arn:aws:codeconnections:us-east-1:111111111111:connection/c"
	legacy := "arn:aws:codestar-connections:us-east-1:111111111111:connection/c"
	allow := func(actions []any, resource any, cond map[string]any) []Policy {
		st := map[string]any{"Effect": "Allow", "Action": actions, "Resource": resource}
		if cond != nil {
			st["Condition"] = cond
		}
		return []Policy{{Name: "p", Document: map[string]any{"Version": "2012-10-17", "Statement": []any{st}}}}
	}
	legacyOnly := allow([]any{"codestar-connections:UseConnection"}, []any{current, legacy}, nil)
	both := allow([]any{"codestar-connections:UseConnection", "codeconnections:UseConnection"}, current, nil)
	repoOnly := allow([]any{"codeconnections:UseConnection"}, current,
		map[string]any{"StringEqualsIfExists": map[string]any{"codeconnections:FullRepositoryId": "acme/shop"}})
	bucket := "arn:aws:s3:::b"
	denyPrefix := []Policy{{Name: "p", Document: map[string]any{"Version": "2012-10-17", "Statement": []any{
		map[string]any{"Effect": "Allow", "Action": "s3:PutObject", "Resource": bucket + "/*"},
		map[string]any{"Effect": "Deny", "Action": "s3:PutObject", "Resource": bucket + "/pipeline/*"},
	}}}}
	trust := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect": "Allow", "Principal": map[string]any{"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole",
		"Condition": map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": "111111111111"}},
	}}}
	key := "arn:aws:kms:us-east-1:111111111111:key/k"
	decrypt := allow([]any{"kms:Decrypt"}, key, nil)
	cases := []struct {
		name string
		sim  Simulation
		want Decision
	}{
		{"the legacy action does not cover a current connection",
			Simulation{Request{role, UseConnection(current), current, nil}, legacyOnly, nil}, ImplicitlyDenied},
		{"the legacy action covers a legacy connection",
			Simulation{Request{role, UseConnection(legacy), legacy, nil}, legacyOnly, nil}, Allowed},
		{"the legacy action does not even apply to a current connection's ARN",
			Simulation{Request{role, "codestar-connections:UseConnection", current, nil}, both, nil}, Invalid},
		{"both actions cover a current connection",
			Simulation{Request{role, UseConnection(current), current, nil}, both, nil}, Allowed},
		{"IfExists: a request without the key is allowed",
			Simulation{Request{role, UseConnection(current), current, nil}, repoOnly, nil}, Allowed},
		{"IfExists: the configured repository is allowed",
			Simulation{Request{role, UseConnection(current), current, map[string]any{"codeconnections:FullRepositoryId": "acme/shop"}}, repoOnly, nil}, Allowed},
		{"IfExists: another repository is refused",
			Simulation{Request{role, UseConnection(current), current, map[string]any{"codeconnections:FullRepositoryId": "evil/shop"}}, repoOnly, nil}, ImplicitlyDenied},
		{"an explicit deny wins over an allow",
			Simulation{Request{role, "s3:PutObject", bucket + "/pipeline/Source/x", nil}, denyPrefix, nil}, ExplicitlyDenied},
		{"outside the denied prefix the allow stands",
			Simulation{Request{role, "s3:PutObject", bucket + "/logs/x", nil}, denyPrefix, nil}, Allowed},
		{"a trust policy admits the service for its own account",
			Simulation{Request{"codebuild.amazonaws.com", "sts:AssumeRole", role, map[string]any{"aws:SourceAccount": "111111111111"}}, nil, trust}, Allowed},
		{"a trust policy refuses the service acting for another account",
			Simulation{Request{"codebuild.amazonaws.com", "sts:AssumeRole", role, map[string]any{"aws:SourceAccount": "222222222222"}}, nil, trust}, ImplicitlyDenied},
		{"a KMS key refuses an identity policy its key policy does not let count",
			Simulation{Request{role, "kms:Decrypt", key, nil}, decrypt, nil}, ImplicitlyDenied},
		{"the default key policy lets the identity policy count",
			Simulation{Request{role, "kms:Decrypt", key, nil}, decrypt, DefaultKeyPolicy("111111111111")}, Allowed},
		{"the default key policy alone allows nothing",
			Simulation{Request{role, "kms:Decrypt", key, nil}, nil, DefaultKeyPolicy("111111111111")}, ImplicitlyDenied},
	}
	var sims []Simulation
	for _, c := range cases {
		sims = append(sims, c.sim)
	}
	got, err := e.Evaluate(sims)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		if got[i].Decision != c.want {
			t.Errorf("%s: %s %s on %s: got %s %s, want %s", c.name, c.sim.Request.Principal, c.sim.Request.Action, c.sim.Request.Resource, got[i].Decision, got[i].Error, c.want)
		}
	}
}

func TestUseConnection(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:codeconnections:eu-west-1:111111111111:connection/x":      "codeconnections:UseConnection",
		"arn:aws:codestar-connections:eu-west-1:111111111111:connection/x": "codestar-connections:UseConnection",
	} {
		if got := UseConnection(arn); got != want {
			t.Errorf("UseConnection(%s) = %s, want %s", arn, got, want)
		}
	}
}

// TestFunctionPolicies checks that a Lambda permission lets its principal invoke the
// function only for its source, and nothing else.
func TestFunctionPolicies(t *testing.T) {
	e, err := FindEvaluator(".")
	if err != nil {
		t.Fatal(err)
	}
	const (
		fn    = "arn:aws:lambda:us-east-1:111111111111:function:f"
		other = "arn:aws:lambda:us-east-1:111111111111:function:g"
		rule  = "arn:aws:events:us-east-1:111111111111:rule/r"
	)
	tmpl := map[string]any{"Resources": map[string]any{
		"P": map[string]any{"Type": "AWS::Lambda::Permission", "Properties": map[string]any{
			"Action": "lambda:InvokeFunction", "FunctionName": fn, "Principal": "events.amazonaws.com", "SourceArn": rule}},
	}}
	identity := func(v any) (any, error) { return v, nil }
	policies, err := FunctionPolicies(tmpl, identity)
	if err != nil {
		t.Fatal(err)
	}
	if len(policies) != 1 || policies[fn] == nil {
		t.Fatalf("want one policy, for %s; got %v", fn, policies)
	}
	from := func(src string) map[string]any {
		return map[string]any{"aws:SourceArn": src, "aws:SourceAccount": "111111111111"}
	}
	cases := []struct {
		name string
		sim  Simulation
		want Decision
	}{
		{"the rule invokes the function",
			Simulation{Request{"events.amazonaws.com", "lambda:InvokeFunction", fn, from(rule)}, nil, policies[fn]}, Allowed},
		{"another rule does not",
			Simulation{Request{"events.amazonaws.com", "lambda:InvokeFunction", fn, from(rule + "x")}, nil, policies[fn]}, ImplicitlyDenied},
		{"another service does not",
			Simulation{Request{"sns.amazonaws.com", "lambda:InvokeFunction", fn, from(rule)}, nil, policies[fn]}, ImplicitlyDenied},
		{"the permission does not reach another function",
			Simulation{Request{"events.amazonaws.com", "lambda:InvokeFunction", other, from(rule)}, nil, policies[fn]}, ImplicitlyDenied},
	}
	var sims []Simulation
	for _, c := range cases {
		sims = append(sims, c.sim)
	}
	got, err := e.Evaluate(sims)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		if got[i].Decision != c.want {
			t.Errorf("%s: got %s %s, want %s", c.name, got[i].Decision, got[i].Error, c.want)
		}
	}
}
