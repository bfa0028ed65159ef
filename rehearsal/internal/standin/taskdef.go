package standin

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stagecoach/stagecoach/awsmodel/ecstaskdef"
)

// Task definitions are the part of ECS that lasts between builds, like the registry:
// REHEARSAL_ECS_TASK_DEFINITIONS names a JSON file (TaskDefinitions) that the
// rehearsal fills from the stage templates and that register-task-definition and
// update-service --task-definition change. Unset, those calls fail.
//
// ECS's rules for what it registers and runs come from awsmodel/ecstaskdef. A call
// made in one region cannot see the task definitions, clusters or services of
// another: a cluster given by an ARN of another region is not found.

// TaskDefinitions is the file REHEARSAL_ECS_TASK_DEFINITIONS names.
type TaskDefinitions struct {
	// Definitions maps task definition ARNs to the task definition as
	// describe-task-definition prints it (its "taskDefinition" object).
	Definitions map[string]map[string]any `json:"taskDefinitions"`
	// Services maps REGION/CLUSTER/SERVICE to what the service runs.
	Services map[string]ServiceTask `json:"services"`
}

// ServiceTask is a service's task definition ARN and launch type.
type ServiceTask struct {
	TaskDefinition string `json:"taskDefinition"`
	LaunchType     string `json:"launchType,omitempty"`
}

// ServiceKey is how TaskDefinitions.Services names a service.
func ServiceKey(region, cluster, service string) string {
	return region + "/" + cluster[strings.LastIndex(cluster, "/")+1:] + "/" + service
}

