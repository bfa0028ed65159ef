package stacks

import (
	"fmt"

	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodestarconnections"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/stagecoach/stagecoach/config"
	"github.com/stagecoach/stagecoach/constructs/contractproject"
	"github.com/stagecoach/stagecoach/constructs/logstore"
	"github.com/stagecoach/stagecoach/constructs/nagsuppress"
	"github.com/stagecoach/stagecoach/constructs/releasepipeline"
	"github.com/stagecoach/stagecoach/constructs/stageguard"
	"github.com/stagecoach/stagecoach/internal/buildspecs"
	"github.com/stagecoach/stagecoach/internal/contract"
	"github.com/stagecoach/stagecoach/internal/imagetags"
	"github.com/stagecoach/stagecoach/internal/names"
)

// PipelineStack holds what one service needs to go from a push to its last stage.
type PipelineStack struct {
	awscdk.Stack
	// Repository stores the service's images; it is retained on delete.
	Repository awsecr.Repository
	// AccessLogs receives the artifact bucket's server access logs; retained on delete.
	AccessLogs awss3.Bucket
	// Bucket stores pipeline artifacts, CodeBuild logs and what builds put in
	// S3_BUCKET; it is retained on delete.
	Bucket awss3.Bucket
	// Build runs build.yml.
	Build *contractproject.Project
	// Releases run release.yml, one per stage, in stage order.
	Releases []*contractproject.Project
	// Pipeline ties them together.
	Pipeline *releasepipeline.Pipeline
	// Guard puts back a stage tag moved without its stage's approval.
	Guard *stageguard.Guard
	// ConnectionARN is the CodeConnections connection the source uses.
	ConnectionARN string
}

