package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/stagecoach/stagecoach/config"
	"github.com/stagecoach/stagecoach/internal/names"
)

// RegionStack holds the copies of the service repositories in one region other than
// home, for the stages there that pull regionally. It belongs to no stage, so adding,
// renaming or removing a stage never moves a repository between stacks (a retained
// repository left behind by one stack blocks the next stack that creates its name).
type RegionStack struct {
	awscdk.Stack
	// Region is where the repositories are.
	Region string
	// Repositories are the regional repositories, in service order; retained on delete.
	Repositories []awsecr.Repository
}

// NewRegionStack defines the repository stack of region.
func NewRegionStack(scope constructs.Construct, cfg *config.Config, region string) *RegionStack {
	name := names.RegionStack(cfg.App, region)
	st := &RegionStack{Region: region, Stack: awscdk.NewStack(scope, jsii.String(name), &awscdk.StackProps{
		StackName: jsii.String(name),
		Env:       &awscdk.Environment{Region: jsii.String(region)},
		// No CDKMetadata resource: it changes with the library, not with the app.
		AnalyticsReporting: jsii.Bool(false),
		Description:        jsii.String("stagecoach: repositories of " + cfg.App + " in region " + region + " (copies of the images its stages run)"),
	})}
	for _, svc := range cfg.Services {
		// The construct ID the repository had in the stage stack that owned it before.
		st.Repositories = append(st.Repositories, newRepository(st.Stack, names.Pascal(svc.Name)+"Repository", cfg, svc.Name))
	}
	return st
}

// repositoryRegions are the regions other than home where some stage pulls from a
// regional repository, in stage order.
func repositoryRegions(cfg *config.Config) []string {
	var out []string
	seen := map[string]bool{}
	for i := range cfg.Stages {
		if r := cfg.StageRegion(i); regional(cfg, i) && !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}
