// Package stagecluster defines what the services of one stage share: a VPC without NAT
// gateways, an ECS cluster and an internet-facing Application Load Balancer with its
// HTTP listener. Sharing them keeps cost and VPC quotas flat as services are added.
package stagecluster

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	elb "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Props configures a Cluster.
type Props struct {
	// ClusterName is the physical ECS cluster name; release projects address the
	// cluster by it. Required.
	ClusterName string
	// LoadBalancerName is the physical ALB name (at most 32 characters). Required.
	LoadBalancerName string
	// MaxAZs is how many availability zones the VPC spans. Default: 2.
	MaxAZs int
}

// Cluster is a stage's shared network, cluster and load balancer.
type Cluster struct {
	constructs.Construct
	// Vpc has public subnets only: tasks get public IPs to pull images, and their
	// security groups admit traffic from the load balancer alone.
	Vpc awsec2.Vpc
	// Cluster runs the stage's services.
	Cluster awsecs.Cluster
	// LoadBalancer is shared by the stage's services.
	LoadBalancer elb.ApplicationLoadBalancer
	// Listener is the HTTP listener services attach their target groups to.
	Listener elb.ApplicationListener
}

// New defines a Cluster under scope.
func New(scope constructs.Construct, id string, props Props) *Cluster {
	if props.ClusterName == "" || props.LoadBalancerName == "" {
		panic("stagecluster: ClusterName and LoadBalancerName are required")
	}
	azs := props.MaxAZs
	if azs == 0 {
		azs = 2
	}
	c := &Cluster{Construct: constructs.NewConstruct(scope, jsii.String(id))}

	// No NAT gateways: they cost more than a small service. Public subnets with
	// public task IPs reach ECR and Secrets Manager directly.
	c.Vpc = awsec2.NewVpc(c.Construct, jsii.String("Vpc"), &awsec2.VpcProps{
		MaxAzs:      jsii.Number(float64(azs)),
		NatGateways: jsii.Number(0),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{{
			Name:       jsii.String("Public"),
			SubnetType: awsec2.SubnetType_PUBLIC,
			CidrMask:   jsii.Number(24),
		}},
	})

	c.Cluster = awsecs.NewCluster(c.Construct, jsii.String("Cluster"), &awsecs.ClusterProps{
		ClusterName:         jsii.String(props.ClusterName),
		Vpc:                 c.Vpc,
		ContainerInsightsV2: awsecs.ContainerInsights_ENABLED,
	})

	c.LoadBalancer = elb.NewApplicationLoadBalancer(c.Construct, jsii.String("LoadBalancer"), &elb.ApplicationLoadBalancerProps{
		LoadBalancerName:        jsii.String(props.LoadBalancerName),
		Vpc:                     c.Vpc,
		InternetFacing:          jsii.Bool(true),
		DropInvalidHeaderFields: jsii.Bool(true),
	})

	// The listener's default action comes from the stage's default service, which
	// attaches without conditions; the others attach with routing rules.
	c.Listener = c.LoadBalancer.AddListener(jsii.String("Http"), &elb.BaseApplicationListenerProps{
		Port: jsii.Number(80),
		Open: jsii.Bool(true),
	})
	return c
}
