// Package ecstaskdef models what ECS accepts when a task definition is registered, and
// which services may then run it: the rules a release.yml that registers its own task
// definition meets on Fargate.
//
// It follows the Amazon ECS Developer Guide, "Amazon ECS task definition parameters for
// Fargate" (requiresCompatibilities, networkMode, task size, executionRoleArn), "Amazon
// ECS task execution IAM role", and the API reference for RegisterTaskDefinition and
// UpdateService:
//
//   - family and at least one container definition are required.
//   - requiresCompatibilities names the launch types ECS validates the task definition
//     against; ECS refuses (ClientException) one that does not validate. Left out, ECS
//     validates against EC2 only, and the task definition's compatibilities are EC2.
//   - Validated for FARGATE: networkMode must be awsvpc; cpu and memory must be set at
//     task level, as one of the documented pairs (256 CPU units with 512, 1024 or 2048
//     MiB; 512 with 1024–4096 in 1024 steps; 1024 with 2048–8192 in 1024 steps; 2048
//     with 4096–16384 in 1024 steps; 4096 with 8192–30720 in 1024 steps; 8192 with
//     16384–61440 in 4096 steps; 16384 with 32768–122880 in 8192 steps); and an
//     execution role is required to pull an image from a private ECR repository or to
//     use the awslogs log driver (or container secrets).
//   - A service whose launch type is FARGATE can only be moved (UpdateService
//     --task-definition) to a task definition whose compatibilities include FARGATE;
//     otherwise ECS answers InvalidParameterException.
//   - Every registration of a family adds the next revision; none is ever changed.
//
// Not modelled: EC2 rules (memory per container, host ports), Windows, ephemeral storage,
// volumes, and the IAM checks (iam:PassRole) made on the roles a task definition names.
package ecstaskdef

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Launch types and network modes the rules name.
const (
	Fargate = "FARGATE"
	EC2     = "EC2"
	AWSVPC  = "awsvpc"
)

// Container is the part of a container definition the rules read.
type Container struct {
	Name      string
	Image     string
	LogDriver string
	// Secrets is how many secrets the container reads at start.
	Secrets int
}

// TaskDefinition is what RegisterTaskDefinition is given.
type TaskDefinition struct {
	Family                  string
	Containers              []Container
	RequiresCompatibilities []string
	NetworkMode             string
	// CPU and Memory are the task-level size, as the API takes them ("256", "512");
	// empty when not set.
	CPU, Memory      string
	ExecutionRoleARN string
	TaskRoleARN      string
}

// Error is ECS refusing a request. Its message is in ECS's words.
type Error struct {
	// Code is the API exception: "ClientException" or "InvalidParameterException".
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func clientError(format string, args ...any) error {
	return &Error{Code: "ClientException", Message: fmt.Sprintf(format, args...)}
}

// privateECR matches an image in a private ECR repository.
var privateECR = regexp.MustCompile(`^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/`)

// Register decides a RegisterTaskDefinition call. It returns the launch types the task
// definition is compatible with (its compatibilities), or ECS's refusal.
func Register(td TaskDefinition) ([]string, error) {
	if td.Family == "" {
		return nil, clientError("Family must not be empty.")
	}
	if len(td.Containers) == 0 {
		return nil, clientError("Container list cannot be empty.")
	}
	for _, c := range td.RequiresCompatibilities {
		if c != Fargate && c != EC2 && c != "EXTERNAL" && c != "MANAGED_INSTANCES" {
			return nil, &Error{Code: "InvalidParameterException", Message: fmt.Sprintf("Invalid requiresCompatibilities value %q.", c)}
		}
	}
	compat := []string{EC2}
	if !slices.Contains(td.RequiresCompatibilities, Fargate) {
		return compat, nil
	}
	if td.NetworkMode != AWSVPC {
		return nil, clientError("Fargate only supports network mode 'awsvpc'.")
	}
	if td.CPU == "" {
		return nil, clientError("Fargate requires that 'cpu' be defined at the task level.")
	}
	if td.Memory == "" {
		return nil, clientError("Fargate requires that 'memory' be defined at the task level.")
	}
	if !ValidSize(td.CPU, td.Memory) {
		return nil, clientError("No Fargate configuration exists for given values: %s CPU, %s memory.", td.CPU, td.Memory)
	}
	if td.ExecutionRoleARN == "" {
		for _, c := range td.Containers {
			switch {
			case privateECR.MatchString(c.Image):
				return nil, clientError("Fargate requires task definition to have execution role ARN to support ECR images.")
			case c.LogDriver == "awslogs":
				return nil, clientError("Fargate requires task definition to have execution role ARN to support log driver awslogs.")
			case c.Secrets > 0:
				return nil, clientError("Fargate requires task definition to have execution role ARN to support secrets.")
			}
		}
	}
	return append(compat, Fargate), nil
}

// sizes lists, per CPU value, the memory range (MiB) and its step.
var sizes = map[int]struct{ lo, hi, step int }{
	256:   {512, 2048, 0}, // 512, 1024, 2048
	512:   {1024, 4096, 1024},
	1024:  {2048, 8192, 1024},
	2048:  {4096, 16384, 1024},
	4096:  {8192, 30720, 1024},
	8192:  {16384, 61440, 4096},
	16384: {32768, 122880, 8192},
}

// ValidSize reports whether cpu units and memory MiB, as the API takes them, are a
// task size Fargate offers. ECS also takes "1 vCPU" and "2 GB"; those are not modelled.
func ValidSize(cpu, memory string) bool {
	c, err1 := strconv.Atoi(strings.TrimSpace(cpu))
	m, err2 := strconv.Atoi(strings.TrimSpace(memory))
	if err1 != nil || err2 != nil {
		return false
	}
	r, ok := sizes[c]
	switch {
	case !ok:
		return false
	case c == 256:
		return m == 512 || m == 1024 || m == 2048
	default:
		return m >= r.lo && m <= r.hi && (m-r.lo)%r.step == 0
	}
}

// UpdateService decides moving a service of launchType to a task definition with the
// given compatibilities.
func UpdateService(launchType string, compatibilities []string) error {
	if launchType != "" && !slices.Contains(compatibilities, launchType) {
		return &Error{Code: "InvalidParameterException", Message: "Task definition does not support launch_type " + launchType + "."}
	}
	return nil
}
