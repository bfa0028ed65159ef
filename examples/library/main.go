// Command library shows stagecoach's constructs used as a library, without
// stagecoach.yaml: one stack holding a stage's shared cluster (VPC, ECS cluster, load
// balancer) and one Fargate service behind it, running the "demo" tag of an existing
// ECR repository with stagecoach's fast-rollout defaults.
//
// From the repository root:
//
//	npx cdk synth --app 'go run ./examples/library'
package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/jsii-runtime-go"

	"github.com/stagecoach/stagecoach/constructs/desiredcount"
	"github.com/stagecoach/stagecoach/constructs/stagecluster"
	"github.com/stagecoach/stagecoach/constructs/stageservice"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	define(app)
	app.Synth(nil)
}

// Demo is the example's stack and what it composes.
type Demo struct {
	Stack   awscdk.Stack
	Cluster *stagecluster.Cluster
	Service *stageservice.Service
}

// define adds the example's stack to app.
func define(app awscdk.App) *Demo {
	const region = "us-east-1"
	stack := awscdk.NewStack(app, jsii.String("shop-demo"), &awscdk.StackProps{
		Env:         &awscdk.Environment{Region: jsii.String(region)},
		Description: jsii.String("stagecoach example: one stage cluster with one service"),
	})

	// The image comes from an existing repository, e.g. one a stagecoach pipeline
	// pushes to; releases move the "demo" tag.
	repository := awsecr.Repository_FromRepositoryName(stack, jsii.String("Repository"), jsii.String("shop/web"))

	cluster := stagecluster.New(stack, "Shared", stagecluster.Props{
		ClusterName:      "shop-demo",
		LoadBalancerName: "shop-demo",
	})
	service := stageservice.New(stack, "Web", stageservice.Props{
		Cluster:          cluster.Cluster,
		ClusterName:      "shop-demo",
		Listener:         cluster.Listener,
		Default:          true, // the listener's default action: no routing rule
		ServiceName:      "shop-demo-web",
		LogGroupName:     "/shop/demo/web",
		Repository:       repository,
		RepositoryRegion: region,
		Tag:              "demo",
		Port:             8080,
		HealthCheckPath:  "/healthz",
		// Zero tasks until the "demo" tag exists, so the first deploy does not wait
		// for an image; afterwards a deploy never resets what autoscaling chose.
		DesiredCount: desiredcount.New(stack, "DesiredCount", desiredcount.Props{}),
	})
	return &Demo{Stack: stack, Cluster: cluster, Service: service}
}
