package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSecret(t *testing.T) {
	const sm = "arn:aws:secretsmanager:us-east-1:111111111111:secret:prod/db-AbCdEf"
	tests := []struct {
		in      string
		want    Secret
		wantErr string // substring; empty: valid
	}{
		{sm, Secret{Kind: SecretsManager, ARN: sm}, ""},
		{sm + ":password::", Secret{Kind: SecretsManager, ARN: sm, JSONField: "password"}, ""},
		{sm + ":password:AWSPREVIOUS:", Secret{Kind: SecretsManager, ARN: sm, JSONField: "password", VersionStage: "AWSPREVIOUS"}, ""},
		{sm + "::AWSCURRENT:v1", Secret{Kind: SecretsManager, ARN: sm, VersionStage: "AWSCURRENT", VersionID: "v1"}, ""},
		{
			"arn:aws-us-gov:secretsmanager:us-gov-west-1:111111111111:secret:x",
			Secret{Kind: SecretsManager, ARN: "arn:aws-us-gov:secretsmanager:us-gov-west-1:111111111111:secret:x"}, "",
		},
		{"/acme/prod/db", Secret{Kind: ParameterName, Name: "/acme/prod/db"}, ""},
		{"/db_url.v2", Secret{Kind: ParameterName, Name: "/db_url.v2"}, ""},
		{
			"arn:aws:ssm:eu-west-1:111111111111:parameter/acme/db",
			Secret{Kind: ParameterARN, ARN: "arn:aws:ssm:eu-west-1:111111111111:parameter/acme/db", Name: "/acme/db"}, "",
		},
		{
			"arn:aws:ssm:eu-west-1:111111111111:parameter/db",
			Secret{Kind: ParameterARN, ARN: "arn:aws:ssm:eu-west-1:111111111111:parameter/db", Name: "db"}, "",
		},
		{sm + ":password", Secret{}, "add all three ECS fields"},
		{sm + ":a:b:c:d", Secret{}, "not a valid Secrets Manager ARN"},
		{"arn:aws:secretsmanager:us-east-1:1111:secret:x", Secret{}, "not a valid Secrets Manager ARN"},
		{"hunter2", Secret{}, "not a Secrets Manager ARN or SSM parameter"},
		{"", Secret{}, "not a Secrets Manager ARN or SSM parameter"},
		{"db-password", Secret{}, "not a Secrets Manager ARN or SSM parameter"},
		{"/has space", Secret{}, "not a Secrets Manager ARN or SSM parameter"},
		{"arn:aws:ssm:us-east-1:111111111111:document/x", Secret{}, "not a Secrets Manager ARN or SSM parameter"},
		{"arn:aws:s3:::bucket/key", Secret{}, "not a Secrets Manager ARN or SSM parameter"},
	}
	for _, tc := range tests {
		got, err := ParseSecret(tc.in)
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("ParseSecret(%q): %v", tc.in, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("ParseSecret(%q) error = %v, want %q", tc.in, err, tc.wantErr)
		} else if tc.in != "" && strings.Contains(err.Error(), tc.in) {
			t.Errorf("ParseSecret(%q) error repeats the value: %v", tc.in, err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParseSecret(%q) (-want +got):\n%s", tc.in, diff)
		}
		if k := SecretKind(tc.in); k != tc.want.Kind {
			t.Errorf("SecretKind(%q) = %v, want %v", tc.in, k, tc.want.Kind)
		}
	}
}

func TestSecretSourceString(t *testing.T) {
	for k, want := range map[SecretSource]string{
		InvalidSecret:  "invalid secret reference",
		SecretsManager: "Secrets Manager secret",
		ParameterName:  "SSM parameter name",
		ParameterARN:   "SSM parameter ARN",
	} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", k, got, want)
		}
	}
}
