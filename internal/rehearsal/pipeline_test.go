package rehearsal

import (
	"reflect"
	"strings"
	"testing"
)

// codePipelineTemplate is a small pipeline in CDK's shape: a build, then a stage
// with an approval and a release passing a pipeline variable.
const codePipelineTemplate = `{"Resources": {
  "BuildRole": {"Type": "AWS::IAM::Role", "Properties": {}},
  "BuildPolicy": {"Type": "AWS::IAM::Policy", "Properties": {"Roles": [{"Ref": "BuildRole"}], "PolicyDocument": {"Statement": [
    {"Effect": "Allow", "Action": ["ecr:PutImage", "ecr:InitiateLayerUpload"], "Resource": "*"},
    {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}]}}},
  "ReleaseRole": {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyName": "inline", "PolicyDocument": {"Statement": [
    {"Effect": "Allow", "Action": "ecs:UpdateService", "Resource": "*"}]}}]}},
  "ReleasePolicy": {"Type": "AWS::IAM::Policy", "Properties": {"Roles": [{"Ref": "ReleaseRole"}], "PolicyDocument": {"Statement": [
    {"Effect": "Allow", "Action": ["ecr:BatchGetImage", "ecr:PutImage"], "Resource": {"Fn::Sub": "arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/acme/web"}}]}}},
  "Build": {"Type": "AWS::CodeBuild::Project", "Properties": {"ServiceRole": {"Fn::GetAtt": ["BuildRole", "Arn"]},
    "Environment": {"EnvironmentVariables": [{"Name": "ECR_ENDPOINT", "Type": "PLAINTEXT", "Value": {"Fn::Sub": "${AWS::AccountId}.dkr.ecr.${AWS::Region}.amazonaws.com"}}]}}},
  "ReleaseDev": {"Type": "AWS::CodeBuild::Project", "Properties": {"ServiceRole": {"Fn::GetAtt": ["ReleaseRole", "Arn"]},
    "Environment": {"EnvironmentVariables": [{"Name": "STAGE_NAME", "Type": "PLAINTEXT", "Value": "dev"}]}}},
  "Pipeline": {"Type": "AWS::CodePipeline::Pipeline", "Properties": {"Stages": [
    {"Name": "Source", "Actions": [{"Name": "Source", "ActionTypeId": {"Provider": "CodeStarSourceConnection"}}]},
    {"Name": "Build", "Actions": [
      {"Name": "Digest", "RunOrder": 3, "ActionTypeId": {"Provider": "Lambda"}},
      {"Name": "Build", "RunOrder": 2, "ActionTypeId": {"Provider": "CodeBuild"}, "Configuration": {"ProjectName": {"Ref": "Build"}}}]},
    {"Name": "dev", "Actions": [
      {"Name": "Release", "RunOrder": 2, "ActionTypeId": {"Provider": "CodeBuild"}, "Configuration": {"ProjectName": {"Ref": "ReleaseDev"},
        "EnvironmentVariables": "[{\"name\":\"IMAGE_DIGEST\",\"type\":\"PLAINTEXT\",\"value\":\"#{Image.IMAGE_DIGEST}\"},{\"name\":\"FIXED\",\"value\":\"x\"}]"}},
      {"Name": "Approve", "RunOrder": 1, "ActionTypeId": {"Provider": "Manual"}}]}
  ]}}
}}`

