package fakeaws

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ECS, after the Amazon ECS API Reference (UpdateService, DescribeServices,
// DescribeClusters, RegisterTaskDefinition, DescribeTaskDefinition, Deployment,
// ContainerImage) and the Developer Guide ("Container image resolution",
// "Deployment circuit breaker"):
//
//   - Image digests are resolved when a deployment is created. ECS resolves each
//     container's image tag to the digest it names at that moment and the
//     deployment keeps running that digest: moving the tag afterwards changes
//     nothing until the next deployment (ContainerImage: "After the container image
//     digest has been established, Amazon ECS uses the digest to start any other
//     desired tasks"). A tag that names no image makes the deployment's tasks fail
//     to start (CannotPullContainerError), so the deployment fails.
//   - The circuit breaker's rollback returns the service "to the last deployment
//     that completed successfully" (DeploymentCircuitBreaker): that deployment's
//     task definition and the digests it resolved, not the tag's image now.
//   - A cluster is named by name or ARN; an ARN of another region than the
//     request's is InvalidParameterException ("Invalid Region in ARN"), an unknown
//     cluster ClusterNotFoundException. DescribeServices reports an unknown service
//     in failures[] with reason MISSING; UpdateService fails with
//     ServiceNotFoundException, or ServiceNotActiveException when it is DRAINING or
//     INACTIVE.
//   - How a deployment rolls out is scripted (REHEARSAL_ECS_ROLLOUT, see below):
//     every DescribeServices call is one step of time, so a script plays out
//     as fast as the caller asks. A deployment that completes replaces every
//     older one; a failed one is listed as FAILED next to its rollback once, then
//     drained.
//
// Settings, per call (the REHEARSAL_* variables of the build that made it):
//
//	REHEARSAL_ECS_SERVICES   NAME=STATUS[:COUNT],...: services whose status (ACTIVE,
//	                         DRAINING, INACTIVE, MISSING) or desired count is not the
//	                         registered one (COUNT 0>N: at 0 until a forced
//	                         deployment, then N; see scripted)
//	REHEARSAL_ECS_ROLLOUT    rolloutStates a new deployment goes through, one per
//	                         DescribeServices call, the last repeating (default
//	                         IN_PROGRESS,COMPLETED)
//	REHEARSAL_ECS_STABLE     "false": the default rollout is IN_PROGRESS,FAILED
//	REHEARSAL_ECS_UPDATE_FAILS  "true": UpdateService fails (ServiceNotFoundException)

type cluster struct {
	region, name string
	services     map[string]*service
}

type service struct {
	name       string
	taskDef    string // ARN of its task definition
	launchType string // "" when the service uses a capacity provider strategy
	desired    int
	// started is set once a "0>N" service (REHEARSAL_ECS_SERVICES) has been raised.
	started bool
	deps    []*deployment // PRIMARY first
}

type deployment struct {
	id, status, rollout, reason, taskDef string
	images                               []Image
	script                               []string
	step                                 int // -1 once it no longer follows the script
	drain                                bool
	created                              time.Time
}

// Image is what one container of a deployment runs: the image its task
// definition names and the digest ECS resolved it to ("" when it named none).
type Image struct {
	Container, Image, Digest string
}

// Deployment is a deployment as a test sees it.
type Deployment struct {
	ID, Status, RolloutState, TaskDefinition string
	Images                                   []Image
}

// AddService registers a service that runs image (one container, named after
// the service) in cluster, with desired tasks, as its stage stack creates it:
// task definition family SERVICE revision 1, and one deployment, completed,
// which runs what image names now. A service registered already is left alone.
func (s *Server) AddService(region, clusterName, svc, image string, desired int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cluster(region, clusterName)
	if _, ok := c.services[svc]; ok {
		return
	}
	td := s.register(region, map[string]any{
		"family":               svc,
		"containerDefinitions": []any{map[string]any{"name": svc, "image": image, "essential": true}},
	})
	sv := &service{name: svc, taskDef: td["taskDefinitionArn"].(string), desired: desired}
	sv.deps = []*deployment{{id: s.deploymentID(), status: "PRIMARY", rollout: "COMPLETED", step: -1,
		taskDef: sv.taskDef, images: s.resolve(region, td), created: s.tick()}}
	c.services[svc] = sv
}

// AddCluster registers an empty cluster in region, as a stage stack creates it
// before any service of it exists.
func (s *Server) AddCluster(region, clusterName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cluster(region, clusterName)
}

// Deployments returns a service's deployments, PRIMARY first.
func (s *Server) Deployments(region, clusterName, svc string) ([]Deployment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clusters[region+"/"+clusterName]
	if !ok {
		return nil, false
	}
	sv, ok := c.services[svc]
	if !ok {
		return nil, false
	}
	var out []Deployment
	for _, d := range sv.deps {
		out = append(out, Deployment{ID: d.id, Status: d.status, RolloutState: d.rollout, TaskDefinition: d.taskDef, Images: append([]Image(nil), d.images...)})
	}
	return out, true
}

func (s *Server) cluster(region, n string) *cluster {
	key := region + "/" + n
	c, ok := s.clusters[key]
	if !ok {
		c = &cluster{region: region, name: n, services: map[string]*service{}}
		s.clusters[key] = c
	}
	return c
}

func (s *Server) deploymentID() string {
	s.nextID++
	return fmt.Sprintf("ecs-svc/%019d", 1000000000000000000+s.nextID)
}

// register stores a task definition revision and returns it as ECS describes it.
func (s *Server) register(region string, in map[string]any) map[string]any {
	family, _ := in["family"].(string)
	key := region + "/" + family
	td := map[string]any{}
	for k, v := range in {
		td[k] = v
	}
	rev := len(s.taskDefs[key]) + 1
	td["revision"] = rev
	td["status"] = "ACTIVE"
	td["taskDefinitionArn"] = fmt.Sprintf("arn:aws:ecs:%s:%s:task-definition/%s:%d", region, DefaultAccount, family, rev)
	td["registeredAt"] = float64(s.tick().Unix())
	s.taskDefs[key] = append(s.taskDefs[key], td)
	return td
}

// taskDefinition finds a task definition by family, family:revision or ARN.
func (s *Server) taskDefinition(region, ref string) (map[string]any, bool) {
	if strings.HasPrefix(ref, "arn:") {
		if parts := strings.SplitN(ref, ":", 6); len(parts) != 6 || parts[3] != region {
			return nil, false // another region's task definition is not found here
		}
		_, rest, _ := strings.Cut(ref, ":task-definition/")
		ref = rest
	}
	family, rev, hasRev := strings.Cut(ref, ":")
	list := s.taskDefs[region+"/"+family]
	if len(list) == 0 {
		return nil, false
	}
	if !hasRev {
		return list[len(list)-1], true
	}
	n, err := strconv.Atoi(rev)
	if err != nil || n < 1 || n > len(list) {
		return nil, false
	}
	return list[n-1], true
}

var ecrImage = regexp.MustCompile(`^[0-9]{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/`)

// resolve resolves each container image of td to a digest, as ECS does when it
// creates a deployment. An image in an ECR host is looked up in that region's
// registry; an image on a local registry in it directly.
func (s *Server) resolve(region string, td map[string]any) []Image {
	defs, _ := td["containerDefinitions"].([]any)
	var out []Image
	for _, d := range defs {
		d, _ := d.(map[string]any)
		cname, _ := d["name"].(string)
		image, _ := d["image"].(string)
		img := Image{Container: cname, Image: image}
		ref := image
		if m := ecrImage.FindStringSubmatch(image); m != nil {
			if reg, ok := s.registries[m[1]]; ok {
				ref = reg.host + "/" + image[len(m[0]):]
			}
		}
		if r, err := name.ParseReference(ref, name.Insecure); err == nil {
			if dg, ok := r.(name.Digest); ok {
				img.Digest = dg.DigestStr()
			} else {
				cx, cancel := ctx()
				if desc, err := remote.Head(r, remote.WithContext(cx)); err == nil {
					img.Digest = desc.Digest.String()
				}
				cancel()
			}
		}
		out = append(out, img)
	}
	return out
}

func (s *Server) ecs(r *request) (any, error) {
	switch r.op {
	case "DescribeServices":
		return s.describeServices(r)
	case "UpdateService":
		return s.updateService(r)
	case "DescribeClusters":
		return s.describeClusters(r)
	case "RegisterTaskDefinition":
		return s.registerTaskDefinition(r)
	case "DescribeTaskDefinition":
		if err := r.authorize("ecs:DescribeTaskDefinition", "*"); err != nil {
			return nil, err
		}
		ref, err := r.need("taskDefinition")
		if err != nil {
			return nil, err
		}
		td, ok := s.taskDefinition(r.region, ref)
		if !ok {
			return nil, clientError("ClientException", "Unable to describe task definition.")
		}
		return map[string]any{"taskDefinition": td}, nil
	}
	return nil, clientError("UnknownOperationException", "ECS %s is not played by the rehearsal's endpoint (extend internal/rehearsal/internal/fakeaws if a buildspec needs it)", r.op)
}

// findCluster reads the request's cluster (name or ARN; "default" when absent).
func (s *Server) findCluster(r *request) (*cluster, error) {
	ref := r.str("cluster")
	if ref == "" {
		ref = "default"
	}
	return s.clusterByRef(r, ref)
}

func (s *Server) clusterByRef(r *request, ref string) (*cluster, error) {
	n := ref
	if strings.HasPrefix(ref, "arn:") {
		parts := strings.SplitN(ref, ":", 6)
		if len(parts) != 6 || parts[2] != "ecs" || !strings.HasPrefix(parts[5], "cluster/") {
			return nil, clientError("InvalidParameterException", "Invalid cluster ARN: %s", ref)
		}
		if parts[3] != r.region {
			return nil, clientError("InvalidParameterException", "Invalid Region in ARN")
		}
		n = strings.TrimPrefix(parts[5], "cluster/")
	}
	c, ok := s.clusters[r.region+"/"+n]
	if !ok {
		return nil, clientError("ClusterNotFoundException", "Cluster not found.")
	}
	return c, nil
}

func (r *request) serviceARN(c *cluster, svc string) string {
	return fmt.Sprintf("arn:aws:ecs:%s:%s:service/%s/%s", c.region, r.account, c.name, svc)
}

func (r *request) clusterARN(c *cluster) string {
	return fmt.Sprintf("arn:aws:ecs:%s:%s:cluster/%s", c.region, r.account, c.name)
}

// serviceName reads a service given by name or ARN, checking an ARN's region.
func serviceName(r *request, ref string) (string, error) {
	if !strings.HasPrefix(ref, "arn:") {
		return ref, nil
	}
	parts := strings.SplitN(ref, ":", 6)
	if len(parts) != 6 || parts[2] != "ecs" || !strings.HasPrefix(parts[5], "service/") {
		return "", clientError("InvalidParameterException", "Invalid service ARN: %s", ref)
	}
	if parts[3] != r.region {
		return "", clientError("InvalidParameterException", "Invalid Region in ARN")
	}
	return parts[5][strings.LastIndex(parts[5], "/")+1:], nil
}

// scripted is what REHEARSAL_ECS_SERVICES says about sv: status and desired
// count. COUNT "0>N" is a stage's service before its first release: 0 until a
// forced deployment has started, after which its stage stack raises it to N
// (the DesiredCount function raises the scalable target's minimum when it sees
// the service's first deployment); sv.started records that it has.
func scripted(r *request, sv *service) (string, int, int, error) {
	status, desired, raise := "ACTIVE", sv.desired, 0
	for _, entry := range strings.Split(r.getenv("REHEARSAL_ECS_SERVICES"), ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		n, spec, ok := strings.Cut(entry, "=")
		st, count, hasCount := strings.Cut(spec, ":")
		bad := !ok
		switch st {
		case "ACTIVE", "DRAINING", "INACTIVE", "MISSING":
		default:
			bad = true
		}
		d, up := desired, 0
		if hasCount {
			before, after, raised := strings.Cut(count, ">")
			var err error
			if d, err = strconv.Atoi(before); err != nil || d < 0 {
				bad = true
			}
			if raised {
				if up, err = strconv.Atoi(after); err != nil || d != 0 || up < 1 {
					bad = true
				}
			}
		}
		if bad {
			return "", 0, 0, clientError("InvalidParameterException", "rehearsal settings: REHEARSAL_ECS_SERVICES entry %q: want NAME=STATUS[:COUNT], STATUS one of ACTIVE, DRAINING, INACTIVE, MISSING, COUNT a number or 0>N", entry)
		}
		if n == sv.name {
			status, desired, raise = st, d, up
		}
	}
	if raise > 0 && sv.started {
		desired = raise
	}
	return status, desired, raise, nil
}

func rolloutScript(r *request) ([]string, error) {
	v := r.getenv("REHEARSAL_ECS_ROLLOUT")
	if v == "" {
		if r.getenv("REHEARSAL_ECS_STABLE") == "false" {
			return []string{"IN_PROGRESS", "FAILED"}, nil
		}
		return []string{"IN_PROGRESS", "COMPLETED"}, nil
	}
	var out []string
	for _, st := range strings.Split(v, ",") {
		switch st = strings.TrimSpace(st); st {
		case "IN_PROGRESS", "COMPLETED", "FAILED":
			out = append(out, st)
		default:
			return nil, clientError("InvalidParameterException", "rehearsal settings: REHEARSAL_ECS_ROLLOUT has %q; want IN_PROGRESS, COMPLETED or FAILED, comma-separated", st)
		}
	}
	return out, nil
}

func (s *Server) describeClusters(r *request) (any, error) {
	refs := r.strs("clusters")
	if len(refs) == 0 {
		refs = []string{"default"}
	}
	clusters, failures := []any{}, []any{}
	for _, ref := range refs {
		c, err := s.clusterByRef(r, ref)
		if ae, ok := err.(*apiError); ok && ae.code == "ClusterNotFoundException" {
			arn := ref
			if !strings.HasPrefix(ref, "arn:") {
				arn = fmt.Sprintf("arn:aws:ecs:%s:%s:cluster/%s", r.region, r.account, ref)
			}
			failures = append(failures, map[string]any{"arn": arn, "reason": "MISSING"})
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := r.authorize("ecs:DescribeClusters", r.clusterARN(c)); err != nil {
			return nil, err
		}
		clusters = append(clusters, map[string]any{"clusterArn": r.clusterARN(c), "clusterName": c.name, "status": "ACTIVE", "activeServicesCount": len(c.services)})
	}
	return map[string]any{"clusters": clusters, "failures": failures}, nil
}

func (s *Server) describeServices(r *request) (any, error) {
	refs := r.strs("services")
	if len(refs) == 0 {
		return nil, clientError("InvalidParameterException", "Services cannot be empty.")
	}
	c, err := s.findCluster(r)
	if err != nil {
		return nil, err
	}
	script, err := rolloutScript(r)
	if err != nil {
		return nil, err
	}
	services, failures := []any{}, []any{}
	for _, ref := range refs {
		n, err := serviceName(r, ref)
		if err != nil {
			return nil, err
		}
		arn := r.serviceARN(c, n)
		if err := r.authorize("ecs:DescribeServices", arn); err != nil {
			return nil, err
		}
		sv, ok := c.services[n]
		status, desired := "MISSING", 0
		if ok {
			if status, desired, _, err = scripted(r, sv); err != nil {
				return nil, err
			}
		}
		if status == "MISSING" {
			failures = append(failures, map[string]any{"arn": arn, "reason": "MISSING"})
			continue
		}
		sv.desired = desired
		s.advance(r.region, sv, script)
		services = append(services, r.serviceJSON(c, sv, status))
	}
	return map[string]any{"services": services, "failures": failures}, nil
}

func (s *Server) updateService(r *request) (any, error) {
	ref, err := r.need("service")
	if err != nil {
		return nil, err
	}
	c, err := s.findCluster(r)
	if err != nil {
		return nil, err
	}
	n, err := serviceName(r, ref)
	if err != nil {
		return nil, err
	}
	if err := r.authorize("ecs:UpdateService", r.serviceARN(c, n)); err != nil {
		return nil, err
	}
	if r.getenv("REHEARSAL_ECS_UPDATE_FAILS") == "true" {
		return nil, clientError("ServiceNotFoundException", "Service not found.")
	}
	sv, ok := c.services[n]
	status, raise := "MISSING", 0
	if ok {
		if status, sv.desired, raise, err = scripted(r, sv); err != nil {
			return nil, err
		}
	}
	switch status {
	case "MISSING":
		return nil, clientError("ServiceNotFoundException", "Service not found.")
	case "DRAINING", "INACTIVE":
		return nil, clientError("ServiceNotActiveException", "Service was not ACTIVE.")
	}
	if d, ok := r.input["desiredCount"].(float64); ok {
		sv.desired = int(d)
	}
	changed := false
	if ref := r.str("taskDefinition"); ref != "" {
		td, ok := s.taskDefinition(r.region, ref)
		if !ok {
			return nil, clientError("ClientException", "TaskDefinition not found.")
		}
		if err := checkLaunchType(sv, td); err != nil {
			return nil, err
		}
		arn := td["taskDefinitionArn"].(string)
		changed = arn != sv.taskDef
		sv.taskDef = arn
	}
	if force, _ := r.input["forceNewDeployment"].(bool); force || changed {
		script, err := rolloutScript(r)
		if err != nil {
			return nil, err
		}
		td, _ := s.taskDefinition(r.region, sv.taskDef)
		d := &deployment{id: s.deploymentID(), status: "PRIMARY", rollout: "IN_PROGRESS", taskDef: sv.taskDef,
			images: s.resolve(r.region, td), script: script, created: s.tick()}
		for _, img := range d.images {
			if img.Digest == "" {
				// Tasks cannot pull the image: the deployment fails, whatever the script.
				d.script = []string{"IN_PROGRESS", "FAILED"}
				d.reason = "CannotPullContainerError: " + img.Image + ": not found"
			}
		}
		for _, old := range sv.deps {
			old.status = "ACTIVE"
		}
		if sv.desired == 0 {
			// Nothing to start: the deployment is done at once.
			d.rollout, d.step, sv.deps = "COMPLETED", -1, nil
			if raise > 0 {
				// Its event reaches the stage stack, which raises the count.
				sv.started = true
			}
		}
		sv.deps = append([]*deployment{d}, sv.deps...)
	}
	return map[string]any{"service": r.serviceJSON(c, sv, "ACTIVE")}, nil
}

// launch is the launch type describe-services reports: FARGATE unless the
// service was registered with another.
func (sv *service) launch() string {
	if sv.launchType == "" {
		return "FARGATE"
	}
	return sv.launchType
}

// advance moves each scripted deployment one step along its rollout script.
func (s *Server) advance(region string, sv *service, script []string) {
	kept := sv.deps[:0]
	for _, d := range sv.deps {
		if !d.drain {
			kept = append(kept, d)
		}
	}
	sv.deps = kept
	for _, d := range sv.deps {
		if d.step < 0 || d.script == nil {
			continue
		}
		d.rollout = d.script[min(d.step, len(d.script)-1)]
		d.step++
		switch d.rollout {
		case "COMPLETED":
			// The new tasks are healthy; older deployments are drained and gone.
			d.step = -1
			if d.status == "PRIMARY" {
				sv.deps = []*deployment{d}
				return
			}
		case "FAILED":
			d.step = -1
			if d.reason == "" {
				d.reason = "ECS deployment circuit breaker: tasks failed to start."
			}
			if d.status != "PRIMARY" {
				continue
			}
			// Roll back to the last deployment that completed, as it ran.
			var last *deployment
			for _, o := range sv.deps[1:] {
				if o.rollout == "COMPLETED" {
					last = o
					break
				}
			}
			if last == nil {
				return // nothing to roll back to: the failed deployment stays PRIMARY
			}
			d.status, d.drain = "ACTIVE", true
			rollback := &deployment{id: s.deploymentID(), status: "PRIMARY", rollout: "COMPLETED", step: -1,
				taskDef: last.taskDef, images: last.images, created: s.tick(),
				reason: "ECS deployment circuit breaker: rolling back to deploymentId " + last.id + "."}
			sv.taskDef = last.taskDef
			sv.deps = []*deployment{rollback, d}
			return
		}
	}
}

func (r *request) serviceJSON(c *cluster, sv *service, status string) map[string]any {
	var list []any
	running := 0
	for _, d := range sv.deps {
		dr := 0
		if d.rollout == "COMPLETED" {
			dr = sv.desired
		}
		running += dr
		m := map[string]any{
			"id": d.id, "status": d.status, "taskDefinition": d.taskDef, "rolloutState": d.rollout,
			"desiredCount": sv.desired, "runningCount": dr, "pendingCount": 0, "failedTasks": 0,
			"createdAt": float64(d.created.Unix()), "updatedAt": float64(d.created.Unix()), "launchType": sv.launch(),
		}
		if d.rollout == "FAILED" {
			m["failedTasks"] = max(sv.desired, 1)
		}
		if d.reason != "" {
			m["rolloutStateReason"] = d.reason
		}
		list = append(list, m)
	}
	return map[string]any{
		"serviceName":    sv.name,
		"serviceArn":     r.serviceARN(c, sv.name),
		"clusterArn":     r.clusterARN(c),
		"status":         status,
		"desiredCount":   sv.desired,
		"runningCount":   min(running, sv.desired),
		"pendingCount":   0,
		"launchType":     sv.launch(),
		"taskDefinition": sv.taskDef,
		"deploymentConfiguration": map[string]any{
			"deploymentCircuitBreaker": map[string]any{"enable": true, "rollback": true},
			"maximumPercent":           200, "minimumHealthyPercent": 100,
		},
		"deployments": list,
	}
}
