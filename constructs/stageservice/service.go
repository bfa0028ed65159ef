// Package stageservice defines one service in one stage: a Fargate service running the
// image tag the release process moves, behind the stage's shared load balancer, with its
// log group and CPU autoscaling. Its defaults aim at a rollout of about a minute, where
// ECS and ALB defaults take about eight.
package stageservice

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapplicationautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	elb "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/stagecoach/stagecoach/constructs/desiredcount"
	"github.com/stagecoach/stagecoach/constructs/logstore"
	"github.com/stagecoach/stagecoach/constructs/nagsuppress"
)

// Props configures a Service. Zero values select the documented defaults.
type Props struct {
	// Cluster runs the service. Required.
	Cluster awsecs.ICluster
	// Listener is the stage's shared HTTP listener. Required.
	Listener elb.ApplicationListener
	// ServiceName is the physical ECS service name; release projects address the
	// service by it. Required.
	ServiceName string
	// ClusterName is Cluster's physical name. Required with DesiredCount.
	ClusterName string
	// LogGroupName is the container log group. Required.
	LogGroupName string
	// LogRetention is how long container logs are kept. Default: 90 days.
	LogRetention awslogs.RetentionDays
	// Repository holds the image. Required.
	Repository awsecr.IRepository
	// Tag is the image tag the service runs: the stage name, moved by releases.
	// Required.
	Tag string
	// Port is the container port. Default: 8000.
	Port int
	// HealthCheckPath is the path the load balancer probes. Default: /ping.
	HealthCheckPath string
	// CPU units and Memory MiB of the task. Default: 256 and 512.
	CPU, Memory int
	// Env are plaintext runtime variables. Default: none.
	Env map[string]string
	// Secrets are runtime variables ECS reads at task start; the execution role may
	// read exactly these. Default: none.
	Secrets map[string]Secret
	// MinTasks and MaxTasks bound autoscaling. Default: 1 and 2.
	MinTasks, MaxTasks int
	// CPUTarget is the CPU utilisation, in percent, autoscaling keeps. Default: 70.
	CPUTarget int
	// Default makes the service the listener's default action. Otherwise requests
	// reach it through a rule on PathPatterns and Hosts with Priority.
	Default bool
	// PathPatterns and Hosts are the rule's conditions when Default is false.
	PathPatterns, Hosts []string
	// Priority orders the rule among the listener's rules (lowest first).
	Priority int
	// Rollout tunes how fast a new version replaces the old. Default: DefaultRollout.
	Rollout *Rollout
	// DesiredCount sets the service's DesiredCount and its scalable target's minimum
	// through a custom resource: 0 while the stage's image does not exist, the minimum
	// from the first release on, never reset by a deploy. RepositoryRegion
	// must be set with it. Default: DesiredCount is left out of the template, and
	// CloudFormation creates the service with one task and waits for it to be healthy.
	DesiredCount *desiredcount.Provider
	// RepositoryRegion is the region of Repository. Required with DesiredCount.
	RepositoryRegion string
	// TaskRoleName and ExecutionRoleName are the physical names of the task role and
	// the task execution role, so a release project in another stack can name them
	// (TASK_ROLE_ARN, iam:PassRole). Default: names CloudFormation generates.
	TaskRoleName, ExecutionRoleName string
}

// Rollout holds the settings that decide how long a deployment takes.
type Rollout struct {
	// HealthCheckIntervalSeconds between load balancer probes (ALB default 30).
	HealthCheckIntervalSeconds int
	// HealthyThreshold is how many passing probes make a target healthy (ALB default 5).
	HealthyThreshold int
	// UnhealthyThreshold is how many failing probes make a target unhealthy (ALB default 2).
	UnhealthyThreshold int
	// DeregistrationDelaySeconds an old target drains before it stops (ALB default 300).
	DeregistrationDelaySeconds int
	// GracePeriodSeconds ECS ignores failing health checks after a task starts.
	GracePeriodSeconds int
	// StopTimeoutSeconds a container gets between SIGTERM and SIGKILL (ECS default 30).
	StopTimeoutSeconds int
	// MinHealthyPercent and MaxHealthyPercent bound the task count during a rollout.
	MinHealthyPercent, MaxHealthyPercent int
}

