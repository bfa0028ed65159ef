package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stagecoach/stagecoach/internal/contract"
)

// valid is a correct config built in Go: three stages, a default service and a
// routed one.
func valid() *Config {
	return &Config{
		App:    "acme",
		Region: "us-east-1",
		Source: Source{Repository: "acme/shop"},
		Stages: []Stage{{Name: "dev"}, {Name: "staging"}, {Name: "prod", Approval: true, Region: "eu-west-1"}},
		Services: []Service{
			{Name: "web"},
			{Name: "api", Route: &Route{Paths: []string{"/api/*"}}},
		},
	}
}

const (
	smARN  = "arn:aws:secretsmanager:us-east-1:111111111111:secret:db-AbCdEf"
	ssmARN = "arn:aws:ssm:us-east-1:111111111111:parameter/acme/db"
)

func TestValidate(t *testing.T) {
	web := func(f func(s *Service)) func(c *Config) { return func(c *Config) { f(&c.Services[0]) } }
	tests := []struct {
		name string
		mod  func(c *Config)
		want []want // none: valid
	}{
		{"valid", func(c *Config) {}, nil},

		// app
		{"app missing", func(c *Config) { c.App = "" }, []want{{"app", `required; name the app, e.g. "acme"`, 0}}},
		{"app 16 characters", func(c *Config) { c.App = strings.Repeat("a", 16) }, nil},
		{"app 17 characters", func(c *Config) { c.App = strings.Repeat("a", 17) }, []want{{"app", "has 17 characters, but app names may have at most 16", 0}}},
		{"app uppercase", func(c *Config) { c.App = "Acme" }, []want{{"app", `"Acme" is not a valid app name: use lowercase letters, digits and single hyphens`, 0}}},
		{"app suggestion", func(c *Config) { c.App = "My_App" }, []want{{"app", `e.g. "my-app"`, 0}}},
		{"app leading digit", func(c *Config) { c.App = "1acme" }, []want{{"app", "starting with a letter", 0}}},
		{"app trailing hyphen", func(c *Config) { c.App = "acme-" }, []want{{"app", "not ending with a hyphen", 0}}},
		{"app double hyphen", func(c *Config) { c.App = "ac--me" }, []want{{"app", "single hyphens", 0}}},

		// regions
		{"region missing", func(c *Config) { c.Region = "" }, []want{{"region", "required; name the AWS region", 0}}},
		{"region bad", func(c *Config) { c.Region = "us-east" }, []want{{"region", `"us-east" is not an AWS region`, 0}}},
		{"region forms", func(c *Config) {
			c.Region = "us-gov-east-1"
			c.Stages[0].Region = "cn-north-1"
			c.Stages[1].Region = "us-isob-east-1"
		}, nil},
		{"stage region bad", func(c *Config) { c.Stages[2].Region = "EU-WEST-1" }, []want{{"stages[2].region", `"EU-WEST-1" is not an AWS region`, 0}}},
		{"region unknown", func(c *Config) { c.Stages[2].Region = "us-east-9" }, []want{{"stages[2].region", `"us-east-9" is not an AWS region stagecoach knows (did you mean "us-east-1"?)`, 0}}},
		{"region newer than the list", func(c *Config) {
			c.Region, c.Stages[2].Region = "ap-southeast-9", "ap-southeast-8"
			c.ExtraRegions = []string{"ap-southeast-8", "ap-southeast-9"}
		}, nil},
		{"home region without connections", func(c *Config) { c.Region = "ap-east-1" }, []want{{"region", "CodeConnections is not offered in ap-east-1", 0}}},
		{"home region without connections, vouched for", func(c *Config) {
			c.Region = "ap-east-1"
			c.ExtraRegions = []string{"ap-east-1"}
		}, nil},
		{"stage region without connections", func(c *Config) { c.Stages[2].Region = "ap-east-1" }, nil},

		// load balancer names: exactly the apps whose "APP-STAGE" starts with internal-
		{"app internal", func(c *Config) { c.App = "internal" }, []want{{"app", `"internal" would name the load balancer of stage dev "internal-dev"`, 0}}},
		{"app internal-x", func(c *Config) { c.App = "internal-x" }, []want{{"app", `"internal-x" would name the load balancer of stage dev "internal-x-dev"`, 0}}},
		{"app internalx", func(c *Config) { c.App = "internalx" }, nil},
		{"app x-internal", func(c *Config) { c.App = "x-internal" }, nil},

		// source
		{"provider exact", func(c *Config) { c.Source.Provider = "gitlab" }, []want{{"source.provider", `"gitlab" is not a supported provider (did you mean "GitLab"?); use one of GitHub, GitLab, Bitbucket`, 0}}},
		{"providers", func(c *Config) { c.Source.Provider = "Bitbucket" }, nil},
		{"repository missing", func(c *Config) { c.Source.Repository = "" }, []want{{"source.repository", "required; write the repository as owner/name", 0}}},
		{"repository without owner", func(c *Config) { c.Source.Repository = "shop" }, []want{{"source.repository", `"shop" is not a repository; write owner/name`, 0}}},
		{"repository subgroups", func(c *Config) { c.Source.Repository = "acme/team.a/shop_2" }, nil},
		{"repository dot-dot", func(c *Config) { c.Source.Repository = "acme/../shop" }, []want{{"source.repository", "is not a repository", 0}}},
		{"repository space", func(c *Config) { c.Source.Repository = "acme/my shop" }, []want{{"source.repository", "is not a repository", 0}}},
		{"repository URL", func(c *Config) { c.Source.Repository = "https://github.com/acme/shop" }, []want{{"source.repository", "is not a repository", 0}}},
		{"branch with slash", func(c *Config) { c.Source.Branch = "release/v1.2" }, nil},
		{"branch dash", func(c *Config) { c.Source.Branch = "-main" }, []want{{"source.branch", `"-main" is not a valid branch name: it starts with "-"`, 0}}},
		{"branch dot-dot", func(c *Config) { c.Source.Branch = "a..b" }, []want{{"source.branch", `it contains ".."`, 0}}},
		{"branch space", func(c *Config) { c.Source.Branch = "my branch" }, []want{{"source.branch", "it contains a space", 0}}},
		{"branch ref", func(c *Config) { c.Source.Branch = "refs/heads/main" }, []want{{"source.branch", `without "refs/heads/"`, 0}}},
		{"branch lock", func(c *Config) { c.Source.Branch = "main.lock" }, []want{{"source.branch", `ends with "." or ".lock"`, 0}}},
		{"connection", func(c *Config) {
			c.Source.Connection = "arn:aws:codestar-connections:eu-west-1:111111111111:connection/0a1b-2c3d"
		}, nil},
		{"connection bad", func(c *Config) {
			c.Source.Connection = "arn:aws:codeconnections:us-east-1:111:connection/x"
		}, []want{{"source.connection", "is not a CodeConnections connection ARN; copy the ARN", 0}}},

		// stages
		{"no stages", func(c *Config) { c.Stages = nil }, []want{{"stages", "required; list at least one stage", 0}}},
		{"stage latest", func(c *Config) { c.Stages[2].Name = "latest" }, []want{{"stages[2].name", `"latest" is reserved (it is the tag every build pushes); pick another name`, 0}}},
		{"stage missing name", func(c *Config) { c.Stages[1].Name = "" }, []want{{"stages[1].name", "required; name the stage", 0}}},
		{"stage 12 characters", func(c *Config) { c.Stages[1].Name = strings.Repeat("s", 12) }, nil},
		{"stage 13 characters", func(c *Config) { c.Stages[1].Name = strings.Repeat("s", 13) }, []want{{"stages[1].name", "at most 12", 0}}},
		{"stage duplicate", func(c *Config) { c.Stages[2].Name = "dev" }, []want{{"stages[2].name", `"dev" is already the name of stages[0]; stage names must be unique`, 0}}},
		{"stage bad name", func(c *Config) { c.Stages[0].Name = "Dev" }, []want{{"stages[0].name", `"Dev" is not a valid stage name`, 0}}},

		// services
		{"no services", func(c *Config) { c.Services = nil }, []want{{"services", "required; list at least one service", 0}}},
		{"service 24 characters", web(func(s *Service) { s.Name = strings.Repeat("w", 24) }), nil},
		{"service 25 characters", web(func(s *Service) { s.Name = strings.Repeat("w", 25) }), []want{{"services[0].name", "at most 24", 0}}},
		{"service duplicate", func(c *Config) { c.Services[1].Name = "web" }, []want{{"services[1].name", `"web" is already the name of services[0]`, 0}}},
		{"port high", web(func(s *Service) { s.Port = 65536 }), []want{{"services[0].port", "65536 is not a port; use a port from 1 to 65535", 0}}},
		{"port negative", web(func(s *Service) { s.Port = -1 }), []want{{"services[0].port", "-1 is not a port", 0}}},
		{"port max", web(func(s *Service) { s.Port = 65535 }), nil},
		{"health check relative", web(func(s *Service) { s.HealthCheck = "ping" }), []want{{"services[0].healthCheck", `"ping" must be a URL path starting with "/"`, 0}}},
		{"health check space", web(func(s *Service) { s.HealthCheck = "/a b" }), []want{{"services[0].healthCheck", "must have no spaces", 0}}},

		// repository files
		{"dockerfile ok", web(func(s *Service) { s.Dockerfile = "services/web/Dockerfile.prod" }), nil},
		{"dockerfile absolute", web(func(s *Service) { s.Dockerfile = "/web/Dockerfile" }), []want{{"services[0].dockerfile", `must be relative to the repository root; drop the leading "/"`, 0}}},
		{"dockerfile parent", web(func(s *Service) { s.Dockerfile = "web/../../Dockerfile" }), []want{{"services[0].dockerfile", `leaves the repository with ".."`, 0}}},
		{"dockerfile unclean", web(func(s *Service) { s.Dockerfile = "./web//Dockerfile" }), []want{{"services[0].dockerfile", `is not a clean path; write "web/Dockerfile"`, 0}}},
		{"dockerfile space", web(func(s *Service) { s.Dockerfile = "my web/Dockerfile" }), []want{{"services[0].dockerfile", "passes it to a shell unquoted", 0}}},
		{"buildspecs", web(func(s *Service) {
			s.Build.Buildspec = "/build.yml"
			s.Release.Buildspec = "ci/$(rm).yml"
		}), []want{
			{"services[0].build.buildspec", "relative to the repository root", 0},
			{"services[0].release.buildspec", "rename the release.yml", 0},
		}},

		// paths
		{"paths 8", web(func(s *Service) { s.Paths = strings.Split("a b c d e f g h", " ") }), nil},
		{"paths 9", web(func(s *Service) { s.Paths = strings.Split("a b c d e f g h i", " ") }), []want{{"services[0].paths", "has 9 patterns, but a CodePipeline trigger accepts at most 8", 0}}},
		{"path empty", web(func(s *Service) { s.Paths = []string{"web/**", ""} }), []want{{"services[0].paths[1]", "empty pattern", 0}}},
		{"path absolute", web(func(s *Service) { s.Paths = []string{"/web/**"} }), []want{{"services[0].paths[0]", "relative to the repository root", 0}}},
		{"path bad glob", web(func(s *Service) { s.Paths = []string{"web/[a"} }), []want{{"services[0].paths[0]", "is not a valid glob", 0}}},
		{"path long", web(func(s *Service) { s.Paths = []string{strings.Repeat("a", 256)} }), []want{{"services[0].paths[0]", "at most 255", 0}}},

		// task size
		{"cpu bad", web(func(s *Service) { s.CPU = 300 }), []want{{"services[0].cpu", "300 is not a Fargate CPU size; use one of 256, 512, 1024, 2048, 4096, 8192, 16384", 0}}},
		{"memory bad for 256", web(func(s *Service) { s.Memory = 1536 }), []want{{"services[0].memory", "1536 MiB does not fit 256 CPU units; Fargate allows 512, 1024 or 2048 MiB", 0}}},
		{"memory bad for 8192", web(func(s *Service) { s.CPU, s.Memory = 8192, 18432 }), []want{{"services[0].memory", "Fargate allows 16384 to 61440 MiB in steps of 4096", 0}}},
		{"sizes at the edges", func(c *Config) {
			c.Services[0].CPU, c.Services[0].Memory = 4096, 30720
			c.Services[1].CPU, c.Services[1].Memory = 16384, 122880
		}, nil},
		{"stage cpu without memory", web(func(s *Service) { s.Stages = map[string]StageOverride{"prod": {CPU: 1024}} }), []want{{"services[0].stages.prod.cpu", "1024 CPU units need memory of 2048 to 8192 MiB in steps of 1024, but memory 512 comes from services[0].memory; set memory here too", 0}}},
		{"stage memory too big", web(func(s *Service) { s.Stages = map[string]StageOverride{"prod": {Memory: 4096}} }), []want{{"services[0].stages.prod.memory", "4096 MiB does not fit 256 CPU units", 0}}},
		{"stage cpu bad", web(func(s *Service) { s.Stages = map[string]StageOverride{"prod": {CPU: 100, Memory: 512}} }), []want{{"services[0].stages.prod.cpu", "100 is not a Fargate CPU size", 0}}},
		{"stage size ok", web(func(s *Service) { s.Stages = map[string]StageOverride{"prod": {CPU: 2048, Memory: 4096}} }), nil},
		{"service size bad is reported once", web(func(s *Service) {
			s.CPU = 300
			s.Stages = map[string]StageOverride{"prod": {Memory: 2048}}
		}), []want{{"services[0].cpu", "300 is not a Fargate CPU size", 0}}},

		// scale
		{"scale min negative", web(func(s *Service) { s.Scale = &Scale{Min: -1, Max: 2} }), []want{{"services[0].scale.min", "-1 tasks: use at least 1", 0}}},
		{"scale max below min", web(func(s *Service) { s.Scale = &Scale{Min: 4, Max: 3} }), []want{{"services[0].scale.max", "3 is below min 4; raise max or lower min", 0}}},
		{"scale max 100", web(func(s *Service) { s.Scale = &Scale{Max: 100} }), nil},
		{"scale max 101", web(func(s *Service) { s.Scale = &Scale{Max: 101} }), []want{{"services[0].scale.max", "101 tasks is more than 100", 0}}},
		{"cpu target", web(func(s *Service) { s.Scale = &Scale{CPUTarget: 95} }), []want{{"services[0].scale.cpuTarget", "95% is outside 10–90", 0}}},
		{"cpu target low", web(func(s *Service) { s.Scale = &Scale{CPUTarget: 5} }), []want{{"services[0].scale.cpuTarget", "5% is outside 10–90", 0}}},
		{"stage max below inherited min", web(func(s *Service) {
			s.Scale = &Scale{Min: 2}
			s.Stages = map[string]StageOverride{"dev": {Scale: &Scale{Max: 1}}}
		}), []want{{"services[0].stages.dev.scale", "min 2 is above max 1 (what this override leaves out comes from services[0].scale); raise max or lower min", 0}}},
		{"stage scale target", web(func(s *Service) { s.Stages = map[string]StageOverride{"dev": {Scale: &Scale{CPUTarget: 91}}} }), []want{{"services[0].stages.dev.scale.cpuTarget", "91% is outside", 0}}},

		// variables
		{"variables ok", web(func(s *Service) {
			s.Env = map[string]string{"_X": "", "Log_Level2": "debug", "AWSX": "ok"}
			s.Secrets = map[string]string{"A": smARN, "B": ssmARN, "C": "/acme/c"}
			s.Build.Env = map[string]string{"NODE_ENV": "production"}
			s.Build.Secrets = map[string]string{"NPM_TOKEN": smARN + ":token::"}
			s.Release.Env = map[string]string{"SLACK": "#x"}
		}), nil},
		{"variable name", web(func(s *Service) { s.Env = map[string]string{"1X": "", "A-B": "", "A.B": ""} }), []want{
			{"services[0].env.1X", "not a valid variable name: use letters, digits and _, not starting with a digit", 0},
			{"services[0].env.A-B", "not a valid variable name", 0},
			{`services[0].env["A.B"]`, "not a valid variable name", 0},
		}},
		{"reserved prefix", web(func(s *Service) {
			s.Build.Env = map[string]string{"CODEBUILD_X": "1"}
			s.Release.Env = map[string]string{"AWS_REGION": "us-east-1"}
		}), []want{
			{"services[0].build.env.CODEBUILD_X", "names starting with AWS_ or CODEBUILD_ are reserved for AWS and CodeBuild; rename your variable", 0},
			{"services[0].release.env.AWS_REGION", "reserved for AWS and CodeBuild", 0},
		}},
		{"reserved in build secrets", web(func(s *Service) { s.Build.Secrets = map[string]string{"ECR_IMAGE_URL": smARN} }), []want{{"services[0].build.secrets.ECR_IMAGE_URL", "ECR_IMAGE_URL is set by stagecoach and cannot be overridden (the immutable variables are S3_BUCKET, ECR_ENDPOINT,", 0}}},
		{"reserved in stage", web(func(s *Service) {
			s.Stages = map[string]StageOverride{"prod": {Env: map[string]string{"SERVICE_NAME": "x"}, Secrets: map[string]string{"AWS_SECRET_ACCESS_KEY": smARN}}}
		}), []want{
			{"services[0].stages.prod.env.SERVICE_NAME", "SERVICE_NAME is set by stagecoach", 0},
			{"services[0].stages.prod.secrets.AWS_SECRET_ACCESS_KEY", "reserved for AWS", 0},
		}},
		{"plain and secret", web(func(s *Service) {
			s.Env = map[string]string{"DB": "x"}
			s.Secrets = map[string]string{"DB": smARN}
			s.Build.Env = map[string]string{"TOKEN": "x"}
			s.Build.Secrets = map[string]string{"TOKEN": smARN}
		}), []want{
			{"services[0].secrets.DB", "is also set in services[0].env.DB; a variable is either plain or secret, so remove one", 0},
			{"services[0].build.secrets.TOKEN", "is also set in services[0].build.env.TOKEN", 0},
		}},
		{"build and runtime scopes are separate", web(func(s *Service) {
			s.Env = map[string]string{"TOKEN": "x"}
			s.Build.Secrets = map[string]string{"TOKEN": smARN}
		}), nil},
		{"plain and secret after merge", web(func(s *Service) {
			s.Env = map[string]string{"A": "x"}
			s.Secrets = map[string]string{"B": smARN}
			s.Stages = map[string]StageOverride{
				"dev":     {Secrets: map[string]string{"A": smARN}},
				"staging": {Env: map[string]string{"B": "x"}},
				"prod":    {Env: map[string]string{"C": "x"}, Secrets: map[string]string{"C": smARN}},
			}
		}), []want{
			{"services[0].stages.dev.secrets.A", "is also set in services[0].env.A, and stage dev would get both", 0},
			{"services[0].stages.staging.env.B", "is also set in services[0].secrets.B, and stage staging would get both", 0},
			{"services[0].stages.prod.secrets.C", "is also set in services[0].stages.prod.env.C; a variable is either plain or secret", 0},
		}},
		{"secret plaintext", web(func(s *Service) { s.Secrets = map[string]string{"DB": "hunter2"} }), []want{{"services[0].secrets.DB", "not a Secrets Manager ARN or SSM parameter; put the value in Secrets Manager and reference its ARN", 0}}},
		{"secret half an ECS suffix", web(func(s *Service) { s.Secrets = map[string]string{"DB": smARN + ":password"} }), []want{{"services[0].secrets.DB", "add all three ECS fields :json-key:version-stage:version-id", 0}}},
		{"stage secret plaintext", web(func(s *Service) {
			s.Stages = map[string]StageOverride{"prod": {Secrets: map[string]string{"DB": "postgres://u:p@h/db"}}}
		}), []want{{"services[0].stages.prod.secrets.DB", "not a Secrets Manager ARN or SSM parameter", 0}}},

		// stage overrides
		{"override unknown stage", web(func(s *Service) { s.Stages = map[string]StageOverride{"production": {}} }), []want{{"services[0].stages.production", `there is no stage "production" (did you mean "prod"?); override one of the stages: dev, staging, prod$`, 0}}},
		{"override typo", web(func(s *Service) { s.Stages = map[string]StageOverride{"stagin": {}} }), []want{{"services[0].stages.stagin", `(did you mean "staging"?)`, 0}}},

		// routes
		{"one service needs no route", func(c *Config) { c.Services = c.Services[:1] }, nil},
		{"only service with a route", func(c *Config) {
			c.Services = c.Services[1:]
		}, []want{{"services", "every service has a route, so requests no route matches would have nowhere to go", 0}}},
		{"two default services", func(c *Config) {
			c.Services = append(c.Services, Service{Name: "admin"})
		}, []want{{"services[2].route", `missing; services[0] ("web") already has no route`, 0}}},
		{"empty route", func(c *Config) { c.Services[1].Route = &Route{} }, []want{{"services[1].route", "has neither paths nor hosts", 0}}},
		{"route values limit", func(c *Config) {
			c.Services[1].Route = &Route{Paths: []string{"/a", "/b", "/c"}, Hosts: []string{"a.example.com", "b.example.com", "c.example.com"}}
		}, []want{{"services[1].route", "has 6 paths and hosts, but an ALB listener rule accepts at most 5 condition values", 0}}},
		{"route patterns", func(c *Config) {
			c.Services[1].Route = &Route{Paths: []string{"api/*", "/ok/*?"}, Hosts: []string{"*.example.com", "bad host"}}
		}, []want{
			{"services[1].route.paths[0]", `"api/*" is not an ALB path pattern: start it with "/"`, 0},
			{"services[1].route.hosts[1]", `"bad host" is not an ALB host pattern`, 0},
		}},
		{"priority range", func(c *Config) { c.Services[1].Route.Priority = 50001 }, []want{{"services[1].route.priority", "50001 is outside 1–50000", 0}}},
		{"priority duplicate", func(c *Config) {
			c.Services = append(c.Services, Service{Name: "admin", Route: &Route{Hosts: []string{"admin.example.com"}, Priority: 7}})
			c.Services[1].Route.Priority = 7
		}, []want{{"services[2].route.priority", `7 is also the priority of services[1] ("api"); listener rule priorities must be unique`, 0}}},

		// stages whose images a lifecycle policy cannot keep: 48 names of hex
		// characters need 48 rules of their own, and latest and the rollback tags more.
		{"stages beyond the lifecycle rules", func(c *Config) {
			c.Stages = nil
			for i := 0; i < MaxStages; i++ {
				c.Stages = append(c.Stages, Stage{Name: fmt.Sprintf("%c%x", 'a'+i%6, i)})
			}
		}, []want{{"stages", "ECR's lifecycle policy (at most 50 rules) cannot keep the images of these 48 stages", 0}}},
		{"many stages sharing letters", func(c *Config) {
			c.Stages = nil
			for i := 0; i < MaxStages; i++ {
				c.Stages = append(c.Stages, Stage{Name: fmt.Sprintf("stage%d", i)})
			}
		}, nil},

		// derived names
		{"stage stack is a pipeline stack", func(c *Config) { c.Stages[1].Name = "web-pipeline" }, []want{{"stages[1].name", `the stack of stage "web-pipeline" would be named "acme-web-pipeline", like the pipeline stack of service "web"; rename one of them`, 0}}},
		{"release project is a build project", func(c *Config) {
			c.Stages[0].Name = "x-build"
			c.Services[1].Name = "web-release-x"
		}, []want{{"services[0].name", `the release project of service "web" for stage "x-build" would be named "acme-web-release-x-build", like the build project of service "web-release-x"`, 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.mod(c)
			c.ApplyDefaults()
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("want no error, got:\n%v", err)
				}
				return
			}
			checkProblems(t, err, tc.want)
		})
	}
}

