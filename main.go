// Command stagecoach is the CDK app: it reads stagecoach.yaml (or the file named by the
// context key stagecoach:config) and defines the pipeline and stage stacks for it.
// Run it through the CDK CLI: `cdk synth`, `cdk diff`, `cdk deploy --all`.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/stagecoach/stagecoach/config"
	"github.com/stagecoach/stagecoach/stacks"
)

// ConfigContextKey names the context key (set in cdk.json, or with
// `cdk synth -c stagecoach:config=FILE`) that holds the config file path.
const ConfigContextKey = "stagecoach:config"

// DefaultConfigFile is read when the context does not name a file.
const DefaultConfigFile = "stagecoach.yaml"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	path := DefaultConfigFile
	if v, ok := app.Node().TryGetContext(jsii.String(ConfigContextKey)).(string); ok && v != "" {
		path = v
	}
	cfg, err := config.Load(path)
	if err != nil {
		// Nothing is synthesized: a partial assembly would deploy a partial app.
		return err
	}
	stacks.Define(app, cfg)
	app.Synth(nil)
	return nil
}