// DefaultRollout starts new tasks alongside the old ones (100%/200%), declares them
// healthy after two probes five seconds apart and drains old targets for 15 seconds:
// about a minute for a service that starts quickly.
var DefaultRollout = Rollout{
	HealthCheckIntervalSeconds: 5,
	HealthyThreshold:           2,
	UnhealthyThreshold:         3,
	DeregistrationDelaySeconds: 15,
	GracePeriodSeconds:         30,
	StopTimeoutSeconds:         10,
	MinHealthyPercent:          100,
	MaxHealthyPercent:          200,
}

// Service is a stage's Fargate service and the resources it owns.
type Service struct {
	constructs.Construct
	// Service is the Fargate service.
	Service awsecs.FargateService
	// TaskDefinition describes the service's single container.
	TaskDefinition awsecs.FargateTaskDefinition
	// Container is the application container.
	Container awsecs.ContainerDefinition
	// TargetGroup is where the listener sends the service's traffic.
	TargetGroup elb.ApplicationTargetGroup
	// LogGroup receives container output; it is retained when the stack is deleted.
	LogGroup awslogs.LogGroup
	// Scaling is the service's scalable task count.
	Scaling awsecs.ScalableTaskCount
}

// New defines a Service under scope.
func New(scope constructs.Construct, id string, props Props) *Service {
	p := props.withDefaults()
	s := &Service{Construct: constructs.NewConstruct(scope, jsii.String(id))}
	r := *p.Rollout

	s.LogGroup = logstore.LogGroup(s.Construct, "Logs", p.LogGroupName, p.LogRetention)

	s.TaskDefinition = awsecs.NewFargateTaskDefinition(s.Construct, jsii.String("Task"), &awsecs.FargateTaskDefinitionProps{
		// Named after the service, so task definitions read well in the console.
		Family:         jsii.String(p.ServiceName),
		Cpu:            jsii.Number(float64(p.CPU)),
		MemoryLimitMiB: jsii.Number(float64(p.Memory)),
	})
	env := map[string]*string{}
	for k, v := range p.Env {
		env[k] = jsii.String(v)
	}
	s.Container = s.TaskDefinition.AddContainer(jsii.String("App"), &awsecs.ContainerDefinitionOptions{
		// A tag, not a digest: releases move the tag and force a deployment, so
		// CloudFormation and the release always agree on what runs.
		Image:       awsecs.ContainerImage_FromEcrRepository(p.Repository, jsii.String(p.Tag)),
		Essential:   jsii.Bool(true),
		Environment: &env,
		Secrets:     s.secrets(p.Secrets),
		PortMappings: &[]*awsecs.PortMapping{{
			ContainerPort: jsii.Number(float64(p.Port)),
		}},
		Logging: awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{
			LogGroup:     s.LogGroup,
			StreamPrefix: jsii.String("app"),
			// Non-blocking: a slow log stream must not stall the application.
			Mode: awsecs.AwsLogDriverMode_NON_BLOCKING,
		}),
		// Short, so draining old tasks does not hold a rollout.
		StopTimeout: seconds(r.StopTimeoutSeconds),
	})

	nameRole(s.TaskDefinition.TaskRole(), p.TaskRoleName)
	if role := s.TaskDefinition.ExecutionRole(); role != nil {
		nameRole(role, p.ExecutionRoleName)
	}

	nagsuppress.Accept(s.TaskDefinition, "AwsSolutions-ECS2",
		"Runtime variables from the config are plaintext by design (reviewable in the template); secrets are passed as ECS secrets from Secrets Manager or Parameter Store, never as environment values.")
	nagsuppress.Accept(s.TaskDefinition, "AwsSolutions-IAM5",
		"ecr:GetAuthorizationToken has no resource-level permissions (AWS requires \"*\"); pulling is limited to this service's repository.",
		"Resource::*")

	var desired *float64
	minTasks := jsii.Number(float64(p.MinTasks))
	if p.DesiredCount != nil {
		stack := awscdk.Stack_Of(s.Construct)
		count := p.DesiredCount.DesiredCount(s.Construct, "DesiredCount", desiredcount.Request{
			ClusterName: p.ClusterName,
			ServiceName: p.ServiceName,
			ServiceARN: *stack.FormatArn(&awscdk.ArnComponents{
				Service: jsii.String("ecs"), Resource: jsii.String("service"),
				ResourceName: jsii.String(p.ClusterName + "/" + p.ServiceName),
			}),
			Repository:       p.Repository,
			RepositoryRegion: p.RepositoryRegion,
			Tag:              p.Tag,
			Min:              p.MinTasks,
			Revision:         p.revision(*s.TaskDefinition.TaskDefinitionArn()),
		})
		desired = jsii.Number(count.DesiredCount)
		// 0 until the stage is released: registering the target moves the count into
		// [min, max] at once, so a minimum above 0 would start tasks with no image.
		minTasks = jsii.Number(count.MinCapacity)
	}
	s.Service = awsecs.NewFargateService(s.Construct, jsii.String("Service"), &awsecs.FargateServiceProps{
		ServiceName:    jsii.String(p.ServiceName),
		Cluster:        p.Cluster,
		TaskDefinition: s.TaskDefinition,
		// Never a literal DesiredCount: every stack update would reset the count
		// autoscaling chose. Autoscaling keeps it within its range.
		DesiredCount:   desired,
		AssignPublicIp: jsii.Bool(true),
		VpcSubnets:     &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC},
		// A deployment whose tasks keep failing stops and returns to the last
		// working one, instead of retrying for hours.
		CircuitBreaker:         &awsecs.DeploymentCircuitBreaker{Enable: jsii.Bool(true), Rollback: jsii.Bool(true)},
		MinHealthyPercent:      jsii.Number(float64(r.MinHealthyPercent)),
		MaxHealthyPercent:      jsii.Number(float64(r.MaxHealthyPercent)),
		HealthCheckGracePeriod: seconds(r.GracePeriodSeconds),
	})

	s.TargetGroup = elb.NewApplicationTargetGroup(s.Construct, jsii.String("Target"), &elb.ApplicationTargetGroupProps{
		Vpc:        p.Cluster.Vpc(),
		Port:       jsii.Number(float64(p.Port)),
		Protocol:   elb.ApplicationProtocol_HTTP,
		TargetType: elb.TargetType_IP,
		Targets:    &[]elb.IApplicationLoadBalancerTarget{s.Service},
		HealthCheck: &elb.HealthCheck{
			Path:                    jsii.String(p.HealthCheckPath),
			Interval:                seconds(r.HealthCheckIntervalSeconds),
			Timeout:                 seconds(min(r.HealthCheckIntervalSeconds-1, 4)),
			HealthyThresholdCount:   jsii.Number(float64(r.HealthyThreshold)),
			UnhealthyThresholdCount: jsii.Number(float64(r.UnhealthyThreshold)),
		},
		// Old tasks stop receiving new requests at once; 15 s lets in-flight ones
		// finish without holding the rollout for the default 300 s.
		DeregistrationDelay: seconds(r.DeregistrationDelaySeconds),
	})
	groups := &elb.AddApplicationTargetGroupsProps{TargetGroups: &[]elb.IApplicationTargetGroup{s.TargetGroup}}
	if !p.Default {
		var conditions []elb.ListenerCondition
		if len(p.PathPatterns) > 0 {
			conditions = append(conditions, elb.ListenerCondition_PathPatterns(jsii.Strings(p.PathPatterns...)))
		}
		if len(p.Hosts) > 0 {
			conditions = append(conditions, elb.ListenerCondition_HostHeaders(jsii.Strings(p.Hosts...)))
		}
		groups.Conditions = &conditions
		groups.Priority = jsii.Number(float64(p.Priority))
	}
	p.Listener.AddTargetGroups(jsii.String(id), groups)

	s.Scaling = s.Service.AutoScaleTaskCount(&awsapplicationautoscaling.EnableScalingProps{
		MinCapacity: minTasks,
		MaxCapacity: jsii.Number(float64(p.MaxTasks)),
	})
	s.Scaling.ScaleOnCpuUtilization(jsii.String("Cpu"), &awsecs.CpuUtilizationScalingProps{
		TargetUtilizationPercent: jsii.Number(float64(p.CPUTarget)),
	})
	return s
}

