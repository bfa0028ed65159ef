// Package config reads, defaults and validates stagecoach.yaml, the one file that
// describes an app: where its source lives, the stages it is released through and the
// services it runs. Everything the stacks need comes from the Config this package
// returns; constructs never read files, context or the environment themselves.
//
// The package is pure Go (no jsii), so its tests run in milliseconds.
package config

// Config is a whole stagecoach.yaml after Load: defaults applied and validated.
//
// The doc comments of these types are the reference users read: cmd/configdoc turns
// them into the key table in README.md and the descriptions in
// stagecoach.schema.json. So each one starts with the field's name followed by
// what the key does, names keys as they are written in YAML, and ends with
// "Required." or "Default: …" (behaviour, not a zero value).
type Config struct {
	// App prefixes every stack and physical resource name, e.g. "acme": lowercase
	// letters, digits and single hyphens. Required.
	App string `yaml:"app"`
	// Region is the home region: pipelines, build and release projects, ECR
	// repositories and artifact buckets live there. It must be a region where
	// CodeConnections is offered, which the pipelines' source action needs.
	// Required.
	Region string `yaml:"region"`
	// Source is the Git repository and branch every pipeline watches. Required.
	Source Source `yaml:"source"`
	// Stages lists the deployment stages in release order; every service is
	// released through all of them. Required, at least one.
	Stages []Stage `yaml:"stages"`
	// Services lists the container services built from the repository. Required,
	// at least one.
	Services []Service `yaml:"services"`
	// ExtraRegions lists region codes newer than stagecoach's list of AWS regions,
	// so region and stages[].region may name them; a home region listed here is
	// taken to offer CodeConnections too. Check the code in the AWS console first:
	// the list exists to catch typos such as us-east-9. Default: none.
	ExtraRegions []string `yaml:"extraRegions,omitempty"`
}

// Source is the repository the pipelines build from.
type Source struct {
	// Provider is the Git host: GitHub, GitLab or Bitbucket. It matters only when
	// connection is left out and the pipeline stacks create the connection.
	// Default: GitHub.
	Provider string `yaml:"provider,omitempty"`
	// Repository is owner/name on the provider, e.g. acme/shop; GitLab groups may
	// nest (group/subgroup/name). Required.
	Repository string `yaml:"repository"`
	// Branch is the branch whose pushes start the pipelines. Default: main.
	Branch string `yaml:"branch,omitempty"`
	// Connection is the ARN of an existing, approved CodeConnections (or CodeStar
	// Connections) connection. Default: each pipeline stack creates one, which
	// stays pending until approved once in the console.
	Connection string `yaml:"connection,omitempty"`
}

// Stage is one environment, e.g. dev, staging or prod.
type Stage struct {
	// Name is the stage's name and the image tag released to it; "latest" is
	// taken by the build. Required.
	Name string `yaml:"name"`
	// Approval makes the pipeline wait for a manual approval before releasing to
	// this stage. Default: false.
	Approval bool `yaml:"approval,omitempty"`
	// Region is the region the stage runs in. Default: the home region.
	Region string `yaml:"region,omitempty"`
	// Images says where the stage's services pull images from when the stage runs
	// outside the home region: "regional", a copy in the stage's region that the
	// default release.yml fills (faster starts, no cross-region transfer, no
	// dependency on the home region); or "home", the home repository across regions,
	// which a TinyStacks release.yml that only retags at home also keeps working
	// with. Ignored in the home region. Default: regional.
	Images string `yaml:"images,omitempty"`
	// Certificate is the ARN of an ACM certificate in the stage's region. With it
	// the load balancer serves HTTPS on 443 and redirects HTTP on 80 to it.
	// Default: HTTP on 80 only (synth warns about a stage with approval).
	Certificate string `yaml:"certificate,omitempty"`
	// DeletionProtection turns on the load balancer's deletion protection: deleting
	// the stage's stack (cdk destroy) then fails until it is set to false and
	// deployed. Default: true for a stage with approval, false otherwise.
	DeletionProtection *bool `yaml:"deletionProtection,omitempty"`
}

