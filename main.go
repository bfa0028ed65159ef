// Command stagecoach is this repository's CDK app: it reads stagecoach.yaml (or the
// file named by the context key stagecoach:config) and defines the pipeline and stage
// stacks for it through the public entry point, package app. Run it through the CDK
// CLI: `cdk synth`, `cdk diff`, `cdk deploy --all`. Your own app does the same from
// its infra/ directory; see `stagecoach init` (cmd/stagecoach).
package main

import "github.com/stagecoach/stagecoach/app"

// ConfigContextKey names the context key (set in cdk.json, or with
// `cdk synth -c stagecoach:config=FILE`) that holds the config file path.
const ConfigContextKey = app.ConfigContextKey

// DefaultConfigFile is read when the context does not name a file.
const DefaultConfigFile = app.DefaultConfigFile

func main() {
	// No path passed: cdk.json's stagecoach:config (or -c) chooses the file.
	app.Main(app.Options{})
}
