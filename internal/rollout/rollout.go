// Package rollout models how long an ECS service behind an ALB takes to replace its
// tasks, from the settings in a synthesized template. It is a model, not a
// measurement: it adds up the waits ECS and the load balancer impose on a healthy
// service, so the effect of each setting is visible and comparable with the defaults.
package rollout

import (
	"fmt"
	"math"
	"sort"
)

// TaskStartSeconds is the time assumed for a Fargate task to be placed, pull its image
// and start listening. It is the same for every setting compared here.
const TaskStartSeconds = 30

// Settings are the inputs of the model.
type Settings struct {
	// HealthCheckInterval and HealthyThreshold: a new target is healthy after
	// interval × threshold seconds of passing checks.
	HealthCheckInterval, HealthyThreshold int
	// DeregistrationDelay is how long an old target drains.
	DeregistrationDelay int
	// StopTimeout is the worst case between SIGTERM and the container's exit.
	StopTimeout int
	// MinHealthyPercent and MaxPercent decide how many tasks change per wave.
	MinHealthyPercent, MaxPercent int
}

// Defaults are ECS's and the ALB's defaults when a template leaves a setting out.
var Defaults = Settings{
	HealthCheckInterval: 30, HealthyThreshold: 5, DeregistrationDelay: 300,
	StopTimeout: 30, MinHealthyPercent: 100, MaxPercent: 200,
}

// Waves is how many rounds of replacement a rollout needs: with room for 100% extra
// tasks, one; with less, several.
func (s Settings) Waves() int {
	room := s.MaxPercent - s.MinHealthyPercent
	if room <= 0 {
		return 0 // cannot roll out at all
	}
	return int(math.Ceil(100 / float64(room)))
}

// Seconds is the modelled minimum rollout time of a healthy service.
func (s Settings) Seconds() int {
	wave := TaskStartSeconds + s.HealthCheckInterval*s.HealthyThreshold + s.DeregistrationDelay + s.StopTimeout
	return wave * s.Waves()
}

// Service is one ECS service found in a template.
type Service struct {
	Stack, Name string
	Settings    Settings
}

// FromTemplate reads every ECS service of a template with its target group and task
// definition; settings a template leaves out take their defaults.
func FromTemplate(stack string, tmpl map[string]any) ([]Service, error) {
	res, _ := tmpl["Resources"].(map[string]any)
	props := func(id string) map[string]any {
		r, _ := res[id].(map[string]any)
		p, _ := r["Properties"].(map[string]any)
		return p
	}
	var out []Service
	for id, r := range res {
		if r.(map[string]any)["Type"] != "AWS::ECS::Service" {
			continue
		}
		svc := props(id)
		s := Defaults
		name, _ := svc["ServiceName"].(string)
		if name == "" {
			name = id
		}
		if dc, ok := svc["DeploymentConfiguration"].(map[string]any); ok {
			setInt(&s.MinHealthyPercent, dc["MinimumHealthyPercent"])
			setInt(&s.MaxPercent, dc["MaximumPercent"])
		}
		lbs, _ := svc["LoadBalancers"].([]any)
		if len(lbs) != 1 {
			return nil, fmt.Errorf("%s/%s: %d load balancers, the model handles one", stack, id, len(lbs))
		}
		tg := props(ref(lbs[0].(map[string]any)["TargetGroupArn"]))
		if tg == nil {
			return nil, fmt.Errorf("%s/%s: target group not in this template", stack, id)
		}
		setInt(&s.HealthCheckInterval, tg["HealthCheckIntervalSeconds"])
		setInt(&s.HealthyThreshold, tg["HealthyThresholdCount"])
		attrs, _ := tg["TargetGroupAttributes"].([]any)
		for _, a := range attrs {
			if m := a.(map[string]any); m["Key"] == "deregistration_delay.timeout_seconds" {
				setInt(&s.DeregistrationDelay, m["Value"])
			}
		}
		if td := props(ref(svc["TaskDefinition"])); td != nil {
			defs, _ := td["ContainerDefinitions"].([]any)
			for _, d := range defs {
				setInt(&s.StopTimeout, d.(map[string]any)["StopTimeout"])
			}
		}
		out = append(out, Service{Stack: stack, Name: name, Settings: s})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func ref(v any) string {
	m, _ := v.(map[string]any)
	s, _ := m["Ref"].(string)
	return s
}

// setInt sets *dst from a template number or numeric string; other values keep it.
func setInt(dst *int, v any) {
	switch x := v.(type) {
	case float64:
		*dst = int(x)
	case string:
		var n int
		if _, err := fmt.Sscan(x, &n); err == nil {
			*dst = n
		}
	}
}
