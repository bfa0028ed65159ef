// Package inlinefunction defines a small Node.js Lambda function whose source travels
// inline in the template (CloudFormation's ZipFile): no asset to upload, and reviewers
// read the code in the template diff. Its log group is named, kept for a set time and
// retained when the stack is deleted.
package inlinefunction

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/stagecoach/stagecoach/constructs/logstore"
)

// Props configures a Function.
type Props struct {
	// Description says what the function is for, in the console. Required.
	Description string
	// Source is the function's CommonJS source; it must export `handler`. Required.
	Source string
	// TimeoutSeconds bounds one invocation. Default: 30.
	TimeoutSeconds int
	// LogRetention is how long the function's logs are kept. Default: 90 days.
	LogRetention awslogs.RetentionDays
}

// New defines the function under scope with the given id; its log group is id+"Logs".
func New(scope constructs.Construct, id string, props Props) awslambda.Function {
	if props.Source == "" || props.Description == "" {
		panic("inlinefunction: Source and Description are required")
	}
	timeout := props.TimeoutSeconds
	if timeout == 0 {
		timeout = 30
	}
	logs := logstore.LogGroup(scope, id+"Logs", "", props.LogRetention)
	// An explicit role rather than AWSLambdaBasicExecutionRole: that managed policy
	// lets the function write to every log group in the account.
	role := awsiam.NewRole(scope, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
	})
	logs.GrantWrite(role)
	fn := awslambda.NewFunction(scope, jsii.String(id), &awslambda.FunctionProps{
		Description: jsii.String(props.Description),
		Runtime:     awslambda.Runtime_NODEJS_24_X(),
		Handler:     jsii.String("index.handler"),
		Code:        awslambda.Code_FromInline(jsii.String(props.Source)),
		Timeout:     awscdk.Duration_Seconds(jsii.Number(float64(timeout))),
		Role:        role,
		LogGroup:    logs,
	})
	return fn
}
