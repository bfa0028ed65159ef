// Package check reads a build.yml or release.yml and reports, with line numbers and
// the fix, what will not work when stagecoach runs it: variables nobody sets, a build
// that pushes a stage tag or no :latest, bash syntax under a shell that is not bash,
// task definitions registered without what Fargate requires, ECS calls that go to the
// home region in a multi-region app, pushes an immutable tag refuses on a re-run, and a
// release that never feeds a regional repository. It also notes what works but
// differs from TinyStacks (the Lambda branch, task definitions CloudFormation reverts).
//
// The check reads commands as text, as a reviewer would: it recognises the patterns
// TinyStacks' files and ours use, not every way a shell can spell them. The corpus in
// rehearsal/testdata/tinystacks and the default buildspecs pin what it reports.
package check

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/stagecoach/stagecoach/internal/contract"
	"github.com/stagecoach/stagecoach/internal/imagetags"
)

// Kind says which contract a buildspec runs under.
type Kind string

// The two kinds of buildspec.
const (
	Build   Kind = "build"
	Release Kind = "release"
)

// Options describes where the buildspec runs. Build it from a config with ForConfig.
type Options struct {
	// Kind is Build or Release. Required.
	Kind Kind
	// Stages are the stage names, in order: tags a build must never push.
	Stages []string
	// MultiRegion is true when some stage runs outside the home region.
	MultiRegion bool
	// Regional is true when some stage pulls from a repository in its own region,
	// which only a release.yml that copies to REGIONAL_ECR_IMAGE_URL feeds.
	Regional bool
	// ImmutableTags is true when the repository keeps every tag but :latest and the
	// stage tags immutable.
	ImmutableTags bool
	// Sh is what sh is in the build image: "bash" on the Amazon Linux image
	// stagecoach's projects use (the default), "dash" on Ubuntu images.
	Sh string
	// UserVariables are the variables the config sets for this buildspec.
	UserVariables []string
	// DockerfilePath is true when the build gets DOCKERFILE_PATH (the service
	// names its Dockerfile).
	DockerfilePath bool
}

// Severity tells a problem from a note.
type Severity string

// Severities.
const (
	// Error: this will not work here.
	Error Severity = "error"
	// Note: this works, but differs from TinyStacks in a way worth knowing.
	Note Severity = "note"
)

// Finding is one thing the check reports.
type Finding struct {
	// Line is the 1-based line in the file; 0 for the file as a whole.
	Line     int
	Severity Severity
	// Rule names the check, e.g. "unset-variable".
	Rule    string
	Message string
	// Fix says what to change.
	Fix string
}

func (f Finding) String() string {
	where := fmt.Sprintf("line %d", f.Line)
	if f.Line == 0 {
		where = "file"
	}
	return fmt.Sprintf("%s: %s [%s] %s\n    fix: %s", where, f.Severity, f.Rule, f.Message, f.Fix)
}

// line is one logical command line: continuation lines joined, with the file line
// it starts on.
type line struct {
	n    int
	text string
}

// Check reads a buildspec and returns its findings, ordered by line. An error means
// the file is not a buildspec the check can read.
func Check(text string, o Options) ([]Finding, error) {
	if o.Kind != Build && o.Kind != Release {
		return nil, fmt.Errorf("check: Options.Kind is %q; want build or release", o.Kind)
	}
	spec, err := parse(text)
	if err != nil {
		return nil, err
	}
	c := &checker{o: o, spec: spec}
	c.variables()
	c.bashSyntax()
	c.tags()
	c.ecs()
	if o.Kind == Release && o.Regional && !strings.Contains(text, contract.RegionalECRImageURL) {
		c.add(0, Error, "regional-copy",
			"a stage pulls from a repository in its own region, and this release.yml never copies the image there: that stage's service keeps running the image it had",
			"copy the image to $REGIONAL_ECR_IMAGE_URL:$STAGE_NAME when REGIONAL_ECR_IMAGE_URL is set (as stagecoach's default release.yml does), or set `images: home` on those stages")
	}
	sort.SliceStable(c.out, func(i, j int) bool { return c.out[i].Line < c.out[j].Line })
	return c.out, nil
}

