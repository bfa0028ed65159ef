package fakeaws

import (
	"errors"
	"slices"

	"github.com/stagecoach/stagecoach/internal/awsmodel/ecstaskdef"
)

// Task definitions, after the Amazon ECS API Reference (RegisterTaskDefinition,
// UpdateService) and the rules of awsmodel/ecstaskdef: a registration that
// Fargate cannot run is refused (network mode, task size, execution role); the
// registered revision is compatible with EC2, and with FARGATE when it asks for
// it; a service launched on FARGATE refuses a revision not compatible with it.
// Naming a task or execution role in a task definition passes the role to ECS,
// so the caller needs iam:PassRole on it ("Granting a user permissions to pass a
// role to an AWS service", IAM User Guide). Revisions are numbered per family
// and region, and last as long as the endpoint: from one build to the next.

func (s *Server) registerTaskDefinition(r *request) (any, error) {
	if err := r.authorize("ecs:RegisterTaskDefinition", "*"); err != nil {
		return nil, err
	}
	family, err := r.need("family")
	if err != nil {
		return nil, err
	}
	model := ecstaskdef.TaskDefinition{
		Family:                  family,
		RequiresCompatibilities: r.strs("requiresCompatibilities"),
		TaskRoleARN:             r.str("taskRoleArn"),
		ExecutionRoleARN:        r.str("executionRoleArn"),
		NetworkMode:             r.str("networkMode"),
		CPU:                     r.str("cpu"),
		Memory:                  r.str("memory"),
	}
	containers, _ := r.input["containerDefinitions"].([]any)
	for _, ct := range containers {
		ct, _ := ct.(map[string]any)
		m := ecstaskdef.Container{}
		m.Name, _ = ct["name"].(string)
		m.Image, _ = ct["image"].(string)
		if lc, ok := ct["logConfiguration"].(map[string]any); ok {
			m.LogDriver, _ = lc["logDriver"].(string)
		}
		if list, ok := ct["secrets"].([]any); ok {
			m.Secrets = len(list)
		}
		model.Containers = append(model.Containers, m)
	}
	for _, role := range []string{model.TaskRoleARN, model.ExecutionRoleARN} {
		if role == "" {
			continue
		}
		// ECS passes both roles to its tasks: the request names that service
		// ("Granting a user permissions to pass a role", iam:PassedToService).
		if err := r.authorizeWith("iam:PassRole", role, map[string]string{"iam:PassedToService": "ecs-tasks.amazonaws.com"}); err != nil {
			return nil, err
		}
	}
	compat, err := ecstaskdef.Register(model)
	if err != nil {
		return nil, ecsModelError(err)
	}
	in := map[string]any{}
	for k, v := range r.input {
		if k != "tags" {
			in[k] = v
		}
	}
	in["compatibilities"] = toAny(compat)
	return map[string]any{"taskDefinition": s.register(r.region, in)}, nil
}

// checkLaunchType refuses moving a service to a task definition its launch type
// cannot run.
func checkLaunchType(sv *service, td map[string]any) error {
	var compat []string
	if list, ok := td["compatibilities"].([]any); ok {
		for _, x := range list {
			if c, ok := x.(string); ok {
				compat = append(compat, c)
			}
		}
	} else if list, ok := td["compatibilities"].([]string); ok {
		compat = slices.Clone(list)
	} else {
		return nil // registered by the rehearsal without compatibilities: any
	}
	return ecsModelError(ecstaskdef.UpdateService(sv.launchType, compat))
}

func ecsModelError(err error) error {
	var e *ecstaskdef.Error
	if errors.As(err, &e) {
		return clientError(e.Code, "%s", e.Message)
	}
	return err
}

func toAny(list []string) []any {
	out := make([]any, len(list))
	for i, s := range list {
		out[i] = s
	}
	return out
}

// AddStageService registers a service as its stage stack creates it from a task
// definition (as describe-task-definition prints it, without ARN or revision),
// launched on launchType ("" for none), with desired tasks: the task definition
// becomes the family's next revision in region, and the service's first
// deployment, completed, runs what its images name now. It returns the task
// definition's ARN. A service registered already is left alone.
func (s *Server) AddStageService(region, clusterName, svc string, td map[string]any, launchType string, desired int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cluster(region, clusterName)
	if sv, ok := c.services[svc]; ok {
		return sv.taskDef
	}
	reg := s.register(region, td)
	sv := &service{name: svc, taskDef: reg["taskDefinitionArn"].(string), desired: desired, launchType: launchType}
	sv.deps = []*deployment{{id: s.deploymentID(), status: "PRIMARY", rollout: "COMPLETED", step: -1,
		taskDef: sv.taskDef, images: s.resolve(region, reg), created: s.tick()}}
	c.services[svc] = sv
	return sv.taskDef
}

// TaskDefinition returns a task definition of region by family, family:revision
// or ARN, as describe-task-definition prints it.
func (s *Server) TaskDefinition(region, ref string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.taskDefinition(region, ref)
}