func (c *awsCall) openTaskDefinitions() (*TaskDefinitions, string, error) {
	path := c.sio.Getenv("REHEARSAL_ECS_TASK_DEFINITIONS")
	if path == "" {
		return nil, "", fail(awsOther, "aws stand-in: REHEARSAL_ECS_TASK_DEFINITIONS is unset; it names the file of the services' task definitions")
	}
	td := &TaskDefinitions{Definitions: map[string]map[string]any{}, Services: map[string]ServiceTask{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return td, path, nil
	}
	if err == nil {
		err = json.Unmarshal(b, td)
	}
	if err != nil {
		return nil, "", fmt.Errorf("aws stand-in: read %s: %w", path, err)
	}
	return td, path, nil
}

func saveTaskDefinitions(td *TaskDefinitions, path string) error {
	b, err := json.MarshalIndent(td, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// clusterElsewhere refuses a cluster ARN of another region than the call's: the call
// goes to the region's endpoint, where that cluster does not exist.
func (c *awsCall) clusterElsewhere(cluster, op string) error {
	if parts := strings.Split(cluster, ":"); strings.HasPrefix(cluster, "arn:") && len(parts) > 3 && parts[3] != c.region {
		return c.serviceError("ClusterNotFoundException", op, "Cluster not found. (%s is in %s; this call went to %s: give --region)", cluster, parts[3], c.region)
	}
	return nil
}

// findTaskDefinition resolves FAMILY, FAMILY:REVISION or an ARN in the call's region.
func (td *TaskDefinitions) find(region, account, ref string) (string, map[string]any, bool) {
	if strings.HasPrefix(ref, "arn:") {
		d, ok := td.Definitions[ref]
		return ref, d, ok && strings.Split(ref, ":")[3] == region
	}
	family, rev, hasRev := strings.Cut(ref, ":")
	if hasRev {
		arn := taskDefinitionARN(region, account, family, rev)
		d, ok := td.Definitions[arn]
		return arn, d, ok
	}
	best, bestRev := "", -1
	for arn := range td.Definitions {
		f, r := familyRevision(arn)
		if f == family && strings.Split(arn, ":")[3] == region && r > bestRev {
			best, bestRev = arn, r
		}
	}
	return best, td.Definitions[best], best != ""
}

func taskDefinitionARN(region, account, family, revision string) string {
	return fmt.Sprintf("arn:aws:ecs:%s:%s:task-definition/%s:%s", region, account, family, revision)
}

func familyRevision(arn string) (string, int) {
	tail := arn[strings.LastIndex(arn, "/")+1:]
	family, rev, _ := strings.Cut(tail, ":")
	n, _ := strconv.Atoi(rev)
	return family, n
}

func (c *awsCall) describeTaskDefinition() (any, error) {
	ref, err := c.required("--task-definition")
	if err != nil {
		return nil, err
	}
	if err := c.checkUnused(); err != nil {
		return nil, err
	}
	if err := c.authorize("DescribeTaskDefinition", "ecs:DescribeTaskDefinition", "*"); err != nil {
		return nil, err
	}
	td, _, err := c.openTaskDefinitions()
	if err != nil {
		return nil, err
	}
	_, d, ok := td.find(c.region, c.account, ref)
	if !ok {
		return nil, c.serviceError("ClientException", "DescribeTaskDefinition", "Unable to describe task definition.")
	}
	return map[string]any{"taskDefinition": d}, nil
}

func (c *awsCall) registerTaskDefinition() (any, error) {
	family, err := c.required("--family")
	if err != nil {
		return nil, err
	}
	raw, err := c.required("--container-definitions")
	if err != nil {
		return nil, err
	}
	if p, ok := strings.CutPrefix(raw, "file://"); ok {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fail(awsOther, "\nError parsing parameter '--container-definitions': Unable to load paramfile %s: %v", raw, err)
		}
		raw = string(b)
	}
	var containers []map[string]any
	if err := json.Unmarshal([]byte(raw), &containers); err != nil {
		return nil, fail(awsUsage, "\nError parsing parameter '--container-definitions': Invalid JSON: %v (the stand-in takes the JSON form only)", err)
	}
	opt := func(name string) string {
		v := c.single(name)
		c.take(name)
		return v
	}
	d := map[string]any{"family": family, "containerDefinitions": containers}
	model := ecstaskdef.TaskDefinition{
		Family:                  family,
		RequiresCompatibilities: c.take("--requires-compatibilities"),
		TaskRoleARN:             opt("--task-role-arn"),
		ExecutionRoleARN:        opt("--execution-role-arn"),
		NetworkMode:             opt("--network-mode"),
		CPU:                     opt("--cpu"),
		Memory:                  opt("--memory"),
	}
	if err := c.checkUnused(); err != nil {
		return nil, err
	}
	for _, ct := range containers {
		m := ecstaskdef.Container{}
		m.Name, _ = ct["name"].(string)
		m.Image, _ = ct["image"].(string)
		if lc, ok := ct["logConfiguration"].(map[string]any); ok {
			m.LogDriver, _ = lc["logDriver"].(string)
		}
		if s, ok := ct["secrets"].([]any); ok {
			m.Secrets = len(s)
		}
		model.Containers = append(model.Containers, m)
	}
	if err := c.authorize("RegisterTaskDefinition", "ecs:RegisterTaskDefinition", "*"); err != nil {
		return nil, err
	}
	// Naming a role in a task definition passes it to ECS.
	for _, role := range []string{model.TaskRoleARN, model.ExecutionRoleARN} {
		if role == "" {
			continue
		}
		if err := c.authorize("RegisterTaskDefinition", "iam:PassRole", role); err != nil {
			return nil, err
		}
	}
	compat, err := ecstaskdef.Register(model)
	if err != nil {
		var e *ecstaskdef.Error
		if errors.As(err, &e) {
			return nil, c.serviceError(e.Code, "RegisterTaskDefinition", "%s", e.Message)
		}
		return nil, err
	}
	td, path, err := c.openTaskDefinitions()
	if err != nil {
		return nil, err
	}
	rev := 0
	for arn := range td.Definitions {
		if f, r := familyRevision(arn); f == family && strings.Split(arn, ":")[3] == c.region && r > rev {
			rev = r
		}
	}
	arn := taskDefinitionARN(c.region, c.account, family, strconv.Itoa(rev+1))
	d["taskDefinitionArn"], d["revision"], d["status"], d["compatibilities"] = arn, rev+1, "ACTIVE", compat
	set := func(k, v string) {
		if v != "" {
			d[k] = v
		}
	}
	set("taskRoleArn", model.TaskRoleARN)
	set("executionRoleArn", model.ExecutionRoleARN)
	set("networkMode", model.NetworkMode)
	set("cpu", model.CPU)
	set("memory", model.Memory)
	if len(model.RequiresCompatibilities) > 0 {
		d["requiresCompatibilities"] = model.RequiresCompatibilities
	}
	td.Definitions[arn] = d
	if err := saveTaskDefinitions(td, path); err != nil {
		return nil, err
	}
	return map[string]any{"taskDefinition": d}, nil
}

// moveService points a service at another task definition, as update-service
// --task-definition does, refusing what ECS refuses. It returns the ARN.
func (c *awsCall) moveService(key, ref string) (string, error) {
	td, path, err := c.openTaskDefinitions()
	if err != nil {
		return "", err
	}
	arn, d, ok := td.find(c.region, c.account, ref)
	if !ok {
		return "", c.serviceError("ClientException", "UpdateService", "TaskDefinition not found.")
	}
	svc := td.Services[key]
	var compat []string
	if list, ok := d["compatibilities"].([]any); ok {
		for _, x := range list {
			if s, ok := x.(string); ok {
				compat = append(compat, s)
			}
		}
	}
	if err := ecstaskdef.UpdateService(svc.LaunchType, compat); err != nil {
		var e *ecstaskdef.Error
		if errors.As(err, &e) {
			return "", c.serviceError(e.Code, "UpdateService", "%s", e.Message)
		}
		return "", err
	}
	svc.TaskDefinition = arn
	td.Services[key] = svc
	return arn, saveTaskDefinitions(td, path)
}

// serviceTaskDefinition is the task definition ARN a service runs, "" when unknown.
func (c *awsCall) serviceTaskDefinition(key string) string {
	if c.sio.Getenv("REHEARSAL_ECS_TASK_DEFINITIONS") == "" {
		return ""
	}
	td, _, err := c.openTaskDefinitions()
	if err != nil {
		return ""
	}
	return td.Services[key].TaskDefinition
}
