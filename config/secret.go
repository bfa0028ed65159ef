package config

import (
	"errors"
	"regexp"
	"strings"
)

// SecretSource is where a secret variable's value is read from at run or build time.
type SecretSource int

// Kinds of secret references. Secrets are never plaintext in the config: a value is
// always a reference that ECS or CodeBuild resolves.
const (
	// InvalidSecret is the zero value: the string is not a secret reference.
	InvalidSecret SecretSource = iota
	// SecretsManager is a Secrets Manager secret ARN, optionally with the ECS-style
	// suffix :json-key:version-stage:version-id.
	SecretsManager
	// ParameterName is an SSM Parameter Store parameter name starting with "/",
	// read in the region of the task or build that uses it.
	ParameterName
	// ParameterARN is an SSM Parameter Store parameter ARN.
	ParameterARN
)

// String names the source as users read it in messages.
func (s SecretSource) String() string {
	switch s {
	case SecretsManager:
		return "Secrets Manager secret"
	case ParameterName:
		return "SSM parameter name"
	case ParameterARN:
		return "SSM parameter ARN"
	}
	return "invalid secret reference"
}

// Secret is a parsed secret reference.
type Secret struct {
	// Kind says which form the reference has.
	Kind SecretSource
	// ARN is the secret's ARN without the ECS suffix (SecretsManager), or the
	// parameter ARN (ParameterARN). Empty for ParameterName.
	ARN string
	// Name is the parameter name, starting with "/" for hierarchical parameters
	// (ParameterName, ParameterARN). For ParameterARN it is derived from the ARN:
	// "parameter/a/b" gives "/a/b", "parameter/db" gives "db". Empty for SecretsManager.
	Name string
	// JSONField, VersionStage and VersionID come from the ECS-style suffix of a
	// Secrets Manager ARN; each may be empty.
	JSONField, VersionStage, VersionID string
}

var (
	// Secret names allow letters, digits and /_+=.@-, so the first ":" after
	// "secret:" starts the ECS suffix.
	secretsManagerARN = regexp.MustCompile(`^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+)(?::([^:]*):([^:]*):([^:]*))?$`)
	parameterARN      = regexp.MustCompile(`^arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter/([A-Za-z0-9_.\-/]+)$`)
	parameterName     = regexp.MustCompile(`^/[A-Za-z0-9_.\-/]+$`)
	secretsManagerPfx = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:`)
)

// errNotSecret is the message for values that are no secret reference. It never
// repeats the value: it may be a plaintext secret that must not reach CI logs.
var errNotSecret = errors.New("not a Secrets Manager ARN or SSM parameter; put the value in " +
	"Secrets Manager and reference its ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME), " +
	"or store it in SSM Parameter Store and give the parameter name (/path/name): " +
	"secrets are never plaintext in the config")

// ParseSecret parses a secret reference: a Secrets Manager ARN (optionally followed
// by :json-key:version-stage:version-id, as ECS accepts it), an SSM parameter name
// starting with "/", or an SSM parameter ARN. The error says what to write instead;
// it never contains v.
func ParseSecret(v string) (Secret, error) {
	if m := secretsManagerARN.FindStringSubmatch(v); m != nil {
		return Secret{Kind: SecretsManager, ARN: m[1], JSONField: m[2], VersionStage: m[3], VersionID: m[4]}, nil
	}
	if m := parameterARN.FindStringSubmatch(v); m != nil {
		name := m[1]
		if strings.Contains(name, "/") {
			name = "/" + name
		}
		return Secret{Kind: ParameterARN, ARN: v, Name: name}, nil
	}
	if parameterName.MatchString(v) {
		return Secret{Kind: ParameterName, Name: v}, nil
	}
	if secretsManagerPfx.MatchString(v) {
		return Secret{}, errors.New("not a valid Secrets Manager ARN; write " +
			"arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME, and to read one JSON key add " +
			"all three ECS fields :json-key:version-stage:version-id (empty ones allowed, " +
			"e.g. \"...:secret:db-AbCdEf:password::\", quoted because YAML reads a final \":\" as a key)")
	}
	return Secret{}, errNotSecret
}

// SecretKind reports which kind of secret reference v is, or InvalidSecret.
func SecretKind(v string) SecretSource {
	s, _ := ParseSecret(v)
	return s.Kind
}
