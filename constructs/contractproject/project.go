// Package contractproject defines the CodeBuild projects that run a service's
// build.yml and release.yml. The TinyStacks contract variables are set on the project
// itself: CodeBuild gives project variables precedence over a buildspec's `env:`
// section, so a buildspec cannot override them (only a pipeline action's override
// could, and stagecoach sets none of those).
package contractproject

import (
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/stagecoach/stagecoach/constructs/logstore"
	"github.com/stagecoach/stagecoach/constructs/nagsuppress"
)

// Props configures a Project. Zero values select the documented defaults.
type Props struct {
	// ProjectName is the physical CodeBuild project name. Required.
	ProjectName string
	// Description says what the project does, in the console. Default: none.
	Description string
	// Bucket receives the project's logs under logs/PROJECT_NAME/ and what its
	// buildspec stores under artifacts/PROJECT_NAME/, the only keys the project may
	// write; it may read the whole bucket (the pipeline's artifacts among them).
	// Required.
	Bucket awss3.IBucket
	// Variables are the contract variables, set on the project so no buildspec can
	// override them. Keys in Secrets must not repeat them. Required.
	Variables map[string]string
	// UserVariables are plaintext variables from the config, set after Variables.
	// Default: none.
	UserVariables map[string]string
	// Secrets are variables CodeBuild resolves at build start; the project role gets
	// read access to exactly those. Default: none.
	Secrets map[string]Secret
	// Buildspec is the inline buildspec used when BuildspecFile is empty.
	Buildspec string
	// BuildspecFile is a buildspec path in the source repository. Default: Buildspec
	// is used inline.
	BuildspecFile string
	// Timeout bounds one run. Default: 60 minutes.
	Timeout awscdk.Duration
	// LogRetention is how long CloudWatch keeps the project's logs. Default: 90 days.
	LogRetention awslogs.RetentionDays
	// WithoutDocker runs the project without privileged mode, so no Docker daemon
	// runs and a buildspec cannot build, pull or push with docker. Default: false,
	// privileged mode, as every build.yml and TinyStacks' release.yml need.
	WithoutDocker bool
}

// Project is a CodeBuild project wired for a CodePipeline action.
type Project struct {
	constructs.Construct
	// Project is the CodeBuild project.
	Project awscodebuild.PipelineProject
	// LogGroup receives the project's logs; it is retained when the stack is deleted.
	LogGroup awslogs.LogGroup
	// Role is the project's service role.
	Role awsiam.IRole
}