// NewPipelineStack defines the pipeline stack of service s.
func NewPipelineStack(scope constructs.Construct, cfg *config.Config, s int) *PipelineStack {
	svc := cfg.Services[s]
	name := names.PipelineStack(cfg.App, svc.Name)
	st := &PipelineStack{Stack: awscdk.NewStack(scope, jsii.String(name), &awscdk.StackProps{
		StackName: jsii.String(name),
		Env:       &awscdk.Environment{Region: jsii.String(cfg.Region)},
		// No CDKMetadata resource: it changes with the library, not with the app.
		AnalyticsReporting: jsii.Bool(false),
		Description:        jsii.String("stagecoach: build and release pipeline of service " + svc.Name + " of " + cfg.App),
	})}
	defaultsNote(st.Stack, svc)

	// Server access logs of the bucket below, kept as long as the build logs.
	st.AccessLogs = logstore.AccessLogBucket(st.Stack, "AccessLogs", logstore.BucketProps{
		Receives:        "the artifact bucket's access logs",
		Days:            logDays,
		ObjectOwnership: awss3.ObjectOwnership_BUCKET_OWNER_PREFERRED,
	})

	pipelineName := names.Pipeline(cfg.App, svc.Name)
	st.Bucket = awss3.NewBucket(st.Stack, jsii.String("Bucket"), &awss3.BucketProps{
		Encryption:             awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:             jsii.Bool(true),
		Versioned:              jsii.Bool(true),
		RemovalPolicy:          awscdk.RemovalPolicy_RETAIN,
		ServerAccessLogsBucket: st.AccessLogs,
		ServerAccessLogsPrefix: jsii.String("bucket/"),
		LifecycleRules: &[]*awss3.LifecycleRule{
			// Versioning guards against mistakes; old versions need not live forever.
			{Id: jsii.String("ExpireOldVersions"), NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(30))},
			// CodePipeline keeps artifacts under the first 20 characters of the
			// pipeline name; a release never needs one older than this.
			{Id: jsii.String("ExpirePipelineArtifacts"), Prefix: jsii.String(artifactPrefix(pipelineName)),
				Expiration: awscdk.Duration_Days(jsii.Number(logDays))},
			{Id: jsii.String("ExpireBuildLogs"), Prefix: jsii.String("logs/"), Expiration: awscdk.Duration_Days(jsii.Number(logDays))},
		},
	})
	// aws-cdk-lib's grants on this bucket use action wildcards: reading and writing for
	// CodePipeline's own roles (the pipeline's and the Source action's, which store the
	// artifacts), reading for the CodeBuild projects (which write only their own
	// prefixes, see contractproject).
	nagsuppress.AcceptInStack(st.Stack, "AwsSolutions-IAM5",
		"aws-cdk-lib's grants for the pipeline artifact bucket: object actions with wildcards (s3:GetObject*, s3:List*, …) on this stack's bucket only; writes and deletes only for CodePipeline's own roles.",
		"Action::s3:Abort*", "Action::s3:DeleteObject*", "Action::s3:GetBucket*", "Action::s3:GetObject*", "Action::s3:List*",
		`/^Resource::<Bucket83908E77\.Arn>\/\*$/`)

	st.Repository = newRepository(st.Stack, "Repository", cfg, svc.Name)

	st.ConnectionARN = cfg.Source.Connection
	if st.ConnectionARN == "" {
		// Created pending: a person approves it once in the console (see README).
		conn := awscodestarconnections.NewCfnConnection(st.Stack, jsii.String("Connection"), &awscodestarconnections.CfnConnectionProps{
			ConnectionName: jsii.String(names.Connection(cfg.App, svc.Name)),
			ProviderType:   jsii.String(cfg.Source.Provider),
		})
		st.ConnectionARN = *conn.AttrConnectionArn()
	}

	endpoint := registryEndpoint(cfg.Region)
	imageURL := endpoint + "/" + names.Repository(cfg.App, svc.Name)
	bucket := *st.Bucket.BucketName()

	buildVars := map[string]string{
		contract.S3Bucket:    bucket,
		contract.ECREndpoint: endpoint,
		contract.ECRImageURL: imageURL,
	}
	if svc.Dockerfile != "" {
		buildVars[contract.DockerfilePath] = svc.Dockerfile
	}
	st.Build = contractproject.New(st.Stack, "Build", contractproject.Props{
		ProjectName:   names.BuildProject(cfg.App, svc.Name),
		Description:   "Runs build.yml once per push and pushes " + names.Repository(cfg.App, svc.Name) + ":latest.",
		Bucket:        st.Bucket,
		Variables:     buildVars,
		UserVariables: svc.Build.Env,
		Secrets:       buildSecrets(svc.Build.Secrets),
		Buildspec:     buildspecs.Build,
		BuildspecFile: svc.Build.Buildspec,
	})
	st.Repository.GrantPullPush(st.Build.Role)
	if len(svc.Build.Secrets) > 0 {
		grantSecretKeys(st.Build.Role, svc.SecretKeys)
	}
	acceptAuthorizationToken(st.Build.Project)

	var stages []releasepipeline.Stage
	var guarded []stageguard.Stage
	for i, stage := range cfg.Stages {
		region := cfg.StageRegion(i)
		cluster := names.Cluster(cfg.App, stage.Name)
		service := names.Service(cfg.App, stage.Name, svc.Name)
		vars := map[string]string{
			contract.S3Bucket:          bucket,
			contract.StageName:         stage.Name,
			contract.ECREndpoint:       endpoint,
			contract.ECRImageURL:       imageURL,
			contract.PreviousStageName: cfg.PreviousStage(i),
			contract.ClusterARN:        arn("ecs", region, "cluster/"+cluster),
			contract.ServiceName:       service,
			contract.StageRegion:       region,
			contract.TaskRoleARN:       arn("iam", "", "role/"+names.TaskRole(cfg.App, stage.Name, svc.Name)),
		}
		if regional(cfg, i) {
			regionalEndpoint := registryEndpoint(region)
			vars[contract.RegionalECREndpoint] = regionalEndpoint
			vars[contract.RegionalECRImageURL] = regionalEndpoint + "/" + names.Repository(cfg.App, svc.Name)
		}
		rel := contractproject.New(st.Stack, "Release"+names.Pascal(stage.Name), contractproject.Props{
			ProjectName:   names.ReleaseProject(cfg.App, svc.Name, stage.Name),
			Description:   "Runs release.yml to release " + svc.Name + " to " + stage.Name + ".",
			Bucket:        st.Bucket,
			Variables:     vars,
			UserVariables: svc.Release.Env,
			Buildspec:     buildspecs.Release,
			BuildspecFile: svc.Release.Buildspec,
			Timeout:       awscdk.Duration_Minutes(jsii.Number(30)),
			// The default release.yml retags through the ECR API and runs docker only
			// to copy an image to another region; a user's release.yml (TinyStacks'
			// pulls, tags and pushes) keeps the Docker daemon.
			WithoutDocker: svc.Release.Buildspec == "" && !regional(cfg, i),
		})
		st.Repository.GrantPullPush(rel.Role)
		acceptAuthorizationToken(rel.Project)
		// The default release.yml reads the stage tag's current digest, to roll back,
		// and removes the tag when a stage's very first release fails.
		st.Repository.Grant(rel.Role, jsii.String("ecr:DescribeImages"), jsii.String("ecr:BatchDeleteImage"))
		if regional(cfg, i) {
			// The same rights on the stage region's copy, where its service pulls from.
			remote := importRepository(st.Stack, "Release"+names.Pascal(stage.Name)+"RegionalRepository", cfg, svc.Name, region)
			remote.GrantPullPush(rel.Role)
			remote.Grant(rel.Role, jsii.String("ecr:DescribeImages"), jsii.String("ecr:BatchDeleteImage"))
		}
		// The release may update and watch this stage's service and nothing else.
		rel.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("ecs:UpdateService", "ecs:DescribeServices"),
			Resources: jsii.Strings(arn("ecs", region, "service/"+cluster+"/"+service)),
		}))
		if svc.Release.Buildspec != "" {
			grantTaskDefinitions(rel, cfg, stage.Name, svc.Name)
		}
		st.Releases = append(st.Releases, rel)
		guarded = append(guarded, stageguard.Stage{Name: stage.Name, ClusterARN: vars[contract.ClusterARN], Service: service, Region: region,
			ServiceARN: arn("ecs", region, "service/"+cluster+"/"+service)})
		stages = append(stages, releasepipeline.Stage{Name: stage.Name, Approval: stage.Approval, Release: rel.Project})
	}

	owner, repo := splitRepository(cfg.Source.Repository)
	st.Pipeline = releasepipeline.New(st.Stack, "Pipeline", releasepipeline.Props{
		PipelineName:    pipelineName,
		ArtifactBucket:  st.Bucket,
		ConnectionARN:   st.ConnectionARN,
		Owner:           owner,
		Repository:      repo,
		Branch:          cfg.Source.Branch,
		Paths:           svc.Paths,
		Build:           st.Build.Project,
		ImageRepository: st.Repository,
		Records:         names.StageRecords(cfg.App, svc.Name),
		Stages:          stages,
		BuildRevision:   buildRevision(svc),
	})
	st.Guard = stageguard.New(st.Stack, "StageTagGuard", stageguard.Props{
		Repository:     st.Repository,
		RepositoryName: names.Repository(cfg.App, svc.Name),
		Records:        names.StageRecords(cfg.App, svc.Name),
		Stages:         guarded,
		AlarmName:      pipelineName + "-unapproved-stage-tag",
	})
	return st
}

