// Package desiredcount defines the custom resource that sets an ECS service's
// DesiredCount in CloudFormation without ever resetting it.
//
// With DesiredCount in a template, every stack update resets the count autoscaling
// chose; without it, CloudFormation creates the service with one task and waits until
// that task is healthy, which hangs (or fails) while the stage's image does not exist
// yet. The custom resource answers 0 when a service is created before its stage was
// ever released, the configured minimum when it was, and the current count on every
// update. The function is inline Node.js (package handlers), so no asset is uploaded.
package desiredcount

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/stagecoach/stagecoach/constructs/inlinefunction"
	"github.com/stagecoach/stagecoach/handlers"
)

// Props configures a Provider.
type Props struct {
	// LogRetention is how long the function's logs are kept. Default: 90 days.
	LogRetention awslogs.RetentionDays
}

// Provider is the function behind the DesiredCount custom resources of one stack.
type Provider struct {
	constructs.Construct
	// Function answers the custom resource requests.
	Function awslambda.Function
}

// New defines a Provider under scope; one per stack serves all its services.
func New(scope constructs.Construct, id string, props Props) *Provider {
	p := &Provider{Construct: constructs.NewConstruct(scope, jsii.String(id))}
	p.Function = inlinefunction.New(p.Construct, "Function", inlinefunction.Props{
		Description:    "stagecoach: DesiredCount of the stage's ECS services (0 until the first release, then never reset)",
		Source:         handlers.DesiredCount,
		TimeoutSeconds: 60,
		LogRetention:   props.LogRetention,
	})
	return p
}

// Request describes one service.
type Request struct {
	// ClusterName and ServiceName address the service.
	ClusterName, ServiceName string
	// ServiceARN is the service's ARN, for the function's permission.
	ServiceARN string
	// Repository holds the image; RepositoryRegion is its region.
	Repository       awsecr.IRepository
	RepositoryRegion string
	// Tag is the image tag the service runs, the stage name.
	Tag string
	// Min is the count a service starts with once its image exists.
	Min int
	// Revision changes whenever anything about the service changes, so the custom
	// resource runs again on exactly the updates that touch the service and answers
	// its current count; between such updates CloudFormation reuses the last answer.
	Revision string
}

// DesiredCount defines the custom resource for one service under scope and returns
// the count to put in the service's DesiredCount.
func (p *Provider) DesiredCount(scope constructs.Construct, id string, r Request) float64 {
	p.Function.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("ecs:DescribeServices"),
		Resources: jsii.Strings(r.ServiceARN),
	}))
	r.Repository.Grant(p.Function, jsii.String("ecr:DescribeImages"))
	cr := awscdk.NewCustomResource(scope, jsii.String(id), &awscdk.CustomResourceProps{
		ServiceToken: p.Function.FunctionArn(),
		ResourceType: jsii.String("Custom::DesiredCount"),
		Properties: &map[string]any{
			"Cluster":          r.ClusterName,
			"Service":          r.ServiceName,
			"Repository":       *r.Repository.RepositoryName(),
			"RepositoryRegion": r.RepositoryRegion,
			"Tag":              r.Tag,
			"Min":              r.Min,
			"Revision":         r.Revision,
		},
	})
	return *awscdk.Token_AsNumber(cr.GetAtt(jsii.String("DesiredCount")))
}
