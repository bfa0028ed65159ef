// Package stageguard defines the stage-tag guard of one service's image repository:
// an EventBridge rule on ECR's image actions for the stage tags, a small inline
// function that puts a stage tag moved without its stage's approval back on the digest
// the stage's record names (see handlers.TagGuard), and an alarm on every such move.
//
// IAM cannot keep a build or an earlier stage's release from moving a later stage's
// tag: they all need ecr:PutImage on the one repository, and ECR has no condition key
// for image tags. The guard is what stops the move from standing.
package stageguard

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/stagecoach/stagecoach/constructs/inlinefunction"
	"github.com/stagecoach/stagecoach/internal/handlers"
)

// Stage is one stage whose tag the guard watches.
type Stage struct {
	// Name is the stage, which is also its image tag. Required.
	Name string
	// ClusterARN, Service and Region name the stage's ECS service, which the guard
	// redeploys after it puts the tag back; ServiceARN is its ARN. Required.
	ClusterARN, Service, Region, ServiceARN string
}

// Props configures a Guard.
type Props struct {
	// Repository is the service's home image repository. Required.
	Repository awsecr.IRepository
	// RepositoryName is its name, known at synth time. Required.
	RepositoryName string
	// Records is the Parameter Store path of the stages' records (names.StageRecords).
	// Required.
	Records string
	// Stages are the stages, in release order. Required.
	Stages []Stage
	// AlarmName names the alarm; the alarm on the guard's own failures is named
	// AlarmName+"-guard-failed". Required.
	AlarmName string
	// LogRetention is how long the guard's logs are kept. Default: 90 days.
	LogRetention awslogs.RetentionDays
}

// Guard is the stage-tag guard and what it is made of.
type Guard struct {
	constructs.Construct
	// Function puts stage tags back.
	Function awslambda.Function
	// Rule sends it ECR's pushes and deletes of the stage tags.
	Rule awsevents.Rule
	// Alarm goes off when the guard put a tag back: someone moved a stage tag without
	// that stage's approval. Add an action (SNS) to be told.
	Alarm awscloudwatch.Alarm
	// Failures goes off when the guard itself failed (after EventBridge's retries a
	// moved tag may then stand).
	Failures awscloudwatch.Alarm
}

// MetricName is the metric the alarm watches, in the namespace "stagecoach/REPOSITORY"
// (a metric filter cannot give a metric a fixed dimension, only fields of the log line).
const (
	MetricName = "UnapprovedStageTagMoves"
	// LogMarker starts the line the guard logs for each tag it puts back.
	LogMarker = "UNAPPROVED_STAGE_TAG"
)

// RecordARNs are the IAM resources of the records of stages under path, in the
// stack's region: one parameter per stage, no wildcard.
func RecordARNs(scope constructs.Construct, path string, stages []string) []string {
	s := awscdk.Stack_Of(scope)
	var out []string
	for _, st := range stages {
		out = append(out, fmt.Sprintf("arn:%s:ssm:%s:%s:parameter%s/%s", *s.Partition(), *s.Region(), *s.Account(), path, st))
	}
	return out
}

// New defines a Guard under scope.
func New(scope constructs.Construct, id string, props Props) *Guard {
	if props.Repository == nil || props.RepositoryName == "" || !strings.HasPrefix(props.Records, "/") || len(props.Stages) == 0 || props.AlarmName == "" {
		panic("stageguard: Repository, RepositoryName, Records (a /path), Stages and AlarmName are required")
	}
	g := &Guard{Construct: constructs.NewConstruct(scope, jsii.String(id))}
	type target struct {
		Cluster string `json:"cluster"`
		Service string `json:"service"`
		Region  string `json:"region"`
	}
	conf := struct {
		Repository string            `json:"repository"`
		Records    string            `json:"records"`
		Stages     map[string]target `json:"stages"`
	}{props.RepositoryName, props.Records, map[string]target{}}
	var tags, services []string
	for _, st := range props.Stages {
		conf.Stages[st.Name] = target{st.ClusterARN, st.Service, st.Region}
		tags = append(tags, st.Name)
		services = append(services, st.ServiceARN)
	}
	b, err := json.Marshal(conf)
	if err != nil {
		panic(err)
	}

	g.Function = inlinefunction.New(g.Construct, "Function", inlinefunction.Props{
		Description:  "stagecoach: puts back a stage tag of " + props.RepositoryName + " moved without that stage's approval",
		Source:       handlers.TagGuard,
		LogRetention: props.LogRetention,
	})
	g.Function.AddEnvironment(jsii.String("GUARD"), jsii.String(string(b)), nil)
	// Read tags and records; put a tag back (read the manifest, put it under the tag)
	// or remove it; redeploy the stage's service. Nothing else.
	props.Repository.Grant(g.Function, jsii.String("ecr:ListImages"), jsii.String("ecr:BatchGetImage"),
		jsii.String("ecr:PutImage"), jsii.String("ecr:BatchDeleteImage"))
	g.Function.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("ssm:GetParameter"),
		Resources: jsii.Strings(RecordARNs(g.Construct, props.Records, tags)...),
	}))
	g.Function.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("ecs:UpdateService"),
		Resources: jsii.Strings(services...),
	}))

	// ECR sends an "ECR Image Action" event for every push and delete; only the stage
	// tags of this repository matter. EventBridge retries a failed invocation.
	g.Rule = awsevents.NewRule(g.Construct, jsii.String("Rule"), &awsevents.RuleProps{
		Description: jsii.String("stagecoach: every push or delete of a stage tag of " + props.RepositoryName),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings("aws.ecr"),
			DetailType: jsii.Strings("ECR Image Action"),
			Detail: &map[string]any{
				"repository-name": []string{props.RepositoryName},
				"image-tag":       tags,
				"action-type":     []string{"PUSH", "DELETE"},
				"result":          []string{"SUCCESS"},
			},
		},
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(g.Function, &awseventstargets.LambdaFunctionProps{
			RetryAttempts: jsii.Number(8),
			MaxEventAge:   awscdk.Duration_Hours(jsii.Number(1)),
		})},
	})

	// One metric point per tag put back, counted from the guard's log line.
	namespace := "stagecoach/" + props.RepositoryName
	g.Function.LogGroup().AddMetricFilter(jsii.String("UnapprovedMoves"), &awslogs.MetricFilterOptions{
		FilterPattern:   awslogs.FilterPattern_Literal(jsii.String(LogMarker)),
		MetricNamespace: jsii.String(namespace),
		MetricName:      jsii.String(MetricName),
		MetricValue:     jsii.String("1"),
	})
	g.Alarm = awscloudwatch.NewAlarm(g.Construct, jsii.String("Alarm"), &awscloudwatch.AlarmProps{
		AlarmName:        jsii.String(props.AlarmName),
		AlarmDescription: jsii.String("A stage tag of " + props.RepositoryName + " was moved without that stage's approval; the guard put it back. Its log group says which tag, where to and where back."),
		Metric: awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(namespace), MetricName: jsii.String(MetricName),
			Statistic: jsii.String("Sum"), Period: awscdk.Duration_Minutes(jsii.Number(1)),
		}),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	g.Failures = awscloudwatch.NewAlarm(g.Construct, jsii.String("FailureAlarm"), &awscloudwatch.AlarmProps{
		AlarmName:          jsii.String(props.AlarmName + "-guard-failed"),
		AlarmDescription:   jsii.String("The stage-tag guard of " + props.RepositoryName + " failed; a stage tag moved without approval may stand. See its log group."),
		Metric:             g.Function.MetricErrors(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5))}),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	return g
}
