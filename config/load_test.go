package config

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// yml drops the newline after a raw string's opening backquote, so line numbers
// in the tests are the ones in the literal.
func yml(s string) []byte { return []byte(strings.TrimPrefix(s, "\n")) }

// want is an expected problem: its exact path and a substring of its message
// (ending with "$": a suffix). line, when not 0, is its expected line.
type want struct {
	path, msg string
	line      int
}

// checkProblems asserts err is a *ValidationError holding exactly the wanted
// problems, in any order.
func checkProblems(t *testing.T, err error, wants []want) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got error %v, want a *ValidationError with %d problems", err, len(wants))
	}
	left := append([]Problem(nil), ve.Problems...)
	for _, w := range wants {
		found := false
		for i, p := range left {
			if p.Path == w.path && matches(p.Message, w.msg) && (w.line == 0 || p.Line == w.line) {
				left = append(left[:i], left[i+1:]...)
				found = true
				break
			}
		}
		if !found {
			t.Errorf("missing problem %s: …%s… (line %d)", w.path, w.msg, w.line)
		}
	}
	for _, p := range left {
		t.Errorf("unexpected problem at line %d: %s", p.Line, p)
	}
	if t.Failed() {
		t.Logf("full error:\n%v", err)
	}
}

func matches(msg, want string) bool {
	if suffix, ok := strings.CutSuffix(want, "$"); ok {
		return strings.HasSuffix(msg, suffix)
	}
	return strings.Contains(msg, want)
}

func TestLoadFull(t *testing.T) {
	c, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const acct = "012345678901"
	on, off := true, false
	want := &Config{
		App:    "acme",
		Region: "us-east-1",
		Source: Source{
			Provider:   "GitLab",
			Repository: "acme/platform/shop",
			Branch:     "release/v2",
			Connection: "arn:aws:codeconnections:us-east-1:" + acct + ":connection/0a1b2c3d-4e5f-6789-abcd-ef0123456789",
		},
		Stages: []Stage{
			{Name: "dev", Region: "us-east-1", Images: "regional", DeletionProtection: &off},
			{Name: "staging", Region: "us-east-1", Images: "regional", DeletionProtection: &on},
			{Name: "prod", Approval: true, Region: "eu-west-1", Images: "home", DeletionProtection: &on,
				Certificate: "arn:aws:acm:eu-west-1:" + acct + ":certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"},
		},
		ExtraRegions: []string{"ap-southeast-9"},
		Services: []Service{
			{
				Name:        "web",
				Dockerfile:  "web/Dockerfile",
				Paths:       []string{"web/**", "lib/**"},
				Port:        3000,
				HealthCheck: "/healthz",
				CPU:         512,
				Memory:      1024,
				Scale:       &Scale{Min: 2, Max: 4, CPUTarget: 60},
				Rollout:     &Rollout{10, 3, 4, 30, 60, 20, 50, 150},
				Env:         map[string]string{"NODE_ENV": "production", "VERSION": "1.10"},
				Secrets: map[string]string{
					"SESSION_KEY": "arn:aws:secretsmanager:us-east-1:" + acct + ":secret:web/session-AbCdEf",
					"DB_PASSWORD": "arn:aws:secretsmanager:us-east-1:" + acct + ":secret:db-AbCdEf:password::",
					"API_TOKEN":   "/acme/web/api-token",
				},
				SecretStages: map[string][]string{"DB_PASSWORD": {"staging", "prod"}},
				SecretKeys:   []string{"arn:aws:kms:us-east-1:" + acct + ":key/1a2b3c4d-5e6f-7890-abcd-ef0123456789"},
				Build: Build{
					Buildspec: "web/build.yml",
					Env:       map[string]string{"NPM_CONFIG_LOGLEVEL": "warn"},
					Secrets:   map[string]string{"NPM_TOKEN": "arn:aws:ssm:us-east-1:" + acct + ":parameter/acme/npm-token"},
				},
				Release: Release{
					Buildspec: "web/release.yml",
					Env:       map[string]string{"SLACK_CHANNEL": "#releases"},
				},
				Stages: map[string]StageOverride{
					"dev": {
						Env:   map[string]string{"LOG_LEVEL": "debug"},
						Scale: &Scale{Min: 1, Max: 1, CPUTarget: 60},
					},
					"prod": {
						Env:     map[string]string{"LOG_LEVEL": "info"},
						Secrets: map[string]string{"STRIPE_KEY": "arn:aws:secretsmanager:eu-west-1:" + acct + ":secret:stripe-AbCdEf"},
						Scale:   &Scale{Min: 3, Max: 10, CPUTarget: 50},
						CPU:     1024,
						Memory:  2048,
					},
				},
			},
			{
				Name:        "api",
				Dockerfile:  "api/Dockerfile",
				Paths:       []string{"api/**"},
				Port:        DefaultPort,
				HealthCheck: DefaultHealthCheck,
				Route:       &Route{Paths: []string{"/api/*"}, Hosts: []string{"api.example.com"}, Priority: 5},
				CPU:         DefaultCPU,
				Memory:      DefaultMemory,
				Scale:       &Scale{Min: 1, Max: 2, CPUTarget: 70},
				Rollout:     &DefaultRollout,
			},
		},
	}
	if diff := cmp.Diff(want, c, cmpopts.EquateEmpty(), ignoreDefaulted); diff != "" {
		t.Errorf("Load(full.yaml) mismatch (-want +got):\n%s", diff)
	}
}