// New defines a Project under scope.
func New(scope constructs.Construct, id string, props Props) *Project {
	if props.ProjectName == "" || props.Bucket == nil {
		panic("contractproject: ProjectName and Bucket are required")
	}
	p := &Project{Construct: constructs.NewConstruct(scope, jsii.String(id))}

	timeout := props.Timeout
	if timeout == nil {
		timeout = awscdk.Duration_Minutes(jsii.Number(60))
	}

	// A named log group, rather than the one CodeBuild creates on first run, so the
	// retention applies and the logs outlive the stack.
	p.LogGroup = logstore.LogGroup(p.Construct, "Logs", "/aws/codebuild/"+props.ProjectName, props.LogRetention)

	buildspec := awscodebuild.BuildSpec_FromSourceFilename(jsii.String(props.BuildspecFile))
	if props.BuildspecFile == "" {
		// CloudFormation's BuildSpec property takes either a path or the buildspec
		// text itself; passing the text keeps its comments and layout in the template,
		// where BuildSpec.fromObject would re-serialize it.
		buildspec = awscodebuild.BuildSpec_FromSourceFilename(jsii.String(props.Buildspec))
	}

	p.Project = awscodebuild.NewPipelineProject(p.Construct, jsii.String("Project"), &awscodebuild.PipelineProjectProps{
		ProjectName: jsii.String(props.ProjectName),
		Description: optional(props.Description),
		BuildSpec:   buildspec,
		Environment: &awscodebuild.BuildEnvironment{
			// Amazon Linux, whose sh is bash: TinyStacks' release.yml tests
			// [ "$SERVICE_NAME" == "placeholder" ], which dash (the sh of the Ubuntu
			// "standard" images) rejects, so users' own buildspecs would misfire there.
			BuildImage: awscodebuild.LinuxBuildImage_AMAZON_LINUX_2_5(),
			// docker build, pull and push need the Docker daemon CodeBuild runs only
			// in privileged mode; the seed's release.yml uses it too. A project that
			// needs no Docker runs without it: privileged mode gives the build's
			// container root-level access to its host.
			Privileged:  jsii.Bool(!props.WithoutDocker),
			ComputeType: awscodebuild.ComputeType_SMALL,
		},
		EnvironmentVariables: environment(props),
		Timeout:              timeout,
		Logging: &awscodebuild.LoggingOptions{
			CloudWatch: &awscodebuild.CloudWatchLoggingOptions{LogGroup: p.LogGroup},
		},
	})
	p.Role = p.Project.Role()
	p.trustOnlyThisProject(props.ProjectName)
	p.grantBucket(props)
	nagsuppress.Accept(p.Project, "AwsSolutions-CB4",
		"Artifacts and logs go to the pipeline bucket (SSE-S3) and a log group; CodeBuild encrypts its own storage with the AWS managed key. A customer managed key would add cost and key administration without changing who can read them.")
	nagsuppress.Accept(p.Project, "AwsSolutions-IAM5",
		"CodeBuild's default policy, scoped to this project: its own log streams and report groups named after it.",
		`/^Resource::arn:[a-z<>:-]+:logs:[a-z0-9-]+:<AWS::AccountId>:log-group:\/aws\/codebuild\/<[A-Za-z0-9]+>:\*$/`,
		`/^Resource::arn:[a-z<>:-]+:codebuild:[a-z0-9-]+:<AWS::AccountId>:report-group\/<[A-Za-z0-9]+>-\*$/`)
	nagsuppress.Accept(p.Project, "AwsSolutions-IAM5",
		"The project writes only its own prefixes of the pipeline bucket (logs/PROJECT/ and artifacts/PROJECT/) and reads the bucket's objects; object keys are chosen per build.",
		`/^Resource::<[A-Za-z0-9]+\.Arn>\/(\*|(logs|artifacts)\/`+regexp.QuoteMeta(props.ProjectName)+`\/\*)$/`)
	if secrets := secretResources(props.Secrets); len(secrets) > 0 {
		nagsuppress.Accept(p.Project, "AwsSolutions-IAM5",
			"aws-cdk-lib grants secretsmanager:GetSecretValue on each build secret's ARN followed by \"*\" (so every version of that one secret resolves); each names exactly one secret of the config.",
			secrets...)
	}
	return p
}

// secretResources lists the IAM5 findings aws-cdk-lib's grant for Secrets Manager
// build secrets raises: "Resource::ARN*" for each secret's ARN, without the
// ":json-key:version-stage:version-id" tail.
func secretResources(secrets map[string]Secret) []string {
	var out []string
	for _, s := range secrets {
		if s.SecretsManager == "" {
			continue
		}
		parts := strings.SplitN(s.SecretsManager, ":", 8) // arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME[:tail]
		if len(parts) < 7 {
			continue
		}
		finding := "Resource::" + strings.Join(parts[:7], ":") + "*"
		if !slices.Contains(out, finding) {
			out = append(out, finding)
		}
	}
	slices.Sort(out)
	return out
}

// trustOnlyThisProject lets CodeBuild assume the role only to run this project of this
// account. CodeBuild names the project it acts for in aws:SourceArn and its account in
// aws:SourceAccount when it assumes a service role, so the role cannot be used for
// another account's or another project's builds (the cross-service confused deputy).
// The ARN is spelled out: a reference to the project would depend on the project,
// which depends on the role.
func (p *Project) trustOnlyThisProject(name string) {
	role, ok := p.Role.(awsiam.Role)
	if !ok {
		panic("contractproject: the project's role is not an aws-cdk-lib Role")
	}
	cfn, ok := role.Node().DefaultChild().(awsiam.CfnRole)
	if !ok {
		panic("contractproject: the project role's default child is not an AWS::IAM::Role")
	}
	arn := awscdk.Stack_Of(p.Construct).FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("codebuild"), Resource: jsii.String("project"), ResourceName: jsii.String(name),
	})
	// aws-cdk-lib's trust policy has one statement: codebuild.amazonaws.com may assume.
	cfn.AddPropertyOverride(jsii.String("AssumeRolePolicyDocument.Statement.0.Condition"), map[string]any{
		"StringEquals": map[string]any{"aws:SourceAccount": *awscdk.Aws_ACCOUNT_ID(), "aws:SourceArn": *arn},
	})
}

