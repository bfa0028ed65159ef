package rehearsal

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func parseTemplate(t *testing.T, text string) map[string]any {
	t.Helper()
	var tmpl map[string]any
	if err := json.Unmarshal([]byte(text), &tmpl); err != nil {
		t.Fatalf("bad test template: %v", err)
	}
	return tmpl
}

// pipelineTemplate looks like what CDK synthesizes for a build project: the
// contract variables built from the repository and bucket with intrinsics.
const pipelineTemplate = `{
  "Parameters": {"Stage": {"Type": "String", "Default": "dev"}},
  "Conditions": {
    "IsChina": {"Fn::Equals": [{"Ref": "AWS::Partition"}, "aws-cn"]},
    "NotChina": {"Fn::Not": [{"Condition": "IsChina"}]}
  },
  "Mappings": {"Ports": {"us-east-1": {"web": 8000}, "cn-north-1": {"web": 8080}}},
  "Resources": {
    "Repo1A2B3C": {"Type": "AWS::ECR::Repository", "Properties": {"RepositoryName": "acme/web"}},
    "ArtifactsBucketE1F2": {"Type": "AWS::S3::Bucket"},
    "ClusterABC": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": {"Fn::Join": ["-", ["acme", {"Ref": "Stage"}]]}}},
    "Service123": {"Type": "AWS::ECS::Service", "Properties": {"ServiceName": "acme-dev-web", "Cluster": {"Ref": "ClusterABC"}}},
    "BuildProjectXYZ": {
      "Type": "AWS::CodeBuild::Project",
      "Properties": {
        "Name": "acme-web-build",
        "Environment": {"EnvironmentVariables": [
          {"Name": "S3_BUCKET", "Type": "PLAINTEXT", "Value": {"Ref": "ArtifactsBucketE1F2"}},
          {"Name": "ECR_ENDPOINT", "Type": "PLAINTEXT", "Value": {"Fn::Join": ["", [{"Ref": "AWS::AccountId"}, ".dkr.ecr.", {"Ref": "AWS::Region"}, ".", {"Ref": "AWS::URLSuffix"}]]}},
          {"Name": "ECR_IMAGE_URL", "Value": {"Fn::Sub": "${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/${Repo1A2B3C}"}},
          {"Name": "REPO_URI", "Value": {"Fn::GetAtt": ["Repo1A2B3C", "RepositoryUri"]}},
          {"Name": "REPO_ARN", "Value": {"Fn::GetAtt": "Repo1A2B3C.Arn"}},
          {"Name": "REPO_NAME", "Value": {"Fn::Select": [1, {"Fn::Split": ["/", {"Fn::GetAtt": ["Repo1A2B3C", "Arn"]}]}]}},
          {"Name": "CLUSTER_ARN", "Value": {"Fn::GetAtt": ["ClusterABC", "Arn"]}},
          {"Name": "SERVICE_NAME", "Value": {"Fn::GetAtt": ["Service123", "Name"]}},
          {"Name": "SERVICE_ARN", "Value": {"Ref": "Service123"}},
          {"Name": "WITH_MAP", "Value": {"Fn::Sub": ["${Name}-${Stage}-${!Literal}", {"Name": {"Ref": "Repo1A2B3C"}}]}},
          {"Name": "PARTITION_KIND", "Value": {"Fn::If": ["NotChina", "global", "china"]}},
          {"Name": "PORT", "Value": {"Fn::FindInMap": ["Ports", {"Ref": "AWS::Region"}, "web"]}},
          {"Name": "DB_URL", "Type": "SECRETS_MANAGER", "Value": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db"}
        ]}
      }
    },
    "OtherProject": {"Type": "AWS::CodeBuild::Project", "Properties": {"Name": "other", "Environment": {}}}
  }
}`