func TestPipelineFromTemplate(t *testing.T) {
	steps, err := PipelineFromTemplate(parseTemplate(t, codePipelineTemplate), Resolver{AccountID: "111111111111"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{
		{Stage: "Build", Action: "Build", Project: "Build",
			Vars:    []EnvVar{{Name: "ECR_ENDPOINT", Value: "111111111111.dkr.ecr.us-east-1.amazonaws.com", Type: "PLAINTEXT"}},
			Allowed: []string{"ecr:GetAuthorizationToken", "ecr:InitiateLayerUpload", "ecr:PutImage"},
			Policy: []Statement{
				{Effect: "Allow", Action: []string{"ecr:PutImage", "ecr:InitiateLayerUpload"}, Resource: []string{"*"}},
				{Effect: "Allow", Action: []string{"ecr:GetAuthorizationToken"}, Resource: []string{"*"}}}},
		{Stage: "dev", Action: "Release", Project: "ReleaseDev",
			Vars:      []EnvVar{{Name: "STAGE_NAME", Value: "dev", Type: "PLAINTEXT"}},
			Overrides: []EnvVar{{Name: "IMAGE_DIGEST", Value: "#{Image.IMAGE_DIGEST}", Type: "PLAINTEXT"}, {Name: "FIXED", Value: "x", Type: "PLAINTEXT"}},
			Allowed:   []string{"ecr:BatchGetImage", "ecr:PutImage", "ecs:UpdateService"},
			// Statements resolved: the repository's ARN, by resource.
			Policy: []Statement{
				{Effect: "Allow", Action: []string{"ecs:UpdateService"}, Resource: []string{"*"}},
				{Effect: "Allow", Action: []string{"ecr:BatchGetImage", "ecr:PutImage"}, Resource: []string{"arn:aws:ecr:us-east-1:111111111111:repository/acme/web"}}}},
	}
	if !reflect.DeepEqual(steps, want) {
		t.Errorf("steps\n%+v\nwant\n%+v", steps, want)
	}

	got, err := PipelineVariables(steps[1].Overrides, map[string]string{"Image.IMAGE_DIGEST": "sha256:abc"})
	if err != nil || !reflect.DeepEqual(got, map[string]string{"IMAGE_DIGEST": "sha256:abc", "FIXED": "x"}) {
		t.Errorf("PipelineVariables = %v, %v", got, err)
	}
	if _, err := PipelineVariables(steps[1].Overrides, nil); err == nil || !strings.Contains(err.Error(), "Image.IMAGE_DIGEST") {
		t.Errorf("an unresolved pipeline variable gave %v; want an error naming it", err)
	}
}

func TestAllowedActionsRefusesWhatItCannotModel(t *testing.T) {
	for name, policy := range map[string]string{
		"notaction":   `{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}`,
		"notresource": `{"Effect": "Allow", "Action": "ecr:PutImage", "NotResource": "arn:aws:ecr:*:*:repository/x"}`,
	} {
		tmpl := parseTemplate(t, `{"Resources": {
		  "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
		  "Policy": {"Type": "AWS::IAM::Policy", "Properties": {"Roles": [{"Ref": "Role"}], "PolicyDocument": {"Statement": [`+policy+`]}}},
		  "P": {"Type": "AWS::CodeBuild::Project", "Properties": {"ServiceRole": {"Fn::GetAtt": ["Role", "Arn"]}}}}}`)
		if _, err := AllowedActions(tmpl, "P"); err == nil {
			t.Errorf("%s: accepted a statement the rehearsal does not model", name)
		}
		if _, err := RoleStatements(tmpl, "P", Resolver{}); err == nil {
			t.Errorf("%s: RoleStatements accepted a statement the rehearsal does not model", name)
		}
	}
}

// Deny statements and conditions reach the stand-ins' IAM check (package
// iampolicy) with the role's statements; a Deny adds no action to the allowed ones.
func TestRoleStatementsKeepDenyAndConditions(t *testing.T) {
	tmpl := parseTemplate(t, `{"Resources": {
	  "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
	  "Policy": {"Type": "AWS::IAM::Policy", "Properties": {"Roles": [{"Ref": "Role"}], "PolicyDocument": {"Statement": [
	    {"Effect": "Allow", "Action": "ecr:*", "Resource": "*", "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}},
	    {"Effect": "Deny", "Action": "ecr:BatchDeleteImage", "Resource": "*"}]}}},
	  "P": {"Type": "AWS::CodeBuild::Project", "Properties": {"ServiceRole": {"Fn::GetAtt": ["Role", "Arn"]}}}}}`)
	got, err := AllowedActions(tmpl, "P")
	if err != nil || !reflect.DeepEqual(got, []string{"ecr:*"}) {
		t.Errorf("AllowedActions = %v, %v; want [ecr:*]", got, err)
	}
	sts, err := RoleStatements(tmpl, "P", Resolver{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Statement{
		{Effect: "Allow", Action: []string{"ecr:*"}, Resource: []string{"*"}, Condition: map[string]map[string]any{"StringEquals": {"aws:RequestedRegion": "us-east-1"}}},
		{Effect: "Deny", Action: []string{"ecr:BatchDeleteImage"}, Resource: []string{"*"}},
	}
	if !reflect.DeepEqual(sts, want) {
		t.Errorf("RoleStatements =\n%+v\nwant\n%+v", sts, want)
	}
}

// The connection is CodeBuild's business before the buildspec runs: statements only
// about it, conditional Denies included, do not stop a rehearsal.
func TestAllowedActionsSkipsConnectionStatements(t *testing.T) {
	tmpl := parseTemplate(t, `{"Resources": {
	  "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
	  "Policy": {"Type": "AWS::IAM::Policy", "Properties": {"Roles": [{"Ref": "Role"}], "PolicyDocument": {"Statement": [
	    {"Effect": "Allow", "Action": "ecr:PutImage", "Resource": "*"},
	    {"Effect": "Allow", "Action": ["codeconnections:UseConnection", "codestar-connections:UseConnection"], "Resource": "*"},
	    {"Effect": "Deny", "Action": "codeconnections:UseConnection", "Resource": "*",
	     "Condition": {"StringNotEqualsIgnoreCase": {"codeconnections:FullRepositoryId": "acme/shop"}, "Null": {"codeconnections:FullRepositoryId": "false"}}}]}}},
	  "P": {"Type": "AWS::CodeBuild::Project", "Properties": {"ServiceRole": {"Fn::GetAtt": ["Role", "Arn"]}}}}}`)
	got, err := AllowedActions(tmpl, "P")
	if err != nil || !reflect.DeepEqual(got, []string{"ecr:PutImage"}) {
		t.Errorf("AllowedActions = %v, %v; want [ecr:PutImage]", got, err)
	}
}
