package stacks

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/stagecoach/stagecoach/config"
	"github.com/stagecoach/stagecoach/constructs/contractproject"
	"github.com/stagecoach/stagecoach/constructs/stageservice"
)

// parse parses a reference config has already validated; a failure is a bug.
func parse(name, ref string) config.Secret {
	s, err := config.ParseSecret(ref)
	if err != nil {
		panic(fmt.Sprintf("stacks: secret %s passed validation but does not parse: %v", name, err))
	}
	return s
}

// buildSecrets converts config secret references for a CodeBuild project.
func buildSecrets(refs map[string]string) map[string]contractproject.Secret {
	out := map[string]contractproject.Secret{}
	for name, ref := range refs {
		if s := parse(name, ref); s.Kind == config.SecretsManager {
			// CodeBuild takes the same ":json-key:version-stage:version-id" tail.
			out[name] = contractproject.Secret{SecretsManager: ref}
		} else {
			out[name] = contractproject.Secret{Parameter: s.Name}
		}
	}
	return out
}

// taskSecrets converts config secret references for an ECS task.
func taskSecrets(refs map[string]string) map[string]stageservice.Secret {
	out := map[string]stageservice.Secret{}
	for name, ref := range refs {
		switch s := parse(name, ref); s.Kind {
		case config.SecretsManager:
			out[name] = stageservice.Secret{SecretARN: s.ARN, JSONField: s.JSONField, VersionStage: s.VersionStage, VersionID: s.VersionID}
		case config.ParameterARN:
			out[name] = stageservice.Secret{ParameterARN: s.ARN}
		default:
			out[name] = stageservice.Secret{ParameterName: s.Name}
		}
	}
	return out
}

// grantSecretKeys lets role decrypt with the customer managed KMS keys the config
// names for a service's secrets, and only as Secrets Manager or Parameter Store does
// on the role's behalf in the key's region (kms:ViaService): the role cannot use the
// keys directly. Keys are grouped by region, one statement each.
func grantSecretKeys(role awsiam.IRole, keys []string) {
	byRegion := map[string][]string{}
	for _, key := range keys {
		parts := strings.Split(key, ":") // arn:PARTITION:kms:REGION:ACCOUNT:key/ID
		byRegion[parts[3]] = append(byRegion[parts[3]], key)
	}
	for _, region := range slices.Sorted(maps.Keys(byRegion)) {
		keys := byRegion[region]
		suffix := ".amazonaws.com"
		if strings.HasPrefix(keys[0], "arn:aws-cn:") {
			suffix = ".amazonaws.com.cn"
		}
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("kms:Decrypt"),
			Resources: jsii.Strings(keys...),
			Conditions: &map[string]any{
				"StringEquals": map[string]any{
					"kms:ViaService": []string{"secretsmanager." + region + suffix, "ssm." + region + suffix},
				},
			},
		}))
	}
}
