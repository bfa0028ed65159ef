// Package contract holds the names that make up the TinyStacks build and release
// contract (see the "Builds and releases" page): the environment variables every
// build.yml and release.yml may rely on, and the image tag every build must push.
// Users' own buildspecs depend on these names, so they never change.
package contract

// LatestTag is the tag build.yml must leave on the image it built. The first stage
// releases from it, so no stage may be called this.
const LatestTag = "latest"

// Variables the build project always defines.
const (
	// S3Bucket names the bucket for logs and build artifacts.
	S3Bucket = "S3_BUCKET"
	// ECREndpoint is the registry host, ACCOUNT.dkr.ecr.REGION.amazonaws.com.
	ECREndpoint = "ECR_ENDPOINT"
	// ECRImageURL is the repository URL, ECR_ENDPOINT/REPOSITORY.
	ECRImageURL = "ECR_IMAGE_URL"
	// DockerfilePath is the service's Dockerfile, set when the config names one.
	DockerfilePath = "DOCKERFILE_PATH"
)

// Variables each release project defines in addition to S3Bucket, ECREndpoint and
// ECRImageURL.
const (
	// StageName is the stage being released, which is also the tag it runs.
	StageName = "STAGE_NAME"
	// PreviousStageName is the stage released before this one, or LatestTag for the
	// first stage.
	PreviousStageName = "PREVIOUS_STAGE_NAME"
	// ClusterARN is the ARN of the stage's ECS cluster.
	ClusterARN = "CLUSTER_ARN"
	// ServiceName is the name of the service's ECS service in the stage.
	ServiceName = "SERVICE_NAME"
	// StageRegion is the region the stage runs in.
	StageRegion = "STAGE_REGION"
	// RegionalECREndpoint and RegionalECRImageURL name the stage's regional
	// repository when the stage runs outside the home region.
	RegionalECREndpoint = "REGIONAL_ECR_ENDPOINT"
	RegionalECRImageURL = "REGIONAL_ECR_IMAGE_URL"
	// ImageDigest is the digest the pipeline execution built, when known.
	ImageDigest = "IMAGE_DIGEST"
	// TaskRoleARN is the ARN of the stage service's task role, which TinyStacks'
	// later release.yml passes to register-task-definition.
	TaskRoleARN = "TASK_ROLE_ARN"
)

// Variables TinyStacks set on serverless stages. stagecoach's stages are ECS services,
// so they are never set: TinyStacks' later release.yml then takes its ECS path ("Not a
// serverless stage"). A user may not set them either.
const (
	LambdaFunctionName = "LAMBDA_FUNCTION_NAME"
	LambdaFunctionARN  = "LAMBDA_FUNCTION_ARN"
)

// NeverSet are the variables TinyStacks' buildspecs read that stagecoach leaves unset
// on purpose, and refuses as user variables.
var NeverSet = []string{LambdaFunctionName, LambdaFunctionARN}

// BuildVariables are the variables set on every build, in the order they appear
// in the template.
var BuildVariables = []string{S3Bucket, ECREndpoint, ECRImageURL}

// ReleaseVariables are the seed's variables set on every release.
var ReleaseVariables = []string{S3Bucket, StageName, ECREndpoint, ECRImageURL, PreviousStageName, ClusterARN, ServiceName, StageRegion}

// Reserved are the variable names a user may not define in build or release
// variables: the contract's own, plus the ones stagecoach sets beyond the seed.
func Reserved() []string {
	seen := map[string]bool{}
	var out []string
	for _, list := range [][]string{BuildVariables, ReleaseVariables, {DockerfilePath, RegionalECREndpoint, RegionalECRImageURL, ImageDigest, TaskRoleARN}} {
		for _, n := range list {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out
}

// ReservedPrefixes are prefixes CodeBuild and AWS tooling own.
var ReservedPrefixes = []string{"AWS_", "CODEBUILD_"}
