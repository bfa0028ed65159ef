package iampolicy

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"*", "arn:aws:ecr:us-east-1:1:repository/acme/web", true},
		{"arn:aws:ecr:us-east-1:1:repository/acme/web", "arn:aws:ecr:us-east-1:1:repository/acme/web", true},
		{"arn:aws:ecr:us-east-1:1:repository/acme/web", "arn:aws:ecr:eu-west-1:1:repository/acme/web", false},
		{"arn:aws:ecr:*:1:repository/acme/*", "arn:aws:ecr:eu-west-1:1:repository/acme/web", true},
		{"ecr:batch*", "ecr:batchgetimage", true},
		{"ecr:?utImage", "ecr:PutImage", true},
		{"ecr:PutImage", "ecr:PutImageX", false},
	} {
		if got := Match(tc.p, tc.s); got != tc.want {
			t.Errorf("Match(%q, %q) = %v", tc.p, tc.s, got)
		}
	}
}

// TestAllowedByResource: a statement allows its actions on its resources only.
func TestAllowedByResource(t *testing.T) {
	env := map[string]string{
		"REHEARSAL_IAM_POLICY": `[{"Action":["ecr:PutImage","ecr:BatchGetImage"],"Resource":["arn:aws:ecr:us-east-1:1:repository/acme/web"]},{"Action":["ecr:GetAuthorizationToken"],"Resource":["*"]}]`,
	}
	r, err := FromSettings(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if !r.Allowed("ecr:PutImage", "arn:aws:ecr:us-east-1:1:repository/acme/web") || !r.Allowed("ECR:putimage", "arn:aws:ecr:us-east-1:1:repository/acme/web") {
		t.Error("the repository's own statement does not allow PutImage")
	}
	if r.Allowed("ecr:PutImage", "arn:aws:ecr:eu-west-1:1:repository/acme/web") || r.Allowed("ecr:PutImage", "arn:aws:ecr:us-east-1:1:repository/acme/api") {
		t.Error("PutImage allowed on a repository the policy does not name")
	}
	if !r.Allowed("ecr:GetAuthorizationToken", "*") || r.Allowed("ecs:UpdateService", "*") {
		t.Error("wrong decision on resource-less actions")
	}
	env["REHEARSAL_IAM_ALLOW"] = "ecr:BatchGetImage,ecr:GetAuthorizationToken"
	r, _ = FromSettings(func(k string) string { return env[k] })
	if r.Allowed("ecr:PutImage", "arn:aws:ecr:us-east-1:1:repository/acme/web") || !r.Allowed("ecr:BatchGetImage", "arn:aws:ecr:us-east-1:1:repository/acme/web") {
		t.Error("REHEARSAL_IAM_ALLOW does not narrow the policy")
	}
	if _, err := FromSettings(func(k string) string { return map[string]string{"REHEARSAL_IAM_POLICY": "{"}[k] }); err == nil {
		t.Error("a malformed policy was accepted")
	}
	none, _ := FromSettings(func(string) string { return "" })
	if !none.Allowed("anything:AtAll", "*") {
		t.Error("with no settings everything is allowed")
	}
}

// TestExplicitDenyAndConditions: an explicit Deny overrides an Allow; a statement
// applies only when its conditions hold, and a condition on a key the call does
// not carry holds only for Null "true", the negated operators and IfExists.
func TestExplicitDenyAndConditions(t *testing.T) {
	repo := "arn:aws:ecr:us-east-1:1:repository/acme/web"
	env := map[string]string{"REHEARSAL_IAM_POLICY": `[
	  {"Effect":"Allow","Action":["ecr:*"],"Resource":["*"]},
	  {"Effect":"Deny","Action":["ecr:BatchDeleteImage"],"Resource":["` + repo + `"]},
	  {"Effect":"Deny","Action":["ecr:PutImage"],"Resource":["*"],
	   "Condition":{"StringNotEqualsIgnoreCase":{"codeconnections:FullRepositoryId":"acme/shop"},"Null":{"codeconnections:FullRepositoryId":"false"}}},
	  {"Effect":"Deny","Action":["ecr:DescribeImages"],"Resource":["*"],"Condition":{"StringNotEquals":{"aws:ResourceTag/team":"web"}}},
	  {"Effect":"Allow","Action":["ecs:UpdateService"],"Resource":["*"],"Condition":{"StringEquals":{"aws:ResourceTag/team":"web"}}},
	  {"Effect":"Allow","Action":["ecs:DescribeServices"],"Resource":["*"],"Condition":{"StringEqualsIfExists":{"aws:ResourceTag/team":"web"}}}
	]`}
	r, err := FromSettings(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		action string
		want   Decision
	}{
		{"ecr:BatchGetImage", Allow},
		{"ecr:BatchDeleteImage", ExplicitDeny},
		{"ecr:PutImage", Allow},              // Null "false" on a missing key: the Deny does not apply
		{"ecr:DescribeImages", ExplicitDeny}, // a negated operator on a missing key holds
		{"ecs:UpdateService", ImplicitDeny},  // StringEquals on a missing key does not
		{"ecs:DescribeServices", Allow},      // ...IfExists on a missing key holds
	} {
		if got := r.Decide(tc.action, repo); got != tc.want {
			t.Errorf("%s: decision %d, want %d", tc.action, got, tc.want)
		}
	}
	if msg := r.Denial("arn:aws:sts::1:assumed-role/r/s", "ecr:BatchDeleteImage", repo); !strings.Contains(msg, "with an explicit deny in an identity-based policy") {
		t.Errorf("denial of an explicit deny: %s", msg)
	}
	if _, err := FromSettings(func(k string) string {
		return map[string]string{"REHEARSAL_IAM_POLICY": `[{"Effect":"Maybe","Action":["x"],"Resource":["*"]}]`}[k]
	}); err == nil {
		t.Error("an Effect that is neither Allow nor Deny was accepted")
	}
}

// TestConditionKeysOfTheRequest: a statement whose condition names a key holds only
// for a request that carries the key with a matching value.
func TestConditionKeysOfTheRequest(t *testing.T) {
	role := Role{Statements: []Statement{{
		Action:    []string{"iam:PassRole"},
		Resource:  []string{"arn:aws:iam::1:role/app-dev-web-task"},
		Condition: map[string]map[string]any{"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
	}}}
	const task = "arn:aws:iam::1:role/app-dev-web-task"
	for _, tc := range []struct {
		keys map[string]string
		want bool
	}{
		{map[string]string{"iam:PassedToService": "ecs-tasks.amazonaws.com"}, true},
		{map[string]string{"iam:PassedToService": "lambda.amazonaws.com"}, false},
		{nil, false},
	} {
		if got := role.AllowedWith("iam:PassRole", task, tc.keys); got != tc.want {
			t.Errorf("PassRole with %v: %v, want %v", tc.keys, got, tc.want)
		}
	}
}
