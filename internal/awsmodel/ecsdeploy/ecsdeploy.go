// Package ecsdeploy models what CloudFormation, ECS and Application Auto Scaling do to
// a stage's ECS services across stack creates, stack updates, releases and scaling:
// the part of a deployment no template snapshot shows. Stacks are applied from their
// synthesized templates, and the Lambda functions those templates carry inline (the
// DesiredCount custom resource) run as the real code, under Node (see Node).
//
// The rules, in our own words, and the documents they come from:
//
//   - CloudFormation User Guide, "Update behaviors of stack resources" and "Custom
//     resources": resources are processed in dependency order (Ref, Fn::GetAtt,
//     DependsOn). A resource is updated only when its resolved properties differ from
//     the last deployment's; an unchanged custom resource is not invoked and keeps the
//     attributes of its last answer. A custom resource is invoked with Create when it
//     is new and with Update (and its old properties) when its properties change; a
//     FAILED answer fails the stack operation, which then rolls back.
//   - AWS::ECS::Service (CloudFormation Template Reference): DesiredCount omitted on
//     create means 1, omitted on update means "keep the current count". CloudFormation
//     waits for the service to be stable after creating or updating it. ECS Developer
//     Guide, "deployment circuit breaker": tasks whose image cannot be pulled never
//     become healthy; with the circuit breaker on, the deployment fails, and so does the
//     stack operation (it rolls back). A service at desired count 0 is stable at once.
//   - AWS::ECS::TaskDefinition: a task definition is replaced (a new revision, a new
//     ARN) on any property change, so everything that refers to it changes too.
//   - Application Auto Scaling API Reference, "RegisterScalableTarget": registering or
//     updating a scalable target moves the service's current capacity into [min, max]
//     at once when the service is active; parameters left out of an update do not
//     change. Scaling policies only move capacity within [min, max].
//   - ECS Developer Guide, "Amazon ECS service deployment state change events": every
//     deployment that starts (by CloudFormation or by UpdateService, forced or not)
//     sends SERVICE_DEPLOYMENT_IN_PROGRESS to EventBridge in the service's region;
//     rules matching it invoke their targets (here: at once, in order).
//
// Not modelled: task placement and health checks beyond "the image exists" (an image
// that exists is taken to run healthy), deployment timing, CloudFormation's
// stabilisation timeout, resources other than services, scalable targets, custom
// resources, task definitions, clusters and EventBridge rules (they are applied
// without effect), deleting stacks or resources, and the account's other regions'
// events.
package ecsdeploy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Account is the model's world: one AWS account's images, ECS services and the
// stacks deployed into it.
type Account struct {
	// ID is the account number pseudo parameters resolve to. Default 111111111111.
	ID string
	// Images are the image references that exist, as REGION/REPOSITORY:TAG.
	Images map[string]bool
	// Services are the ECS services by CLUSTER/SERVICE (one region per cluster name).
	Services map[string]*Service
	// Lambda runs a function's inline code on an event; see Node.
	Lambda Lambda
	// Log records what happened, one line per step, for failure messages.
	Log []string

	stacks map[string]*stack
}

// Service is the live state of one ECS service.
type Service struct {
	Region, Cluster, Name string
	// Desired is the desired count; Running the tasks running healthy.
	Desired, Running int
	// Image is what the service's current task definition pulls (REGION/REPO:TAG).
	Image string
	// Target is the registered scalable target, nil before registration.
	Target *Target
	// Deployments counts the deployments started on the service.
	Deployments int
}

// Target is a scalable target's registered range.
type Target struct{ Min, Max int }

// Lambda runs the inline source of a function on event, with the account's APIs, and
// returns the function's result (a custom resource's response is in Calls).
type Lambda func(source string, event map[string]any, api *API) error

// API is the account as a function sees it: reads answer from the model, writes go
// through the model's rules.
type API struct {
	a      *Account
	region string
	// Response is the body a custom resource function sent to CloudFormation.
	Response map[string]any
}