func TestValidateReservedNames(t *testing.T) {
	for _, name := range contract.Reserved() {
		c := valid()
		c.Services[0].Build.Env = map[string]string{name: "x"}
		c.ApplyDefaults()
		checkProblems(t, c.Validate(), []want{{"services[0].build.env." + name, name + " is set by stagecoach and cannot be overridden", 0}})
	}
}

func TestValidateNeverEchoesSecrets(t *testing.T) {
	c := valid()
	c.Services[0].Secrets = map[string]string{"A": "s3cr3t-value", "B": "arn:aws:secretsmanager:s3cr3t-value"}
	c.ApplyDefaults()
	err := c.Validate()
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("want an error that does not repeat the value, got: %v", err)
	}
}

// TestParseRoutePriorities needs Parse: only it knows which priorities were
// written and which are the default 10 × position.
func TestParseRoutePriorities(t *testing.T) {
	tests := []struct {
		name     string
		services string
		want     []want
	}{
		{
			"defaults are distinct",
			"  - name: a\n    route: {paths: [/a]}\n  - name: b\n    route: {paths: [/b]}\n",
			nil,
		},
		{
			"written priority takes a later default",
			"  - name: a\n    route: {paths: [/a], priority: 30}\n  - name: b\n    route: {paths: [/b]}\n",
			[]want{{"services[2].route", `its default priority 30 (10 × its position) is set explicitly by services[1] ("a"); set priority here to another value`, 12}},
		},
		{
			"written priority takes an earlier default",
			"  - name: a\n    route: {paths: [/a]}\n  - name: b\n    route: {paths: [/b], priority: 20}\n",
			[]want{{"services[2].route.priority", `20 is the default priority of services[1] ("a"), 10 × its position; pick another, or set that service's priority`, 12}},
		},
		{
			"explicit zero",
			"  - name: a\n    route: {paths: [/a], priority: 0}\n",
			[]want{{"services[1].route.priority", "0 is not allowed; use a priority from 1 to 50000", 10}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(yml(minimal+tc.services), "stagecoach.yaml")
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			checkProblems(t, err, tc.want)
		})
	}
}