// Service is one container image built from the repository and run in every stage.
type Service struct {
	// Name is the service's name, unique in the app. Required.
	Name string `yaml:"name"`
	// Dockerfile is the path of the service's Dockerfile from the repository root;
	// the build gets it as DOCKERFILE_PATH. Default: unset, and the build uses
	// ./Dockerfile.
	Dockerfile string `yaml:"dockerfile,omitempty"`
	// Paths are glob patterns of repository files; only pushes touching one of
	// them start this service's pipeline. Default: every push starts it.
	Paths []string `yaml:"paths,omitempty"`
	// Port is the container port the load balancer sends traffic to. Default: 8000.
	Port int `yaml:"port,omitempty"`
	// HealthCheck is the HTTP path the load balancer probes. Default: /ping.
	HealthCheck string `yaml:"healthCheck,omitempty"`
	// Route sends matching requests to this service. Exactly one service per app
	// has no route: it receives every request no route matches. Default: none.
	Route *Route `yaml:"route,omitempty"`
	// CPU is the Fargate task's CPU units: 256, 512, 1024, 2048, 4096, 8192 or
	// 16384. Default: 256.
	CPU int `yaml:"cpu,omitempty"`
	// Memory is the Fargate task's memory in MiB, one that Fargate allows with
	// cpu. Default: 512.
	Memory int `yaml:"memory,omitempty"`
	// Scale bounds the task count and sets the CPU target of autoscaling.
	// Default: 1 to 2 tasks at 70% CPU.
	Scale *Scale `yaml:"scale,omitempty"`
	// Rollout tunes how fast a new version replaces the old one. Default: about a
	// minute for a service that starts quickly (see Rollout).
	Rollout *Rollout `yaml:"rollout,omitempty"`
	// Env are runtime environment variables for every stage. Default: none.
	Env map[string]string `yaml:"env,omitempty"`
	// Secrets are runtime variables read at task start from Secrets Manager (a
	// secret ARN, optionally with :json-key:version-stage:version-id) or SSM
	// Parameter Store (a parameter name starting with "/", or its ARN), for
	// every stage unless secretStages limits one. A parameter name is read in the
	// region each stage runs in, so it must exist there; name another region's
	// parameter by its ARN. Default: none.
	Secrets map[string]string `yaml:"secrets,omitempty"`
	// SecretStages limits secrets to stages: a secret name from secrets, mapped
	// to the stages whose tasks get it, e.g. DB_PASSWORD: [prod]. Only those
	// stages' tasks may read it. Default: every secret reaches every stage.
	SecretStages map[string][]string `yaml:"secretStages,omitempty"`
	// SecretKeys are the ARNs of customer managed KMS keys that encrypt this
	// service's secrets. Each gets kms:Decrypt, only through Secrets Manager or SSM
	// in the key's region, for the task execution role of every stage that reads
	// a secret and for the build when it has secrets. Not needed for the AWS
	// managed keys. Default: none.
	SecretKeys []string `yaml:"secretKeys,omitempty"`
	// Build configures the build project that runs build.yml once per push.
	// Default: the built-in build.yml, no variables.
	Build Build `yaml:"build,omitempty"`
	// Release configures the release projects that run release.yml once per
	// stage. Default: the built-in release.yml, no extra variables.
	Release Release `yaml:"release,omitempty"`
	// Stages holds overrides for single stages, keyed by stage name. Default: none.
	Stages map[string]StageOverride `yaml:"stages,omitempty"`

	// Defaulted lists the keys among port and healthCheck that the file left out and
	// ApplyDefaults filled, so synth can say which values nobody chose. Not a key of
	// the file.
	Defaulted []string `yaml:"-" json:"-"`
}

// Route is how the shared load balancer picks a service that is not the default one.
type Route struct {
	// Paths are path patterns, e.g. "/api/*". Default: any path.
	Paths []string `yaml:"paths,omitempty"`
	// Hosts are host header patterns, e.g. api.example.com. Default: any host.
	Hosts []string `yaml:"hosts,omitempty"`
	// Priority orders the load balancer's rules; 1 is evaluated first.
	// Default: 10 × the service's position in services.
	Priority int `yaml:"priority,omitempty"`
}

