package standin

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ECS is scripted, not simulated. What the stand-in knows about a service:
//
//   - whether it exists, and its desired count, from REHEARSAL_ECS_SERVICES
//     ("name=STATUS[:COUNT],..."; STATUS is ACTIVE, DRAINING, INACTIVE or MISSING;
//     a service not listed is ACTIVE with 1 task). COUNT "0>N" is a stage's service
//     before its first release: 0 until a forced deployment, after which its stage
//     stack raises it to N (the DesiredCount function, on the deployment's event);
//   - how a forced deployment rolls out, from REHEARSAL_ECS_ROLLOUT: the
//     rolloutState each describe-services call reports in turn, the last one
//     repeating (default IN_PROGRESS,COMPLETED; IN_PROGRESS,FAILED when
//     REHEARSAL_ECS_STABLE=false).
//
// Deployments live in REHEARSAL_STATE/ecs.json, so they last one build, as the
// calls of one release do. A deployment that fails is rolled back as the circuit
// breaker does: it stays listed as FAILED, no longer PRIMARY, and a new PRIMARY
// deployment of the previous task definition completes. A release that watches
// "the PRIMARY deployment" instead of its own would then see success.

type ecsDeployment struct {
	ID           string `json:"id"`
	Status       string `json:"status"` // PRIMARY or ACTIVE
	RolloutState string `json:"rolloutState"`
	Reason       string `json:"rolloutStateReason,omitempty"`
	// Step is how far along REHEARSAL_ECS_ROLLOUT the deployment is; -1 once
	// it no longer follows the script.
	Step int `json:"step"`
}

type ecsState struct {
	// Services maps REGION/CLUSTER/SERVICE to the service's deployments,
	// PRIMARY first.
	Services map[string][]ecsDeployment `json:"services"`
	Next     int                        `json:"next"`
	// Started holds the services a "0>N" script has raised to N.
	Started map[string]bool `json:"started,omitempty"`
}

type ecsFile struct {
	path  string
	state ecsState
}

func openECS(sio IO) (*ecsFile, error) {
	root := sio.Getenv("REHEARSAL_STATE")
	if root == "" {
		return nil, fail(awsOther, "aws stand-in: REHEARSAL_STATE is unset; it names the directory that keeps ECS deployments for one build")
	}
	f := &ecsFile{path: filepath.Join(root, "ecs.json"), state: ecsState{Services: map[string][]ecsDeployment{}}}
	b, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &f.state)
	}
	if err != nil {
		return nil, fmt.Errorf("aws stand-in: read %s: %w", f.path, err)
	}
	return f, nil
}

func (f *ecsFile) save() error {
	b, err := json.MarshalIndent(f.state, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
		return err
	}
	tmp := f.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, f.path)
}

func (f *ecsFile) newID() string {
	f.state.Next++
	return fmt.Sprintf("ecs-svc/%019d", 1000000000000000000+f.state.Next)
}

// deployments returns a service's deployments, starting it with one completed
// deployment: what a service that has run for a while shows.
func (f *ecsFile) deployments(key string) []ecsDeployment {
	if d, ok := f.state.Services[key]; ok {
		return d
	}
	d := []ecsDeployment{{ID: f.newID(), Status: "PRIMARY", RolloutState: "COMPLETED", Step: -1}}
	f.state.Services[key] = d
	return d
}

// scriptedService is what REHEARSAL_ECS_SERVICES says about one service.
type scriptedService struct {
	status  string
	desired int
	// started is the count a "0>N" service is raised to after a forced
	// deployment; -1 for none.
	started int
}

// now applies what the service's stage stack did since: a started service runs
// its raised count.
func (s scriptedService) now(f *ecsFile, key string) scriptedService {
	if s.started >= 0 && f.state.Started[key] {
		s.desired = s.started
	}
	return s
}

func (c *awsCall) scripted(name string) (scriptedService, error) {
	s := scriptedService{"ACTIVE", 1, -1}
	list := c.sio.Getenv("REHEARSAL_ECS_SERVICES")
	for _, entry := range strings.Split(list, ",") {
		if strings.TrimSpace(entry) == "" {
			continue
		}
		n, spec, ok := strings.Cut(strings.TrimSpace(entry), "=")
		status, count, hasCount := strings.Cut(spec, ":")
		bad := !ok
		switch status {
		case "ACTIVE", "DRAINING", "INACTIVE", "MISSING":
		default:
			bad = true
		}
		d, started := 1, -1
		if hasCount {
			var err error
			before, after, raised := strings.Cut(count, ">")
			if d, err = strconv.Atoi(before); err != nil || d < 0 {
				bad = true
			}
			if raised {
				if started, err = strconv.Atoi(after); err != nil || d != 0 || started < 1 {
					bad = true
				}
			}
		}
		if bad {
			return s, fail(awsOther, "aws stand-in: REHEARSAL_ECS_SERVICES entry %q: want NAME=STATUS[:COUNT], STATUS one of ACTIVE, DRAINING, INACTIVE, MISSING, COUNT a number or 0>N", entry)
		}
		if n == name {
			s = scriptedService{status, d, started}
		}
	}
	return s, nil
}

