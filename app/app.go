// Package app is stagecoach's public entry point: it turns a stagecoach.yaml into the
// CDK stacks of a pipeline, in your own Go CDK app. A whole app is one call:
//
//	package main
//
//	import "github.com/stagecoach/stagecoach/app"
//
//	func main() { app.Main(app.Options{Config: "../stagecoach.yaml"}) }
//
// `stagecoach init` (cmd/stagecoach) writes such an app, with the cdk.json it needs,
// into an infra/ directory of your repository.
//
// The entry point is this package rather than the module root because the root is
// stagecoach's own CDK app (cdk.json runs `go run .`, and its tests are package main);
// a root package would have to move that app and its tests, and `stagecoach.New`
// would read no better than `app.New`.
//
// # The supported surface
//
// The Go API stagecoach keeps compatible within a major version (see CHANGELOG.md for
// the tag policy) is:
//
//   - this package: [Main], [Synth], [New], [Load], [Options], [RequiredContext] and
//     the constants;
//   - package config: the config types and [config.Load] / [config.Parse];
//   - the packages under constructs/: each construct's New and Props.
//
// Every other library package of the module lives under internal/ (stacks, names,
// imagetags, handlers, rollout, awsmodel, contract, rehearsal, buildspecs, cdkcontext), so
// the Go compiler refuses to import it from another module; it and the commands under
// cmd/ may change in any release, even a patch. The stacks this
// package defines, and their construct IDs and physical names, are covered by the
// "template impact" line of each CHANGELOG.md entry rather than by the Go API.
package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/stagecoach/stagecoach/config"
	"github.com/stagecoach/stagecoach/internal/cdkcontext"
	"github.com/stagecoach/stagecoach/internal/stacks"
)

// ConfigContextKey is the CDK context key (cdk.json, or `cdk synth -c
// stagecoach:config=FILE`) that names the config file when [Options.Config] is empty.
const ConfigContextKey = "stagecoach:config"

// DefaultConfigFile is the config file read when neither [Options.Config] nor the
// context names one.
const DefaultConfigFile = "stagecoach.yaml"

// requiredContext holds the feature flags the templates stagecoach tests depend on:
// without any of them, the templates differ from the tested ones (and some fail the
// cdk-nag checks).
var requiredContext = cdkcontext.Required()

// RequiredContext returns the CDK context (feature flags) [New] requires, key → value:
// what a cdk.json for a stagecoach app must contain, and all `stagecoach init` writes
// into one. Other flags of a `cdk init` cdk.json do not change stagecoach's templates
// today; a release that starts to depend on one adds it here and says so in
// CHANGELOG.md. The map is a copy.
func RequiredContext() map[string]any { return cdkcontext.Required() }

// Load reads and validates the config file at path. It is [config.Load].
func Load(path string) (*config.Config, error) { return config.Load(path) }

// New defines in scope (normally the awscdk.App) every stack of cfg: one pipeline
// stack per service, one stack per stage and one repository stack per other region.
// It first checks scope's context holds every flag of [RequiredContext] and, if not,
// defines nothing and returns an error naming each missing flag.
func New(scope constructs.Construct, cfg *config.Config) error {
	if cfg == nil {
		return errors.New("stagecoach: New needs a config (see app.Load)")
	}
	if err := CheckContext(scope); err != nil {
		return err
	}
	stacks.Define(scope, cfg)
	return nil
}

// CheckContext reports every flag of [RequiredContext] that scope's context lacks or
// sets to another value, in one error that names them and says where to add them.
func CheckContext(scope constructs.Construct) error {
	var wrong []string
	for key, want := range requiredContext {
		got := scope.Node().TryGetContext(jsii.String(key))
		if !sameValue(got, want) {
			if got == nil {
				wrong = append(wrong, fmt.Sprintf("%q: %v (missing)", key, want))
			} else {
				wrong = append(wrong, fmt.Sprintf("%q: %v (set to %v)", key, want, got))
			}
		}
	}
	if len(wrong) == 0 {
		return nil
	}
	sort.Strings(wrong)
	return fmt.Errorf("stagecoach: the CDK context lacks the feature flags its templates depend on; add to the \"context\" of cdk.json:\n  %s",
		strings.Join(wrong, "\n  "))
}

// sameValue compares a context value as jsii returns it (JSON types) with want.
// The CLI passes context through JSON, so "true" (a string) is not true.
func sameValue(got, want any) bool {
	if got == nil {
		return false
	}
	return reflect.DeepEqual(got, want)
}

// Options configure [Synth] and [Main].
type Options struct {
	// Config is the config file's path, relative to the working directory (cdk.json's
	// directory under the CDK CLI). Empty: the context key stagecoach:config names it,
	// else stagecoach.yaml. When both Config and the context key are set, they must
	// name the same file: a context key never silently replaces the path you pass.
	Config string
}

// ConfigPath returns the config file the app reads, given the path the caller passed
// (may be empty) and the value of the context key stagecoach:config (may be nil).
func ConfigPath(passed string, contextValue any) (string, error) {
	var fromContext string
	switch v := contextValue.(type) {
	case nil:
	case string:
		fromContext = v
	default:
		return "", fmt.Errorf("stagecoach: the context key %s must be a file path (a string), not %v", ConfigContextKey, v)
	}
	switch {
	case passed == "" && fromContext == "":
		return DefaultConfigFile, nil
	case passed == "":
		return fromContext, nil
	case fromContext == "" || filepath.Clean(fromContext) == filepath.Clean(passed):
		return passed, nil
	}
	return "", fmt.Errorf("stagecoach: the app reads the config %s, but the context key %s names %s; remove the key from cdk.json (or from -c) so the app's path holds, or stop passing a path in main.go so the key does",
		passed, ConfigContextKey, fromContext)
}

// Synth is a whole CDK app: it creates the awscdk.App (with the context the CDK CLI
// passes), reads the config named by opts, defines its stacks with [New] and writes
// the cloud assembly. On an error nothing is synthesized: a partial assembly would
// deploy a partial app. It does not stop the jsii runtime; [Main] does.
func Synth(opts Options) error {
	a := awscdk.NewApp(nil)
	path, err := ConfigPath(opts.Config, a.Node().TryGetContext(jsii.String(ConfigContextKey)))
	if err != nil {
		return err
	}
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	if err := New(a, cfg); err != nil {
		return err
	}
	a.Synth(nil)
	return nil
}

// Main runs [Synth], stops the jsii runtime and, on an error, prints it and exits with
// status 1. It is all a stagecoach app's main function needs.
func Main(opts Options) {
	err := Synth(opts)
	jsii.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