// grantTaskDefinitions lets a release.yml of the user's register its own task
// definitions, as TinyStacks' later release.yml does: read the running one, register a
// revision and pass the stage service's task and execution roles to it. (The service
// update is already granted.) Only a user's release.yml gets this: stagecoach's own
// releases by tag. A revision registered this way is not CloudFormation's: the next
// deploy that changes the service puts it back on the template's (README, "Coming
// from TinyStacks").
func grantTaskDefinitions(rel *contractproject.Project, cfg *config.Config, stage, service string) {
	rel.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		// Neither action supports resource-level permissions.
		Actions:   jsii.Strings("ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"),
		Resources: jsii.Strings("*"),
	}))
	rel.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("iam:PassRole"),
		Resources: jsii.Strings(
			arn("iam", "", "role/"+names.TaskRole(cfg.App, stage, service)),
			arn("iam", "", "role/"+names.ExecutionRole(cfg.App, stage, service)),
		),
		// Only to ECS tasks: nothing else may run under these roles.
		Conditions: &map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
	}))
	nagsuppress.Accept(rel.Project, "AwsSolutions-IAM5",
		"ecs:DescribeTaskDefinition and ecs:RegisterTaskDefinition have no resource-level permissions (AWS requires \"*\"); the user's release.yml registers the stage service's task definition, and may pass only that service's two roles.",
		"Resource::*")
}

