package config

import (
	"maps"
	"slices"
	"strings"

	"github.com/stagecoach/stagecoach/internal/contract"
)

// Rule is what the validator requires of one key, stated the way a JSON Schema
// states it. cmd/configdoc writes these rules into stagecoach.schema.json, so an
// editor flags most mistakes as they are typed. They are built from the validator's
// own patterns and limits, which keeps the two in step; the validator stays the
// authority, and some checks (a memory size that fits the CPU, unique names, routes)
// only it makes.
type Rule struct {
	// Pattern is a regular expression the whole value matches, valid in both Go
	// (RE2) and JSON Schema (ECMA-262) syntax.
	Pattern string
	// MaxLength bounds the value's length in characters; 0 for none.
	MaxLength int
	// Enum lists the only values allowed.
	Enum []any
	// Not lists values refused even though Pattern allows them.
	Not []string
	// NotPrefixes lists prefixes a value may not start with.
	NotPrefixes []string
	// Min and Max bound a number; 0 for none.
	Min, Max int
	// MultipleOf, when set, divides every allowed number.
	MultipleOf int
	// MinItems and MaxItems bound a list; 0 for none.
	MinItems, MaxItems int
	// Items is the rule for each item of a list.
	Items *Rule
	// Names and Values are the rules for the names and the values of a mapping
	// keyed by names (env, secrets, per-stage overrides).
	Names, Values *Rule
	// Default is the literal default when there is one, for the schema's
	// "default"; the doc comment says the same in words.
	Default any
}

// Patterns of the schema that the validator checks in several steps, for better
// messages; each allows exactly what those steps allow together, or, where noted,
// a little more.
var (
	// repoFileSchema is repoFileRe without a leading "/" (".." and unclean paths
	// only the validator refuses).
	repoFileSchema = `^[A-Za-z0-9_.@+=,-][A-Za-z0-9_.@+=,/-]*$`
	// repositorySchema is owner/name with at least one "/" ("." and ".." parts
	// only the validator refuses).
	repositorySchema = `^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$`
	// branchSchema refuses the characters git refuses in a branch name (its
	// rules about "..", "@{" and slashes only the validator applies), and the
	// braces CodePipeline's trigger would read as a glob.
	branchSchema = `^[^\x00-\x20~^:?*\[\\\x7f{}]+$`
	// healthCheckSchema is a path without spaces or control characters.
	healthCheckSchema = `^/[^\x00-\x20\x7f]*$`
	// globSchema is a non-empty glob relative to the repository root.
	globSchema = `^[^/]`
)

// secretSchema is any of the secret reference forms ParseSecret accepts.
func secretSchema() string {
	var alts []string
	for _, re := range []string{secretsManagerARN.String(), parameterARN.String(), parameterName.String()} {
		alts = append(alts, strings.TrimSuffix(strings.TrimPrefix(re, "^"), "$"))
	}
	return "^(" + strings.Join(alts, "|") + ")$"
}

