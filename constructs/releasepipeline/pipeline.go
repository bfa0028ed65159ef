// Package releasepipeline defines the CodePipeline (V2) that takes one service from a
// push to its last stage: a CodeConnections source with a full clone, one build framed
// by two quick steps that record the digest it built, then for every stage in order an
// optional manual approval, a quick step that records the digest as approved for the
// stage, the release that promotes it, and a quick step that checks the stage's tag.
package releasepipeline

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipelineactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/stagecoach/stagecoach/constructs/inlinefunction"
	"github.com/stagecoach/stagecoach/constructs/nagsuppress"
	"github.com/stagecoach/stagecoach/constructs/stageguard"
	"github.com/stagecoach/stagecoach/internal/contract"
	"github.com/stagecoach/stagecoach/internal/handlers"
)

// Stage is one release stage of the pipeline.
type Stage struct {
	// Name is the pipeline stage name, the config's stage name. Required.
	Name string
	// Approval puts a manual approval before the release. Default: none.
	Approval bool
	// Release is the project that runs release.yml for this stage. Required.
	Release awscodebuild.IProject
}

// Props configures a Pipeline.
type Props struct {
	// PipelineName is the physical pipeline name. Required.
	PipelineName string
	// ArtifactBucket stores the artifacts passed between actions. Required.
	ArtifactBucket awss3.IBucket
	// ConnectionARN is the CodeConnections connection to the Git host. Required.
	ConnectionARN string
	// Owner and Repository name the repository ("acme", "shop"); Owner may hold
	// nested groups ("group/subgroup") on GitLab. Required.
	Owner, Repository string
	// Branch is the branch whose pushes start the pipeline. Required.
	Branch string
	// Paths restricts the push trigger to pushes touching these globs. Default: every
	// push to Branch starts the pipeline.
	Paths []string
	// Build is the project that runs build.yml. Required.
	Build awscodebuild.IProject
	// ImageRepository is where build.yml pushes; the steps around the build read its
	// tags to record the digest this execution built. Required.
	ImageRepository awsecr.IRepository
	// Records is the Parameter Store path of the stages' records (names.StageRecords):
	// what each stage was approved to run. Required.
	Records string
	// LogRetention is how long the image-tag step's logs are kept. Default: 90 days.
	LogRetention awslogs.RetentionDays
	// Stages are released in order. Required, at least one.
	Stages []Stage
	// BuildRevision fingerprints the build configuration (variables, buildspec,
	// Dockerfile). When a stack update changes it, the pipeline is started once, so
	// the new configuration is built and released without waiting for a push.
	// Default: configuration changes take effect on the next push.
	BuildRevision string
}

// Pipeline is a service's CodePipeline and the artifacts it passes along.
type Pipeline struct {
	constructs.Construct
	// Pipeline is the CodePipeline.
	Pipeline awscodepipeline.Pipeline
	// Source is the full clone of the pushed commit, the input of every action.
	Source awscodepipeline.Artifact
	// SourceAction is the CodeConnections action, the trigger's subject.
	SourceAction awscodepipelineactions.CodeStarConnectionsSourceAction
	// ImageTags is the function behind the steps before and after build.yml.
	ImageTags awslambda.Function
	// StageRecord is the function behind the steps before and after each release; it
	// alone may write the stages' records.
	StageRecord awslambda.Function
	// ImageDigest is the pipeline variable holding the digest this execution built;
	// every release receives it as IMAGE_DIGEST.
	ImageDigest string
}

