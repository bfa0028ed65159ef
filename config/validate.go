package config

import (
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/token"

	"github.com/stagecoach/stagecoach/internal/contract"
	"github.com/stagecoach/stagecoach/internal/imagetags"
	"github.com/stagecoach/stagecoach/internal/names"
)

// Length limits of the names in the config. With them every name derived in package
// names fits its AWS limit (see names.TestNamesAtLimits).
const (
	MaxAppName     = 16
	MaxStageName   = 12
	MaxServiceName = 24
)

// Limits from AWS services.
const (
	// MaxPaths is the number of file path globs a CodePipeline trigger accepts.
	MaxPaths = 8
	// MaxRouteValues is the number of condition values (paths plus hosts) an ALB
	// listener rule accepts.
	MaxRouteValues = 5
	// MaxPriority is the highest ALB listener rule priority.
	MaxPriority = 50000
	// MaxScale is the highest task count stagecoach accepts, a guard against a typo
	// that would run (and bill) thousands of tasks.
	MaxScale = 100
	// MaxStages is the most stages an app may have: a CodePipeline pipeline has at
	// most 50 stages, and source and build take two.
	MaxStages = 48
	// MaxServices is the most services an app may have: each adds about 14
	// resources to every stage stack, and a CloudFormation stack holds at most 500.
	MaxServices = 25
)

// Problem is one thing wrong in a config.
type Problem struct {
	// Path locates the value, e.g. services[0].stages.prod.env.FOO; empty for the
	// whole file.
	Path string
	// Message says what is wrong and what to do.
	Message string
	// Line and Column locate the value (or the nearest enclosing one that exists)
	// in the file; 0 when unknown, e.g. for a Config built in Go.
	Line, Column int
}

// String is "path: message".
func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// ValidationError lists every problem found in a config.
type ValidationError struct {
	// File is the config file's name, empty for a Config built in Go.
	File     string
	Problems []Problem
}