// Service reads a service in the function's region; ok is false when there is none.
func (p *API) Service(cluster, name string) (desired, running int, ok bool) {
	s := p.a.Services[cluster+"/"+name]
	if s == nil || s.Region != p.region {
		return 0, 0, false
	}
	return s.Desired, s.Running, true
}

// TagExists reports whether repository in region has tag.
func (p *API) TagExists(region, repository, tag string) bool {
	return p.a.Images[region+"/"+repository+":"+tag]
}

// RegisterScalableTarget updates the scalable target of a service in the function's
// region; a nil bound is left as it is.
func (p *API) RegisterScalableTarget(cluster, name string, min, max *int) error {
	s := p.a.Services[cluster+"/"+name]
	if s == nil || s.Region != p.region {
		return fmt.Errorf("ObjectNotFoundException: no service %s/%s", cluster, name)
	}
	t := Target{}
	if s.Target != nil {
		t = *s.Target
	} else if min == nil || max == nil {
		return fmt.Errorf("ValidationException: a new scalable target needs MinCapacity and MaxCapacity")
	}
	if min != nil {
		t.Min = *min
	}
	if max != nil {
		t.Max = *max
	}
	p.a.register(s, t, "a function")
	return nil
}

// NewAccount returns an empty account whose functions run with lambda.
func NewAccount(lambda Lambda) *Account {
	return &Account{ID: "111111111111", Images: map[string]bool{}, Services: map[string]*Service{}, Lambda: lambda, stacks: map[string]*stack{}}
}

// Push makes REGION/REPOSITORY:TAG exist, as a build or a release does.
func (a *Account) Push(region, repository, tag string) {
	a.Images[region+"/"+repository+":"+tag] = true
	a.logf("push %s/%s:%s", region, repository, tag)
	a.settle()
}

// ForceNewDeployment is `aws ecs update-service --force-new-deployment`, what every
// release.yml does after moving the stage tag: a new deployment at the current count.
func (a *Account) ForceNewDeployment(cluster, name string) error {
	s := a.Services[cluster+"/"+name]
	if s == nil {
		return fmt.Errorf("ServiceNotFoundException: %s/%s", cluster, name)
	}
	a.logf("update-service --force-new-deployment %s/%s (desired %d)", cluster, name, s.Desired)
	return a.deploy(s)
}

// Scale is a scaling policy asking for n tasks: capacity moves to n within [min, max].
func (a *Account) Scale(cluster, name string, n int) {
	s := a.Services[cluster+"/"+name]
	if s == nil || s.Target == nil {
		return
	}
	s.Desired = clamp(n, s.Target.Min, s.Target.Max)
	a.logf("scaling policy: %s desired %d", name, s.Desired)
	a.settle()
}

// Service returns the live service CLUSTER/NAME, nil when there is none.
func (a *Account) Service(cluster, name string) *Service { return a.Services[cluster+"/"+name] }

// settle starts the tasks that can start: those whose image exists.
func (a *Account) settle() {
	for _, s := range a.Services {
		s.Running = 0
		if a.Images[s.Image] {
			s.Running = s.Desired
		}
	}
}

func (a *Account) logf(format string, args ...any) {
	a.Log = append(a.Log, fmt.Sprintf(format, args...))
}

// WaitError is a stack operation failing because CloudFormation waited on a service
// whose tasks could not start.
type WaitError struct {
	Stack, Service, Image string
	Desired               int
}

func (e *WaitError) Error() string {
	return fmt.Sprintf("%s: CloudFormation waited for %s to run %d task(s) of %s, which does not exist: the circuit breaker failed the deployment and the stack rolled back",
		e.Stack, e.Service, e.Desired, e.Image)
}

// register applies RegisterScalableTarget's rule: the range is stored and, the
// service being active, its capacity moves into it at once.
func (a *Account) register(s *Service, t Target, by string) {
	s.Target = &t
	before := s.Desired
	s.Desired = clamp(s.Desired, t.Min, t.Max)
	a.logf("RegisterScalableTarget %s [%d, %d] by %s: desired %d -> %d", s.Name, t.Min, t.Max, by, before, s.Desired)
	a.settle()
}

