package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/stagecoach/stagecoach/config"
	"github.com/stagecoach/stagecoach/constructs/desiredcount"
	"github.com/stagecoach/stagecoach/constructs/stagecluster"
	"github.com/stagecoach/stagecoach/constructs/stageservice"
	"github.com/stagecoach/stagecoach/internal/names"
)

// StageStack holds one stage: its network, cluster, load balancer and services.
type StageStack struct {
	awscdk.Stack
	// Cluster is the stage's shared VPC, cluster and load balancer.
	Cluster *stagecluster.Cluster
	// Services are the stage's services, in config order.
	Services []*stageservice.Service
}

// NewStageStack defines the stack of stage i.
func NewStageStack(scope constructs.Construct, cfg *config.Config, i int) *StageStack {
	stage := cfg.Stages[i]
	region := cfg.StageRegion(i)
	name := names.StageStack(cfg.App, stage.Name)
	st := &StageStack{Stack: awscdk.NewStack(scope, jsii.String(name), &awscdk.StackProps{
		StackName: jsii.String(name),
		Env:       &awscdk.Environment{Region: jsii.String(region)},
		// No CDKMetadata resource: it changes with the library, not with the app.
		AnalyticsReporting: jsii.Bool(false),
		Description:        jsii.String("stagecoach: stage " + stage.Name + " of " + cfg.App + " (network, cluster, load balancer, services)"),
	})}

	st.Cluster = stagecluster.New(st.Stack, "Shared", stagecluster.Props{
		ClusterName:      names.Cluster(cfg.App, stage.Name),
		LoadBalancerName: names.LoadBalancer(cfg.App, stage.Name),
		CertificateARN:   stage.Certificate,
		// Defaults to on for a stage behind an approval (config.ApplyDefaults).
		DeletionProtection: *stage.DeletionProtection,
	})
	if stage.Approval && stage.Certificate == "" {
		// Visible in `cdk synth` and `cdk deploy` output; not an error, since a stage
		// may sit behind CloudFront or serve a private API.
		awscdk.Annotations_Of(st.Cluster.LoadBalancer).AddWarningV2(jsii.String("stagecoach:plain-http"), jsii.String(
			"stage "+stage.Name+" needs an approval but has no certificate: its load balancer serves plain HTTP on port 80. "+
				"Set stages[].certificate to an ACM certificate ARN in "+region+" to serve HTTPS and redirect HTTP to it."), nil)
	}

	counts := desiredcount.New(st.Stack, "DesiredCount", desiredcount.Props{})
	for s := range cfg.Services {
		d := cfg.Deployment(s, i)
		svc := d.Service
		// Home-region stages pull from the pipeline stack's repository; other stages
		// from their region's copy, in the region's repository stack. Both are
		// addressed by derived names, never by exports, and neither needs to exist
		// when the stack is created: the service starts at 0 until a release.
		repoRegion := cfg.Region
		if regional(cfg, i) {
			repoRegion = region
		}
		// The image reads ACCOUNT.dkr.ecr.REGION.amazonaws.com/APP/SERVICE:STAGE.
		repo := importRepository(st.Stack, names.Pascal(svc.Name)+"Image", cfg, svc.Name, repoRegion)
		props := stageservice.Props{
			Cluster:          st.Cluster.Cluster,
			ClusterName:      names.Cluster(cfg.App, stage.Name),
			DesiredCount:     counts,
			RepositoryRegion: repoRegion,
			Listener:         st.Cluster.Listener,
			ServiceName:      names.Service(cfg.App, stage.Name, svc.Name),
			LogGroupName:     names.LogGroup(cfg.App, stage.Name, svc.Name),
			Repository:       repo,
			Tag:              stage.Name,
			Port:             svc.Port,
			HealthCheckPath:  svc.HealthCheck,
			CPU:              d.CPU,
			Memory:           d.Memory,
			Env:              d.Env,
			Secrets:          taskSecrets(d.Secrets),
			MinTasks:         d.Scale.Min,
			MaxTasks:         d.Scale.Max,
			CPUTarget:        d.Scale.CPUTarget,
			Default:          svc.Route == nil,
			Rollout: &stageservice.Rollout{
				HealthCheckIntervalSeconds: svc.Rollout.HealthCheckInterval,
				HealthyThreshold:           svc.Rollout.HealthyThreshold,
				UnhealthyThreshold:         svc.Rollout.UnhealthyThreshold,
				DeregistrationDelaySeconds: svc.Rollout.DeregistrationDelay,
				GracePeriodSeconds:         svc.Rollout.GracePeriod,
				StopTimeoutSeconds:         svc.Rollout.StopTimeout,
				MinHealthyPercent:          svc.Rollout.MinHealthyPercent,
				MaxHealthyPercent:          svc.Rollout.MaxPercent,
			},
		}
		// Named, so release projects can name them: TASK_ROLE_ARN and iam:PassRole.
		props.TaskRoleName = names.TaskRole(cfg.App, stage.Name, svc.Name)
		props.ExecutionRoleName = names.ExecutionRole(cfg.App, stage.Name, svc.Name)
		if svc.Route != nil {
			props.PathPatterns = svc.Route.Paths
			props.Hosts = svc.Route.Hosts
			props.Priority = svc.Route.Priority
			if props.Priority == 0 {
				props.Priority = config.DefaultPriority(s)
			}
		}
		service := stageservice.New(st.Stack, names.Pascal(svc.Name), props)
		if len(d.Secrets) > 0 {
			grantSecretKeys(service.TaskDefinition.ObtainExecutionRole(), svc.SecretKeys)
		}
		st.Services = append(st.Services, service)
	}
	return st
}