// logDays is how long build logs, access logs and pipeline artifacts are kept, as
// TinyStacks kept logs.
const logDays = logstore.DefaultDays

// artifactPrefix is where CodePipeline keeps a pipeline's artifacts in its bucket.
func artifactPrefix(pipeline string) string {
	if len(pipeline) > 20 {
		pipeline = pipeline[:20]
	}
	return pipeline + "/"
}

// acceptAuthorizationToken records why a project's role holds ecr:GetAuthorizationToken
// on "*".
func acceptAuthorizationToken(project constructs.IConstruct) {
	nagsuppress.Accept(project, "AwsSolutions-IAM5",
		"ecr:GetAuthorizationToken has no resource-level permissions (AWS requires \"*\"); every other ECR action is on this service's repository only.",
		"Resource::*")
}

// buildRevision fingerprints what the build runs with, so a change re-runs the
// pipeline after `cdk deploy`, as TinyStacks did when a build variable was added.
// A service on stagecoach's own build.yml also re-runs when that file changes (an
// upgrade of stagecoach); a build.yml of the repository changes with a push anyway.
func buildRevision(svc config.Service) string {
	var builtIn string
	if svc.Build.Buildspec == "" {
		sum := sha256.Sum256([]byte(buildspecs.Build))
		builtIn = hex.EncodeToString(sum[:8])
	}
	b, err := json.Marshal(struct {
		Env, Secrets          map[string]string
		Buildspec, Dockerfile string
		BuiltIn               string `json:",omitempty"`
	}{svc.Build.Env, svc.Build.Secrets, svc.Build.Buildspec, svc.Dockerfile, builtIn})
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(b) // maps marshal with sorted keys: stable
	return hex.EncodeToString(sum[:8])
}

// tagMutability makes every tag immutable except :latest, the stage tags and the
// rollback tags (see mutableTagFilters). When ECR's five exclusion filters cannot
// cover them without also covering commit tags, every tag stays mutable (the README
// says so, and synth warns).
//
// Immutable build tags need a build.yml that expects them: stagecoach's own skips a
// commit tag that exists. A service that names its own build.yml (a TinyStacks one
// pushes :$(git rev-parse HEAD) with a plain docker push) keeps mutable tags, or every
// re-run of a commit would fail its build. Releases promote the digest the execution
// built, so a moved tag can never change what is released.
func tagMutability(cfg *config.Config, service string) (awsecr.TagMutability, *[]awsecr.ImageTagMutabilityExclusionFilter) {
	if ownBuildspec(cfg, service) {
		return awsecr.TagMutability_MUTABLE, nil
	}
	patterns := mutableTagFilters(stageNames(cfg))
	if patterns == nil {
		return awsecr.TagMutability_MUTABLE, nil
	}
	var filters []awsecr.ImageTagMutabilityExclusionFilter
	for _, p := range patterns {
		filters = append(filters, awsecr.ImageTagMutabilityExclusionFilter_Wildcard(jsii.String(p)))
	}
	return awsecr.TagMutability_IMMUTABLE_WITH_EXCLUSION, &filters
}

// ownBuildspec reports whether service runs a build.yml of its own repository.
func ownBuildspec(cfg *config.Config, service string) bool {
	for _, s := range cfg.Services {
		if s.Name == service {
			return s.Build.Buildspec != ""
		}
	}
	return false
}