// deploy starts a deployment of s and sends its event to the matching rules.
func (a *Account) deploy(s *Service) error {
	s.Deployments++
	a.settle()
	return a.event(s)
}

// stable reports whether a deployment of s finishes: no tasks to run, or an image to
// run them from.
func (a *Account) stable(s *Service) bool { return s.Desired == 0 || a.Images[s.Image] }

func clamp(n, lo, hi int) int {
	if n < lo {
		return lo
	}
	if n > hi {
		return hi
	}
	return n
}

// ServiceARN is the ARN of a service, as EventBridge events carry it.
func (a *Account) ServiceARN(s *Service) string {
	return "arn:aws:ecs:" + s.Region + ":" + a.ID + ":service/" + s.Cluster + "/" + s.Name
}

// ---------------------------------------------------------------------------------
// CloudFormation

// stack is what CloudFormation remembers of a deployed stack.
type stack struct {
	name, region string
	template     map[string]any
	props        map[string]string         // logical ID → resolved properties (canonical JSON)
	physical     map[string]string         // logical ID → physical ID (Ref)
	data         map[string]map[string]any // custom resource → its last answer's Data
	rules        []rule
}

type rule struct {
	services []string // service ARNs the pattern matches
	function string   // logical ID of the target function
	input    map[string]any
}

// Deploy creates or updates stack name in region from template, the way CloudFormation
// does, and returns the error that fails the operation, after which the stack and the
// services it touched are as they were before (a rollback).
func (a *Account) Deploy(name, region string, template map[string]any) error {
	saved := a.snapshot()
	old := a.stacks[name]
	st := &stack{name: name, region: region, template: template,
		props: map[string]string{}, physical: map[string]string{}, data: map[string]map[string]any{}}
	resources := resourcesOf(template)
	order, err := topo(resources)
	if err != nil {
		return err
	}
	if old == nil {
		a.logf("create stack %s", name)
	} else {
		a.logf("update stack %s", name)
	}
	var failure error
	for _, id := range order {
		res := resources[id]
		typ, _ := res["Type"].(string)
		rawProps, _ := res["Properties"].(map[string]any)
		resolved := st.resolve(a, resources, rawProps)
		canon := canonical(resolved)
		st.props[id] = canon
		st.physical[id] = physicalID(id, typ, rawProps, canon)
		isNew := old == nil || old.props[id] == ""
		changed := isNew || old.props[id] != canon
		if !isNew {
			st.data[id] = old.data[id]
		}
		if !changed {
			continue
		}
		if failure = a.apply(st, id, typ, resources, resolved, isNew, old); failure != nil {
			break
		}
	}
	if failure == nil {
		st.rules = a.rulesOf(st, resources)
		a.stacks[name] = st
		return nil
	}
	a.restore(saved)
	a.logf("stack %s rolled back: %v", name, failure)
	return failure
}