// TestFullCoversEveryKey keeps testdata/full.yaml an example of every key: adding a
// field to Config without adding it there fails here.
// ignoreDefaulted leaves Service.Defaulted, which TestDefaultedKeys covers, out of
// comparisons of whole configs.
var ignoreDefaulted = cmpopts.IgnoreFields(Service{}, "Defaulted")

func TestFullCoversEveryKey(t *testing.T) {
	data, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var missing []string
	var visit func(t reflect.Type, vals []any, at string)
	visit = func(t reflect.Type, vals []any, at string) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Struct:
			for f := range t.Fields() {
				key := yamlKey(f)
				if key == "" {
					continue // not a key of the file (Service.Defaulted)
				}
				var sub []any
				for _, v := range vals {
					if m, ok := v.(map[string]any); ok {
						if x, ok := m[key]; ok {
							sub = append(sub, x)
						}
					}
				}
				if len(sub) == 0 {
					missing = append(missing, at+key)
					continue
				}
				visit(f.Type, sub, at+key+".")
			}
		case reflect.Slice:
			var sub []any
			for _, v := range vals {
				if l, ok := v.([]any); ok {
					sub = append(sub, l...)
				}
			}
			visit(t.Elem(), sub, strings.TrimSuffix(at, ".")+"[].")
		case reflect.Map:
			var sub []any
			for _, v := range vals {
				if m, ok := v.(map[string]any); ok {
					for _, x := range m {
						sub = append(sub, x)
					}
				}
			}
			if len(sub) == 0 {
				missing = append(missing, strings.TrimSuffix(at, ".")+" (empty)")
			}
			visit(t.Elem(), sub, at+"*.")
		}
	}
	visit(reflect.TypeFor[Config](), []any{doc}, "")
	if len(missing) > 0 {
		t.Errorf("testdata/full.yaml sets no value for: %s", strings.Join(missing, ", "))
	}
}

func TestLoadMinimal(t *testing.T) {
	got, err := Load("testdata/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want, err := Parse(yml(minimal), "minimal")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("testdata/minimal.yaml differs from the minimal constant (-want +got):\n%s", diff)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml")
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "testdata/does-not-exist.yaml") {
		t.Errorf("Load of a missing file: got %v, want a not-exist error naming the file", err)
	}
}

// minimal is the smallest valid config; every other field gets its default.
const minimal = `
app: acme
region: us-east-1
source:
  repository: acme/shop
stages:
  - name: dev
services:
  - name: web
`

