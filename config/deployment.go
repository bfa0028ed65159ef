package config

import (
	"slices"

	"github.com/stagecoach/stagecoach/internal/contract"
)

// Default values applied by Load where the file leaves a field out.
const (
	DefaultProvider    = "GitHub"
	DefaultBranch      = "main"
	DefaultPort        = 8000
	DefaultHealthCheck = "/ping"
	DefaultCPU         = 256
	DefaultMemory      = 512
	DefaultScaleMin    = 1
	DefaultScaleMax    = 2
	DefaultCPUTarget   = 70
	// DefaultImages is where stages outside the home region pull images from.
	DefaultImages = ImagesRegional
)

// Values of Stage.Images.
const (
	ImagesRegional = "regional"
	ImagesHome     = "home"
)

// DefaultRollout is the rollout of a service whose config sets none.
var DefaultRollout = Rollout{
	HealthCheckInterval: 5, HealthyThreshold: 2, UnhealthyThreshold: 3,
	DeregistrationDelay: 15, GracePeriod: 30, StopTimeout: 10,
	MinHealthyPercent: 100, MaxPercent: 200,
}

// PullsRegionally reports whether stage i's services pull from a repository in the
// stage's own region.
func (c *Config) PullsRegionally(i int) bool {
	return c.StageRegion(i) != c.Region && c.Stages[i].Images != ImagesHome
}

// ImageRegion is the region of the repository stage i's services pull from: the
// stage's own when it pulls regionally, the home region otherwise.
func (c *Config) ImageRegion(i int) string {
	if c.PullsRegionally(i) {
		return c.StageRegion(i)
	}
	return c.Region
}

// StageRegion is the region stage i runs in.
func (c *Config) StageRegion(i int) string {
	if r := c.Stages[i].Region; r != "" {
		return r
	}
	return c.Region
}

// PreviousStage is the tag stage i releases from: the stage before it, or
// contract.LatestTag for the first stage.
func (c *Config) PreviousStage(i int) string {
	if i == 0 {
		return contract.LatestTag
	}
	return c.Stages[i-1].Name
}

// Deployment is one service in one stage with the stage's overrides applied.
type Deployment struct {
	// Service is the service as configured (shared, do not modify).
	Service *Service
	// Stage is the stage as configured.
	Stage Stage
	// Region is the region the stage runs in.
	Region string
	// CPU and Memory size the Fargate task.
	CPU, Memory int
	// Scale is the autoscaling range and target.
	Scale Scale
	// Env and Secrets are the runtime variables, overrides merged in (fresh maps).
	// Secrets holds the service's secrets that secretStages lets this stage read,
	// and the stage's own.
	Env, Secrets map[string]string
}

// Deployment resolves service s in stage i. Load has applied defaults, so every
// field is set.
func (c *Config) Deployment(s, i int) Deployment {
	svc := &c.Services[s]
	st := c.Stages[i]
	d := Deployment{
		Service: svc,
		Stage:   st,
		Region:  c.StageRegion(i),
		CPU:     svc.CPU,
		Memory:  svc.Memory,
		Env:     merge(svc.Env, nil),
		Secrets: map[string]string{},
	}
	for name, ref := range svc.Secrets {
		if stages, scoped := svc.SecretStages[name]; !scoped || slices.Contains(stages, st.Name) {
			d.Secrets[name] = ref
		}
	}
	if svc.Scale != nil {
		d.Scale = *svc.Scale
	}
	if o, ok := svc.Stages[st.Name]; ok {
		if o.CPU != 0 {
			d.CPU = o.CPU
		}
		if o.Memory != 0 {
			d.Memory = o.Memory
		}
		if o.Scale != nil {
			d.Scale = *o.Scale
		}
		d.Env = merge(d.Env, o.Env)
		d.Secrets = merge(d.Secrets, o.Secrets)
	}
	return d
}

// merge returns a new map holding base with over's keys on top.
func merge(base, over map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}