// Rules maps each config field, named "Type.Field" after the Go types, to its rule.
// Fields without a rule take any value of their type.
func Rules() map[string]Rule {
	name := func(maxLen int) Rule { return Rule{Pattern: nameRe.String(), MaxLength: maxLen} }
	region := Rule{Pattern: regionRe.String()}
	varNames := &Rule{Pattern: envNameRe.String(), Not: append(contract.Reserved(), contract.NeverSet...), NotPrefixes: contract.ReservedPrefixes}
	env := Rule{Names: varNames}
	secrets := Rule{Names: varNames, Values: &Rule{Pattern: secretSchema()}}
	repoFile := Rule{Pattern: repoFileSchema}
	var cpus []any
	for _, c := range slices.Sorted(maps.Keys(fargate)) {
		cpus = append(cpus, c)
	}
	cpu := Rule{Enum: cpus}
	// Every Fargate memory size is a multiple of 512 MiB; which ones fit a CPU
	// size only the validator checks.
	memory := Rule{Min: fargate[256][0], Max: slices.Max(fargate[16384]), MultipleOf: 512}
	return map[string]Rule{
		"Config.App":          name(MaxAppName),
		"Config.Region":       region,
		"Config.Stages":       {MinItems: 1, MaxItems: MaxStages},
		"Config.Services":     {MinItems: 1, MaxItems: MaxServices},
		"Config.ExtraRegions": {Items: &region},

		"Source.Provider":   {Enum: []any{Providers[0], Providers[1], Providers[2]}, Default: DefaultProvider},
		"Source.Repository": {Pattern: repositorySchema},
		"Source.Branch":     {Pattern: branchSchema, Default: DefaultBranch},
		"Source.Connection": {Pattern: connectionRe.String()},

		"Stage.Name":        {Pattern: nameRe.String(), MaxLength: MaxStageName, Not: []string{contract.LatestTag}},
		"Stage.Approval":    {Default: false},
		"Stage.Region":      region,
		"Stage.Images":      {Enum: []any{ImagesRegional, ImagesHome}, Default: DefaultImages},
		"Stage.Certificate": {Pattern: certificateRe.String()},

		"Service.Name":         name(MaxServiceName),
		"Service.Dockerfile":   repoFile,
		"Service.Paths":        {MaxItems: MaxPaths, Items: &Rule{Pattern: globSchema, MaxLength: 255}},
		"Service.Port":         {Min: 1, Max: 65535, Default: DefaultPort},
		"Service.HealthCheck":  {Pattern: healthCheckSchema, MaxLength: 1024, Default: DefaultHealthCheck},
		"Service.CPU":          {Enum: cpu.Enum, Default: DefaultCPU},
		"Service.Memory":       {Min: memory.Min, Max: memory.Max, MultipleOf: memory.MultipleOf, Default: DefaultMemory},
		"Service.Env":          env,
		"Service.Secrets":      secrets,
		"Service.SecretStages": {Names: varNames, Values: &Rule{MinItems: 1, Items: &Rule{Pattern: nameRe.String(), MaxLength: MaxStageName}}},
		"Service.SecretKeys":   {Items: &Rule{Pattern: kmsKeyRe.String()}},
		"Service.Stages":       {Names: &Rule{Pattern: nameRe.String(), MaxLength: MaxStageName}},

		"Route.Paths":    {MaxItems: MaxRouteValues, Items: &Rule{Pattern: albPathRe.String(), MaxLength: 128}},
		"Route.Hosts":    {MaxItems: MaxRouteValues, Items: &Rule{Pattern: albHostRe.String(), MaxLength: 128}},
		"Route.Priority": {Min: 1, Max: MaxPriority},

		// No defaults here: in a stage override, what scale leaves out comes from
		// the service.
		"Scale.Min":       {Min: 1, Max: MaxScale},
		"Scale.Max":       {Min: 1, Max: MaxScale},
		"Scale.CPUTarget": {Min: 10, Max: 90},

		"Rollout.HealthCheckInterval": rolloutRule("healthCheckInterval", DefaultRollout.HealthCheckInterval),
		"Rollout.HealthyThreshold":    rolloutRule("healthyThreshold", DefaultRollout.HealthyThreshold),
		"Rollout.UnhealthyThreshold":  rolloutRule("unhealthyThreshold", DefaultRollout.UnhealthyThreshold),
		"Rollout.DeregistrationDelay": rolloutRule("deregistrationDelay", DefaultRollout.DeregistrationDelay),
		"Rollout.GracePeriod":         rolloutRule("gracePeriod", DefaultRollout.GracePeriod),
		"Rollout.StopTimeout":         rolloutRule("stopTimeout", DefaultRollout.StopTimeout),
		"Rollout.MinHealthyPercent":   rolloutRule("minHealthyPercent", DefaultRollout.MinHealthyPercent),
		"Rollout.MaxPercent":          rolloutRule("maxPercent", DefaultRollout.MaxPercent),

		"Build.Buildspec": repoFile,
		"Build.Env":       env,
		"Build.Secrets":   secrets,

		"Release.Buildspec": repoFile,
		"Release.Env":       env,

		"StageOverride.Env":     env,
		"StageOverride.Secrets": secrets,
		"StageOverride.CPU":     cpu,
		"StageOverride.Memory":  memory,
	}
}

// rolloutRule is the schema rule of one rollout setting, from the validator's limits.
func rolloutRule(key string, def int) Rule {
	for _, l := range rolloutLimits {
		if l.key == key {
			return Rule{Min: l.min, Max: l.max, Default: def}
		}
	}
	panic("config: no rollout limit for " + key)
}
