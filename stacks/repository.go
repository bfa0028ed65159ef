package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/stagecoach/stagecoach/config"
	"github.com/stagecoach/stagecoach/names"
)

// newRepository defines a service's image repository: the home one in its pipeline
// stack, or a regional one in the stage stack that owns a region (see regionOwner).
// Both have the same name, settings and retention.
func newRepository(scope constructs.Construct, id string, cfg *config.Config, service string) awsecr.Repository {
	mutability, exclusions := tagMutability(cfg, service)
	return awsecr.NewRepository(scope, jsii.String(id), &awsecr.RepositoryProps{
		RepositoryName:  jsii.String(names.Repository(cfg.App, service)),
		ImageScanOnPush: jsii.Bool(true),
		RemovalPolicy:   awscdk.RemovalPolicy_RETAIN,
		LifecycleRules:  repositoryLifecycle(cfg),
		// Commit tags (and any other build tag) can never be overwritten, unless the
		// service runs its own build.yml; :latest and the stage tags must move, so
		// they are the exceptions (see tagMutability).
		ImageTagMutability:                 mutability,
		ImageTagMutabilityExclusionFilters: exclusions,
	})
}

// importRepository refers to a service's repository in region by its derived name.
func importRepository(scope constructs.Construct, id string, cfg *config.Config, service, region string) awsecr.IRepository {
	name := names.Repository(cfg.App, service)
	return awsecr.Repository_FromRepositoryAttributes(scope, jsii.String(id), &awsecr.RepositoryAttributes{
		RepositoryName: jsii.String(name),
		RepositoryArn:  jsii.String(arn("ecr", region, "repository/"+name)),
	})
}

// regional reports whether stage i pulls from a regional repository: by default every
// stage outside the home region does, so tasks start from a copy in their own region
// (faster pulls, no cross-region transfer, no dependency on the home region).
func regional(cfg *config.Config, i int) bool { return cfg.PullsRegionally(i) }

// regionOwner is the stage whose stack creates the regional repositories of stage
// i's region: the first stage there that pulls regionally. A repository name exists
// once per region, so later stages there import it.
func regionOwner(cfg *config.Config, i int) int {
	for j := range cfg.Stages {
		if cfg.StageRegion(j) == cfg.StageRegion(i) && regional(cfg, j) {
			return j
		}
	}
	return i
}
