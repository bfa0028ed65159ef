// Package stagecluster defines what the services of one stage share: a VPC without NAT
// gateways, an ECS cluster and an internet-facing Application Load Balancer with its
// HTTP listener. Sharing them keeps cost and VPC quotas flat as services are added.
package stagecluster

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	elb "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/stagecoach/stagecoach/constructs/logstore"
	"github.com/stagecoach/stagecoach/constructs/nagsuppress"
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
	// LogRetention is how long flow logs are kept. Default: 90 days.
	LogRetention awslogs.RetentionDays
	// AccessLogDays is how long load balancer access logs are kept. Default: 90.
	AccessLogDays int
	// CertificateARN is an ACM certificate in the stack's region. Default: none, and
	// the load balancer serves HTTP on port 80 only.
	CertificateARN string
	// DeletionProtection makes Elastic Load Balancing refuse to delete the load
	// balancer, and so CloudFormation to delete the stack, until it is turned off.
	// Default: false.
	DeletionProtection bool
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
	// Listener is the listener services attach their target groups to: HTTPS when
	// a certificate is set, otherwise HTTPListener.
	Listener elb.ApplicationListener
	// HTTPListener listens on port 80: it serves the services, or redirects to
	// HTTPS when a certificate is set.
	HTTPListener elb.ApplicationListener
	// FlowLogs receives the VPC's flow logs; AccessLogs the load balancer's access
	// logs. Both are retained on delete.
	FlowLogs   awslogs.LogGroup
	AccessLogs awss3.Bucket
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

	// Flow logs (rejected and accepted traffic) for incident review, kept as long as
	// the other logs.
	c.FlowLogs = logstore.LogGroup(c.Construct, "FlowLogs", "", props.LogRetention)
	c.Vpc.AddFlowLog(jsii.String("FlowLog"), &awsec2.FlowLogOptions{
		Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(c.FlowLogs, nil),
		TrafficType: awsec2.FlowLogTrafficType_ALL,
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
		DeletionProtection:      jsii.Bool(props.DeletionProtection),
	})

	// Load balancer access logs need an SSE-S3 bucket in the stage's region. Kept on
	// delete like every log; expired after the log retention.
	c.AccessLogs = logstore.AccessLogBucket(c.Construct, "AccessLogs", logstore.BucketProps{
		Receives: "the load balancer's access logs",
		Days:     props.AccessLogDays,
	})
	c.LoadBalancer.LogAccessLogs(c.AccessLogs, jsii.String("alb"))
	nagsuppress.Accept(c.LoadBalancer, "AwsSolutions-EC23",
		"An internet-facing load balancer: its security group admits HTTP from anywhere by design. Tasks admit traffic from this security group only.")

	// Services attach to Listener: the default service without conditions (it
	// becomes the default action), the others with routing rules. Without a
	// certificate that is the HTTP listener; with one, HTTPS, and port 80 keeps the
	// same listener (no replacement fighting for the port) redirecting to it.
	http := &elb.BaseApplicationListenerProps{Port: jsii.Number(80), Open: jsii.Bool(true)}
	if props.CertificateARN != "" {
		http.DefaultAction = elb.ListenerAction_Redirect(&elb.RedirectOptions{
			Protocol: jsii.String("HTTPS"), Port: jsii.String("443"), Permanent: jsii.Bool(true),
		})
	}
	c.HTTPListener = c.LoadBalancer.AddListener(jsii.String("Http"), http)
	c.Listener = c.HTTPListener
	if props.CertificateARN != "" {
		c.Listener = c.LoadBalancer.AddListener(jsii.String("Https"), &elb.BaseApplicationListenerProps{
			Port:         jsii.Number(443),
			Protocol:     elb.ApplicationProtocol_HTTPS,
			Certificates: &[]elb.IListenerCertificate{elb.ListenerCertificate_FromArn(jsii.String(props.CertificateARN))},
			SslPolicy:    elb.SslPolicy_RECOMMENDED_TLS,
			Open:         jsii.Bool(true),
		})
	}
	return c
}