type checker struct {
	o    Options
	spec *spec
	out  []Finding
}

func (c *checker) add(n int, sev Severity, rule, msg, fix string) {
	c.out = append(c.out, Finding{Line: n, Severity: sev, Rule: rule, Message: msg, Fix: fix})
}

// spec is what the check reads of a buildspec.
type spec struct {
	shell string
	// declared are the names the buildspec's env section sets.
	declared []string
	lines    []line
}

type rawSpec struct {
	Env struct {
		Shell          string            `yaml:"shell"`
		Variables      map[string]any    `yaml:"variables"`
		ParameterStore map[string]string `yaml:"parameter-store"`
		SecretsManager map[string]string `yaml:"secrets-manager"`
	} `yaml:"env"`
	Phases map[string]struct {
		Commands []string `yaml:"commands"`
		Finally  []string `yaml:"finally"`
	} `yaml:"phases"`
}

var phaseOrder = []string{"install", "pre_build", "build", "post_build"}

// parse reads the buildspec and finds the line each command starts on: the first
// line of its text, searched in the file after the previous command.
func parse(text string) (*spec, error) {
	var raw rawSpec
	if err := yaml.Unmarshal([]byte(text), &raw); err != nil {
		return nil, fmt.Errorf("check: not a YAML buildspec: %v", err)
	}
	s := &spec{shell: raw.Env.Shell}
	for _, m := range []map[string]string{raw.Env.ParameterStore, raw.Env.SecretsManager} {
		for k := range m {
			s.declared = append(s.declared, k)
		}
	}
	for k := range raw.Env.Variables {
		s.declared = append(s.declared, k)
	}
	file := strings.Split(text, "\n")
	at := 0 // file index to search from
	for _, name := range phaseOrder {
		p, ok := raw.Phases[name]
		if !ok {
			continue
		}
		for _, cmd := range append(slices.Clone(p.Commands), p.Finally...) {
			first, _, _ := strings.Cut(cmd, "\n")
			start := at
			for i := at; i < len(file); i++ {
				if strings.Contains(file[i], strings.TrimSpace(first)) {
					start = i
					break
				}
			}
			at = start + 1
			s.lines = append(s.lines, logical(cmd, start+1)...)
		}
	}
	return s, nil
}

// logical splits a command into its lines, joining lines that end in a backslash.
func logical(cmd string, first int) []line {
	var out []line
	var cur strings.Builder
	startN := first
	for i, l := range strings.Split(strings.TrimRight(cmd, "\n"), "\n") {
		if cur.Len() == 0 {
			startN = first + i
		}
		if t, ok := strings.CutSuffix(strings.TrimRight(l, " \t"), "\\"); ok {
			cur.WriteString(t + " ")
			continue
		}
		cur.WriteString(l)
		out = append(out, line{startN, cur.String()})
		cur.Reset()
	}
	if cur.Len() > 0 {
		out = append(out, line{startN, cur.String()})
	}
	return out
}

var (
	varRef    = regexp.MustCompile(`\$\{?([A-Z_][A-Z0-9_]*)(:?[-=?+])?`)
	assign    = regexp.MustCompile(`(?:^|[\s;(&|])(?:export\s+|local\s+|declare\s+(?:-\w+\s+)?)?([A-Za-z_][A-Za-z0-9_]*)=`)
	readVars  = regexp.MustCompile(`\bread\s+(?:-\w+\s+)*([A-Za-z_][A-Za-z0-9_ ]*)`)
	forVar    = regexp.MustCompile(`\bfor\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\b`)
	bashTest  = regexp.MustCompile(`(^|[\s;])\[\s[^\]]*\s==\s`)
	ecsCall   = regexp.MustCompile(`\baws\s+ecs\s+([a-z-]+)`)
	tagOrPush = regexp.MustCompile(`\bdocker\s+(?:tag\s+\S+|push)\s+("?)([^\s"]+)`)
	putTag    = regexp.MustCompile(`--image-tag[ =]"?([^\s"]+)`)
	// imageFromHome is a jq argument that sets container images from ECR_IMAGE_URL.
	imageFromHome = regexp.MustCompile(`--arg\s+image\s+"?\$\{?ECR_IMAGE_URL`)
)

