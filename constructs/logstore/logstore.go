// Package logstore defines where stagecoach keeps logs: CloudWatch log groups and S3
// buckets for access logs. Both are retained when their stack is deleted (logs are
// evidence) and expire after a set time (90 days by default, as TinyStacks kept them).
package logstore

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/stagecoach/stagecoach/constructs/nagsuppress"
)

// DefaultDays is how long logs are kept when nothing else is said.
const DefaultDays = 90

// LogGroup defines a retained log group under scope. name is its physical name
// ("" lets CloudFormation choose one); retention defaults to 90 days.
func LogGroup(scope constructs.Construct, id, name string, retention awslogs.RetentionDays) awslogs.LogGroup {
	if retention == "" {
		retention = awslogs.RetentionDays_THREE_MONTHS
	}
	props := &awslogs.LogGroupProps{Retention: retention, RemovalPolicy: awscdk.RemovalPolicy_RETAIN}
	if name != "" {
		props.LogGroupName = jsii.String(name)
	}
	return awslogs.NewLogGroup(scope, jsii.String(id), props)
}

// BucketProps configures an access-log bucket.
type BucketProps struct {
	// Receives says what the bucket receives, e.g. "the load balancer's access
	// logs"; it is the reason the bucket itself has no access logging. Required.
	Receives string
	// Days is how long objects are kept. Default: 90.
	Days int
	// ObjectOwnership is set for writers that need ACLs, such as S3 server access
	// logging (BucketOwnerPreferred). Default: the S3 default.
	ObjectOwnership awss3.ObjectOwnership
}

// AccessLogBucket defines a retained, SSE-S3 encrypted, private, SSL-only bucket for
// access logs under scope, expiring objects after Days. A log bucket does not log
// access to itself: that would need one more bucket for every log bucket.
func AccessLogBucket(scope constructs.Construct, id string, props BucketProps) awss3.Bucket {
	if props.Receives == "" {
		panic("logstore: say what the bucket receives")
	}
	days := props.Days
	if days == 0 {
		days = DefaultDays
	}
	b := awss3.NewBucket(scope, jsii.String(id), &awss3.BucketProps{
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		ObjectOwnership:   props.ObjectOwnership,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id: jsii.String("ExpireAccessLogs"), Expiration: awscdk.Duration_Days(jsii.Number(float64(days))),
		}},
	})
	nagsuppress.Accept(b, "AwsSolutions-S1",
		"This bucket receives "+props.Receives+"; logging access to it would need another bucket for every log bucket.")
	return b
}