// Secret is where ECS reads one secret variable. Set SecretARN or one of the
// parameter fields.
type Secret struct {
	// SecretARN is a Secrets Manager secret ARN (complete, or partial without the
	// six-character suffix), without any ECS field suffix.
	SecretARN string
	// JSONField, VersionStage and VersionID select part or a version of the secret.
	JSONField, VersionStage, VersionID string
	// ParameterName is an SSM parameter in the stage's region.
	ParameterName string
	// ParameterARN is an SSM parameter, possibly in another region.
	ParameterARN string
}

// completeName ends with the six characters Secrets Manager appends to a secret name.
var completeName = regexp.MustCompile(`-[A-Za-z0-9]{6}$`)

// secrets converts secret references into ECS secrets; each grants the execution
// role read access to that secret or parameter only.
func (s *Service) secrets(refs map[string]Secret) *map[string]awsecs.Secret {
	out := map[string]awsecs.Secret{}
	for name, ref := range refs {
		id := jsii.String("Secret" + name)
		switch {
		case ref.SecretARN != "":
			var secret awssecretsmanager.ISecret
			if completeName.MatchString(ref.SecretARN) {
				secret = awssecretsmanager.Secret_FromSecretCompleteArn(s.Construct, id, jsii.String(ref.SecretARN))
			} else {
				secret = awssecretsmanager.Secret_FromSecretPartialArn(s.Construct, id, jsii.String(ref.SecretARN))
			}
			if ref.VersionStage != "" || ref.VersionID != "" {
				out[name] = awsecs.Secret_FromSecretsManagerVersion(secret, &awsecs.SecretVersionInfo{
					VersionStage: optional(ref.VersionStage), VersionId: optional(ref.VersionID),
				}, optional(ref.JSONField))
			} else {
				out[name] = awsecs.Secret_FromSecretsManager(secret, optional(ref.JSONField))
			}
		case ref.ParameterARN != "":
			out[name] = awsecs.Secret_FromSsmParameter(awsssm.StringParameter_FromStringParameterArn(s.Construct, id, jsii.String(ref.ParameterARN)))
		default:
			out[name] = awsecs.Secret_FromSsmParameter(awsssm.StringParameter_FromSecureStringParameterAttributes(s.Construct, id, &awsssm.SecureStringParameterAttributes{
				ParameterName: jsii.String(ref.ParameterName),
			}))
		}
	}
	return &out
}