// apply creates or updates one resource.
func (a *Account) apply(st *stack, id, typ string, resources map[string]map[string]any, props map[string]any, isNew bool, old *stack) error {
	switch {
	case strings.HasPrefix(typ, "Custom::") || typ == "AWS::CloudFormation::CustomResource":
		fn := refTarget(resources[id]["Properties"].(map[string]any)["ServiceToken"])
		source := inlineSource(resources[fn])
		if source == "" {
			return nil // not one of ours: not modelled
		}
		event := map[string]any{
			"RequestType": "Create", "ResponseURL": "https://cloudformation.invalid/response",
			"StackId": st.name, "RequestId": id + "-request", "LogicalResourceId": id,
			"ResourceType": typ, "ResourceProperties": props,
		}
		if !isNew {
			event["RequestType"] = "Update"
			var oldProps map[string]any
			_ = json.Unmarshal([]byte(old.props[id]), &oldProps)
			event["OldResourceProperties"] = oldProps
		}
		api := &API{a: a, region: st.region}
		if err := a.Lambda(source, event, api); err != nil {
			return fmt.Errorf("%s: %s: %v", st.name, id, err)
		}
		if api.Response == nil {
			return fmt.Errorf("%s: %s: the function sent CloudFormation no response", st.name, id)
		}
		if api.Response["Status"] != "SUCCESS" {
			return fmt.Errorf("%s: %s: %v", st.name, id, api.Response["Reason"])
		}
		data, _ := api.Response["Data"].(map[string]any)
		st.data[id] = data
		a.logf("%s %s answered %v", event["RequestType"], id, data)
	case typ == "AWS::ECS::Service":
		cluster, _ := props["Cluster"].(string)
		name, _ := props["ServiceName"].(string)
		key := cluster + "/" + name
		s := a.Services[key]
		count, hasCount := number(props["DesiredCount"])
		if isNew || s == nil {
			s = &Service{Region: st.region, Cluster: cluster, Name: name, Desired: 1}
			a.Services[key] = s
		}
		if hasCount {
			s.Desired = count
		}
		s.Image = imageOf(st, resources, props)
		a.logf("%s service %s: desired %d, image %s", map[bool]string{true: "create", false: "update"}[isNew], name, s.Desired, s.Image)
		if err := a.deploy(s); err != nil {
			return err
		}
		if !a.stable(s) {
			return &WaitError{Stack: st.name, Service: name, Image: s.Image, Desired: s.Desired}
		}
	case typ == "AWS::ApplicationAutoScaling::ScalableTarget":
		rid, _ := props["ResourceId"].(string)
		s := a.Services[strings.TrimPrefix(rid, "service/")]
		lo, _ := number(props["MinCapacity"])
		hi, _ := number(props["MaxCapacity"])
		if s != nil {
			a.register(s, Target{Min: lo, Max: hi}, "CloudFormation")
		}
	}
	return nil
}

// rulesOf reads the stack's EventBridge rules that send ECS deployment events of
// named services to an inline function.
func (a *Account) rulesOf(st *stack, resources map[string]map[string]any) []rule {
	var out []rule
	for _, id := range sortedKeys(resources) {
		res := resources[id]
		if res["Type"] != "AWS::Events::Rule" {
			continue
		}
		var props map[string]any
		_ = json.Unmarshal([]byte(st.props[id]), &props)
		pattern, _ := props["EventPattern"].(map[string]any)
		if !contains(pattern["detail-type"], "ECS Deployment State Change") {
			continue
		}
		detail, _ := pattern["detail"].(map[string]any)
		if !contains(detail["eventName"], "SERVICE_DEPLOYMENT_IN_PROGRESS") {
			continue
		}
		var arns []string
		if list, ok := pattern["resources"].([]any); ok {
			for _, r := range list {
				if s, ok := r.(string); ok {
					arns = append(arns, s)
				}
			}
		}
		targets, _ := res["Properties"].(map[string]any)["Targets"].([]any)
		for _, t := range targets {
			tm, _ := t.(map[string]any)
			fn := refTarget(tm["Arn"])
			var input map[string]any
			if s, ok := tm["Input"].(string); ok {
				_ = json.Unmarshal([]byte(s), &input)
			}
			if inlineSource(resources[fn]) != "" {
				out = append(out, rule{services: arns, function: fn, input: input})
			}
		}
	}
	return out
}

// event delivers a deployment's SERVICE_DEPLOYMENT_IN_PROGRESS to the rules of every
// stack in the service's region.
func (a *Account) event(s *Service) error {
	arn := a.ServiceARN(s)
	for _, name := range sortedKeys(a.stacks) {
		st := a.stacks[name]
		if st.region != s.Region {
			continue
		}
		for _, r := range st.rules {
			if !contains(toAny(r.services), arn) {
				continue
			}
			event := r.input
			if event == nil {
				event = map[string]any{"source": "aws.ecs", "detail-type": "ECS Deployment State Change",
					"resources": []any{arn}, "detail": map[string]any{"eventName": "SERVICE_DEPLOYMENT_IN_PROGRESS"}}
			}
			a.logf("event SERVICE_DEPLOYMENT_IN_PROGRESS %s -> %s", s.Name, r.function)
			api := &API{a: a, region: st.region}
			if err := a.Lambda(inlineSource(resourcesOf(st.template)[r.function]), event, api); err != nil {
				// An asynchronous invocation: its failure fails nothing else.
				a.logf("%s failed: %v", r.function, err)
			}
		}
	}
	return nil
}

