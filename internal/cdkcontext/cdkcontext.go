// Package cdkcontext holds the CDK context (feature flags) stagecoach's templates
// depend on. It links no CDK code, so cmd/stagecoach can write a cdk.json from it
// quickly; the public view of it is app.RequiredContext.
package cdkcontext

// required holds the feature flags without which the templates differ from the ones
// stagecoach tests (and some fail the cdk-nag checks). They were found by synthesizing
// the example configs (stagecoach.yaml and testdata/configs/monorepo.yaml) with the
// 89 flags of a `cdk init` cdk.json (CLI 2.1148.1, aws-cdk-lib 2.276.0, the repository's
// cdk.json) but one, for each of the 54 flags of the services and core features
// stagecoach uses (ec2, ecs, iam, s3, kms, codepipeline, lambda, elasticloadbalancingv2,
// events, secretsmanager, sns, custom resources, core), and comparing the templates
// with those of the full set. The other 35 flags concern services stagecoach does not
// use (API Gateway, RDS, EKS, DynamoDB, CloudFront, …), and
// core:validateAgainstDefaultRules only validates. A new construct that depends on a
// flag adds it here (CHANGELOG.md says so):
var required = map[string]any{
	// ARNs as arn:aws:... literals; without it, cdk-nag's AwsSolutions-IAM5 fails the
	// synth on six ${AWS::Partition} wildcards.
	"@aws-cdk/core:enablePartitionLiterals": true,
	// The VPC's default security group loses its rules (Custom::VpcRestrictDefaultSG).
	"@aws-cdk/aws-ec2:restrictDefaultSecurityGroup": true,
	// Services keep ECS's default deployment controller with the circuit breaker.
	"@aws-cdk/aws-ecs:disableExplicitDeploymentControllerForCircuitBreaker": true,
	// No CloudWatch alarm CDK would otherwise add to each service's deployment.
	"@aws-cdk/aws-ecs:removeDefaultDeploymentAlarm": true,
	// Policies merged into fewer statements.
	"@aws-cdk/aws-iam:minimizePolicies": true,
	// Lambda log groups CDK creates and retains, not ones Lambda creates on first use.
	"@aws-cdk/aws-lambda:useCdkManagedLogGroup": true,
	// Server access logs delivered through a bucket policy, not an ACL.
	"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": true,
}

// Required returns a copy of the flags, key → value.
func Required() map[string]any {
	m := make(map[string]any, len(required))
	for k, v := range required {
		m[k] = v
	}
	return m
}
