package stacks

import (
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/stagecoach/stagecoach/config"
	"github.com/stagecoach/stagecoach/constructs/nagsuppress"
)

// App is every stack of a config.
type App struct {
	// Pipelines are the pipeline stacks, in service order.
	Pipelines []*PipelineStack
	// Stages are the stage stacks, in stage order.
	Stages []*StageStack
}

// Define adds the stacks of cfg to scope (a CDK App). main and the tests both use it,
// so what the tests pin is what `cdk synth` produces.
func Define(scope constructs.Construct, cfg *config.Config) *App {
	a := &App{}
	for s := range cfg.Services {
		a.Pipelines = append(a.Pipelines, NewPipelineStack(scope, cfg, s))
	}
	for i := range cfg.Stages {
		st := NewStageStack(scope, cfg, i)
		// A stage runs images from the pipelines' repositories, so those deploy
		// first. Ordering only: no values cross between the stacks.
		for _, p := range a.Pipelines {
			st.AddStackDependency(p.Stack, jsii.String("the stage runs images from this pipeline's repository"))
		}
		if owner := regionOwner(cfg, i); regional(cfg, i) && owner != i {
			st.AddStackDependency(a.Stages[owner].Stack, jsii.String("the stage runs images from the regional repositories of this stack"))
		}
		a.Stages = append(a.Stages, st)
	}
	// cdk-nag's AwsSolutions pack on every synth: an unsuppressed finding is an error
	// annotation, which fails `cdk synth` and the tests.
	nagsuppress.Check(scope)
	return a
}