// TestProblemPositions checks problems found after decoding point at the key in the
// file, or at the nearest enclosing key when theirs is missing.
func TestProblemPositions(t *testing.T) {
	src := `
app: acme
region: us-east-1
source:
  branch: main
stages:
  - name: dev
services:
  - name: web
    port: 70000
    stages:
      prod:
        env: {AWS_X: "1"}
`
	_, err := Parse(yml(src), "stagecoach.yaml")
	checkProblems(t, err, []want{
		{"source.repository", "required", 3},
		{"services[0].port", "not a port", 9},
		{"services[0].stages.prod", `there is no stage "prod"`, 11},
	})
	var lines []string
	for _, l := range strings.Split(err.Error(), "\n")[1:] {
		lines = append(lines, strings.SplitN(l, " ", 2)[0])
	}
	if got, want := strings.Join(lines, " "), "stagecoach.yaml:3:1: stagecoach.yaml:9:5: stagecoach.yaml:11:7:"; got != want {
		t.Errorf("locations %q, want %q", got, want)
	}
}

func ExampleValidationError() {
	c := valid()
	c.Stages[2].Name = "latest"
	c.Services[0].Port = 70000
	c.ApplyDefaults()
	fmt.Println(c.Validate())
	// Output:
	// config has 2 problems:
	//   stages[2].name: "latest" is reserved (it is the tag every build pushes); pick another name
	//   services[0].port: 70000 is not a port; use a port from 1 to 65535 (the one your container listens on)
}