// Rollout holds the settings that decide how long a deployment takes. Each one
// left out keeps its default; the defaults roll a healthy service out in about a
// minute, where ECS and load balancer defaults take about eight.
type Rollout struct {
	// HealthCheckInterval is the seconds between load balancer health checks (5
	// to 300). The load balancer default is 30. Default: 5.
	HealthCheckInterval int `yaml:"healthCheckInterval,omitempty"`
	// HealthyThreshold is how many passing checks make a new task healthy (2 to
	// 10). The load balancer default is 5. Default: 2.
	HealthyThreshold int `yaml:"healthyThreshold,omitempty"`
	// UnhealthyThreshold is how many failing checks make a task unhealthy (2 to
	// 10). Default: 3.
	UnhealthyThreshold int `yaml:"unhealthyThreshold,omitempty"`
	// DeregistrationDelay is the seconds an old task keeps serving requests in
	// flight before it stops (1 to 3600). The load balancer default is 300.
	// Default: 15.
	DeregistrationDelay int `yaml:"deregistrationDelay,omitempty"`
	// GracePeriod is the seconds ECS ignores failing health checks of a new task,
	// for slow starters (1 to 7200). Default: 30.
	GracePeriod int `yaml:"gracePeriod,omitempty"`
	// StopTimeout is the seconds a container gets between SIGTERM and SIGKILL (2
	// to 120). The ECS default is 30. Default: 10.
	StopTimeout int `yaml:"stopTimeout,omitempty"`
	// MinHealthyPercent is the share of tasks that keeps serving during a rollout
	// (1 to 100). Default: 100.
	MinHealthyPercent int `yaml:"minHealthyPercent,omitempty"`
	// MaxPercent is the task count a rollout may reach, in percent of the desired
	// count (101 to 200): 200 starts every new task at once. Default: 200.
	MaxPercent int `yaml:"maxPercent,omitempty"`
}

// Scale is the autoscaling range and target of a service.
type Scale struct {
	// Min is the lowest task count. Default: 1.
	Min int `yaml:"min,omitempty"`
	// Max is the highest task count. Default: 2, or min if that is larger.
	Max int `yaml:"max,omitempty"`
	// CPUTarget is the average CPU utilisation, in percent, that scaling aims
	// for. Default: 70.
	CPUTarget int `yaml:"cpuTarget,omitempty"`
}

// Build configures the build of a service image.
type Build struct {
	// Buildspec is the path of a build.yml in the repository. Default: the
	// built-in build.yml, inline.
	Buildspec string `yaml:"buildspec,omitempty"`
	// Env are build environment variables. Default: none.
	Env map[string]string `yaml:"env,omitempty"`
	// Secrets are build variables read from Secrets Manager or SSM Parameter
	// Store, written as in the service's secrets; builds read parameters in the
	// home region, so a parameter ARN must name one there. The default build.yml
	// logs in to Docker Hub when
	// DOCKERHUB_USERNAME and DOCKERHUB_TOKEN are set here. Default: none.
	Secrets map[string]string `yaml:"secrets,omitempty"`
}

// Release configures the release of a service to each stage.
type Release struct {
	// Buildspec is the path of a release.yml in the repository. Default: the
	// built-in release.yml, inline.
	Buildspec string `yaml:"buildspec,omitempty"`
	// Env are extra release environment variables. Default: none.
	Env map[string]string `yaml:"env,omitempty"`
}

// StageOverride changes a service's settings in one stage. Maps are merged over the
// service's own (a key here wins); other fields replace the service's value when set.
type StageOverride struct {
	// Env adds or replaces runtime variables in this stage. Default: none.
	Env map[string]string `yaml:"env,omitempty"`
	// Secrets adds or replaces runtime secrets in this stage only; a parameter
	// name is read in the stage's region. Default: none.
	Secrets map[string]string `yaml:"secrets,omitempty"`
	// Scale replaces the service's scaling in this stage; keys left out keep the
	// service's values. Default: the service's scale.
	Scale *Scale `yaml:"scale,omitempty"`
	// CPU replaces the service's cpu in this stage. Default: the service's cpu.
	CPU int `yaml:"cpu,omitempty"`
	// Memory replaces the service's memory in this stage. Default: the service's
	// memory.
	Memory int `yaml:"memory,omitempty"`
}