func (c *awsCall) rollout() ([]string, error) {
	v := c.sio.Getenv("REHEARSAL_ECS_ROLLOUT")
	if v == "" {
		if !c.stable() {
			return []string{"IN_PROGRESS", "FAILED"}, nil
		}
		return []string{"IN_PROGRESS", "COMPLETED"}, nil
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		switch s = strings.TrimSpace(s); s {
		case "IN_PROGRESS", "COMPLETED", "FAILED":
			out = append(out, s)
		default:
			return nil, fail(awsOther, "aws stand-in: REHEARSAL_ECS_ROLLOUT has %q; want IN_PROGRESS, COMPLETED or FAILED, comma-separated", s)
		}
	}
	return out, nil
}

func (c *awsCall) stable() bool { return c.sio.Getenv("REHEARSAL_ECS_STABLE") != "false" }

// serviceKey names a service the way ECS scopes it: region, cluster, name.
// The cluster may be given by name or ARN.
func (c *awsCall) serviceKey(cluster, svc string) (key, clusterName, clusterARN, serviceARN string) {
	clusterName = cluster[strings.LastIndex(cluster, "/")+1:]
	clusterARN = cluster
	if !strings.HasPrefix(cluster, "arn:") {
		clusterARN = fmt.Sprintf("arn:aws:ecs:%s:%s:cluster/%s", c.region, c.account, cluster)
	}
	serviceARN = fmt.Sprintf("arn:aws:ecs:%s:%s:service/%s/%s", c.region, c.account, clusterName, svc)
	return c.region + "/" + clusterName + "/" + svc, clusterName, clusterARN, serviceARN
}

func (c *awsCall) serviceJSON(cluster, svc string, s scriptedService, deps []ecsDeployment) map[string]any {
	_, _, clusterARN, serviceARN := c.serviceKey(cluster, svc)
	var list []map[string]any
	running := 0
	for _, d := range deps {
		dr := 0
		if d.RolloutState == "COMPLETED" {
			dr = s.desired
		}
		if d.Status == "PRIMARY" {
			running = dr
		}
		m := map[string]any{
			"id": d.ID, "status": d.Status, "rolloutState": d.RolloutState,
			"desiredCount": s.desired, "runningCount": dr,
		}
		if d.Reason != "" {
			m["rolloutStateReason"] = d.Reason
		}
		list = append(list, m)
	}
	out := map[string]any{
		"serviceName":  svc,
		"serviceArn":   serviceARN,
		"clusterArn":   clusterARN,
		"status":       s.status,
		"desiredCount": s.desired,
		"runningCount": running,
		"deploymentConfiguration": map[string]any{
			"deploymentCircuitBreaker": map[string]any{"enable": true, "rollback": true},
		},
		"deployments": list,
	}
	if key, _, _, _ := c.serviceKey(cluster, svc); c.serviceTaskDefinition(key) != "" {
		out["taskDefinition"] = c.serviceTaskDefinition(key)
	}
	return out
}