// rerunOnChange starts the pipeline when BuildRevision changes. The revision is part
// of the physical ID, so CloudFormation sends an update exactly then. Creation needs no
// start: a new pipeline runs by itself.
func (p *Pipeline) rerunOnChange(props Props) {
	id := customresources.PhysicalResourceId_Of(jsii.String("build-" + props.BuildRevision))
	name := p.Pipeline.PipelineName()
	rerun := customresources.NewAwsCustomResource(p.Construct, jsii.String("RerunOnBuildChange"), &customresources.AwsCustomResourceProps{
		ResourceType: jsii.String("Custom::RerunOnBuildChange"),
		OnCreate: &customresources.AwsSdkCall{
			Service: jsii.String("CodePipeline"), Action: jsii.String("getPipelineState"),
			Parameters: map[string]any{"name": name}, PhysicalResourceId: id,
			// The state is not needed; reading nothing keeps the response small.
			OutputPaths: jsii.Strings("pipelineName"),
		},
		OnUpdate: &customresources.AwsSdkCall{
			Service: jsii.String("CodePipeline"), Action: jsii.String("startPipelineExecution"),
			Parameters: map[string]any{"name": name}, PhysicalResourceId: id,
		},
		Policy: customresources.AwsCustomResourcePolicy_FromSdkCalls(&customresources.SdkCallsPolicyOptions{
			Resources: jsii.Strings(*p.Pipeline.PipelineArn()),
		}),
		InstallLatestAwsSdk: jsii.Bool(false),
	})
	// Start only once the new build project and pipeline are in place.
	rerun.Node().AddDependency(p.Pipeline, props.Build)
	// aws-cdk-lib creates the function behind AwsCustomResource once per stack, with
	// the managed basic-execution policy; stagecoach cannot pass it a role.
	stack := awscdk.Stack_Of(p.Construct)
	nagsuppress.AcceptPath(stack, "/"+*stack.StackName()+"/AWS679f53fac002430cb0da5b7982bd2287/ServiceRole/Resource",
		"AwsSolutions-IAM4", "aws-cdk-lib's AwsCustomResource function role (CloudWatch Logs only); the function can only start this pipeline.",
		"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
}

// New defines a Pipeline under scope.
func New(scope constructs.Construct, id string, props Props) *Pipeline {
	if props.PipelineName == "" || props.Build == nil || props.ImageRepository == nil || len(props.Stages) == 0 || props.Records == "" {
		panic("releasepipeline: PipelineName, Build, ImageRepository, Records and Stages are required")
	}
	p := &Pipeline{Construct: constructs.NewConstruct(scope, jsii.String(id))}
	p.Source = awscodepipeline.NewArtifact(jsii.String("Source"), nil)

	// A full clone rather than a zip, so buildspecs can run git (for example
	// `git rev-parse HEAD` to tag the image with its commit).
	p.SourceAction = awscodepipelineactions.NewCodeStarConnectionsSourceAction(&awscodepipelineactions.CodeStarConnectionsSourceActionProps{
		ActionName:           jsii.String("Source"),
		ConnectionArn:        jsii.String(props.ConnectionARN),
		Owner:                jsii.String(props.Owner),
		Repo:                 jsii.String(props.Repository),
		Branch:               jsii.String(props.Branch),
		Output:               p.Source,
		CodeBuildCloneOutput: jsii.Bool(true),
		VariablesNamespace:   jsii.String("Source"),
	})

	// A Lambda step, not CodeBuild: it answers in about a second, where a CodeBuild
	// run spends most of a minute provisioning.
	p.ImageTags = inlinefunction.New(p.Construct, "ImageTags", inlinefunction.Props{
		Description:  "stagecoach: records the image tags around build.yml and the digest it built",
		Source:       handlers.ImageTags,
		LogRetention: props.LogRetention,
	})
	props.ImageRepository.Grant(p.ImageTags, jsii.String("ecr:ListImages"))
	var stageNames []string
	for _, st := range props.Stages {
		stageNames = append(stageNames, st.Name)
	}
	records := stageguard.RecordARNs(p.Construct, props.Records, stageNames)
	p.ImageTags.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("ssm:GetParameter"), Resources: jsii.Strings(records...),
	}))
	// Separate from ImageTags so that the function invoked right after build.yml can
	// write nothing. Only the pipeline invokes this one, with parameters fixed here.
	p.StageRecord = inlinefunction.New(p.Construct, "StageRecord", inlinefunction.Props{
		Description:  "stagecoach: records what each stage is approved to run, and checks its tag after the release",
		Source:       handlers.StageRecord,
		LogRetention: props.LogRetention,
	})
	props.ImageRepository.Grant(p.StageRecord, jsii.String("ecr:ListImages"))
	p.StageRecord.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("ssm:GetParameter", "ssm:PutParameter"), Resources: jsii.Strings(records...),
	}))

	repoName := *props.ImageRepository.RepositoryName()
	before := awscodepipelineactions.NewLambdaInvokeAction(&awscodepipelineactions.LambdaInvokeActionProps{
		ActionName:         jsii.String("TagsBefore"),
		RunOrder:           jsii.Number(1),
		Lambda:             p.ImageTags,
		VariablesNamespace: jsii.String("Before"),
		UserParameters:     &map[string]any{"mode": "snapshot", "repository": repoName, "stages": stageNames},
	})
	build := awscodepipelineactions.NewCodeBuildAction(&awscodepipelineactions.CodeBuildActionProps{
		ActionName: jsii.String("Build"),
		RunOrder:   jsii.Number(2),
		Project:    props.Build,
		Input:      p.Source,
	})
	// Fails the execution unless build.yml moved :latest and left every stage tag
	// alone; outputs the digest of :latest for the releases of this execution.
	record := awscodepipelineactions.NewLambdaInvokeAction(&awscodepipelineactions.LambdaInvokeActionProps{
		ActionName:         jsii.String("ImageDigest"),
		RunOrder:           jsii.Number(3),
		Lambda:             p.ImageTags,
		VariablesNamespace: jsii.String("Image"),
		UserParameters: &map[string]any{"mode": "record", "repository": repoName, "stages": stageNames,
			"records": props.Records, "before": *before.Variable(jsii.String("TAGS"))},
	})
	p.ImageDigest = *record.Variable(jsii.String("IMAGE_DIGEST"))

	stages := []*awscodepipeline.StageProps{
		{StageName: jsii.String("Source"), Actions: &[]awscodepipeline.IAction{p.SourceAction}},
		{StageName: jsii.String("Build"), Actions: &[]awscodepipeline.IAction{before, build, record}},
	}
	for _, st := range props.Stages {
		var actions []awscodepipeline.IAction
		if st.Approval {
			actions = append(actions, awscodepipelineactions.NewManualApprovalAction(&awscodepipelineactions.ManualApprovalActionProps{
				ActionName:            jsii.String("Approve"),
				RunOrder:              jsii.Number(1),
				AdditionalInformation: jsii.String("Release to " + st.Name + "?"),
			}))
		}
		stageParams := func(mode string) *map[string]any {
			return &map[string]any{"mode": mode, "repository": repoName, "records": props.Records, "stage": st.Name,
				"digest": p.ImageDigest, "commit": *p.SourceAction.Variables().CommitId,
				"execution": "#{codepipeline.PipelineExecutionId}"}
		}
		// After the approval, before the release moves the tag: from here on the stage
		// tag may point to this execution's image (see handlers.StageRecord).
		actions = append(actions, awscodepipelineactions.NewLambdaInvokeAction(&awscodepipelineactions.LambdaInvokeActionProps{
			ActionName:     jsii.String("Authorize"),
			RunOrder:       jsii.Number(2),
			Lambda:         p.StageRecord,
			UserParameters: stageParams("authorize"),
		}))
		actions = append(actions, awscodepipelineactions.NewCodeBuildAction(&awscodepipelineactions.CodeBuildActionProps{
			ActionName: jsii.String("Release"),
			RunOrder:   jsii.Number(3),
			Project:    st.Release,
			Input:      p.Source,
			// An action override, the highest CodeBuild precedence: the release
			// promotes what this execution built, even when an approval waited
			// while newer pushes moved :latest.
			EnvironmentVariables: &map[string]*awscodebuild.BuildEnvironmentVariable{
				contract.ImageDigest: {Value: jsii.String(p.ImageDigest)},
			},
		}))
		// Whatever release.yml did, the stage fails unless its tag ends on this
		// execution's image (a seed release.yml promotes what :PREVIOUS_STAGE_NAME is on).
		actions = append(actions, awscodepipelineactions.NewLambdaInvokeAction(&awscodepipelineactions.LambdaInvokeActionProps{
			ActionName:     jsii.String("Verify"),
			RunOrder:       jsii.Number(4),
			Lambda:         p.StageRecord,
			UserParameters: stageParams("verify"),
		}))
		stages = append(stages, &awscodepipeline.StageProps{StageName: jsii.String(st.Name), Actions: &actions})
	}

	filter := &awscodepipeline.GitPushFilter{BranchesIncludes: jsii.Strings(props.Branch)}
	if len(props.Paths) > 0 {
		filter.FilePathsIncludes = jsii.Strings(props.Paths...)
	}
	p.Pipeline = awscodepipeline.NewPipeline(p.Construct, jsii.String("Pipeline"), &awscodepipeline.PipelineProps{
		PipelineName: jsii.String(props.PipelineName),
		// Set explicitly: a Go app without the feature flag would get V1, which has no
		// triggers with file-path filters.
		PipelineType:   awscodepipeline.PipelineType_V2,
		ArtifactBucket: props.ArtifactBucket,
		Stages:         &stages,
		Triggers: &[]*awscodepipeline.TriggerProps{{
			ProviderType: awscodepipeline.ProviderType_CODE_STAR_SOURCE_CONNECTION,
			GitConfiguration: &awscodepipeline.GitConfiguration{
				SourceAction: p.SourceAction,
				PushFilter:   &[]*awscodepipeline.GitPushFilter{filter},
			},
		}},
	})

	// Granted when the pipeline binds the Lambda actions, so accepted after it.
	for _, fn := range []awslambda.Function{p.ImageTags, p.StageRecord} {
		nagsuppress.Accept(fn.Role(), "AwsSolutions-IAM5",
			"codepipeline:PutJobSuccessResult and PutJobFailureResult have no resource-level permissions (AWS requires \"*\").",
			"Resource::*")
	}
	// The roles CodePipeline assumes to invoke the pipeline functions.
	nagsuppress.Accept(p.Pipeline, "AwsSolutions-IAM5",
		"aws-cdk-lib's Lambda invoke action: lambda:ListFunctions has no resource-level permissions, and invoking covers the pipeline functions' versions (ARN:*).",
		"Resource::*", `/^Resource::<[A-Za-z0-9]*(ImageTags|StageRecord)[0-9A-F]{8}\.Arn>:\*$/`)

	if props.BuildRevision != "" {
		p.rerunOnChange(props)
	}

	// The Source action reads the commit through the connection, and with a full clone
	// CodeBuild itself calls the connection for the build and every release.
	// aws-cdk-lib grants the Source action's role only the legacy action.
	sourceRole, ok := p.Pipeline.Node().FindChild(jsii.String("Source")).Node().FindChild(jsii.String("Source")).
		Node().FindChild(jsii.String("CodePipelineActionRole")).(awsiam.IRole)
	if !ok {
		panic("releasepipeline: aws-cdk-lib no longer creates the Source action's role at Source/Source/CodePipelineActionRole")
	}
	repository := props.Owner + "/" + props.Repository
	for _, st := range connectionUse(props.ConnectionARN, repository) {
		sourceRole.AddToPrincipalPolicy(st)
		props.Build.AddToRolePolicy(st)
		for _, stage := range props.Stages {
			stage.Release.AddToRolePolicy(st)
		}
	}
	return p
}

// connectionUse lets a role use the connection, for the configured repository only.
// IAM requires the action's service prefix to match the connection ARN's, and a
// connection is arn:aws:codeconnections:… (created since 2024) or
// arn:aws:codestar-connections:… (older), so both actions are allowed. A request
// naming another repository (the FullRepositoryId condition key, present when the
// connection is used for a specific repository) is denied, whatever else allows the
// use: aws-cdk-lib's own grants of the legacy action carry no condition. GitHub,
// GitLab and Bitbucket compare repository names without regard to case.
func connectionUse(arn, repository string) []awsiam.PolicyStatement {
	out := []awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("codeconnections:UseConnection", "codestar-connections:UseConnection"),
		Resources: jsii.Strings(arn),
	})}
	for _, prefix := range []string{"codeconnections", "codestar-connections"} {
		key := prefix + ":FullRepositoryId"
		out = append(out, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Effect:    awsiam.Effect_DENY,
			Actions:   jsii.Strings(prefix + ":UseConnection"),
			Resources: jsii.Strings(arn),
			Conditions: &map[string]any{
				"StringNotEqualsIgnoreCase": map[string]any{key: repository},
				"Null":                      map[string]any{key: "false"},
			},
		}))
	}
	return out
}