// ---------------------------------------------------------------------------------
// template reading

func resourcesOf(template map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	rs, _ := template["Resources"].(map[string]any)
	for id, r := range rs {
		if m, ok := r.(map[string]any); ok {
			out[id] = m
		}
	}
	return out
}

// topo orders resources so that each comes after those it refers to.
func topo(resources map[string]map[string]any) ([]string, error) {
	deps := map[string][]string{}
	for id, r := range resources {
		seen := map[string]bool{}
		refs(r["Properties"], seen)
		switch d := r["DependsOn"].(type) {
		case string:
			seen[d] = true
		case []any:
			for _, x := range d {
				if s, ok := x.(string); ok {
					seen[s] = true
				}
			}
		}
		for x := range seen {
			if _, ok := resources[x]; ok {
				deps[id] = append(deps[id], x)
			}
		}
	}
	var order []string
	state := map[string]int{}
	var visit func(id string) error
	visit = func(id string) error {
		switch state[id] {
		case 1:
			return fmt.Errorf("circular dependency at %s", id)
		case 2:
			return nil
		}
		state[id] = 1
		sort.Strings(deps[id])
		for _, d := range deps[id] {
			if err := visit(d); err != nil {
				return err
			}
		}
		state[id] = 2
		order = append(order, id)
		return nil
	}
	for _, id := range sortedKeys(resources) {
		if err := visit(id); err != nil {
			return nil, err
		}
	}
	return order, nil
}

func refs(v any, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		if r, ok := x["Ref"].(string); ok {
			out[r] = true
		}
		if g, ok := x["Fn::GetAtt"].([]any); ok && len(g) > 0 {
			if s, ok := g[0].(string); ok {
				out[s] = true
			}
		}
		for _, y := range x {
			refs(y, out)
		}
	case []any:
		for _, y := range x {
			refs(y, out)
		}
	}
}

// resolve evaluates the intrinsic functions the model needs: Ref (pseudo parameters,
// physical IDs), Fn::GetAtt (custom resource answers, names), Fn::Join; anything else
// is kept as written, which is enough to tell whether it changed.
func (st *stack) resolve(a *Account, resources map[string]map[string]any, v any) map[string]any {
	out, _ := st.value(a, resources, v).(map[string]any)
	return out
}