// withDefaults returns a copy of p with every zero value replaced by its default.
func (p Props) withDefaults() Props {
	if p.Cluster == nil || p.Listener == nil || p.Repository == nil || p.ServiceName == "" || p.LogGroupName == "" || p.Tag == "" {
		panic(fmt.Sprintf("stageservice: Cluster, Listener, Repository, ServiceName, LogGroupName and Tag are required (service %q)", p.ServiceName))
	}
	if p.DesiredCount != nil && (p.RepositoryRegion == "" || p.ClusterName == "") {
		panic(fmt.Sprintf("stageservice: service %q sets DesiredCount, so it needs RepositoryRegion and ClusterName", p.ServiceName))
	}
	if !p.Default && (p.Priority == 0 || len(p.PathPatterns)+len(p.Hosts) == 0) {
		panic(fmt.Sprintf("stageservice: service %q is not the default, so it needs a priority and a path or host", p.ServiceName))
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&p.Port, 8000)
	def(&p.CPU, 256)
	def(&p.Memory, 512)
	def(&p.MinTasks, 1)
	def(&p.MaxTasks, max(2, p.MinTasks))
	def(&p.CPUTarget, 70)
	if p.HealthCheckPath == "" {
		p.HealthCheckPath = "/ping"
	}
	r := DefaultRollout
	if p.Rollout != nil {
		r = *p.Rollout
	}
	p.Rollout = &r
	return p
}

// revision fingerprints everything about the service that its template reflects, plus
// the task definition, so the DesiredCount custom resource runs again whenever the
// service resource changes.
func (p Props) revision(taskDefinition string) string {
	plain := struct {
		Port, CPU, Memory, Min, Max, Target, Priority int
		Health, Tag                                   string
		Default                                       bool
		Paths, Hosts                                  []string
		Env                                           map[string]string
		Secrets                                       map[string]Secret
		Rollout                                       Rollout
	}{p.Port, p.CPU, p.Memory, p.MinTasks, p.MaxTasks, p.CPUTarget, p.Priority,
		p.HealthCheckPath, p.Tag, p.Default, p.PathPatterns, p.Hosts, p.Env, p.Secrets, *p.Rollout}
	b, err := json.Marshal(plain) // maps marshal with sorted keys: stable
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8]) + ":" + taskDefinition
}

func seconds(n int) awscdk.Duration { return awscdk.Duration_Seconds(jsii.Number(float64(n))) }

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return jsii.String(s)
}

// nameRole gives a role aws-cdk-lib created a physical name; "" keeps the generated one.
func nameRole(role awsiam.IRole, name string) {
	if name == "" {
		return
	}
	cfn, ok := role.Node().DefaultChild().(awsiam.CfnRole)
	if !ok {
		panic("stageservice: the role " + *role.Node().Path() + " has no AWS::IAM::Role to name")
	}
	cfn.SetRoleName(jsii.String(name))
}