func TestDefaults(t *testing.T) {
	off := false
	defaulted := func(mod func(c *Config)) *Config {
		c := &Config{
			App:    "acme",
			Region: "us-east-1",
			Source: Source{Provider: "GitHub", Repository: "acme/shop", Branch: "main"},
			Stages: []Stage{{Name: "dev", Region: "us-east-1", Images: "regional", DeletionProtection: &off}},
			Services: []Service{{
				Name: "web", Port: 8000, HealthCheck: "/ping", CPU: 256, Memory: 512,
				Scale:   &Scale{Min: 1, Max: 2, CPUTarget: 70},
				Rollout: &Rollout{5, 2, 3, 15, 30, 10, 100, 200},
			}},
		}
		if mod != nil {
			mod(c)
		}
		return c
	}
	tests := []struct {
		name string
		yaml string
		want *Config
	}{
		{"minimal", minimal, defaulted(nil)},
		{
			"empty strings mean the default",
			minimal + "    healthCheck: \"\"\n    dockerfile: \"\"\n",
			defaulted(nil),
		},
		{
			"stage region defaults to the home region, an explicit one stays",
			strings.Replace(minimal, "  - name: dev\n", "  - name: dev\n  - name: prod\n    region: eu-west-1\n", 1),
			defaulted(func(c *Config) {
				c.Stages = append(c.Stages, Stage{Name: "prod", Region: "eu-west-1", Images: "regional", DeletionProtection: &off})
			}),
		},
		{
			"scale min above the default max raises max",
			minimal + "    scale: {min: 3}\n",
			defaulted(func(c *Config) { c.Services[0].Scale = &Scale{Min: 3, Max: 3, CPUTarget: 70} }),
		},
		{
			"scale max alone",
			minimal + "    scale: {max: 5}\n",
			defaulted(func(c *Config) { c.Services[0].Scale = &Scale{Min: 1, Max: 5, CPUTarget: 70} }),
		},
		{
			"empty scale",
			minimal + "    scale: {}\n",
			defaulted(nil),
		},
		{
			"stage scale fills from the service's resolved scale",
			minimal + "    scale: {max: 6, cpuTarget: 50}\n    stages:\n      dev: {scale: {min: 2}}\n",
			defaulted(func(c *Config) {
				c.Services[0].Scale = &Scale{Min: 1, Max: 6, CPUTarget: 50}
				c.Services[0].Stages = map[string]StageOverride{"dev": {Scale: &Scale{Min: 2, Max: 6, CPUTarget: 50}}}
			}),
		},
		{
			"stage scale min above the service max raises max",
			minimal + "    stages:\n      dev: {scale: {min: 4}}\n",
			defaulted(func(c *Config) {
				c.Services[0].Stages = map[string]StageOverride{"dev": {Scale: &Scale{Min: 4, Max: 4, CPUTarget: 70}}}
			}),
		},
		{
			"stage without scale keeps none: Deployment uses the service's",
			minimal + "    stages:\n      dev: {cpu: 512, memory: 1024}\n",
			defaulted(func(c *Config) {
				c.Services[0].Stages = map[string]StageOverride{"dev": {CPU: 512, Memory: 1024}}
			}),
		},
		{
			"route priority defaults to 10 × position",
			minimal + "  - name: api\n    route: {paths: [/api/*]}\n  - name: admin\n    route: {hosts: [admin.example.com], priority: 5}\n",
			defaulted(func(c *Config) {
				s := c.Services[0]
				api, admin := s, s
				api.Name, api.Route = "api", &Route{Paths: []string{"/api/*"}, Priority: 20}
				admin.Name, admin.Route = "admin", &Route{Hosts: []string{"admin.example.com"}, Priority: 5}
				c.Services = append(c.Services, api, admin)
				for i := range c.Services {
					sc := *s.Scale
					c.Services[i].Scale = &sc
				}
			}),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(yml(tc.yaml), "stagecoach.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty(), ignoreDefaulted); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestApplyDefaultsLeavesCallerValuesAlone(t *testing.T) {
	shared := &Scale{Min: 3}
	overrides := map[string]StageOverride{"dev": {Scale: shared}}
	route := &Route{Paths: []string{"/x"}}
	c := &Config{Stages: []Stage{{Name: "dev"}}, Services: []Service{
		{Name: "a"},
		{Name: "b", Scale: shared, Stages: overrides, Route: route},
	}}
	c.ApplyDefaults()
	if *shared != (Scale{Min: 3}) {
		t.Errorf("ApplyDefaults wrote into the caller's Scale: %+v", *shared)
	}
	if overrides["dev"].Scale != shared {
		t.Error("ApplyDefaults replaced a value in the caller's stages map")
	}
	if route.Priority != 0 {
		t.Errorf("ApplyDefaults wrote into the caller's Route: %+v", *route)
	}
	if got := c.Services[1].Stages["dev"].Scale; *got != (Scale{Min: 3, Max: 3, CPUTarget: 70}) {
		t.Errorf("stage scale = %+v, want {3 3 70}", *got)
	}
	if got := c.Services[1].Route.Priority; got != 20 {
		t.Errorf("route priority = %d, want 20", got)
	}
}

func TestParseNotYAML(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error, in order
	}{
		{"empty", "", []string{"stagecoach.yaml: the file is empty"}},
		{"comments only", "# app: acme\n", []string{"stagecoach.yaml: the file is empty"}},
		{"document marker only", "---\n", []string{"the file is empty"}},
		{"null", "~\n", []string{"the file is empty"}},
		{
			"two documents",
			"app: acme\n---\napp: other\n",
			[]string{"stagecoach.yaml:3:1: a second YAML document starts here"},
		},
		{
			"duplicate key",
			"app: acme\nregion: us-east-1\napp: other\n",
			[]string{"stagecoach.yaml:3:1: mapping key \"app\" already defined at [1:1]", ">  3 | app: other"},
		},
		{
			"duplicate variable",
			"app: acme\nservices:\n  - name: web\n    env:\n      A: x\n      A: y\n",
			[]string{"stagecoach.yaml:6:7: mapping key \"A\" already defined at [5:7]"},
		},
		{
			"syntax",
			"app: acme\nstages: [dev\n",
			[]string{"stagecoach.yaml:2:9: sequence end token ']' not found", ">  2 | stages: [dev"},
		},
		{
			"bad indentation",
			"app: acme\nsource:\n  repository: acme/shop\n   branch: main\n",
			[]string{"stagecoach.yaml:3:15: mapping value is not allowed in this context", "   4 |    branch: main"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "stagecoach.yaml")
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			var ve *ValidationError
			if errors.As(err, &ve) {
				t.Fatalf("got a ValidationError, want a YAML error: %v", err)
			}
			msg := err.Error()
			rest := msg
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error does not contain %q (in order):\n%s", w, msg)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestParseSyntaxErrorType(t *testing.T) {
	_, err := Parse([]byte("app: a\napp: b\n"), "x.yaml")
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("got %T, want *SyntaxError", err)
	}
	if se.File != "x.yaml" || se.Line != 2 || se.Column != 1 {
		t.Errorf("SyntaxError at %s:%d:%d, want x.yaml:2:1", se.File, se.Line, se.Column)
	}
	var ye yaml.Error
	if !errors.As(err, &ye) {
		t.Error("SyntaxError does not unwrap to the goccy error")
	}
}

// TestParseShape covers what the schema walk catches: unknown keys and values of
// the wrong shape, each reported with its line, all at once, without a cascade of
// follow-up problems at the same place.
func TestParseShape(t *testing.T) {
	tests := []struct {
		name  string
		extra string // appended to minimal's only service
		yaml  string // a whole file instead
		want  []want
	}{
		{
			name:  "unknown key with suggestion",
			extra: "    healthcheck: /x\n",
			want:  []want{{"services[0].healthcheck", `unknown key (did you mean "healthCheck"?); the keys here are name, dockerfile, paths, port, healthCheck, route`, 9}},
		},
		{
			name:  "unknown nested key",
			extra: "    scale: {min: 1, maximum: 3}\n",
			want:  []want{{"services[0].scale.maximum", "unknown key (did you mean \"max\"?); the keys here are min, max, cpuTarget", 9}},
		},
		{
			name: "unknown top-level key, typo of a required one",
			yaml: strings.Replace(minimal, "region:", "regoin:", 1),
			want: []want{
				{"regoin", `unknown key (did you mean "region"?)`, 2},
				{"region", "required", 0},
			},
		},
		{
			name:  "fraction in an int",
			extra: "    port: 80.5\n",
			want:  []want{{"services[0].port", "must be a whole number, not 80.5", 9}},
		},
		{
			name:  "text in an int",
			extra: "    port: http\n",
			want:  []want{{"services[0].port", `must be a whole number, not "http"`, 9}},
		},
		{
			name:  "quoted number",
			extra: "    cpu: \"512\"\n",
			want:  []want{{"services[0].cpu", "write it without quotes", 9}},
		},
		{
			name:  "explicit zero",
			extra: "    port: 0\n    scale: {min: 0}\n    cpu: 0\n",
			want: []want{
				{"services[0].port", "0 is not allowed; use a port from 1 to 65535, or leave port out for 8000", 9},
				{"services[0].scale.min", "0 is not allowed; use at least 1", 10},
				{"services[0].cpu", "0 is not allowed; use a Fargate CPU size (256, 512, 1024, 2048, 4096, 8192, 16384)", 11},
			},
		},
		{
			name:  "number too large",
			extra: "    memory: 99999999999999999999\n",
			want:  []want{{"services[0].memory", "too large", 9}},
		},
		{
			name: "bool",
			yaml: strings.Replace(minimal, "  - name: dev\n", "  - name: dev\n    approval: yes\n", 1),
			want: []want{{"stages[0].approval", `must be true or false, not "yes"`, 7}},
		},
		{
			name:  "scalar for a list",
			extra: "    paths: web/**\n",
			want:  []want{{"services[0].paths", "must be a list", 9}},
		},
		{
			name:  "list for a string",
			extra: "    dockerfile: [a, b]\n",
			want:  []want{{"services[0].dockerfile", "must be a single value, not a list", 9}},
		},
		{
			name:  "list for a map",
			extra: "    env: [A=1]\n",
			want:  []want{{"services[0].env", "must be a mapping of NAME: value pairs, not a list", 9}},
		},
		{
			name:  "mapping for a variable value",
			extra: "    env: {A: {b: c}}\n",
			want:  []want{{"services[0].env.A", "must be a single value, not a mapping", 9}},
		},
		{
			name: "scalar for a struct: no follow-up problems under it",
			yaml: strings.Replace(minimal, "source:\n  repository: acme/shop\n", "source: acme/shop\n", 1),
			want: []want{{"source", "must be a mapping of keys (provider, repository, branch, connection), not \"acme/shop\"", 3}},
		},
		{
			name: "scalar for the stage list: no \"at least one stage\" too",
			yaml: strings.Replace(minimal, "stages:\n  - name: dev\n", "stages: dev\n", 1),
			want: []want{{"stages", "must be a list (items starting with \"- \", or [a, b]), not \"dev\"", 5}},
		},
		{
			name: "not a mapping at all",
			yaml: "- app: acme\n",
			want: []want{{"", "must be a mapping of keys (app, region, source, stages, services, extraRegions), not a list", 1}},
		},
		{
			name:  "merge key",
			extra: "  - <<: {name: api}\n    route: {paths: [/a]}\n",
			want: []want{
				{`services[1]["<<"]`, "merge keys are not supported; repeat the keys, or anchor whole values instead", 9},
				{"services[1].name", "required", 9},
			},
		},
		{
			name:  "keys of variables are names as written",
			extra: "    env: {1: a, 1.5: b, true: c}\n",
			want: []want{
				{"services[0].env.1", "not a valid variable name", 9},
				{`services[0].env["1.5"]`, "not a valid variable name", 9},
			},
		},
		{
			name:  "many at once",
			extra: "    port: x\n    colour: red\n    scale: {min: 1.5, max: two}\n    env: {OK: 1, 2BAD: x}\n",
			want: []want{
				{"services[0].port", "must be a whole number", 9},
				{"services[0].colour", "unknown key", 10},
				{"services[0].scale.min", "must be a whole number, not 1.5", 11},
				{"services[0].scale.max", `must be a whole number, not "two"`, 11},
				{"services[0].env.2BAD", "not a valid variable name", 12},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.yaml
			if src == "" {
				src = minimal + tc.extra
			}
			_, err := Parse(yml(src), "stagecoach.yaml")
			checkProblems(t, err, tc.want)
		})
	}
}

func TestParseScalarsAsWritten(t *testing.T) {
	src := strings.Replace(minimal, "repository: acme/shop\n", "repository: acme/shop\n  branch: 0755\n", 1) +
		"    env:\n      VERSION: 1.10\n      DEBUG: True\n      MASK: 0x1F\n      OCTAL: 0755\n      EMPTY:\n      QUOTED: \"007\"\n"
	c, err := Parse(yml(src), "stagecoach.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Source.Branch != "0755" {
		t.Errorf("branch = %q, want 0755 as written", c.Source.Branch)
	}
	want := map[string]string{"VERSION": "1.10", "DEBUG": "True", "MASK": "0x1F", "OCTAL": "0755", "EMPTY": "", "QUOTED": "007"}
	if diff := cmp.Diff(want, c.Services[0].Env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
}

func TestParseAnchors(t *testing.T) {
	src := minimal + "    env: &common {LOG: info, N: 1.50}\n  - name: api\n    route: {paths: [/api/*]}\n    env: *common\n"
	c, err := Parse(yml(src), "stagecoach.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"LOG": "info", "N": "1.50"}
	for i, s := range c.Services {
		if diff := cmp.Diff(want, s.Env); diff != "" {
			t.Errorf("services[%d].env (-want +got):\n%s", i, diff)
		}
	}
}

func TestValidationErrorFormat(t *testing.T) {
	src := strings.Replace(minimal, "name: dev", "name: latest", 1) + "    port: 70000\n"
	_, err := Parse(yml(src), "stagecoach.yaml")
	want := `stagecoach.yaml has 2 problems:
stagecoach.yaml:6:5: stages[0].name: "latest" is reserved (it is the tag every build pushes); pick another name
stagecoach.yaml:9:5: services[0].port: 70000 is not a port; use a port from 1 to 65535 (the one your container listens on)`
	if err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}

	// A Config built in Go has no file and no positions.
	c := &Config{}
	c.ApplyDefaults()
	err = c.Validate()
	if got := err.Error(); !strings.HasPrefix(got, "config has 5 problems:\n  app: required;") {
		t.Errorf("Validate() error starts %q", got)
	}
}

// TestParseEveryProblemAtOnce feeds a file with many unrelated mistakes and checks
// each is reported, at its line, in one error.
func TestParseEveryProblemAtOnce(t *testing.T) {
	_, err := Load("testdata/invalid.yaml")
	checkProblems(t, err, []want{
		{"app", `"Acme" is not a valid app name`, 1},
		{"source.provider", `(did you mean "GitHub"?)`, 4},
		{"source.branch", `it contains ".."`, 6},
		{"stages[1].name", `"latest" is reserved`, 9},
		{"stages[2].name", `"dev" is already the name of stages[0]`, 10},
		{"stages[2].region", `"eu-west" is not an AWS region`, 11},
		{"services[0].port", "must be a whole number, not 80.5", 14},
		{"services[0].memory", "4096 MiB does not fit 256 CPU units; Fargate allows 512, 1024 or 2048 MiB", 15},
		{"services[0].paths", "a CodePipeline trigger accepts at most 8", 16},
		{"services[0].env.AWS_REGION", "reserved for AWS and CodeBuild", 18},
		{"services[0].env.STAGE_NAME", "STAGE_NAME is set by stagecoach and cannot be overridden", 19},
		{"services[0].secrets.DB_URL", "not a Secrets Manager ARN or SSM parameter", 21},
		{"services[0].build.buildspec", `leaves the repository with ".."`, 23},
		{"services[0].stages.prod", `there is no stage "prod"; override one of the stages: dev, latest$`, 25},
		{"services[0].stages.dev.scale.cpuTarget", "outside 10–90", 26},
		{"services[1].name", `"Web" is not a valid service name`, 27},
		{"services[1].route", "missing; services[0] (\"web\") already has no route", 27},
		{"services[1].helthCheck", `(did you mean "healthCheck"?)`, 28},
	})
	if strings.Contains(err.Error(), "hunter2") {
		t.Error("the error repeats a plaintext secret value; it must never reach logs")
	}
}

func TestParseByteOrderMarkAndDirective(t *testing.T) {
	for _, prefix := range []string{"\ufeff", "%YAML 1.2\n---\n"} {
		if _, err := Parse([]byte(prefix+strings.TrimPrefix(minimal, "\n")), "stagecoach.yaml"); err != nil {
			t.Errorf("Parse with %q before the config: %v", prefix, err)
		}
	}
}

func TestExcerptLongLine(t *testing.T) {
	line := strings.Repeat("a", 500) + "!" + strings.Repeat("b", 500)
	got := excerpt([]byte("x: 1\n"+line+"\n"), 2, 501)
	// 100 characters from 50 before the column, the caret under the "!".
	want := "   1 | x: 1\n>  2 | …" + strings.Repeat("a", 49) + "!" + strings.Repeat("b", 50) + "…\n" + strings.Repeat(" ", len(">  2 | …")-2+49) + "^"
	if got != want {
		t.Errorf("excerpt:\n%s\nwant:\n%s", got, want)
	}
}