// text is every command line of the file, joined.
func (c *checker) text() string {
	var b strings.Builder
	for _, l := range c.spec.lines {
		b.WriteString(l.text + "\n")
	}
	return b.String()
}

// knownVariables are set in every CodeBuild build, or by the shell itself.
var knownVariables = []string{"AWS_REGION", "AWS_DEFAULT_REGION", "HOME", "PATH", "PWD", "OLDPWD", "IFS", "SHELL", "USER", "UID",
	"SECONDS", "RANDOM", "LINENO", "BASH_SOURCE", "PIPESTATUS", "HOSTNAME"}

// contractVariables are what stagecoach sets for kind.
func contractVariables(kind Kind, dockerfile bool) []string {
	if kind == Build {
		if !dockerfile {
			return contract.BuildVariables
		}
		return append(slices.Clone(contract.BuildVariables), contract.DockerfilePath)
	}
	return append(slices.Clone(contract.ReleaseVariables), contract.RegionalECREndpoint, contract.RegionalECRImageURL, contract.ImageDigest, contract.TaskRoleARN)
}

func (c *checker) variables() {
	set := map[string]bool{}
	for _, lists := range [][]string{knownVariables, contractVariables(c.o.Kind, c.o.DockerfilePath), c.o.UserVariables, c.spec.declared} {
		for _, n := range lists {
			set[n] = true
		}
	}
	for _, l := range c.spec.lines {
		for _, m := range assign.FindAllStringSubmatch(l.text, -1) {
			set[m[1]] = true
		}
		for _, m := range readVars.FindAllStringSubmatch(l.text, -1) {
			for _, n := range strings.Fields(m[1]) {
				set[n] = true
			}
		}
		for _, m := range forVar.FindAllStringSubmatch(l.text, -1) {
			set[m[1]] = true
		}
	}
	reported := map[string]bool{}
	for _, l := range c.spec.lines {
		for _, m := range varRef.FindAllStringSubmatch(unquoteSingle(l.text), -1) {
			name := m[1]
			if set[name] || reported[name] || strings.HasPrefix(name, "CODEBUILD_") || m[2] != "" {
				continue // set, said already, CodeBuild's own, or with a default
			}
			reported[name] = true
			switch {
			case slices.Contains(contract.NeverSet, name):
				c.add(l.n, Note, "never-set",
					name+" is never set: stagecoach's stages are ECS services, so this file always takes its ECS path (\"Not a serverless stage\")",
					"nothing to do; remove the Lambda branch if you like")
			case c.o.Kind == Build && slices.Contains(contractVariables(Release, false), name):
				c.add(l.n, Error, "unset-variable",
					name+" is a release variable; builds do not get it, so it is empty here",
					"move what needs it to release.yml")
			case name == contract.DockerfilePath:
				c.add(l.n, Error, "unset-variable",
					name+" is set only when the service names its Dockerfile, and this one does not: it is empty here",
					"set services[].dockerfile in stagecoach.yaml, or use ${DOCKERFILE_PATH:-Dockerfile}")
			default:
				c.add(l.n, Error, "unset-variable",
					name+" is not set by stagecoach, the config or this file, so it is empty here",
					fmt.Sprintf("set it in stagecoach.yaml (services[].%s.env), or in this file's env.variables", c.o.Kind))
			}
		}
	}
}