// stageNames lists the stages in pipeline order.
func stageNames(cfg *config.Config) []string {
	var out []string
	for _, s := range cfg.Stages {
		out = append(out, s.Name)
	}
	return out
}

// repositoryLifecycle keeps every image :latest, a stage or a stage's rollback tag
// is on, expires untagged images (left behind when a tag moves) after a week, and
// keeps the newest 25 of the rest, as TinyStacks did.
//
// ECR selects an image for a rule only if the image has a tag matching EVERY entry
// of the rule's tagPatternList, so each protected tag gets a rule of its own with a
// one-entry list; an image a rule selects is never expired by a later rule, and a
// count this high never expires anything itself. ECR takes 50 rules per policy:
// when latest, the stage tags and the rollback tags need more than 48, tags share
// wildcard rules that no commit tag can match (imagetags.Cover; config refuses the
// stage names for which none exist).
func repositoryLifecycle(cfg *config.Config) *[]*awsecr.LifecycleRule {
	patterns, ok := imagetags.Cover(imagetags.Moving(stageNames(cfg)), imagetags.MaxLifecycleProtections)
	if !ok {
		panic("stacks: config accepted stage names whose images no lifecycle policy can keep") // config.Validate refuses them
	}
	var rules []*awsecr.LifecycleRule
	for _, p := range patterns {
		rules = append(rules, &awsecr.LifecycleRule{
			RulePriority:   jsii.Number(len(rules) + 1),
			Description:    jsii.String("Never expire the image :" + p + " is on"),
			TagStatus:      awsecr.TagStatus_TAGGED,
			TagPatternList: jsii.Strings(p),
			MaxImageCount:  jsii.Number(9999),
		})
	}
	rules = append(rules,
		&awsecr.LifecycleRule{
			RulePriority: jsii.Number(len(rules) + 1),
			Description:  jsii.String("Expire untagged images after 7 days"),
			TagStatus:    awsecr.TagStatus_UNTAGGED,
			MaxImageAge:  awscdk.Duration_Days(jsii.Number(7)),
		},
		&awsecr.LifecycleRule{
			RulePriority:  jsii.Number(len(rules) + 2),
			Description:   jsii.String("Keep the newest 25 other images"),
			TagStatus:     awsecr.TagStatus_ANY,
			MaxImageCount: jsii.Number(25),
		})
	return &rules
}

// registryEndpoint is the ECR registry host of the deploying account in region.
func registryEndpoint(region string) string {
	return *awscdk.Aws_ACCOUNT_ID() + ".dkr.ecr." + region + "." + *awscdk.Aws_URL_SUFFIX()
}

// arn builds an ARN in the deploying account and partition.
func arn(service, region, resource string) string {
	return "arn:" + *awscdk.Aws_PARTITION() + ":" + service + ":" + region + ":" + *awscdk.Aws_ACCOUNT_ID() + ":" + resource
}

// splitRepository splits "owner/name" at its last slash (GitLab owners may nest).
func splitRepository(full string) (owner, name string) {
	i := strings.LastIndex(full, "/")
	return full[:i], full[i+1:]
}

// defaultsNote tells, at synth, which of the service's port and health check path
// nobody chose: an app listening elsewhere fails its health checks only after the
// deploy, so the default is worth a line before it.
func defaultsNote(stack awscdk.Stack, svc config.Service) {
	for _, key := range svc.Defaulted {
		var msg string
		switch key {
		case "port":
			msg = fmt.Sprintf("service %s: port is not set, so the load balancer sends traffic to port %d of the container; if the app listens elsewhere (see the Dockerfile's EXPOSE), set port in the config", svc.Name, svc.Port)
		case "healthCheck":
			msg = fmt.Sprintf("service %s: healthCheck is not set, so the load balancer probes %s and replaces tasks that do not answer it with 200-399; set healthCheck to a path the app answers", svc.Name, svc.HealthCheck)
		default:
			continue
		}
		awscdk.Annotations_Of(stack).AddInfo(jsii.String(msg))
	}
}
