package stacks

import (
	"fmt"

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