// unquoteSingle drops single-quoted text, where the shell expands nothing.
func unquoteSingle(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		if r == '\'' {
			in = !in
			continue
		}
		if !in {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (c *checker) bashSyntax() {
	if c.spec.shell == "bash" || c.spec.shell == "/bin/bash" || (c.spec.shell == "" || c.spec.shell == "sh" || c.spec.shell == "/bin/sh") && c.o.Sh != "dash" {
		return
	}
	shell := c.spec.shell
	if shell == "" || shell == "sh" || shell == "/bin/sh" {
		shell = "sh (dash on this image)"
	}
	for _, l := range c.spec.lines {
		var what string
		switch {
		case bashTest.MatchString(l.text):
			what = "`==` inside `[ ]`"
		case strings.Contains(l.text, "<<<"):
			what = "a here-string (`<<<`)"
		case strings.Contains(l.text, "[[ "):
			what = "`[[ ]]`"
		default:
			continue
		}
		c.add(l.n, Error, "bash-syntax", what+" is bash syntax; this file runs under "+shell+", which refuses it",
			"add `env: shell: bash` to the buildspec (or use `=` in `[ ]`)")
	}
}

// tagOf returns the tag of an image reference as written ("" for none).
func tagOf(ref string) string {
	if i := strings.LastIndex(ref, "@"); i >= 0 {
		return ""
	}
	slash := strings.LastIndex(ref, "/")
	if i := strings.LastIndex(ref, ":"); i > slash && i > strings.LastIndex(ref, "}") {
		return ref[i+1:]
	}
	// ${VAR}:tag, where the colon follows the brace.
	if i := strings.LastIndex(ref, "}:"); i >= 0 {
		return ref[i+2:]
	}
	return ""
}

// isStageTag reports whether tag is a stage tag or a stage's rollback tag
// (STAGE.previous, which stagecoach's release.yml moves and the repository keeps mutable).
func (c *checker) isStageTag(tag string) bool {
	if stage, ok := strings.CutSuffix(tag, imagetags.RollbackSuffix); ok && stage != "" {
		tag = stage
	}
	t := strings.Trim(tag, "{}$")
	return slices.Contains(c.o.Stages, tag) || t == contract.StageName || t == contract.PreviousStageName
}

func (c *checker) tags() {
	pushesLatest := false
	for _, l := range c.spec.lines {
		var pushed []string
		for _, ix := range tagOrPush.FindAllStringSubmatchIndex(l.text, -1) {
			m := []string{l.text[ix[0]:ix[1]], "", l.text[ix[4]:ix[5]]}
			ref := m[2]
			if open := strings.LastIndex(ref, "$("); open >= 0 && !strings.Contains(ref[open:], ")") {
				// A command substitution with spaces: $(git rev-parse HEAD).
				if end := strings.Index(l.text[ix[5]:], ")"); end >= 0 {
					ref = l.text[ix[4] : ix[5]+end+1]
				}
			}
			tag := tagOf(ref)
			isPush := strings.Contains(m[0], "push")
			if tag == "" && isPush && strings.Contains(ref, contract.ECRImageURL) && !strings.Contains(ref, "@") {
				tag = contract.LatestTag // docker push without a tag pushes :latest
			}
			if c.o.Kind == Build && tag != "" && c.isStageTag(tag) {
				c.add(l.n, Error, "stage-tag-in-build", "the build tags or pushes :"+tag+", a stage tag; releases own the stage tags, and a build that moves one deploys an image no release promoted",
					"remove it; tag the image :latest (and any other non-stage tag)")
			}
			if isPush {
				pushed = append(pushed, tag)
			}
		}
		for _, m := range putTag.FindAllStringSubmatch(l.text, -1) {
			if strings.Contains(l.text, "put-image") {
				pushed = append(pushed, m[1])
			}
		}
		for _, tag := range pushed {
			if tag == contract.LatestTag {
				pushesLatest = true
			}
			if c.o.ImmutableTags && tag != "" && tag != contract.LatestTag && !c.isStageTag(tag) && !strings.Contains(l.text, "already exists") && !c.handlesExisting(l) {
				c.add(l.n, Error, "immutable-push", "pushes :"+tag+", which is immutable in this repository: a re-run of the same commit (Retry, Release change, a config change) is refused with \"tag already exists … immutable\"",
					"name this file as the service's build.buildspec (repositories of services with their own build.yml keep mutable tags), or skip the push when the tag exists")
			}
		}
	}
	if c.o.Kind == Build && !pushesLatest {
		c.add(0, Error, "no-latest", "the build never pushes :latest; the pipeline records the digest of :latest after the build and stops when there is none",
			"end the build with `docker push $ECR_IMAGE_URL:latest`")
	}
}

// handlesExisting tells whether the command that holds l checks for an existing tag.
func (c *checker) handlesExisting(l line) bool {
	for _, o := range c.spec.lines {
		if o.n >= l.n-12 && o.n <= l.n+12 && strings.Contains(o.text, "already exists") {
			return true
		}
	}
	return false
}

// fargateFlags are what a task definition needs on Fargate, and where a release gets
// them: from the running task definition it describes.
var fargateFlags = []struct{ flag, value string }{
	{"--requires-compatibilities", "FARGATE"},
	{"--network-mode", "awsvpc"},
	{"--cpu", "$(jq -r '.taskDefinition.cpu' <<< \"$current\")"},
	{"--memory", "$(jq -r '.taskDefinition.memory' <<< \"$current\")"},
	{"--execution-role-arn", "$(jq -r '.taskDefinition.executionRoleArn' <<< \"$current\")"},
}

func (c *checker) ecs() {
	for _, l := range c.spec.lines {
		for _, m := range ecsCall.FindAllStringSubmatch(l.text, -1) {
			op := m[1]
			if c.o.MultiRegion && !strings.Contains(l.text, "--region") {
				c.add(l.n, Error, "ecs-region", "`aws ecs "+op+"` has no --region: it goes to the home region, where a stage in another region has no cluster",
					"add `--region $STAGE_REGION`")
			}
			if op != "register-task-definition" {
				continue
			}
			if c.o.Regional && !strings.Contains(c.text(), "REGIONAL_ECR_IMAGE_URL:-") && imageFromHome.MatchString(c.text()) {
				c.add(l.n, Error, "task-definition-image", "the registered task definition runs an image of the home repository; a stage that pulls from its own region's repository has an execution role that may pull only there",
					"use ${REGIONAL_ECR_IMAGE_URL:-$ECR_IMAGE_URL} for the image, and copy the tag it names to the regional repository")
			}
			if strings.Contains(l.text, "--cli-input-json") {
				c.add(l.n, Note, "fargate-fields", "registers a task definition from --cli-input-json, which the check cannot read",
					"make sure it has requiresCompatibilities [FARGATE], networkMode awsvpc, task-level cpu and memory, and executionRoleArn")
			} else {
				var missing []string
				for _, f := range fargateFlags {
					if !strings.Contains(l.text, f.flag) {
						missing = append(missing, f.flag+" "+f.value)
					}
				}
				if len(missing) > 0 {
					c.add(l.n, Error, "fargate-fields", "registers a task definition without what Fargate requires; ECS refuses it, or the Fargate service refuses to run it (\"does not support launch_type FARGATE\")",
						"add "+strings.Join(missing, " ")+" (with $current the describe-task-definition output)")
				}
			}
			c.add(l.n, Note, "task-definition-drift", "registers task definitions outside CloudFormation: the next `cdk deploy` that changes this stage's service or task definition puts the service back on the template's revision, which runs :$STAGE_NAME (aws-cdk #14437)",
				"keep moving :$STAGE_NAME to the released image in this file, so both run the same image")
		}
	}
}
