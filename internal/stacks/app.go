package stacks

import (
	"github.com/aws/constructs-go/constructs/v10"

	"github.com/stagecoach/stagecoach/config"
	"github.com/stagecoach/stagecoach/constructs/nagsuppress"
)

// App is every stack of a config.
type App struct {
	// Pipelines are the pipeline stacks, in service order.
	Pipelines []*PipelineStack
	// Regions are the repository stacks of the regions other than home where stages
	// pull regionally, in stage order.
	Regions []*RegionStack
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
	// No stack depends on another: `cdk destroy STACK` also destroys the stacks that
	// depend on STACK, and every stack must be deletable on its own. A stage stack
	// does not need its repository at create time (its services start at 0 until the
	// stage's first release), so any deploy order works.
	for i := range cfg.Stages {
		a.Stages = append(a.Stages, NewStageStack(scope, cfg, i))
	}
	// An app that kept its regional repositories in a stage stack (before these stacks)
	// updates that stack first, which releases them, and then this one imports them
	// (README, "Destroy, re-create, rename").
	for _, region := range repositoryRegions(cfg) {
		a.Regions = append(a.Regions, NewRegionStack(scope, cfg, region))
	}
	// cdk-nag's AwsSolutions pack on every synth: an unsuppressed finding is an error
	// annotation, which fails `cdk synth` and the tests.
	nagsuppress.Check(scope)
	return a
}