func (st *stack) value(a *Account, resources map[string]map[string]any, v any) any {
	switch x := v.(type) {
	case map[string]any:
		if r, ok := x["Ref"].(string); ok && len(x) == 1 {
			switch r {
			case "AWS::AccountId":
				return a.ID
			case "AWS::Region":
				return st.region
			case "AWS::Partition":
				return "aws"
			case "AWS::URLSuffix":
				return "amazonaws.com"
			}
			if p, ok := st.physical[r]; ok {
				return p
			}
			return "ref:" + r
		}
		if g, ok := x["Fn::GetAtt"].([]any); ok && len(g) == 2 && len(x) == 1 {
			id, _ := g[0].(string)
			attr, _ := g[1].(string)
			if d, ok := st.data[id]; ok && d != nil {
				if val, ok := d[attr]; ok {
					return val
				}
			}
			if res := resources[id]; res != nil && res["Type"] == "AWS::ECS::Service" && attr == "Name" {
				return st.value(a, resources, res["Properties"].(map[string]any)["ServiceName"])
			}
			return "getatt:" + id + "." + attr + "@" + st.physical[id]
		}
		if j, ok := x["Fn::Join"].([]any); ok && len(j) == 2 && len(x) == 1 {
			sep, _ := j[0].(string)
			list, _ := st.value(a, resources, j[1]).([]any)
			parts := make([]string, len(list))
			for i, p := range list {
				if s, ok := p.(string); ok {
					parts[i] = s
				} else {
					parts[i] = canonical(p)
				}
			}
			return strings.Join(parts, sep)
		}
		out := map[string]any{}
		for k, y := range x {
			out[k] = st.value(a, resources, y)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, y := range x {
			out[i] = st.value(a, resources, y)
		}
		return out
	}
	return v
}

// physicalID is what Ref returns: the name for named resources, a fresh ARN for a
// task definition (every change is a new revision), the logical ID otherwise.
func physicalID(id, typ string, raw map[string]any, canon string) string {
	switch typ {
	case "AWS::ECS::Cluster":
		if n, ok := raw["ClusterName"].(string); ok {
			return n
		}
	case "AWS::ECS::TaskDefinition":
		sum := sha256.Sum256([]byte(canon))
		return "taskdef/" + id + ":" + hex.EncodeToString(sum[:4])
	}
	return id
}

var imageRef = regexp.MustCompile(`^\d+\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/(.+):([^:/]+)$`)

// imageOf is the ECR image (REGION/REPO:TAG) the service's task definition pulls.
func imageOf(st *stack, resources map[string]map[string]any, props map[string]any) string {
	td, _ := props["TaskDefinition"].(string)
	for id, p := range st.physical {
		if p != td || resources[id]["Type"] != "AWS::ECS::TaskDefinition" {
			continue
		}
		var tprops map[string]any
		_ = json.Unmarshal([]byte(st.props[id]), &tprops)
		defs, _ := tprops["ContainerDefinitions"].([]any)
		for _, d := range defs {
			img, _ := d.(map[string]any)["Image"].(string)
			if m := imageRef.FindStringSubmatch(img); m != nil {
				return m[1] + "/" + m[2] + ":" + m[3]
			}
			return img
		}
	}
	return ""
}

func refTarget(v any) string {
	m, _ := v.(map[string]any)
	if g, ok := m["Fn::GetAtt"].([]any); ok && len(g) == 2 {
		s, _ := g[0].(string)
		return s
	}
	if r, ok := m["Ref"].(string); ok {
		return r
	}
	return ""
}

// inlineSource is the ZipFile code of an AWS::Lambda::Function, "" for any other.
func inlineSource(res map[string]any) string {
	if res == nil || res["Type"] != "AWS::Lambda::Function" {
		return ""
	}
	code, _ := res["Properties"].(map[string]any)["Code"].(map[string]any)
	s, _ := code["ZipFile"].(string)
	return s
}

func number(v any) (int, bool) {
	switch x := v.(type) {
	case float64:
		return int(x), true
	case string:
		var n int
		if _, err := fmt.Sscan(x, &n); err == nil {
			return n, true
		}
	}
	return 0, false
}

func contains(list any, s string) bool {
	l, _ := list.([]any)
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func toAny(l []string) []any {
	out := make([]any, len(l))
	for i, s := range l {
		out[i] = s
	}
	return out
}

func canonical(v any) string {
	b, _ := json.Marshal(v) // map keys marshal sorted
	return string(b)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// snapshot and restore implement a rollback: the services and stacks as they were.
type saved struct {
	services map[string]Service
	targets  map[string]*Target
	stacks   map[string]*stack
}

func (a *Account) snapshot() saved {
	s := saved{services: map[string]Service{}, targets: map[string]*Target{}, stacks: map[string]*stack{}}
	for k, v := range a.Services {
		s.services[k] = *v
		if v.Target != nil {
			t := *v.Target
			s.targets[k] = &t
		}
	}
	for k, v := range a.stacks {
		s.stacks[k] = v
	}
	return s
}

func (a *Account) restore(s saved) {
	a.Services = map[string]*Service{}
	for k, v := range s.services {
		v := v
		v.Target = s.targets[k]
		a.Services[k] = &v
	}
	a.stacks = s.stacks
	a.settle()
}
