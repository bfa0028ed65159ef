// Package names derives every physical name stagecoach gives a resource from the
// config. Names that cross stacks (repositories, clusters, services) are computed here,
// never passed through CloudFormation exports, so stacks deploy in any order and
// across regions. Changing a function here renames, and so replaces, resources.
package names

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Limits of the AWS names derived here.
const (
	// MaxLoadBalancer is the length limit of an ALB name.
	MaxLoadBalancer = 32
	// MaxConnection is the length limit of a CodeConnections connection name.
	MaxConnection = 32
	// MaxStack is the length limit of a CloudFormation stack name.
	MaxStack = 128
)

// PipelineStack is the stack holding a service's repository, projects and pipeline.
func PipelineStack(app, service string) string { return app + "-" + service + "-pipeline" }

// StageStack is the stack holding a stage's network, cluster, load balancer and services.
func StageStack(app, stage string) string { return app + "-" + stage }

// RegionStack is the stack holding the copies of every service's repository in a
// region other than home. It belongs to no stage, so stages there can be added,
// renamed or removed without touching the repositories. No stage or pipeline stack
// can take its name: "repositories-" and a region are longer than any stage name, and
// a pipeline stack's name ends in "-pipeline".
func RegionStack(app, region string) string { return app + "-repositories-" + region }

// Repository is the ECR repository of a service, in the home region and, with the same
// name, in each other region a stage runs in.
func Repository(app, service string) string { return app + "/" + service }

// Pipeline is the CodePipeline of a service.
func Pipeline(app, service string) string { return app + "-" + service }

// BuildProject is the CodeBuild project that runs build.yml.
func BuildProject(app, service string) string { return app + "-" + service + "-build" }

// ReleaseProject is the CodeBuild project that runs release.yml for one stage.
func ReleaseProject(app, service, stage string) string {
	return app + "-" + service + "-release-" + stage
}

// StageRecords is the Parameter Store path under which a service's pipeline records,
// per stage, the digest each stage was approved to run (StageRecords(...)+"/"+stage).
// Records are written by the pipeline, not by CloudFormation, and outlive the stack.
func StageRecords(app, service string) string {
	return "/stagecoach/" + app + "/" + service + "/stages"
}

// Cluster is the ECS cluster of a stage.
func Cluster(app, stage string) string { return app + "-" + stage }

// Service is the ECS service of a service in a stage.
func Service(app, stage, service string) string { return app + "-" + stage + "-" + service }

// MaxRole is the length limit of an IAM role name.
const MaxRole = 64

// TaskRole is the task role of a service in a stage: what its containers run as, and
// what TASK_ROLE_ARN names. IAM names are global to the account, so it is unique per
// app, stage and service.
func TaskRole(app, stage, service string) string {
	return Fit(app+"-"+stage+"-"+service+"-task", MaxRole)
}

// ExecutionRole is the task execution role of a service in a stage: what ECS pulls the
// image and writes logs with.
func ExecutionRole(app, stage, service string) string {
	return Fit(app+"-"+stage+"-"+service+"-execution", MaxRole)
}

// LogGroup receives a service's container logs in a stage.
func LogGroup(app, stage, service string) string {
	return "/stagecoach/" + app + "/" + stage + "/" + service
}

// LoadBalancer is the application load balancer shared by a stage's services.
func LoadBalancer(app, stage string) string { return Fit(app+"-"+stage, MaxLoadBalancer) }

// Connection is the CodeConnections connection a pipeline stack creates when the
// config names none.
func Connection(app, service string) string { return Fit(app+"-"+service, MaxConnection) }

// Fit returns name unchanged when it has at most max characters; otherwise it cuts the
// name and ends it with "-" and 6 hex digits of its SHA-256, so the result is
// deterministic, fits max and stays distinct from other cut names.
func Fit(name string, max int) string {
	if len(name) <= max {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	suffix := "-" + hex.EncodeToString(sum[:])[:6]
	head := strings.TrimRight(name[:max-len(suffix)], "-_/")
	return head + suffix
}

// Pascal turns a config name ("prod-eu") into a construct ID part ("ProdEu"), which
// keeps logical IDs readable. Config names cannot collide this way: they have no
// "--" and no upper case. Changing it changes logical IDs, so it replaces resources.
func Pascal(name string) string {
	var b strings.Builder
	for _, part := range strings.Split(name, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}