// Error has a header line naming the file, then one problem per line, each prefixed
// with file:line:column when known so editors can jump to it.
func (e *ValidationError) Error() string {
	var b strings.Builder
	name := e.File
	if name == "" {
		name = "config"
	}
	noun := "problems"
	if len(e.Problems) == 1 {
		noun = "problem"
	}
	fmt.Fprintf(&b, "%s has %d %s:", name, len(e.Problems), noun)
	for i, p := range e.Problems {
		if i == maxShown {
			fmt.Fprintf(&b, "\n… and %d more; fix these first", len(e.Problems)-i)
			break
		}
		b.WriteByte('\n')
		switch {
		case e.File != "" && p.Line > 0:
			fmt.Fprintf(&b, "%s:%d:%d: ", e.File, p.Line, p.Column)
		case e.File != "":
			fmt.Fprintf(&b, "%s: ", e.File)
		default:
			b.WriteString("  ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// maxShown is the most problems Error lists: past it, the file is likely not a
// config at all, and a longer list would bury the first lines.
const maxShown = 100

// problem is a Problem before it is located in the file.
type problem struct {
	path keyPath
	msg  string
}

// newValidationError locates each problem at its path, or at the nearest enclosing
// path present in the file, and orders them as they appear in it.
func newValidationError(file string, problems []problem, pos map[string]token.Position) *ValidationError {
	e := &ValidationError{File: file}
	for _, pr := range problems {
		p := Problem{Path: pr.path.String(), Message: pr.msg}
		for n := len(pr.path); n >= 0; n-- {
			if n == 0 && len(pr.path) > 0 {
				break // a missing top-level key: line 1 would mislead
			}
			if at, ok := pos[pr.path[:n].String()]; ok {
				p.Line, p.Column = at.Line, at.Column
				break
			}
		}
		e.Problems = append(e.Problems, p)
	}
	sort.SliceStable(e.Problems, func(i, j int) bool {
		a, b := e.Problems[i], e.Problems[j]
		return a.Line < b.Line || a.Line == b.Line && a.Column < b.Column
	})
	return e
}

// Validate checks a config that has its defaults applied (see ApplyDefaults) and
// returns a *ValidationError listing every problem, or nil.
func (c *Config) Validate() error {
	if ps := c.validate(nil); len(ps) > 0 {
		return newValidationError("", ps, nil)
	}
	return nil
}

type validator struct {
	c        *Config
	problems []problem
}

func (v *validator) addf(p keyPath, format string, args ...any) {
	v.problems = append(v.problems, problem{p, fmt.Sprintf(format, clipQuoted(format, args)...)})
}

// validate runs every rule. explicitPriority[i] tells whether service i's route
// priority was written in the file (nil: all were), to tell a clash with a default
// priority from one between two written ones.
func (c *Config) validate(explicitPriority []bool) []problem {
	v := &validator{c: c}
	v.checkName(keyPath{"app"}, c.App, MaxAppName, "app", "acme")
	v.checkExtraRegions()
	v.checkRegion(keyPath{"region"}, c.Region, true)
	v.checkHomeRegion()
	v.checkSource()
	if v.tooMany() {
		// Some checks below compare every stage with every service; report the
		// counts alone.
		return v.problems
	}
	v.checkStages()
	v.checkLoadBalancerNames()
	v.checkServices()
	v.checkDerivedNames()
	v.checkRoutes(explicitPriority)
	return v.problems
}

var (
	nameRe        = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	regionRe      = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$`)
	certificateRe = regexp.MustCompile(`^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$`)
	kmsKeyRe      = regexp.MustCompile(`^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$`)
	connectionRe  = regexp.MustCompile(`^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[A-Za-z0-9-]+$`)
	repoPartRe    = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	envNameRe     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// Repository paths reach the build unquoted (the seed's build.yml runs
	// docker build ... -f $DOCKERFILE_PATH), so they hold no shell syntax or space.
	repoFileRe = regexp.MustCompile(`^[A-Za-z0-9_.@+=,/-]+$`)
	albPathRe  = regexp.MustCompile(`^/[A-Za-z0-9_\-.$/~"'@:+&*?]*$`)
	albHostRe  = regexp.MustCompile(`^[A-Za-z0-9.*?-]+$`)
)

// Providers are the Git hosts a connection can be created for.
var Providers = []string{"GitHub", "GitLab", "Bitbucket"}

// checkName checks an app, stage or service name. what is the key's role in
// messages and example a valid name.
func (v *validator) checkName(p keyPath, name string, maxLen int, what, example string) {
	switch {
	case name == "":
		v.addf(p, "required; name the %s, e.g. %q", what, example)
	case len(name) > maxLen:
		v.addf(p, "%q has %d characters, but %s names may have at most %d so that the AWS resource names built from them fit their limits; shorten it", name, len(name), what, maxLen)
	case !nameRe.MatchString(name):
		msg := fmt.Sprintf("%q is not a valid %s name: use lowercase letters, digits and single hyphens, starting with a letter and not ending with a hyphen (it becomes part of AWS resource names)", name, what)
		if s := sanitize(name); s != "" && len(s) <= maxLen {
			msg += fmt.Sprintf("; e.g. %q", s)
		}
		v.addf(p, "%s", msg)
	}
}

// sanitize turns s into a valid name, or "" when nothing is left.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	out := strings.TrimLeft(strings.Trim(b.String(), "-"), "0123456789-")
	if !nameRe.MatchString(out) {
		return ""
	}
	return out
}

// tooMany reports stages or services beyond MaxStages and MaxServices.
func (v *validator) tooMany() bool {
	c := v.c
	if n := len(c.Stages); n > MaxStages {
		v.addf(keyPath{"stages"}, "has %d stages, but a pipeline takes at most %d (CodePipeline's 50, less source and build); release through fewer stages", n, MaxStages)
	}
	if n := len(c.Services); n > MaxServices {
		v.addf(keyPath{"services"}, "has %d services, but an app may have at most %d (each adds about 14 resources to every stage stack, and a CloudFormation stack holds 500); split them over two apps", n, MaxServices)
	}
	return len(c.Stages) > MaxStages || len(c.Services) > MaxServices
}

func (v *validator) checkRegion(p keyPath, region string, required bool) {
	switch {
	case region == "" && required:
		v.addf(p, "required; name the AWS region the pipelines run in, e.g. us-east-1")
	case region != "" && !regionRe.MatchString(region):
		v.addf(p, "%q is not an AWS region; write a region code such as us-east-1, eu-west-1 or us-gov-west-1", region)
	case region != "" && !v.c.knownRegion(region):
		v.addf(p, "%q is not an AWS region stagecoach knows%s; check the code in the AWS console, or, if AWS opened this region after this version of stagecoach, list it under extraRegions", region, suggest(region, KnownRegions))
	}
}

// checkHomeRegion refuses a home region where CodePipeline cannot use a connection:
// the pipelines' source action calls CodeConnections in the home region.
func (v *validator) checkHomeRegion() {
	c := v.c
	if !regionRe.MatchString(c.Region) || !slices.Contains(KnownRegions, c.Region) ||
		slices.Contains(ConnectionRegions, c.Region) || slices.Contains(c.ExtraRegions, c.Region) {
		return // reported by checkRegion, fine, or vouched for in extraRegions
	}
	v.addf(keyPath{"region"}, "CodeConnections is not offered in %s, and the pipelines' source action needs it in the home region; "+
		"pick a home region from %s (stages can still run in %s), or, if AWS now offers it there, list %s under extraRegions",
		c.Region, strings.Join(ConnectionRegions, ", "), c.Region, c.Region)
}

// checkExtraRegions checks the region codes the config adds to KnownRegions.
func (v *validator) checkExtraRegions() {
	for i, r := range v.c.ExtraRegions {
		p := keyPath{"extraRegions", i}
		switch {
		case !regionRe.MatchString(r):
			v.addf(p, "%q is not a region code; write it as AWS does, e.g. ap-southeast-8", r)
		case slices.Contains(KnownRegions, r) && !slices.Contains(ConnectionRegions, r) && r == v.c.Region:
			// Vouches that CodeConnections now reaches the known home region.
		case slices.Contains(KnownRegions, r):
			v.addf(p, "%q is already a region stagecoach knows; remove it from extraRegions", r)
		}
	}
}

// checkLoadBalancerNames refuses an app whose stage load balancer names would start
// with "internal-", which Elastic Load Balancing reserves (CreateLoadBalancer: a name
// "must not begin with internal-"). Reported once, at app.
func (v *validator) checkLoadBalancerNames() {
	c := v.c
	if !nameRe.MatchString(c.App) {
		return
	}
	for _, st := range c.Stages {
		if lb := names.LoadBalancer(c.App, st.Name); strings.HasPrefix(lb, "internal-") {
			v.addf(keyPath{"app"}, "%q would name the load balancer of stage %s %q, but load balancer names may not start with \"internal-\"; rename the app, e.g. %q", c.App, st.Name, lb, "my-"+c.App)
			return
		}
	}
}

func (v *validator) checkSource() {
	src := v.c.Source
	p := keyPath{"source"}
	if !slices.Contains(Providers, src.Provider) {
		v.addf(p.at("provider"), "%q is not a supported provider%s; use one of %s (spelled exactly so)", src.Provider, suggest(src.Provider, Providers), strings.Join(Providers, ", "))
	}
	if src.Repository == "" {
		v.addf(p.at("repository"), "required; write the repository as owner/name, e.g. acme/shop")
	} else if parts := strings.Split(src.Repository, "/"); len(parts) < 2 || slices.ContainsFunc(parts, func(s string) bool {
		return !repoPartRe.MatchString(s) || s == "." || s == ".."
	}) {
		v.addf(p.at("repository"), "%q is not a repository; write owner/name as in the repository's URL, e.g. acme/shop (GitLab subgroups: group/subgroup/name)", src.Repository)
	}
	if strings.ContainsAny(src.Branch, "{}") && badBranch(src.Branch) == "" {
		// Git allows braces, but the pipeline trigger reads the branch as a glob
		// pattern, where {a,b} means "a or b" ("Working with glob patterns in
		// syntax", CodePipeline User Guide).
		v.addf(p.at("branch"), "%q contains { or }, which the pipeline's trigger reads as a glob pattern ({a,b} matches a or b), so pushes to this branch might not start the pipelines and pushes to others might; rename the branch without braces", src.Branch)
	}
	if why := badBranch(src.Branch); why != "" {
		v.addf(p.at("branch"), "%q is not a valid branch name: %s; write the branch as git shows it, e.g. main", src.Branch, why)
	}
	if src.Connection != "" && !connectionRe.MatchString(src.Connection) {
		v.addf(p.at("connection"), "%q is not a CodeConnections connection ARN; copy the ARN (arn:aws:codeconnections:REGION:ACCOUNT:connection/ID) from Developer Tools > Settings > Connections, or leave connection out to have the pipeline stacks create one", src.Connection)
	} else if src.Connection != "" {
		v.checkConnectionRegion(p.at("connection"), src.Connection)
	}
}

// checkConnectionRegion compares the connection ARN's region with the home region.
// A connection is a global resource ("Global resources in AWS CodeConnections",
// Developer Tools console User Guide): created once, it can be used from any region
// of its partition, so a connection made in another region of the same partition is
// fine. It cannot be used from another partition, and the region in its ARN is the
// one it was created in, so that region must exist in the ARN's partition.
func (v *validator) checkConnectionRegion(p keyPath, arn string) {
	parts := strings.SplitN(arn, ":", 5)
	partition, region := parts[1], parts[3]
	if !v.c.knownRegion(region) {
		v.addf(p, "the connection's ARN names region %q, which is no AWS region; copy the ARN again from Developer Tools > Settings > Connections (or list extraRegions if the region is new)", region)
		return
	}
	if got := RegionPartition(region); got != partition {
		v.addf(p, "the connection's ARN says partition %s but its region %s is in %s; copy the ARN again from Developer Tools > Settings > Connections", partition, region, got)
		return
	}
	if home := RegionPartition(v.c.Region); home != partition {
		v.addf(p, "the connection was created in %s (partition %s), but the home region %s is in partition %s, where it cannot be used; create the connection in %s (or leave connection out to have the pipeline stacks create one)", region, partition, v.c.Region, home, v.c.Region)
	}
}

// badBranch says why git would refuse b as a branch name, or returns "".
// It follows git check-ref-format for the mistakes people actually make.
func badBranch(b string) string {
	switch {
	case strings.HasPrefix(b, "-"):
		return `it starts with "-"`
	case strings.HasPrefix(b, "refs/"):
		return `give the branch without "refs/heads/"`
	case strings.Contains(b, ".."):
		return `it contains ".."`
	case strings.Contains(b, "@{"):
		return `it contains "@{"`
	case strings.ContainsFunc(b, func(r rune) bool { return r <= ' ' || r == 0x7f || strings.ContainsRune(`~^:?*[\`, r) }):
		return `it contains a space, a control character or one of ~^:?*[\`

	case strings.HasPrefix(b, "/") || strings.HasSuffix(b, "/") || strings.Contains(b, "//"):
		return `it has an empty part between slashes`
	case strings.HasSuffix(b, ".") || strings.HasSuffix(b, ".lock") || b == "@":
		return `it ends with "." or ".lock", or is "@"`
	}
	return ""
}

func (v *validator) checkStages() {
	c := v.c
	if len(c.Stages) == 0 {
		v.addf(keyPath{"stages"}, "required; list at least one stage, e.g. stages: [{name: dev}]")
	}
	seen := map[string]int{}
	for i, st := range c.Stages {
		p := keyPath{"stages", i}
		switch {
		case st.Name == contract.LatestTag:
			v.addf(p.at("name"), "%q is reserved (it is the tag every build pushes); pick another name", contract.LatestTag)
		default:
			v.checkName(p.at("name"), st.Name, MaxStageName, "stage", "dev")
		}
		if j, dup := seen[st.Name]; dup && st.Name != "" {
			v.addf(p.at("name"), "%q is already the name of stages[%d]; stage names must be unique, so rename one", st.Name, j)
		} else {
			seen[st.Name] = i
		}
		if st.Region != c.Region {
			v.checkRegion(p.at("region"), st.Region, false)
		}
		if st.Certificate != "" {
			switch m := certificateRe.FindString(st.Certificate); {
			case m == "":
				v.addf(p.at("certificate"), "%q is not an ACM certificate ARN; copy it (arn:aws:acm:REGION:ACCOUNT:certificate/ID) from the Certificate Manager console", st.Certificate)
			case strings.Split(st.Certificate, ":")[3] != st.Region:
				v.addf(p.at("certificate"), "the certificate is in %s but the stage runs in %s; a load balancer can only use a certificate of its own region, so request or import one there", strings.Split(st.Certificate, ":")[3], st.Region)
			}
		}
		if st.Images != ImagesRegional && st.Images != ImagesHome {
			v.addf(p.at("images"), "%q is not a choice; use %q (a copy in the stage's region) or %q (the home repository)", st.Images, ImagesRegional, ImagesHome)
		}
	}
	v.checkLifecycleRules()
}

// checkLifecycleRules refuses stage names whose images ECR's lifecycle policy could
// not protect: every stage tag and rollback tag needs a rule of its own, or a
// wildcard shared with other stage names that no commit tag can match (a character
// outside a-f in common), and a policy takes 50 rules (see package imagetags).
func (v *validator) checkLifecycleRules() {
	var stages []string
	for _, st := range v.c.Stages {
		if !nameRe.MatchString(st.Name) {
			return // reported above
		}
		stages = append(stages, st.Name)
	}
	if _, ok := imagetags.Cover(imagetags.Moving(stages), imagetags.MaxLifecycleProtections); !ok {
		v.addf(keyPath{"stages"}, "ECR's lifecycle policy (at most 50 rules) cannot keep the images of these %d stages, whose names have too few letters beyond a-f in common; use fewer stages, or names that share a letter such as a common prefix (e.g. prod-us, prod-eu)", len(stages))
	}
}

func (v *validator) checkServices() {
	c := v.c
	if len(c.Services) == 0 {
		v.addf(keyPath{"services"}, "required; list at least one service, e.g. services: [{name: web}]")
	}
	seen := map[string]int{}
	for i := range c.Services {
		s := &c.Services[i]
		p := keyPath{"services", i}
		v.checkName(p.at("name"), s.Name, MaxServiceName, "service", "web")
		if j, dup := seen[s.Name]; dup && s.Name != "" {
			v.addf(p.at("name"), "%q is already the name of services[%d]; service names must be unique, so rename one", s.Name, j)
		} else {
			seen[s.Name] = i
		}
		v.checkRepoFile(p.at("dockerfile"), s.Dockerfile, "Dockerfile")
		v.checkPaths(p.at("paths"), s.Paths)
		if s.Port < 1 || s.Port > 65535 {
			v.addf(p.at("port"), "%d is not a port; use a port from 1 to 65535 (the one your container listens on)", s.Port)
		}
		switch {
		case !strings.HasPrefix(s.HealthCheck, "/"):
			v.addf(p.at("healthCheck"), "%q must be a URL path starting with \"/\", e.g. /ping", s.HealthCheck)
		case strings.ContainsFunc(s.HealthCheck, func(r rune) bool { return r <= ' ' || r == 0x7f }) || len(s.HealthCheck) > 1024:
			v.addf(p.at("healthCheck"), "%q is not a valid health check path: it must have no spaces and at most 1024 characters", s.HealthCheck)
		}
		if s.Rollout != nil {
			v.checkRollout(p.at("rollout"), *s.Rollout)
		}
		cpuOK := v.checkSize(p, s.CPU, s.Memory)
		if s.Scale != nil {
			v.checkScale(p.at("scale"), *s.Scale, nil)
		}
		v.checkVars(p, s.Env, s.Secrets)
		v.checkSecretStages(p, s)
		v.checkSecretKeys(p, s)
		v.checkRepoFile(p.at("build", "buildspec"), s.Build.Buildspec, "build.yml")
		v.checkVars(p.at("build"), s.Build.Env, s.Build.Secrets)
		v.checkBuildParameterRegions(p.at("build", "secrets"), s.Build.Secrets)
		v.checkRepoFile(p.at("release", "buildspec"), s.Release.Buildspec, "release.yml")
		v.checkVars(p.at("release"), s.Release.Env, nil)
		v.checkOverrides(i, cpuOK)
	}
}

// checkRepoFile checks the path of a file in the repository; empty is allowed.
func (v *validator) checkRepoFile(p keyPath, f, what string) {
	switch {
	case f == "":
	case strings.HasPrefix(f, "/"):
		v.addf(p, "%q must be relative to the repository root; drop the leading \"/\"", f)
	case !repoFileRe.MatchString(f):
		v.addf(p, "%q may hold only letters, digits and _.@+=,/- (the build passes it to a shell unquoted); rename the %s", f, what)
	case slices.Contains(strings.Split(f, "/"), ".."):
		v.addf(p, "%q leaves the repository with \"..\"; give the path from the repository root", f)
	case path.Clean(f) != f:
		v.addf(p, "%q is not a clean path; write %q", f, path.Clean(f))
	}
}

func (v *validator) checkPaths(p keyPath, globs []string) {
	if len(globs) > MaxPaths {
		v.addf(p, "has %d patterns, but a CodePipeline trigger accepts at most %d; merge some, e.g. with a common directory and **", len(globs), MaxPaths)
	}
	for i, g := range globs {
		switch {
		case g == "":
			v.addf(p.at(i), "empty pattern; remove it, or write a glob such as web/**")
		case len(g) > 255:
			v.addf(p.at(i), "has %d characters, but CodePipeline accepts at most 255; shorten it", len(g))
		case strings.HasPrefix(g, "/"):
			v.addf(p.at(i), "%q must be relative to the repository root; drop the leading \"/\"", g)
		default:
			if _, err := path.Match(g, ""); err != nil {
				v.addf(p.at(i), "%q is not a valid glob (unclosed [ or trailing \\); fix the pattern", g)
			}
		}
	}
}

// Fargate task sizes: the memory sizes (MiB) allowed for each CPU value.
var fargate = map[int][]int{
	256:   {512, 1024, 2048},
	512:   steps(1024, 4096, 1024),
	1024:  steps(2048, 8192, 1024),
	2048:  steps(4096, 16384, 1024),
	4096:  steps(8192, 30720, 1024),
	8192:  steps(16384, 61440, 4096),
	16384: steps(32768, 122880, 8192),
}

func steps(from, to, step int) []int {
	var out []int
	for m := from; m <= to; m += step {
		out = append(out, m)
	}
	return out
}

// ValidTaskSize reports whether Fargate runs a task with cpu units and memory MiB.
func ValidTaskSize(cpu, memory int) bool { return slices.Contains(fargate[cpu], memory) }

func cpuList() string {
	cpus := slices.Sorted(maps.Keys(fargate))
	s := make([]string, len(cpus))
	for i, c := range cpus {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ", ")
}

func memoryList(cpu int) string {
	m := fargate[cpu]
	if len(m) <= 4 {
		var s []string
		for _, x := range m {
			s = append(s, strconv.Itoa(x))
		}
		return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1] + " MiB"
	}
	return fmt.Sprintf("%d to %d MiB in steps of %d", m[0], m[len(m)-1], m[1]-m[0])
}

// checkSize checks a task size at p, a service or a stage override, and reports
// whether the CPU value is valid.
func (v *validator) checkSize(p keyPath, cpu, memory int) bool {
	if _, ok := fargate[cpu]; !ok {
		v.addf(p.at("cpu"), "%d is not a Fargate CPU size; use one of %s", cpu, cpuList())
		return false
	}
	if !ValidTaskSize(cpu, memory) {
		v.addf(p.at("memory"), "%d MiB does not fit %d CPU units; Fargate allows %s with that CPU", memory, cpu, memoryList(cpu))
	}
	return true
}

// checkScale checks a scaling range at p. base, for a stage override, is where the
// fields the override leaves out come from.
func (v *validator) checkScale(p keyPath, sc Scale, base keyPath) {
	if sc.Min < 1 {
		v.addf(p.at("min"), "%d tasks: use at least 1", sc.Min)
	}
	switch {
	case sc.Max > MaxScale:
		v.addf(p.at("max"), "%d tasks is more than %d, the most stagecoach runs per service and stage; lower it", sc.Max, MaxScale)
	case sc.Max < sc.Min && sc.Min >= 1:
		if base != nil {
			v.addf(p, "min %d is above max %d (what this override leaves out comes from %s); raise max or lower min", sc.Min, sc.Max, base)
		} else {
			v.addf(p.at("max"), "%d is below min %d; raise max or lower min", sc.Max, sc.Min)
		}
	}
	if sc.CPUTarget < 10 || sc.CPUTarget > 90 {
		v.addf(p.at("cpuTarget"), "%d%% is outside 10–90; pick the average CPU percentage to scale at, e.g. %d", sc.CPUTarget, DefaultCPUTarget)
	}
}

// checkVars checks the env and secrets of one scope: names valid and not reserved,
// secret values references, no name both plain and secret.
func (v *validator) checkVars(scope keyPath, env, secrets map[string]string) {
	for _, name := range sortedKeys(env) {
		v.checkVarName(scope.at("env", name), name)
	}
	for _, name := range sortedKeys(secrets) {
		p := scope.at("secrets", name)
		v.checkVarName(p, name)
		if _, err := ParseSecret(secrets[name]); err != nil {
			v.addf(p, "%v", err)
		}
		if _, dup := env[name]; dup {
			v.addf(p, "is also set in %s; a variable is either plain or secret, so remove one", scope.at("env", name))
		}
	}
}

func (v *validator) checkVarName(p keyPath, name string) {
	switch {
	case !envNameRe.MatchString(name):
		v.addf(p, "not a valid variable name: use letters, digits and _, not starting with a digit")
	case slices.Contains(contract.NeverSet, name):
		v.addf(p, "%s is never set: stagecoach's stages are ECS services, and a TinyStacks release.yml would take its Lambda path when it is set; remove it", name)
	case slices.Contains(contract.Reserved(), name):
		v.addf(p, "%s is set by stagecoach and cannot be overridden (the immutable variables are %s); rename your variable", name, strings.Join(contract.Reserved(), ", "))
	case slices.ContainsFunc(contract.ReservedPrefixes, func(pfx string) bool { return strings.HasPrefix(name, pfx) }):
		v.addf(p, "names starting with %s are reserved for AWS and CodeBuild; rename your variable", strings.Join(contract.ReservedPrefixes, " or "))
	}
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// checkOverrides checks service i's per-stage overrides, each as merged with the
// service. cpuOK tells whether the service's own CPU is valid.
func (v *validator) checkOverrides(i int, cpuOK bool) {
	c := v.c
	s := &c.Services[i]
	svc := keyPath{"services", i}
	var stageNames []string
	for _, st := range c.Stages {
		stageNames = append(stageNames, st.Name)
	}
	var unique []string
	for _, n := range stageNames {
		if !slices.Contains(unique, n) {
			unique = append(unique, n)
		}
	}
	listed := strings.Join(unique, ", ")
	for _, name := range slices.Sorted(maps.Keys(s.Stages)) {
		o := s.Stages[name]
		p := svc.at("stages", name)
		if !slices.Contains(stageNames, name) {
			v.addf(p, "there is no stage %q%s; override one of the stages: %s", name, suggest(name, stageNames), listed)
			continue
		}
		switch {
		case o.CPU == 0 && o.Memory == 0:
		case o.CPU == 0 && !cpuOK:
			// The service's CPU is reported at the service; do not repeat it.
		case o.Memory == 0 && fargate[o.CPU] != nil && !ValidTaskSize(o.CPU, s.Memory):
			v.addf(p.at("cpu"), "%d CPU units need memory of %s, but memory %d comes from %s; set memory here too", o.CPU, memoryList(o.CPU), s.Memory, svc.at("memory"))
		default:
			cpu, memory := s.CPU, s.Memory
			if o.CPU != 0 {
				cpu = o.CPU
			}
			if o.Memory != 0 {
				memory = o.Memory
			}
			v.checkSize(p, cpu, memory)
		}
		if o.Scale != nil {
			// ApplyDefaults filled the fields the override leaves out.
			v.checkScale(p.at("scale"), *o.Scale, svc.at("scale"))
		}
		for _, n := range sortedKeys(o.Env) {
			v.checkVarName(p.at("env", n), n)
		}
		for _, n := range sortedKeys(o.Secrets) {
			v.checkVarName(p.at("secrets", n), n)
			if _, err := ParseSecret(o.Secrets[n]); err != nil {
				v.addf(p.at("secrets", n), "%v", err)
			}
		}
		// After merging, a name may not be both plain and secret. A clash between
		// the service's own maps is reported at the service.
		d := c.Deployment(i, slices.Index(stageNames, name))
		for _, n := range sortedKeys(d.Secrets) {
			if _, plain := d.Env[n]; !plain {
				continue
			}
			_, envHere := o.Env[n]
			_, secretHere := o.Secrets[n]
			switch {
			case secretHere && envHere:
				v.addf(p.at("secrets", n), "is also set in %s; a variable is either plain or secret, so remove one", p.at("env", n))
			case secretHere:
				v.addf(p.at("secrets", n), "is also set in %s, and stage %s would get both; a variable is either plain or secret, so remove one", svc.at("env", n), name)
			case envHere:
				v.addf(p.at("env", n), "is also set in %s, and stage %s would get both; a variable is either plain or secret, so remove one", svc.at("secrets", n), name)
			}
		}
	}
}

// checkDerivedNames reports two resources that would get the same physical name,
// e.g. stage "web-pipeline" and service "web" both give the stack "APP-web-pipeline".
// Names are claimed in a fixed order and a clash is reported at the later claimant.
func (v *validator) checkDerivedNames() {
	c := v.c
	if !nameRe.MatchString(c.App) {
		return // reported at app; the derived names would be wrong anyway
	}
	type claim struct {
		what string
		at   keyPath
	}
	seen := map[string]claim{}
	take := func(kind, name string, cl claim) {
		if prev, ok := seen[kind+"\x00"+name]; ok {
			v.addf(cl.at, "%s would be named %q, like %s; rename one of them", cl.what, name, prev.what)
			return
		}
		seen[kind+"\x00"+name] = cl
	}
	// Duplicate or invalid names are reported elsewhere; skip them here.
	var services, stages []int
	dupS, dupT := map[string]bool{}, map[string]bool{}
	for i, s := range c.Services {
		if nameRe.MatchString(s.Name) && !dupS[s.Name] {
			dupS[s.Name] = true
			services = append(services, i)
		}
	}
	for i, st := range c.Stages {
		if nameRe.MatchString(st.Name) && !dupT[st.Name] {
			dupT[st.Name] = true
			stages = append(stages, i)
		}
	}
	for _, i := range services {
		s := c.Services[i].Name
		take("stack", names.PipelineStack(c.App, s), claim{fmt.Sprintf("the pipeline stack of service %q", s), keyPath{"services", i, "name"}})
	}
	for _, j := range stages {
		st := c.Stages[j].Name
		take("stack", names.StageStack(c.App, st), claim{fmt.Sprintf("the stack of stage %q", st), keyPath{"stages", j, "name"}})
	}
	// CodeBuild project names are unique in the home region.
	for _, i := range services {
		s := c.Services[i].Name
		take("project", names.BuildProject(c.App, s), claim{fmt.Sprintf("the build project of service %q", s), keyPath{"services", i, "name"}})
	}
	for _, i := range services {
		s := c.Services[i].Name
		for _, j := range stages {
			st := c.Stages[j].Name
			take("project", names.ReleaseProject(c.App, s, st), claim{fmt.Sprintf("the release project of service %q for stage %q", s, st), keyPath{"services", i, "name"}})
		}
	}
}

// checkRoutes checks the load balancer routing: one default service, rules with
// conditions ALB accepts and distinct priorities.
func (v *validator) checkRoutes(explicitPriority []bool) {
	c := v.c
	if len(c.Services) == 0 {
		return
	}
	def := -1
	byPriority := map[int]int{}
	for i, s := range c.Services {
		p := keyPath{"services", i, "route"}
		if s.Route == nil {
			if def >= 0 {
				v.addf(p, "missing; services[%d] (%q) already has no route and receives the requests no route matches, and only one service can; give this service a route with paths or hosts", def, c.Services[def].Name)
			} else {
				def = i
			}
			continue
		}
		r := s.Route
		if len(r.Paths)+len(r.Hosts) == 0 {
			v.addf(p, "has neither paths nor hosts; give at least one, e.g. paths: [\"/api/*\"]")
		}
		if n := len(r.Paths) + len(r.Hosts); n > MaxRouteValues {
			v.addf(p, "has %d paths and hosts, but an ALB listener rule accepts at most %d condition values; use wildcards to need fewer", n, MaxRouteValues)
		}
		for k, pat := range r.Paths {
			if len(pat) > 128 || !albPathRe.MatchString(pat) {
				v.addf(p.at("paths", k), "%q is not an ALB path pattern: start it with \"/\", use at most 128 characters and only letters, digits, * and ? wildcards and _-.$/~\"'@:+&", pat)
			}
		}
		for k, h := range r.Hosts {
			if len(h) > 128 || !albHostRe.MatchString(h) {
				v.addf(p.at("hosts", k), "%q is not an ALB host pattern: use at most 128 characters, only letters, digits, -, . and the * and ? wildcards, e.g. api.example.com", h)
			}
		}
		if r.Priority < 1 || r.Priority > MaxPriority {
			v.addf(p.at("priority"), "%d is outside 1–%d; pick another, or leave priority out for 10 × the service's position", r.Priority, MaxPriority)
			continue
		}
		explicit := explicitPriority == nil || explicitPriority[i]
		j, taken := byPriority[r.Priority]
		switch {
		case !taken:
			byPriority[r.Priority] = i
			continue
		case explicit && (explicitPriority == nil || explicitPriority[j]):
			v.addf(p.at("priority"), "%d is also the priority of services[%d] (%q); listener rule priorities must be unique, so pick another", r.Priority, j, c.Services[j].Name)
		case explicit:
			v.addf(p.at("priority"), "%d is the default priority of services[%d] (%q), 10 × its position; pick another, or set that service's priority", r.Priority, j, c.Services[j].Name)
		default:
			v.addf(p, "its default priority %d (10 × its position) is set explicitly by services[%d] (%q); set priority here to another value", r.Priority, j, c.Services[j].Name)
		}
	}
	if def < 0 {
		v.addf(keyPath{"services"}, "every service has a route, so requests no route matches would have nowhere to go; remove route from the service that should receive them")
	}
}

// rolloutLimits are the ranges AWS accepts for each rollout setting (health check
// interval and thresholds, deregistration delay, grace period, stop timeout,
// deployment percentages), by YAML key.
var rolloutLimits = []struct {
	key      string
	get      func(Rollout) int
	min, max int
}{
	{"healthCheckInterval", func(r Rollout) int { return r.HealthCheckInterval }, 5, 300},
	{"healthyThreshold", func(r Rollout) int { return r.HealthyThreshold }, 2, 10},
	{"unhealthyThreshold", func(r Rollout) int { return r.UnhealthyThreshold }, 2, 10},
	{"deregistrationDelay", func(r Rollout) int { return r.DeregistrationDelay }, 1, 3600},
	{"gracePeriod", func(r Rollout) int { return r.GracePeriod }, 1, 7200},
	{"stopTimeout", func(r Rollout) int { return r.StopTimeout }, 2, 120},
	{"minHealthyPercent", func(r Rollout) int { return r.MinHealthyPercent }, 1, 100},
	{"maxPercent", func(r Rollout) int { return r.MaxPercent }, 101, 200},
}

func (v *validator) checkRollout(p keyPath, r Rollout) {
	for _, l := range rolloutLimits {
		if n := l.get(r); n < l.min || n > l.max {
			v.addf(p.at(l.key), "%d is out of range; use %d to %d", n, l.min, l.max)
		}
	}
}

// checkSecretStages checks that secretStages scopes secrets the service has to
// stages the app has.
func (v *validator) checkSecretStages(svc keyPath, s *Service) {
	var stageNames []string
	for _, st := range v.c.Stages {
		stageNames = append(stageNames, st.Name)
	}
	for _, name := range slices.Sorted(maps.Keys(s.SecretStages)) {
		p := svc.at("secretStages", name)
		if _, ok := s.Secrets[name]; !ok {
			v.addf(p, "%s is not in %s; scope a secret the service has%s, or remove this entry", name, svc.at("secrets"), suggest(name, sortedKeys(s.Secrets)))
			continue
		}
		stages := s.SecretStages[name]
		if len(stages) == 0 {
			v.addf(p, "lists no stage, so no task would get %s; list the stages that need it, or remove it from secrets", name)
		}
		for k, st := range stages {
			if !slices.Contains(stageNames, st) {
				v.addf(p.at(k), "there is no stage %q%s; list stages from: %s", st, suggest(st, stageNames), strings.Join(stageNames, ", "))
			}
		}
	}
}

// checkSecretKeys checks the KMS keys a service's secrets are encrypted with.
func (v *validator) checkSecretKeys(svc keyPath, s *Service) {
	hasSecrets := len(s.Secrets) > 0 || len(s.Build.Secrets) > 0
	for _, o := range s.Stages {
		hasSecrets = hasSecrets || len(o.Secrets) > 0
	}
	for k, key := range s.SecretKeys {
		p := svc.at("secretKeys", k)
		switch {
		case strings.Contains(key, ":alias/"):
			v.addf(p, "%q is an alias; IAM matches kms:Decrypt against the key's ARN, so copy the key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID) from the KMS console", key)
		case !kmsKeyRe.MatchString(key):
			v.addf(p, "%q is not a KMS key ARN; copy it (arn:aws:kms:REGION:ACCOUNT:key/ID) from the KMS console", key)
		case !hasSecrets:
			v.addf(p, "the service reads no secrets, so no role needs this key; remove secretKeys")
		case slices.Index(s.SecretKeys, key) < k:
			v.addf(p, "%q is listed twice; remove one", key)
		}
	}
}

// checkBuildParameterRegions refuses a build secret given as the ARN of an SSM
// parameter outside the home region: CodeBuild takes a Parameter Store variable by
// name ("specify the name of the parameter", EnvironmentVariable in the CodeBuild
// API) and reads it in the build's region, which is the home region.
func (v *validator) checkBuildParameterRegions(p keyPath, secrets map[string]string) {
	for _, name := range sortedKeys(secrets) {
		sec, err := ParseSecret(secrets[name])
		if err != nil || sec.Kind != ParameterARN {
			continue
		}
		if region := strings.Split(sec.ARN, ":")[3]; region != v.c.Region {
			v.addf(p.at(name), "the parameter is in %s, but a build reads SSM parameters by name in the home region %s, so it would not find this one; copy the parameter to %s (and write its name), or store the value in Secrets Manager", region, v.c.Region, v.c.Region)
		}
	}
}
