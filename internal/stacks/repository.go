package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/stagecoach/stagecoach/config"
	"github.com/stagecoach/stagecoach/internal/names"
)

// newRepository defines a service's image repository: the home one in its pipeline
// stack, or a regional one in its region's stack (RegionStack). Both have the same
// name, settings and retention.
func newRepository(scope constructs.Construct, id string, cfg *config.Config, service string) awsecr.Repository {
	mutability, exclusions := tagMutability(cfg, service)
	repo := awsecr.NewRepository(scope, jsii.String(id), &awsecr.RepositoryProps{
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
	if !ownBuildspec(cfg, service) && mutableTagFilters(stageNames(cfg)) == nil {
		awscdk.Annotations_Of(repo).AddWarningV2(jsii.String("stagecoach:MutableCommitTags"), jsii.String(
			"every tag in this repository is mutable, commit tags included: ECR takes five tag mutability exclusion filters, "+
				"and they cannot cover latest and these stage names without covering commit tags too (stage names made only of "+
				"the characters 0-9 and a-f each need a filter of their own); rename stages so they share a letter beyond a-f to keep commit tags immutable"), nil)
	}
	return repo
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