func (c *awsCall) updateService() (any, error) {
	svc, err := c.required("--service")
	if err != nil {
		return nil, err
	}
	cluster := c.single("--cluster")
	c.take("--cluster")
	force := len(c.take("--force-new-deployment")) > 0
	taskDefinition := c.single("--task-definition")
	c.take("--task-definition")
	if err := c.checkUnused(); err != nil {
		return nil, err
	}
	if cluster == "" {
		cluster = "default"
	}
	key, _, _, arn := c.serviceKey(cluster, svc)
	if err := c.authorize("UpdateService", "ecs:UpdateService", arn); err != nil {
		return nil, err
	}
	if err := c.clusterElsewhere(cluster, "UpdateService"); err != nil {
		return nil, err
	}
	if c.sio.Getenv("REHEARSAL_ECS_UPDATE_FAILS") == "true" {
		return nil, c.serviceError("ServiceNotFoundException", "UpdateService", "Service not found.")
	}
	s, err := c.scripted(svc)
	if err != nil {
		return nil, err
	}
	switch s.status {
	case "MISSING":
		return nil, c.serviceError("ServiceNotFoundException", "UpdateService", "Service not found.")
	case "DRAINING", "INACTIVE":
		return nil, c.serviceError("ServiceNotActiveException", "UpdateService", "Service was not ACTIVE.")
	}
	if taskDefinition != "" {
		// A new task definition starts a deployment, forced or not.
		if _, err := c.moveService(key, taskDefinition); err != nil {
			return nil, err
		}
		force = true
	}
	f, err := openECS(c.sio)
	if err != nil {
		return nil, err
	}
	s = s.now(f, key)
	deps := f.deployments(key)
	if force {
		for i := range deps {
			deps[i].Status = "ACTIVE"
		}
		d := ecsDeployment{ID: f.newID(), Status: "PRIMARY", RolloutState: "IN_PROGRESS", Step: -1}
		if s.desired == 0 {
			// Nothing to start: the deployment is done at once.
			d.RolloutState, deps = "COMPLETED", nil
			if s.started > 0 {
				// Its event reaches the stage stack, which raises the count.
				if f.state.Started == nil {
					f.state.Started = map[string]bool{}
				}
				f.state.Started[key] = true
			}
		} else {
			d.Step = 0
		}
		deps = append([]ecsDeployment{d}, deps...)
		f.state.Services[key] = deps
		if err := f.save(); err != nil {
			return nil, err
		}
	}
	return map[string]any{"service": c.serviceJSON(cluster, svc, s, deps)}, nil
}

func (c *awsCall) describeServices() (any, error) {
	cluster := c.single("--cluster")
	c.take("--cluster")
	svcs := c.take("--services")
	if len(svcs) == 0 {
		return nil, fail(awsUsage, "aws: error: the following arguments are required: --services")
	}
	if err := c.checkUnused(); err != nil {
		return nil, err
	}
	if cluster == "" {
		cluster = "default"
	}
	script, err := c.rollout()
	if err != nil {
		return nil, err
	}
	f, err := openECS(c.sio)
	if err != nil {
		return nil, err
	}
	services, failures := []any{}, []any{}
	for _, svc := range svcs {
		key, _, _, arn := c.serviceKey(cluster, svc)
		if err := c.authorize("DescribeServices", "ecs:DescribeServices", arn); err != nil {
			return nil, err
		}
		if err := c.clusterElsewhere(cluster, "DescribeServices"); err != nil {
			return nil, err
		}
		s, err := c.scripted(svc)
		if err != nil {
			return nil, err
		}
		if s.status == "MISSING" {
			failures = append(failures, map[string]any{"arn": arn, "reason": "MISSING"})
			continue
		}
		s = s.now(f, key)
		deps := advance(f.deployments(key), script, f)
		f.state.Services[key] = deps
		services = append(services, c.serviceJSON(cluster, svc, s, deps))
	}
	if err := f.save(); err != nil {
		return nil, err
	}
	return map[string]any{"services": services, "failures": failures}, nil
}

// advance moves each scripted deployment one step along the rollout script.
func advance(deps []ecsDeployment, script []string, f *ecsFile) []ecsDeployment {
	for i := range deps {
		d := &deps[i]
		if d.Step < 0 {
			continue
		}
		d.RolloutState = script[min(d.Step, len(script)-1)]
		d.Step++
		switch d.RolloutState {
		case "COMPLETED":
			// The new tasks are healthy; older deployments are drained and gone.
			d.Step = -1
			if d.Status == "PRIMARY" {
				return []ecsDeployment{*d}
			}
		case "FAILED":
			d.Step = -1
			d.Reason = "ECS deployment circuit breaker: tasks failed to start."
			if d.Status == "PRIMARY" {
				d.Status = "ACTIVE"
				rollback := ecsDeployment{ID: f.newID(), Status: "PRIMARY", RolloutState: "COMPLETED", Step: -1,
					Reason: "ECS deployment circuit breaker: rolled back to the previous task definition."}
				return append([]ecsDeployment{rollback}, deps...)
			}
		}
	}
	return deps
}

func (c *awsCall) wait() error {
	if c.waiter != "services-stable" {
		return fail(awsUsage, "aws stand-in: ecs wait %q is not supported (supported: services-stable)", c.waiter)
	}
	c.take("--cluster")
	if len(c.take("--services")) == 0 {
		return fail(awsUsage, "aws: error: the following arguments are required: --services")
	}
	if err := c.checkUnused(); err != nil {
		return err
	}
	if err := c.authorize("DescribeServices", "ecs:DescribeServices", "*"); err != nil {
		return err
	}
	if !c.stable() {
		return fail(awsOther, "\nWaiter ServicesStable failed: Max attempts exceeded")
	}
	return nil
}