// grantBucket sends the S3 copy of the build logs to logs/PROJECT_NAME/ and lets the
// project write there and under artifacts/PROJECT_NAME/ (S3_BUCKET), and nowhere else.
// aws-cdk-lib's S3 logging option would grant writes and deletes on the whole bucket,
// the pipeline's artifacts included, so the setting is made on the CloudFormation
// resource and the grant here. CodeBuild also reads the bucket's ACL and location
// before it writes logs.
func (p *Project) grantBucket(props Props) {
	cfn, ok := p.Project.Node().DefaultChild().(awscodebuild.CfnProject)
	if !ok {
		panic("contractproject: the project's default child is not an AWS::CodeBuild::Project")
	}
	logs := "logs/" + props.ProjectName
	cfn.AddPropertyOverride(jsii.String("LogsConfig.S3Logs"), map[string]any{
		"Status":   "ENABLED",
		"Location": *props.Bucket.BucketName() + "/" + logs,
	})
	p.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("s3:PutObject"),
		Resources: jsii.Strings(*props.Bucket.ArnForObjects(jsii.String(logs + "/*")),
			*props.Bucket.ArnForObjects(jsii.String(ArtifactPrefix(props.ProjectName) + "*"))),
	}))
	p.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("s3:GetObject"),
		Resources: jsii.Strings(*props.Bucket.ArnForObjects(jsii.String("*"))),
	}))
	p.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("s3:GetBucketAcl", "s3:GetBucketLocation"),
		Resources: jsii.Strings(*props.Bucket.BucketArn()),
	}))
}

// ArtifactPrefix is where a project's buildspec may store objects in S3_BUCKET:
// artifacts/PROJECT_NAME/. A buildspec finds its project name in CodeBuild's
// CODEBUILD_BUILD_ID ("PROJECT_NAME:BUILD_UUID").
func ArtifactPrefix(project string) string { return "artifacts/" + project + "/" }

// environment converts the props' variables into CodeBuild's form. jsii sends Go maps
// to Node as JSON objects with sorted keys, so the template lists them by name.
func environment(props Props) *map[string]*awscodebuild.BuildEnvironmentVariable {
	env := map[string]*awscodebuild.BuildEnvironmentVariable{}
	for name, value := range props.Variables {
		env[name] = &awscodebuild.BuildEnvironmentVariable{Value: jsii.String(value)}
	}
	for name, value := range props.UserVariables {
		env[name] = &awscodebuild.BuildEnvironmentVariable{Value: jsii.String(value)}
	}
	for name, ref := range props.Secrets {
		env[name] = secretVariable(ref)
	}
	return &env
}

// Secret is where CodeBuild reads one secret variable. Set exactly one field.
type Secret struct {
	// SecretsManager is a secret ARN, optionally followed by
	// ":json-key:version-stage:version-id" as CodeBuild accepts it.
	SecretsManager string
	// Parameter is an SSM Parameter Store parameter name.
	Parameter string
}

// secretVariable tells CodeBuild where to read a secret.
func secretVariable(s Secret) *awscodebuild.BuildEnvironmentVariable {
	if s.SecretsManager != "" {
		return &awscodebuild.BuildEnvironmentVariable{
			Type:  awscodebuild.BuildEnvironmentVariableType_SECRETS_MANAGER,
			Value: jsii.String(s.SecretsManager),
		}
	}
	return &awscodebuild.BuildEnvironmentVariable{
		Type:  awscodebuild.BuildEnvironmentVariableType_PARAMETER_STORE,
		Value: jsii.String(s.Parameter),
	}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return jsii.String(s)
}