func TestEnvFromTemplate(t *testing.T) {
	tmpl := parseTemplate(t, pipelineTemplate)
	vars, err := EnvFromTemplate(tmpl, ByLogicalID("BuildProjectXYZ"), Resolver{})
	if err != nil {
		t.Fatal(err)
	}
	want := []EnvVar{
		{"S3_BUCKET", "artifactsbuckete1f2", "PLAINTEXT"},
		{"ECR_ENDPOINT", "123456789012.dkr.ecr.us-east-1.amazonaws.com", "PLAINTEXT"},
		{"ECR_IMAGE_URL", "123456789012.dkr.ecr.us-east-1.amazonaws.com/acme/web", "PLAINTEXT"},
		{"REPO_URI", "123456789012.dkr.ecr.us-east-1.amazonaws.com/acme/web", "PLAINTEXT"},
		{"REPO_ARN", "arn:aws:ecr:us-east-1:123456789012:repository/acme/web", "PLAINTEXT"},
		{"REPO_NAME", "acme", "PLAINTEXT"},
		{"CLUSTER_ARN", "arn:aws:ecs:us-east-1:123456789012:cluster/acme-dev", "PLAINTEXT"},
		{"SERVICE_NAME", "acme-dev-web", "PLAINTEXT"},
		{"SERVICE_ARN", "arn:aws:ecs:us-east-1:123456789012:service/acme-dev/acme-dev-web", "PLAINTEXT"},
		{"WITH_MAP", "acme/web-dev-${Literal}", "PLAINTEXT"},
		{"PARTITION_KIND", "global", "PLAINTEXT"},
		{"PORT", "8000", "PLAINTEXT"},
		{"DB_URL", "arn:aws:secretsmanager:us-east-1:123456789012:secret:db", "SECRETS_MANAGER"},
	}
	if !reflect.DeepEqual(vars, want) {
		t.Errorf("got:\n%v\nwant:\n%v", vars, want)
	}

	// The same project by name, in another account, region and partition.
	vars, err = EnvFromTemplate(tmpl, ByName("acme-web-build"), Resolver{AccountID: "111111111111", Region: "cn-north-1", Partition: "aws-cn", URLSuffix: "amazonaws.com.cn", Parameters: map[string]string{"Stage": "prod"}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, v := range vars {
		got[v.Name] = v.Value
	}
	for name, want := range map[string]string{
		"ECR_IMAGE_URL":  "111111111111.dkr.ecr.cn-north-1.amazonaws.com.cn/acme/web",
		"REPO_ARN":       "arn:aws-cn:ecr:cn-north-1:111111111111:repository/acme/web",
		"CLUSTER_ARN":    "arn:aws-cn:ecs:cn-north-1:111111111111:cluster/acme-prod",
		"PARTITION_KIND": "china",
	} {
		if got[name] != want {
			t.Errorf("%s = %q, want %q", name, got[name], want)
		}
	}

	env, err := PlaintextEnv(vars)
	if err == nil || !strings.Contains(err.Error(), "DB_URL (SECRETS_MANAGER)") {
		t.Errorf("PlaintextEnv error = %v, want one naming DB_URL", err)
	}
	if env["S3_BUCKET"] != "artifactsbuckete1f2" {
		t.Errorf("PlaintextEnv lost the plain variables: %v", env)
	}
}

func TestEnvFromTemplateErrors(t *testing.T) {
	tmpl := parseTemplate(t, pipelineTemplate)
	bad := func(value string) map[string]any {
		return parseTemplate(t, `{"Resources": {"P": {"Type": "AWS::CodeBuild::Project", "Properties": {"Environment": {"EnvironmentVariables": [{"Name": "X", "Value": `+value+`}]}}}}}`)
	}
	for name, tc := range map[string]struct {
		tmpl  map[string]any
		match ProjectMatcher
		want  string
	}{
		"no match":          {tmpl, ByName("nope"), "no AWS::CodeBuild::Project"},
		"several match":     {tmpl, func(string, map[string]any) bool { return true }, "2 CodeBuild projects match"},
		"unknown ref":       {bad(`{"Ref": "Missing"}`), ByLogicalID("P"), `"Missing" is neither`},
		"unknown attribute": {bad(`{"Fn::GetAtt": ["P", "Nope"]}`), ByLogicalID("P"), "Fn::GetAtt P.Nope"},
		"import":            {bad(`{"Fn::ImportValue": "x"}`), ByLogicalID("P"), "share no exports"},
		"unknown function":  {bad(`{"Fn::Cidr": ["10.0.0.0/16", 1, 8]}`), ByLogicalID("P"), "Fn::Cidr is not supported"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := EnvFromTemplate(tc.tmpl, tc.match, Resolver{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestResolveDropsNoValue(t *testing.T) {
	got, err := Resolver{}.Resolve(nil, map[string]any{
		"Keep": "x",
		"Drop": map[string]any{"Ref": "AWS::NoValue"},
		"List": []any{"a", map[string]any{"Ref": "AWS::NoValue"}, map[string]any{"Fn::Base64": "hi"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"Keep": "x", "List": []any{"a", "aGk="}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
