package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stagecoach/stagecoach/config"
	"github.com/stagecoach/stagecoach/internal/awsmodel/iam"
	"github.com/stagecoach/stagecoach/internal/buildspecs"
	"github.com/stagecoach/stagecoach/internal/handlers"
	"github.com/stagecoach/stagecoach/internal/names"
	"github.com/stagecoach/stagecoach/internal/rehearsal"
)

// simAccount is the account the IAM simulation deploys to.
const simAccount = "111111111111"

// call is one request an actor makes: IAM must allow it, or, for a call marked
// refused, must not.
type call struct {
	action, resource string
	context          map[string]any
	refused          bool
	// why says where the call comes from (a buildspec line, a handler, what an AWS
	// service does with the role) or why it must be refused.
	why string
	// service, when set, is the service principal that makes the call: a service
	// assuming the role (action sts:AssumeRole on the role itself), or invoking a
	// function of the role's stack (lambda:InvokeFunction on the function's ARN,
	// decided by the function's resource-based policy).
	service string
}

func allow(why, action, resource string) call {
	return call{action: action, resource: resource, why: why}
}
func refuse(why, action, resource string) call {
	return call{action: action, resource: resource, why: why, refused: true}
}
func (c call) with(ctx map[string]any) call { c.context = ctx; return c }

// calls expands one reason into a call per action.
func calls(why, resource string, actions ...string) []call {
	var out []call
	for _, a := range actions {
		out = append(out, allow(why, a, resource))
	}
	return out
}

// role is one IAM role of the app and everything it is used for.
type role struct {
	label, stack, id string
	calls            []call
}

// actor finds one kind of identity in a synthesized app and lists the calls each
// instance makes. Every identity the app defines has an entry; a new function, project
// or role is one more entry (or one more call in an entry), and the checks below then
// cover it on every config.
type actor struct {
	name  string
	roles func(t *testing.T, w *world) []role
	// optional: the app may define none (an aws-cdk-lib internal another change may
	// remove); otherwise a config without one is an error.
	optional bool
}

var actors = []actor{
	{"pipeline", pipelineRole, false},
	{"source action", sourceActionRole, false},
	{"build and release actions", projectActionRoles, false},
	{"image-tag actions", lambdaActionRoles, false},
	{"approval actions", approvalActionRoles, true},
	{"image-tag function", imageTagsFunctionRole, false},
	{"stage-record function", stageRecordFunctionRole, false},
	{"authorize and verify actions", recordActionRoles, false},
	{"stage-tag guard function", guardFunctionRole, false},
	{"re-run custom resource", rerunFunctionRole, false},
	{"build project", buildProjectRole, false},
	{"release projects", releaseProjectRoles, false},
	{"task execution", taskExecutionRoles, false},
	{"desired-count function", desiredCountRoles, false},
	{"task role", taskRoles, false},
	{"VPC flow logs", flowLogRoles, true},
	{"default security group cleaner", securityGroupCleanerRoles, true},
}

// world is one synthesized config as IAM sees it.
type world struct {
	label string
	cfg   *config.Config
	s     *synthesis
	// connection is the ARN the created connection is given (AWS decides which form).
	connection string
	stacks     map[string]*stackIAM
}

type stackIAM struct {
	tmpl    map[string]any
	region  string
	resolve iam.Resolve
	roles   map[string]*iam.Role
	buckets map[string]any
	// functions are the Lambda functions' resource-based policies, by function ARN.
	functions map[string]any
}

func newWorld(t *testing.T, label string, s *synthesis, createdConnection string) *world {
	t.Helper()
	w := &world{label: label, cfg: s.cfg, s: s, connection: createdConnection, stacks: map[string]*stackIAM{}}
	for name, tmpl := range s.templates {
		st := &stackIAM{tmpl: tmpl, region: s.region(name)}
		r := rehearsal.Resolver{AccountID: simAccount, Region: st.region, Partition: "aws", StackName: name}
		st.resolve = func(v any) (any, error) { return r.Resolve(tmpl, w.concrete(tmpl, st.region, v)) }
		var err error
		if st.roles, err = iam.Roles(tmpl, st.resolve); err != nil {
			t.Fatalf("%s: %s: %v", label, name, err)
		}
		if st.buckets, err = iam.BucketPolicies(tmpl, st.resolve); err != nil {
			t.Fatalf("%s: %s: %v", label, name, err)
		}
		if st.functions, err = iam.FunctionPolicies(tmpl, st.resolve); err != nil {
			t.Fatalf("%s: %s: %v", label, name, err)
		}
		w.stacks[name] = st
	}
	return w
}

// concrete replaces the attributes the rehearsal's resolver cannot know by their real
// form: a Lambda function's ARN (function:NAME), an EventBridge rule's ARN
// (rule/NAME), the created connection's ARN and a VPC's default security group.
func (w *world) concrete(tmpl map[string]any, region string, v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = w.concrete(tmpl, region, e)
		}
		return out
	case map[string]any:
		if g, ok := x["Fn::GetAtt"].([]any); ok && len(g) == 2 {
			id, _ := g[0].(string)
			switch typeOf(tmpl, id) + "." + fmt.Sprint(g[1]) {
			case "AWS::Lambda::Function.Arn":
				return "arn:aws:lambda:" + region + ":" + simAccount + ":function:" + strings.ToLower(id)
			case "AWS::Events::Rule.Arn":
				return "arn:aws:events:" + region + ":" + simAccount + ":rule/" + strings.ToLower(id)
			case "AWS::CodeStarConnections::Connection.ConnectionArn":
				return w.connection
			case "AWS::EC2::VPC.DefaultSecurityGroup":
				return "sg-" + strings.ToLower(id)
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = w.concrete(tmpl, region, e)
		}
		return out
	}
	return v
}

func typeOf(tmpl map[string]any, id string) string {
	r, _ := tmpl["Resources"].(map[string]any)[id].(map[string]any)
	t, _ := r["Type"].(string)
	return t
}

// str resolves a template value that must be a string.
func (st *stackIAM) str(t *testing.T, v any) string {
	t.Helper()
	r, err := st.resolve(v)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := r.(string)
	if !ok {
		t.Fatalf("%v resolves to %v, not a string", v, r)
	}
	return s
}

// roleID is the logical ID of the role a {"Fn::GetAtt": [ID, "Arn"]} names.
func roleID(t *testing.T, v any) string {
	t.Helper()
	g, ok := v.(map[string]any)["Fn::GetAtt"].([]any)
	if !ok {
		t.Fatalf("%v does not name a role by Fn::GetAtt", v)
	}
	return g[0].(string)
}

// service is one configured service as its roles' calls see it: its pipeline stack, the
// resources of that stack, and the names and ARNs the calls use.
type service struct {
	w                            *world
	index                        int
	name, stack, region          string
	bucket, sourceArtifact       string // bucket ARN; an object of the Source artifact
	repo                         string // the home repository's ARN
	build                        string // build project name
	pipeline                     map[string]any
	connection, fullRepositoryID string
}

// services lists the configured services of w.
func (w *world) services(t *testing.T) []service {
	t.Helper()
	var out []service
	for i, svc := range w.cfg.Services {
		s := service{w: w, index: i, name: svc.Name, stack: names.PipelineStack(w.cfg.App, svc.Name), region: w.cfg.Region}
		st := w.stacks[s.stack]
		for _, p := range resources(st.tmpl, "AWS::CodePipeline::Pipeline") {
			s.pipeline = p
		}
		store := s.pipeline["ArtifactStore"].(map[string]any)
		s.bucket = "arn:aws:s3:::" + st.str(t, store["Location"])
		// CodePipeline keeps an execution's artifacts under the first 20 characters of
		// the pipeline name, then the artifact's name, then a random key.
		prefix := names.Pipeline(w.cfg.App, svc.Name)
		if len(prefix) > 20 {
			prefix = prefix[:20]
		}
		s.sourceArtifact = s.bucket + "/" + prefix + "/Source/Xa1b2c3"
		s.repo = repoARN(w.cfg.Region, w.cfg.App, svc.Name)
		s.build = names.BuildProject(w.cfg.App, svc.Name)
		s.connection = w.cfg.Source.Connection
		if s.connection == "" {
			s.connection = w.connection
		}
		s.fullRepositoryID = w.cfg.Source.Repository
		out = append(out, s)
	}
	return out
}

func repoARN(region, app, svc string) string {
	return "arn:aws:ecr:" + region + ":" + simAccount + ":repository/" + names.Repository(app, svc)
}

func projectARN(region, name string) string {
	return "arn:aws:codebuild:" + region + ":" + simAccount + ":project/" + name
}

func serviceARN(region, app, stage, svc string) string {
	return "arn:aws:ecs:" + region + ":" + simAccount + ":service/" + names.Cluster(app, stage) + "/" + names.Service(app, stage, svc)
}

func logStream(region, group string) string {
	return "arn:aws:logs:" + region + ":" + simAccount + ":log-group:" + group + ":log-stream:s1"
}

// action finds a pipeline action by stage and action name.
func (s service) action(t *testing.T, stage, name string) map[string]any {
	t.Helper()
	for _, st := range s.pipeline["Stages"].([]any) {
		st := st.(map[string]any)
		if st["Name"] != stage {
			continue
		}
		for _, a := range st["Actions"].([]any) {
			if a := a.(map[string]any); a["Name"] == name {
				return a
			}
		}
	}
	t.Fatalf("%s: no action %s/%s in the pipeline", s.stack, stage, name)
	return nil
}

// projectRole is the role of the CodeBuild project called name.
func (s service) projectRole(t *testing.T, name string) string {
	t.Helper()
	for _, p := range resources(s.w.stacks[s.stack].tmpl, "AWS::CodeBuild::Project") {
		if p["Name"] == name {
			return roleID(t, p["ServiceRole"])
		}
	}
	t.Fatalf("%s: no project %s", s.stack, name)
	return ""
}

// functionRole is the role of the Lambda function ref names (a Ref or an Fn::GetAtt of
// its Arn), with the log group it writes to.
func functionRole(t *testing.T, st *stackIAM, ref any) (roleLogicalID, logGroup string) {
	t.Helper()
	var id string
	switch x := ref.(map[string]any); {
	case x["Ref"] != nil:
		id = x["Ref"].(string)
	case x["Fn::GetAtt"] != nil:
		id = x["Fn::GetAtt"].([]any)[0].(string)
	}
	fn := resources(st.tmpl, "AWS::Lambda::Function")[id]
	if fn == nil {
		t.Fatalf("%v is not a Lambda function", ref)
	}
	logGroup = "/aws/lambda/" + strings.ToLower(id)
	if lc, ok := fn["LoggingConfig"].(map[string]any); ok && lc["LogGroup"] != nil {
		logGroup = st.str(t, lc["LogGroup"])
	}
	return roleID(t, fn["Role"]), logGroup
}

// useConnection is a full clone or a source action using the connection for the
// configured repository.
func (s service) useConnection(why string) []call {
	action := iam.UseConnection(s.connection)
	key := iam.ARNService(s.connection) + ":FullRepositoryId"
	return []call{
		allow(why+" (the connection itself)", action, s.connection),
		allow(why+" (the configured repository)", action, s.connection).with(map[string]any{key: s.fullRepositoryID}),
		refuse("the connection reaches only the configured repository", action, s.connection).with(map[string]any{key: "someone-else/" + s.fullRepositoryID}),
	}
}

// assumedBy is the service principal assuming a role for resource sourceARN of this
// account, and refused for the same resource name in another account.
func assumedBy(servicePrincipal, sourceARN string, scoped bool) []call {
	ctx := map[string]any{"aws:SourceAccount": simAccount, "aws:SourceArn": sourceARN}
	out := []call{{action: "sts:AssumeRole", why: servicePrincipal + " assumes the role", service: servicePrincipal, context: ctx}}
	if scoped {
		other := strings.Replace(sourceARN, simAccount, "222222222222", 1)
		out = append(out, call{action: "sts:AssumeRole", service: servicePrincipal, refused: true,
			why:     "confused deputy: " + servicePrincipal + " acting for another account's resource",
			context: map[string]any{"aws:SourceAccount": "222222222222", "aws:SourceArn": other}})
	}
	return out
}

func pipelineRole(t *testing.T, w *world) []role { return forServices(t, w, pipelineRoleOf) }

// forServices runs f for each configured service and collects the roles.
func forServices(t *testing.T, w *world, f func(t *testing.T, s service) []role) []role {
	var out []role
	for _, s := range w.services(t) {
		out = append(out, f(t, s)...)
	}
	return out
}

// The pipeline's own role: CodePipeline keeps the artifacts and assumes each action's
// role.
func pipelineRoleOf(t *testing.T, s service) []role {
	st := s.w.stacks[s.stack]
	r := role{label: "pipeline", stack: s.stack, id: roleID(t, s.pipeline["RoleArn"])}
	r.calls = append(r.calls, call{action: "sts:AssumeRole", why: "codepipeline.amazonaws.com assumes the pipeline role", service: "codepipeline.amazonaws.com"})
	r.calls = append(r.calls, calls("CodePipeline's own access to the artifacts it keeps", s.sourceArtifact, "s3:GetObject", "s3:PutObject")...)
	for _, stage := range s.pipeline["Stages"].([]any) {
		for _, a := range stage.(map[string]any)["Actions"].([]any) {
			a := a.(map[string]any)
			if a["RoleArn"] == nil {
				continue
			}
			target := st.roles[roleID(t, a["RoleArn"])]
			r.calls = append(r.calls, allow("CodePipeline runs action "+fmt.Sprint(a["Name"])+" with its role", "sts:AssumeRole", target.ARN))
		}
	}
	r.calls = append(r.calls, refuse("the pipeline invokes the stage-record function only through the Authorize and Verify actions' roles",
		"lambda:InvokeFunction", s.functionARN(t, s.stageRecordFunction(t))))
	for _, rec := range s.records() {
		r.calls = append(r.calls, refuse("only the stage-record function writes records", "ssm:PutParameter", rec))
	}
	return []role{r}
}

func sourceActionRole(t *testing.T, w *world) []role {
	return forServices(t, w, func(t *testing.T, s service) []role {
		r := role{label: "source action", stack: s.stack, id: roleID(t, s.action(t, "Source", "Source")["RoleArn"])}
		r.calls = append(r.calls, s.useConnection("CodePipeline reads the pushed commit through the connection")...)
		r.calls = append(r.calls, allow("CodePipeline stores the Source artifact (the CODEBUILD_CLONE_REF pointer)", "s3:PutObject", s.sourceArtifact))
		return []role{r}
	})
}

// The roles CodePipeline uses to start each CodeBuild action.
func projectActionRoles(t *testing.T, w *world) []role {
	return forServices(t, w, func(t *testing.T, s service) []role {
		last := names.ReleaseProject(w.cfg.App, s.name, w.cfg.Stages[len(w.cfg.Stages)-1].Name)
		out := []role{{label: "Build action", stack: s.stack, id: roleID(t, s.action(t, "Build", "Build")["RoleArn"]),
			calls: append(calls("CodePipeline's CodeBuild action", projectARN(s.region, s.build), "codebuild:StartBuild", "codebuild:BatchGetBuilds"),
				refuse("the Build action starts only the build project", "codebuild:StartBuild", projectARN(s.region, last)))}}
		for i, stage := range w.cfg.Stages {
			p := names.ReleaseProject(w.cfg.App, s.name, stage.Name)
			r := role{label: stage.Name + " Release action", stack: s.stack, id: roleID(t, s.action(t, stage.Name, "Release")["RoleArn"]),
				calls: calls("CodePipeline's CodeBuild action", projectARN(s.region, p), "codebuild:StartBuild", "codebuild:BatchGetBuilds")}
			if i < len(w.cfg.Stages)-1 {
				r.calls = append(r.calls, refuse("a stage's action starts only its own release", "codebuild:StartBuild", projectARN(s.region, last)))
			}
			out = append(out, r)
		}
		return out
	})
}

func lambdaActionRoles(t *testing.T, w *world) []role {
	return forServices(t, w, func(t *testing.T, s service) []role {
		var out []role
		for _, name := range []string{"TagsBefore", "ImageDigest"} {
			a := s.action(t, "Build", name)
			fn := s.w.stacks[s.stack].str(t, a["Configuration"].(map[string]any)["FunctionName"])
			arn := "arn:aws:lambda:" + s.region + ":" + simAccount + ":function:" + fn
			out = append(out, role{label: name + " action", stack: s.stack, id: roleID(t, a["RoleArn"]),
				calls: []call{allow("CodePipeline's Lambda invoke action", "lambda:InvokeFunction", arn)}})
		}
		return out
	})
}

// A manual approval calls nothing with its role; it must not stand in for the release.
func approvalActionRoles(t *testing.T, w *world) []role {
	return forServices(t, w, func(t *testing.T, s service) []role {
		var out []role
		for _, stage := range w.cfg.Stages {
			if !stage.Approval {
				continue
			}
			out = append(out, role{label: stage.Name + " Approve action", stack: s.stack, id: roleID(t, s.action(t, stage.Name, "Approve")["RoleArn"]),
				calls: []call{refuse("an approval starts nothing", "codebuild:StartBuild", projectARN(s.region, names.ReleaseProject(w.cfg.App, s.name, stage.Name))),
					refuse("an approval writes no artifact", "s3:PutObject", s.sourceArtifact)}})
		}
		return out
	})
}

// handlers/imagetags.js: ListImages, GetParameter (the stage records),
// PutJobSuccessResult, PutJobFailureResult.
func imageTagsFunctionRole(t *testing.T, w *world) []role {
	return forServices(t, w, func(t *testing.T, s service) []role {
		st := s.w.stacks[s.stack]
		id, logs := functionRole(t, st, s.action(t, "Build", "TagsBefore")["Configuration"].(map[string]any)["FunctionName"])
		r := role{label: "image-tag function", stack: s.stack, id: id}
		r.calls = append(r.calls, assumedBy("lambda.amazonaws.com", "", false)...)
		r.calls = append(r.calls, allow("imagetags.js: ListImages", "ecr:ListImages", s.repo))
		for _, rec := range s.records() {
			r.calls = append(r.calls, allow("imagetags.js: GetParameter (a stage's record)", "ssm:GetParameter", rec),
				refuse("the image-tag function reads records, only the stage-record function writes them", "ssm:PutParameter", rec))
		}
		r.calls = append(r.calls, calls("imagetags.js: the job result", "*", "codepipeline:PutJobSuccessResult", "codepipeline:PutJobFailureResult")...)
		r.calls = append(r.calls, calls("Lambda writes the function's logs", logStream(s.region, logs), "logs:CreateLogStream", "logs:PutLogEvents")...)
		r.calls = append(r.calls, refuse("the image-tag function only reads tags", "ecr:PutImage", s.repo))
		return []role{r}
	})
}

// recordARN is the Parameter Store parameter holding a stage's record
// (names.StageRecords), in the pipeline's region.
func recordARN(region, app, svc, stage string) string {
	return "arn:aws:ssm:" + region + ":" + simAccount + ":parameter" + names.StageRecords(app, svc) + "/" + stage
}

// records are the stage records of s, one per stage.
func (s service) records() []string {
	var out []string
	for _, stage := range s.w.cfg.Stages {
		out = append(out, recordARN(s.region, s.w.cfg.App, s.name, stage.Name))
	}
	return out
}

// othersRecords are records of another app's and another service's pipeline, real
// (other services of the config) or not.
func (s service) othersRecords() []string {
	stage := s.w.cfg.Stages[len(s.w.cfg.Stages)-1].Name
	out := []string{
		recordARN(s.region, "other"+s.w.cfg.App, s.name, stage),
		recordARN(s.region, s.w.cfg.App, s.name+"x", stage),
	}
	for _, other := range s.w.cfg.Services {
		if other.Name != s.name {
			out = append(out, recordARN(s.region, s.w.cfg.App, other.Name, stage))
		}
	}
	return out
}

// functionARN is the ARN of the Lambda function ref names (a Ref or Fn::GetAtt).
func (s service) functionARN(t *testing.T, ref any) string {
	t.Helper()
	return arnOfFunction(t, s.w.stacks[s.stack], ref, s.region)
}

// stageRecordFunction is the function the Authorize and Verify actions invoke.
func (s service) stageRecordFunction(t *testing.T) (ref any) {
	t.Helper()
	return s.action(t, s.w.cfg.Stages[0].Name, "Authorize")["Configuration"].(map[string]any)["FunctionName"]
}

// guardRule is the EventBridge rule on the stage tags' pushes and deletes, and the
// function it targets.
func (s service) guardRule(t *testing.T) (ruleARN string, target any) {
	t.Helper()
	st := s.w.stacks[s.stack]
	for id, rule := range resources(st.tmpl, "AWS::Events::Rule") {
		pattern, _ := rule["EventPattern"].(map[string]any)
		if fmt.Sprint(pattern["source"]) != "[aws.ecr]" {
			continue
		}
		targets := rule["Targets"].([]any)
		if len(targets) != 1 {
			t.Fatalf("%s: rule %s has %d targets, want the guard alone", s.stack, id, len(targets))
		}
		return st.str(t, map[string]any{"Fn::GetAtt": []any{id, "Arn"}}), targets[0].(map[string]any)["Arn"]
	}
	t.Fatalf("%s: no rule on ECR's image actions (the stage-tag guard)", s.stack)
	return "", nil
}

// invokedBy is service invoking function fn for source, and refused for another source
// of the same account.
func invokedBy(servicePrincipal, fn, source string) []call {
	ctx := func(src string) map[string]any {
		return map[string]any{"aws:SourceAccount": simAccount, "aws:SourceArn": src}
	}
	other := source[:strings.LastIndex(source, "/")+1] + "not-this-one"
	return []call{
		{action: "lambda:InvokeFunction", resource: fn, service: servicePrincipal, context: ctx(source),
			why: servicePrincipal + " invokes the function for " + source},
		{action: "lambda:InvokeFunction", resource: fn, service: servicePrincipal, context: ctx(other), refused: true,
			why: "the function's permission admits only its own " + servicePrincipal + " source"},
	}
}

// handlers/stagerecord.js: ListImages, GetParameter and PutParameter on the service's
// records, PutJobSuccessResult, PutJobFailureResult. The only writer of records.
func stageRecordFunctionRole(t *testing.T, w *world) []role {
	return forServices(t, w, func(t *testing.T, s service) []role {
		st := s.w.stacks[s.stack]
		id, logs := functionRole(t, st, s.stageRecordFunction(t))
		r := role{label: "stage-record function", stack: s.stack, id: id}
		r.calls = append(r.calls, assumedBy("lambda.amazonaws.com", "", false)...)
		r.calls = append(r.calls, allow("stagerecord.js: ListImages", "ecr:ListImages", s.repo))
		for _, rec := range s.records() {
			r.calls = append(r.calls, calls("stagerecord.js: GetParameter / PutParameter (the stage's record)", rec, "ssm:GetParameter", "ssm:PutParameter")...)
			r.calls = append(r.calls, refuse("records are overwritten, never deleted", "ssm:DeleteParameter", rec))
		}
		for _, rec := range s.othersRecords() {
			r.calls = append(r.calls, refuse("a pipeline writes only its own service's records", "ssm:PutParameter", rec))
		}
		r.calls = append(r.calls, calls("stagerecord.js: the job result", "*", "codepipeline:PutJobSuccessResult", "codepipeline:PutJobFailureResult")...)
		r.calls = append(r.calls, calls("Lambda writes the function's logs", logStream(s.region, logs), "logs:CreateLogStream", "logs:PutLogEvents")...)
		r.calls = append(r.calls, refuse("the stage-record function reads tags, never moves one", "ecr:PutImage", s.repo))
		return []role{r}
	})
}

// The roles CodePipeline invokes the stage-record function with, before (Authorize) and
// after (Verify) each stage's release: aws-cdk-lib's Lambda invoke action grants
// lambda:InvokeFunction on the function and lambda:ListFunctions.
func recordActionRoles(t *testing.T, w *world) []role {
	return forServices(t, w, func(t *testing.T, s service) []role {
		record := s.functionARN(t, s.stageRecordFunction(t))
		tags := s.functionARN(t, s.action(t, "Build", "TagsBefore")["Configuration"].(map[string]any)["FunctionName"])
		_, guardRef := s.guardRule(t)
		guard := s.functionARN(t, guardRef)
		var out []role
		for _, stage := range w.cfg.Stages {
			for _, name := range []string{"Authorize", "Verify"} {
				r := role{label: stage.Name + " " + name + " action", stack: s.stack, id: roleID(t, s.action(t, stage.Name, name)["RoleArn"])}
				r.calls = append(r.calls, allow("CodePipeline's Lambda invoke action", "lambda:InvokeFunction", record))
				r.calls = append(r.calls, allow("aws-cdk-lib's Lambda invoke action lists functions", "lambda:ListFunctions", "*"))
				r.calls = append(r.calls, refuse("the action invokes only the stage-record function", "lambda:InvokeFunction", tags))
				r.calls = append(r.calls, refuse("the action invokes only the stage-record function", "lambda:InvokeFunction", guard))
				r.calls = append(r.calls, refuse("the action writes records only through the function", "ssm:PutParameter",
					recordARN(s.region, w.cfg.App, s.name, stage.Name)))
				out = append(out, r)
			}
		}
		return out
	})
}

// handlers/tagguard.js: ListImages, BatchGetImage, PutImage, BatchDeleteImage on the
// home repository, GetParameter on the records, UpdateService of each stage's service
// (in the stage's region). Invoked by its EventBridge rule only.
func guardFunctionRole(t *testing.T, w *world) []role {
	return forServices(t, w, func(t *testing.T, s service) []role {
		st := s.w.stacks[s.stack]
		rule, ref := s.guardRule(t)
		id, logs := functionRole(t, st, ref)
		r := role{label: "stage-tag guard function", stack: s.stack, id: id}
		r.calls = append(r.calls, assumedBy("lambda.amazonaws.com", "", false)...)
		r.calls = append(r.calls, invokedBy("events.amazonaws.com", s.functionARN(t, ref), rule)...)
		r.calls = append(r.calls, calls("tagguard.js: read the tags, put one back or remove it", s.repo,
			"ecr:ListImages", "ecr:BatchGetImage", "ecr:PutImage", "ecr:BatchDeleteImage")...)
		for _, rec := range s.records() {
			r.calls = append(r.calls, allow("tagguard.js: GetParameter (a stage's record)", "ssm:GetParameter", rec),
				refuse("the guard reads records, never approves", "ssm:PutParameter", rec))
		}
		for i, stage := range w.cfg.Stages {
			region := w.cfg.StageRegion(i)
			r.calls = append(r.calls, allow("tagguard.js: UpdateService (redeploy the stage)", "ecs:UpdateService", serviceARN(region, w.cfg.App, stage.Name, s.name)))
			r.calls = append(r.calls, refuse("the guard redeploys only its own service", "ecs:UpdateService", serviceARN(region, "other"+w.cfg.App, stage.Name, s.name)))
			for _, other := range w.cfg.Services {
				if other.Name != s.name {
					r.calls = append(r.calls, refuse("the guard redeploys only its own service", "ecs:UpdateService", serviceARN(region, w.cfg.App, stage.Name, other.Name)))
				}
			}
		}
		for _, other := range w.cfg.Services {
			if other.Name != s.name {
				r.calls = append(r.calls, refuse("the guard moves only its own repository's tags", "ecr:PutImage", repoARN(w.cfg.Region, w.cfg.App, other.Name)))
			}
		}
		r.calls = append(r.calls, calls("Lambda writes the function's logs", logStream(s.region, logs), "logs:CreateLogStream", "logs:PutLogEvents")...)
		return []role{r}
	})
}

// noApproval is what no build or release may do, whatever its buildspec runs: write a
// stage record, invoke the functions that write records or put tags back, or report a
// pipeline job's result. This is the argument of the stage-tag guard: a build or
// release can move a stage tag (ECR has no condition key for tags) but cannot approve
// the move, so the guard puts it back.
func (s service) noApproval(t *testing.T) []call {
	t.Helper()
	var out []call
	for _, rec := range s.records() {
		out = append(out, refuse("only the stage-record function writes records", "ssm:PutParameter", rec),
			refuse("no build or release removes a record", "ssm:DeleteParameter", rec))
	}
	record := s.functionARN(t, s.stageRecordFunction(t))
	_, guardRef := s.guardRule(t)
	out = append(out,
		refuse("only the pipeline invokes the stage-record function", "lambda:InvokeFunction", record),
		refuse("only the rule invokes the guard", "lambda:InvokeFunction", s.functionARN(t, guardRef)),
		refuse("a build or release cannot complete a pipeline job", "codepipeline:PutJobSuccessResult", "*"),
		refuse("a build or release cannot fail a pipeline job", "codepipeline:PutJobFailureResult", "*"))
	return out
}

// aws-cdk-lib's AwsCustomResource starts the pipeline when the build configuration
// changes.
func rerunFunctionRole(t *testing.T, w *world) []role {
	return forServices(t, w, func(t *testing.T, s service) []role {
		st := s.w.stacks[s.stack]
		var out []role
		for _, cr := range resources(st.tmpl, "Custom::RerunOnBuildChange") {
			id, _ := functionRole(t, st, cr["ServiceToken"])
			fn := cr["ServiceToken"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
			pipeline := "arn:aws:codepipeline:" + s.region + ":" + simAccount + ":" + names.Pipeline(w.cfg.App, s.name)
			r := role{label: "re-run function", stack: s.stack, id: id,
				calls: calls("the custom resource's SDK calls", pipeline, "codepipeline:GetPipelineState", "codepipeline:StartPipelineExecution")}
			r.calls = append(r.calls, calls("Lambda writes the function's logs", logStream(s.region, "/aws/lambda/"+strings.ToLower(fn)), "logs:CreateLogStream", "logs:PutLogEvents")...)
			out = append(out, r)
		}
		return out
	})
}

// projectCalls are what CodeBuild does with any project's role, and what no project
// role may do to the pipeline's artifacts.
func (s service) projectCalls(project, otherProject string) []call {
	region := s.region
	bucket := s.bucket
	out := assumedBy("codebuild.amazonaws.com", projectARN(region, project), true)
	out = append(out, call{action: "sts:AssumeRole", service: "codebuild.amazonaws.com", refused: true,
		why:     "the role runs only its own project",
		context: map[string]any{"aws:SourceAccount": simAccount, "aws:SourceArn": projectARN(region, otherProject)}})
	out = append(out,
		allow("CodeBuild downloads the Source artifact", "s3:GetObject", s.sourceArtifact),
		allow("CodeBuild checks the log bucket before writing to it", "s3:GetBucketAcl", bucket),
		allow("CodeBuild checks the log bucket before writing to it", "s3:GetBucketLocation", bucket),
		allow("CodeBuild writes the build log to S3 (logs/PROJECT)", "s3:PutObject", bucket+"/logs/"+project+"/build-1.gz"),
		allow("S3_BUCKET: the project's own prefix (artifacts/PROJECT)", "s3:PutObject", bucket+"/artifacts/"+project+"/report.json"),
		allow("S3_BUCKET: artifacts of the service's projects", "s3:GetObject", bucket+"/artifacts/"+otherProject+"/report.json"),
		refuse("no project rewrites a pipeline artifact", "s3:PutObject", s.sourceArtifact),
		refuse("no project deletes a pipeline artifact", "s3:DeleteObject", s.sourceArtifact),
		refuse("no project deletes an artifact version", "s3:DeleteObjectVersion", s.sourceArtifact),
		refuse("a project writes only its own prefix", "s3:PutObject", bucket+"/artifacts/"+otherProject+"/report.json"),
		refuse("a project writes only its own logs", "s3:PutObject", bucket+"/logs/"+otherProject+"/build-1.gz"),
	)
	out = append(out, calls("CodeBuild writes the build log (CloudWatch Logs)", logStream(region, "/aws/codebuild/"+project), "logs:CreateLogStream", "logs:PutLogEvents")...)
	out = append(out, s.useConnection("CodeBuild's full clone (CODEBUILD_CLONE_REF)")...)
	return out
}

// ecrPush is what `docker push` asks of ECR; ecrPull what `docker pull` asks.
var (
	ecrPush = []string{"ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}
	ecrPull = []string{"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"}
)

// buildspecs/build.yml: get-login-password, docker push of the commit tag and :latest.
func buildProjectRole(t *testing.T, w *world) []role {
	return forServices(t, w, func(t *testing.T, s service) []role {
		r := role{label: "build project", stack: s.stack, id: s.projectRole(t, s.build)}
		firstRelease := names.ReleaseProject(w.cfg.App, s.name, w.cfg.Stages[0].Name)
		r.calls = s.projectCalls(s.build, firstRelease)
		r.calls = append(r.calls, allow("build.yml: aws ecr get-login-password", "ecr:GetAuthorizationToken", "*"))
		r.calls = append(r.calls, calls("build.yml: docker push", s.repo, ecrPush...)...)
		r.calls = append(r.calls, buildSecretCalls(w.cfg.Services[s.index].Build.Secrets, s.region)...)
		r.calls = append(r.calls, kmsCalls("CodeBuild resolves a build secret encrypted with the service's key", w.cfg.Services[s.index].SecretKeys,
			len(w.cfg.Services[s.index].Build.Secrets) > 0, "ssm", "secretsmanager")...)
		r.calls = append(r.calls, s.noApproval(t)...)
		r.calls = append(r.calls, s.otherRegionalRepositories("", "a build pushes only to the home repository")...)
		r.calls = append(r.calls, refuse("a build registers no task definition", "ecs:RegisterTaskDefinition",
			"arn:aws:ecs:"+w.cfg.StageRegion(0)+":"+simAccount+":task-definition/"+names.Service(w.cfg.App, w.cfg.Stages[0].Name, s.name)+":2"))
		r.calls = append(r.calls, passRole("a build passes no role", names.TaskRole(w.cfg.App, w.cfg.Stages[0].Name, s.name), true))
		for i, stage := range w.cfg.Stages {
			r.calls = append(r.calls, refuse("only a release deploys a stage", "ecs:UpdateService",
				serviceARN(w.cfg.StageRegion(i), w.cfg.App, stage.Name, s.name)))
		}
		return []role{r}
	})
}

// secretCalls are the reads of configured secrets, in the region of their reader.
func secretCalls(why string, refs map[string]string, region string) []call {
	var out []call
	for _, name := range sortedKeys(refs) {
		sec, err := config.ParseSecret(refs[name])
		if err != nil {
			panic(err)
		}
		switch sec.Kind {
		case config.SecretsManager:
			out = append(out, allow(why+" "+name, "secretsmanager:GetSecretValue", sec.ARN))
		case config.ParameterARN:
			out = append(out, allow(why+" "+name, "ssm:GetParameters", sec.ARN))
		default:
			out = append(out, allow(why+" "+name, "ssm:GetParameters",
				"arn:aws:ssm:"+region+":"+simAccount+":parameter/"+strings.TrimPrefix(sec.Name, "/")))
		}
	}
	return out
}

// scopedOutSecrets are the reads of the service's secrets that secretStages keeps from
// a stage (all of them minus those the stage reads): refused, unless the same resource
// is read for a secret the stage does get.
func scopedOutSecrets(all, stage map[string]string, reads []call, region string) []call {
	read := map[string]bool{}
	for _, c := range reads {
		read[c.action+" "+c.resource] = true
	}
	var out []call
	for _, name := range sortedKeys(all) {
		if _, ok := stage[name]; ok {
			continue
		}
		for _, c := range secretCalls("", map[string]string{name: all[name]}, region) {
			if !read[c.action+" "+c.resource] {
				out = append(out, refuse("secretStages keeps "+name+" from this stage", c.action, c.resource))
			}
		}
	}
	return out
}

// kmsCalls are kms:Decrypt with the service's customer managed keys (secretKeys): when
// the role reads secrets, only as the services that hold them do on its behalf in the
// key's region (kms:ViaService), never directly or through another service; a role
// that reads none may not decrypt at all.
func kmsCalls(why string, keys []string, readsSecrets bool, via ...string) []call {
	var out []call
	for _, key := range keys {
		region := strings.Split(key, ":")[3]
		viaService := func(svc string) map[string]any {
			return map[string]any{"kms:ViaService": svc + "." + region + ".amazonaws.com"}
		}
		if !readsSecrets {
			out = append(out, refuse("a role that reads no secret decrypts nothing", "kms:Decrypt", key).with(viaService(via[0])))
			continue
		}
		out = append(out,
			allow(why+" (through "+via[0]+")", "kms:Decrypt", key).with(viaService(via[0])),
			refuse("the key is used only through Secrets Manager or Parameter Store", "kms:Decrypt", key),
			refuse("the key is used only through Secrets Manager or Parameter Store", "kms:Decrypt", key).with(viaService("s3")))
	}
	return out
}

func buildSecretCalls(refs map[string]string, region string) []call {
	return secretCalls("CodeBuild resolves the build secret", refs, region)
}

// buildspecs/release.yml: batch-get-image, put-image, batch-delete-image (restore),
// get-login-password, docker pull and push for a regional copy, ecs update-service and
// describe-services; TinyStacks' release.yml: docker pull and push in the home
// repository, ecs update-service.
func releaseProjectRoles(t *testing.T, w *world) []role {
	return forServices(t, w, func(t *testing.T, s service) []role {
		var out []role
		for i, stage := range w.cfg.Stages {
			project := names.ReleaseProject(w.cfg.App, s.name, stage.Name)
			r := role{label: stage.Name + " release project", stack: s.stack, id: s.projectRole(t, project)}
			r.calls = s.projectCalls(project, s.build)
			r.calls = append(r.calls, allow("release.yml: aws ecr get-login-password", "ecr:GetAuthorizationToken", "*"))
			r.calls = append(r.calls, calls("release.yml: retag through the ECR API", s.repo, "ecr:BatchGetImage", "ecr:PutImage", "ecr:BatchDeleteImage")...)
			r.calls = append(r.calls, calls("TinyStacks' release.yml: docker pull and push of the stage tag", s.repo, append(ecrPull, ecrPush...)...)...)
			region := w.cfg.StageRegion(i)
			if w.cfg.PullsRegionally(i) {
				regional := repoARN(region, w.cfg.App, s.name)
				r.calls = append(r.calls, calls("release.yml: docker pull for the regional copy", s.repo, ecrPull...)...)
				r.calls = append(r.calls, calls("release.yml: docker push of the regional copy", regional, ecrPush...)...)
				r.calls = append(r.calls, calls("release.yml: the regional tag through the ECR API", regional, "ecr:BatchGetImage", "ecr:PutImage", "ecr:BatchDeleteImage")...)
			}
			svc := serviceARN(region, w.cfg.App, stage.Name, s.name)
			r.calls = append(r.calls, calls("release.yml: aws ecs update-service / describe-services", svc, "ecs:UpdateService", "ecs:DescribeServices")...)
			for j, other := range w.cfg.Stages {
				if j != i {
					r.calls = append(r.calls, refuse("a release deploys only its own stage", "ecs:UpdateService",
						serviceARN(w.cfg.StageRegion(j), w.cfg.App, other.Name, s.name)))
				}
			}
			r.calls = append(r.calls, s.taskDefinitionCalls(i)...)
			r.calls = append(r.calls, s.otherRegionalRepositories(region, "a release writes only the copy its own stage pulls")...)
			r.calls = append(r.calls, refuse("a release deploys ECS services, no function (TinyStacks' Lambda branch is never taken)",
				"lambda:UpdateFunctionCode", "arn:aws:lambda:"+region+":"+simAccount+":function:"+names.Service(w.cfg.App, stage.Name, s.name)))
			r.calls = append(r.calls, s.noApproval(t)...)
			out = append(out, r)
		}
		return out
	})
}

// otherRegionalRepositories refuses writes to the regional copies of the service's
// image that stages outside region pull: the stage-tag guard watches the home
// repository only, so only a stage's own release may write the copy that stage runs.
func (s service) otherRegionalRepositories(region, why string) []call {
	var out []call
	seen := map[string]bool{}
	for i := range s.w.cfg.Stages {
		r := s.w.cfg.StageRegion(i)
		if !s.w.cfg.PullsRegionally(i) || r == region || seen[r] {
			continue
		}
		seen[r] = true
		repo := repoARN(r, s.w.cfg.App, s.name)
		out = append(out, refuse(why, "ecr:PutImage", repo), refuse(why, "ecr:BatchDeleteImage", repo))
	}
	return out
}

// passRole is iam:PassRole of the role called name to ECS, as RegisterTaskDefinition
// asks for its task and execution roles.
func passRole(why, name string, refused bool) call {
	c := allow(why, "iam:PassRole", "arn:aws:iam::"+simAccount+":role/"+name).
		with(map[string]any{"iam:PassedToService": "ecs-tasks.amazonaws.com"})
	c.refused = refused
	return c
}

// passRoleTo is a refused iam:PassRole of the role called name to service.
func passRoleTo(why, name, service string) call {
	c := allow(why, "iam:PassRole", "arn:aws:iam::"+simAccount+":role/"+name).
		with(map[string]any{"iam:PassedToService": service})
	c.refused = true
	return c
}

// taskDefinitionCalls are what a user's release.yml (TinyStacks' later release.yml)
// does to register its own task definition for stage i: describe the running one,
// register a revision with the stage service's task and execution roles (iam:PassRole
// of each). It may pass no other stage's or service's roles; a release running
// stagecoach's own release.yml registers nothing and passes no role.
func (s service) taskDefinitionCalls(i int) []call {
	cfg := s.w.cfg
	stage := cfg.Stages[i].Name
	region := cfg.StageRegion(i)
	family := "arn:aws:ecs:" + region + ":" + simAccount + ":task-definition/" + names.Service(cfg.App, stage, s.name) + ":2"
	if cfg.Services[s.index].Release.Buildspec == "" {
		return []call{
			refuse("stagecoach's release.yml releases by tag: it registers no task definition", "ecs:RegisterTaskDefinition", family),
			passRole("stagecoach's release.yml passes no role", names.TaskRole(cfg.App, stage, s.name), true),
			passRole("stagecoach's release.yml passes no role", names.ExecutionRole(cfg.App, stage, s.name), true),
		}
	}
	out := []call{
		allow("a user's release.yml: aws ecs describe-task-definition", "ecs:DescribeTaskDefinition", "*"),
		allow("a user's release.yml: aws ecs register-task-definition", "ecs:RegisterTaskDefinition", family),
		passRole("register-task-definition --task-role-arn $TASK_ROLE_ARN", names.TaskRole(cfg.App, stage, s.name), false),
		passRole("register-task-definition with the stage service's execution role", names.ExecutionRole(cfg.App, stage, s.name), false),
		passRole("a release passes no role of the account's own", "Admin", true),
		passRoleTo("a release passes its stage's roles to ECS tasks only (iam:PassedToService)", names.TaskRole(cfg.App, stage, s.name), "lambda.amazonaws.com"),
	}
	for j, other := range cfg.Stages {
		if j != i {
			out = append(out, passRole("a release passes only its own stage's roles", names.TaskRole(cfg.App, other.Name, s.name), true),
				passRole("a release passes only its own stage's roles", names.ExecutionRole(cfg.App, other.Name, s.name), true))
		}
	}
	for _, other := range cfg.Services {
		if other.Name != s.name {
			out = append(out, passRole("a release passes only its own service's roles", names.TaskRole(cfg.App, stage, other.Name), true))
		}
	}
	return out
}

// What ECS does with a task's execution role: pull the image from the repository the
// stage pulls from, write the container's logs, read each configured secret.
func taskExecutionRoles(t *testing.T, w *world) []role {
	var out []role
	for i, stage := range w.cfg.Stages {
		stack := names.StageStack(w.cfg.App, stage.Name)
		st := w.stacks[stack]
		region := w.cfg.StageRegion(i)
		pull := w.cfg.ImageRegion(i)
		for s, svc := range w.cfg.Services {
			var id string
			for _, td := range resources(st.tmpl, "AWS::ECS::TaskDefinition") {
				if td["Family"] == names.Service(w.cfg.App, stage.Name, svc.Name) {
					id = roleID(t, td["ExecutionRoleArn"])
				}
			}
			if id == "" {
				t.Fatalf("%s: no task definition for %s", stack, svc.Name)
			}
			r := role{label: stage.Name + "/" + svc.Name + " task execution", stack: stack, id: id}
			r.calls = append(r.calls, assumedBy("ecs-tasks.amazonaws.com", "", false)...)
			r.calls = append(r.calls, allow("ECS logs in to the registry", "ecr:GetAuthorizationToken", "*"))
			r.calls = append(r.calls, calls("ECS pulls the image", repoARN(pull, w.cfg.App, svc.Name), ecrPull...)...)
			r.calls = append(r.calls, calls("the awslogs driver", logStream(region, names.LogGroup(w.cfg.App, stage.Name, svc.Name)), "logs:CreateLogStream", "logs:PutLogEvents")...)
			d := w.cfg.Deployment(s, i)
			reads := secretCalls("ECS resolves the secret", d.Secrets, region)
			r.calls = append(r.calls, reads...)
			r.calls = append(r.calls, scopedOutSecrets(svc.Secrets, d.Secrets, reads, region)...)
			r.calls = append(r.calls, kmsCalls("ECS resolves a secret encrypted with the service's key", svc.SecretKeys, len(d.Secrets) > 0, "secretsmanager", "ssm")...)
			r.calls = append(r.calls, refuse("a task reads only its configured secrets", "secretsmanager:GetSecretValue",
				"arn:aws:secretsmanager:"+region+":"+simAccount+":secret:not-configured-AbCdEf"))
			for _, other := range w.cfg.Services {
				if other.Name != svc.Name {
					r.calls = append(r.calls, refuse("a task pulls only its own service's image", "ecr:BatchGetImage", repoARN(pull, w.cfg.App, other.Name)))
				}
			}
			out = append(out, r)
		}
	}
	return out
}

// handlers/desiredcount.js: DescribeServices, DescribeImages (in the region the stage
// pulls from), RegisterScalableTarget (ECS services' desired count only). Invoked by the
// custom resources and by each service's deployment-event rule.
func desiredCountRoles(t *testing.T, w *world) []role {
	var out []role
	for i, stage := range w.cfg.Stages {
		stack := names.StageStack(w.cfg.App, stage.Name)
		st := w.stacks[stack]
		region := w.cfg.StageRegion(i)
		pull := w.cfg.ImageRegion(i)
		seen := map[string]bool{}
		for _, cr := range resources(st.tmpl, "Custom::DesiredCount") {
			id, logs := functionRole(t, st, cr["ServiceToken"])
			if seen[id] {
				continue
			}
			seen[id] = true
			r := role{label: stage.Name + " desired-count function", stack: stack, id: id}
			r.calls = append(r.calls, calls("Lambda writes the function's logs", logStream(region, logs), "logs:CreateLogStream", "logs:PutLogEvents")...)
			for _, svc := range w.cfg.Services {
				r.calls = append(r.calls, allow("desiredcount.js: DescribeServices", "ecs:DescribeServices", serviceARN(region, w.cfg.App, stage.Name, svc.Name)))
				r.calls = append(r.calls, allow("desiredcount.js: DescribeImages", "ecr:DescribeImages", repoARN(pull, w.cfg.App, svc.Name)))
			}
			target := "arn:aws:application-autoscaling:" + region + ":" + simAccount + ":scalable-target/0ec2a1b2c3d4e5f60718293a4b5c6d7e"
			scaling := func(namespace, dimension string) map[string]any {
				return map[string]any{"application-autoscaling:service-namespace": namespace, "application-autoscaling:scalable-dimension": dimension}
			}
			r.calls = append(r.calls,
				allow("desiredcount.js: RegisterScalableTarget (MinCapacity of an ECS service)", "application-autoscaling:RegisterScalableTarget", target).
					with(scaling("ecs", "ecs:service:DesiredCount")),
				refuse("the function scales only ECS services", "application-autoscaling:RegisterScalableTarget", target).
					with(scaling("dynamodb", "dynamodb:table:ReadCapacityUnits")),
				refuse("the function scales only a service's desired count", "application-autoscaling:RegisterScalableTarget", target).
					with(scaling("ecs", "ecs:service:SomethingElse")))
			fn := arnOfFunction(t, st, cr["ServiceToken"], region)
			rules := 0
			for ruleID, rule := range resources(st.tmpl, "AWS::Events::Rule") {
				for _, tg := range rule["Targets"].([]any) {
					if arnOfFunction(t, st, tg.(map[string]any)["Arn"], region) == fn {
						rules++
						r.calls = append(r.calls, invokedBy("events.amazonaws.com", fn, st.str(t, map[string]any{"Fn::GetAtt": []any{ruleID, "Arn"}}))...)
					}
				}
			}
			if rules == 0 {
				t.Errorf("%s: no EventBridge rule invokes the desired-count function: nothing starts a service at its first release", stack)
			}
			out = append(out, r)
		}
	}
	return out
}

// arnOfFunction is the ARN of the function ref names (a Ref or Fn::GetAtt).
func arnOfFunction(t *testing.T, st *stackIAM, ref any, region string) string {
	t.Helper()
	v := st.str(t, ref)
	if strings.HasPrefix(v, "arn:") {
		return v
	}
	return "arn:aws:lambda:" + region + ":" + simAccount + ":function:" + v
}

// The task role holds nothing: what the application needs, its owner adds. ECS
// assumes it for the task; it reads no secret (the execution role does) and pushes no
// image.
func taskRoles(t *testing.T, w *world) []role {
	var out []role
	for i, stage := range w.cfg.Stages {
		stack := names.StageStack(w.cfg.App, stage.Name)
		region := w.cfg.StageRegion(i)
		for s, svc := range w.cfg.Services {
			for _, td := range resources(w.stacks[stack].tmpl, "AWS::ECS::TaskDefinition") {
				if td["Family"] != names.Service(w.cfg.App, stage.Name, svc.Name) {
					continue
				}
				r := role{label: stage.Name + "/" + svc.Name + " task", stack: stack, id: roleID(t, td["TaskRoleArn"])}
				r.calls = append(r.calls, assumedBy("ecs-tasks.amazonaws.com", "", false)...)
				r.calls = append(r.calls, refuse("the application's role pushes no image", "ecr:PutImage", repoARN(w.cfg.Region, w.cfg.App, svc.Name)))
				for _, c := range secretCalls("", w.cfg.Deployment(s, i).Secrets, region) {
					r.calls = append(r.calls, refuse("the execution role, not the application's, reads secrets", c.action, c.resource))
				}
				out = append(out, r)
			}
		}
	}
	return out
}

// aws-cdk-lib's VPC flow log: the delivery role writes to the flow log's log group.
func flowLogRoles(t *testing.T, w *world) []role {
	var out []role
	for _, name := range sortedKeys(w.stacks) {
		st := w.stacks[name]
		for _, fl := range resources(st.tmpl, "AWS::EC2::FlowLog") {
			r := role{label: "VPC flow logs", stack: name, id: roleID(t, fl["DeliverLogsPermissionArn"])}
			r.calls = append(r.calls, assumedBy("vpc-flow-logs.amazonaws.com", "", false)...)
			r.calls = append(r.calls, calls("VPC flow logs delivery", logStream(st.region, st.str(t, fl["LogGroupName"])),
				"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams")...)
			out = append(out, r)
		}
	}
	return out
}

// aws-cdk-lib's custom resource that empties the VPC's default security group.
func securityGroupCleanerRoles(t *testing.T, w *world) []role {
	var out []role
	for _, name := range sortedKeys(w.stacks) {
		st := w.stacks[name]
		for _, cr := range resources(st.tmpl, "Custom::VpcRestrictDefaultSG") {
			id, logs := functionRole(t, st, cr["ServiceToken"])
			sg := "arn:aws:ec2:" + st.region + ":" + simAccount + ":security-group/" + st.str(t, cr["DefaultSecurityGroupId"])
			r := role{label: "default security group cleaner", stack: name, id: id}
			r.calls = append(r.calls, calls("removes the default security group's rules", sg,
				"ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress", "ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress")...)
			r.calls = append(r.calls, calls("Lambda writes the function's logs", logStream(st.region, logs), "logs:CreateLogStream", "logs:PutLogEvents")...)
			out = append(out, r)
		}
	}
	return out
}

// simCase is one call of one role, simulated.
type simCase struct {
	world string
	role  role
	call  call
}

// simulationWorlds are the configs the simulation covers: every config in testdata
// and the default, the latter with each form of connection ARN.
func simulationWorlds(t *testing.T) []*world {
	t.Helper()
	const (
		current = "arn:aws:codeconnections:us-east-1:" + simAccount + ":connection/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
		legacy  = "arn:aws:codestar-connections:us-east-1:" + simAccount + ":connection/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
	)
	var out []*world
	def := synthesize(t, "stagecoach.yaml")
	// The created connection: AWS gives it one form or the other; both must work.
	out = append(out, newWorld(t, "default (created connection, codeconnections ARN)", def, current))
	out = append(out, newWorld(t, "default (created connection, codestar-connections ARN)", def, legacy))
	cfg, err := config.Load("stagecoach.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Source.Connection = legacy
	variant := synthesizeConfig(t, "stagecoach.yaml (legacy connection)", cfg, false)
	out = append(out, newWorld(t, "default with source.connection = "+legacy, variant, ""))
	// hardening: secrets scoped to stages (secretStages) and encrypted with customer
	// managed keys (secretKeys), which no testdata config sets.
	scoped, err := config.Load("testdata/configs/monorepo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for i := range scoped.Services {
		svc := &scoped.Services[i]
		switch svc.Name {
		case "api":
			svc.SecretStages = map[string][]string{"DB_URL": {"staging", "prod"}}
			svc.SecretKeys = []string{"arn:aws:kms:us-east-1:" + simAccount + ":key/1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"}
		case "web":
			svc.SecretKeys = []string{"arn:aws:kms:eu-west-1:" + simAccount + ":key/2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e",
				"arn:aws:kms:us-east-1:" + simAccount + ":key/3c4d5e6f-7a8b-4c9d-8e1f-2a3b4c5d6e7f"}
		}
	}
	if err := scoped.Validate(); err != nil {
		t.Fatalf("the scoped-secrets variant of monorepo.yaml: %v", err)
	}
	out = append(out, newWorld(t, "monorepo.yaml with secretStages and secretKeys", synthesizeConfig(t, "monorepo.yaml (scoped secrets)", scoped, false), ""))
	configs, err := os.ReadDir("testdata/configs")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range configs {
		path := "testdata/configs/" + f.Name()
		out = append(out, newWorld(t, path, synthesizeOnce(t, path), current))
	}
	return out
}

// synthesizeOnce synthesizes path, validating it against the CloudFormation rules only
// when it is a golden config (the other tests validate those anyway).
func synthesizeOnce(t *testing.T, path string) *synthesis {
	t.Helper()
	for _, gc := range goldenConfigs {
		if gc.path == path {
			return synthesize(t, path)
		}
	}
	if s, ok := cache[path]; ok {
		return s
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	s := synthesizeConfig(t, path, cfg, false)
	cache[path] = s
	return s
}

// TestIAMSimulation simulates IAM for every call every role of the app makes, against
// the synthesized policies (trust policies and the artifact bucket's policy included),
// and for the calls that must be refused. It reports every wrong decision by role,
// action and resource.
func TestIAMSimulation(t *testing.T) {
	ev, err := iam.FindEvaluator(".")
	if err != nil {
		t.Fatal(err)
	}
	var cases []simCase
	var sims []iam.Simulation
	for _, w := range simulationWorlds(t) {
		claimed := map[string]bool{}
		for _, a := range actors {
			roles := a.roles(t, w)
			if len(roles) == 0 && !a.optional {
				t.Errorf("%s: no role found for actor %q", w.label, a.name)
			}
			for _, r := range roles {
				claimed[r.stack+"/"+r.id] = true
				st := w.stacks[r.stack]
				iamRole := st.roles[r.id]
				if iamRole == nil {
					t.Fatalf("%s: %s: role %s not in %s", w.label, r.label, r.id, r.stack)
				}
				for _, c := range r.calls {
					req := iam.Request{Principal: iamRole.ARN, Action: c.action, Resource: c.resource,
						Context: map[string]any{"aws:SecureTransport": "true"}}
					for k, v := range c.context {
						req.Context[k] = v
					}
					sim := iam.Simulation{Request: req, Identity: iamRole.Policies}
					switch {
					case c.service != "" && c.action == "lambda:InvokeFunction":
						sim.Request.Principal = c.service
						sim.Identity, sim.ResourcePolicy = nil, st.functions[c.resource]
						delete(sim.Request.Context, "aws:SecureTransport")
					case c.service != "":
						sim.Request.Principal, sim.Request.Resource = c.service, iamRole.ARN
						sim.Identity, sim.ResourcePolicy = nil, iamRole.Trust
						delete(sim.Request.Context, "aws:SecureTransport")
						if sim.Request.Context["aws:SourceArn"] == "" {
							delete(sim.Request.Context, "aws:SourceArn")
							delete(sim.Request.Context, "aws:SourceAccount")
						}
						c.resource = iamRole.ARN
					case c.action == "sts:AssumeRole":
						for _, other := range st.roles {
							if other.ARN == c.resource {
								sim.ResourcePolicy = other.Trust
							}
						}
					case strings.HasPrefix(c.resource, "arn:aws:kms:"):
						// A key of the user's (secretKeys), with the key policy AWS
						// gives it by default.
						sim.ResourcePolicy = iam.DefaultKeyPolicy(simAccount)
					case strings.HasPrefix(c.resource, "arn:aws:s3:::"):
						bucket, _, _ := strings.Cut(c.resource, "/")
						sim.ResourcePolicy = st.buckets[bucket]
					}
					cases = append(cases, simCase{world: w.label, role: r, call: c})
					sims = append(sims, sim)
				}
			}
		}
		// Every role of the app is some actor's: a new one needs an entry in actors.
		for _, name := range sortedKeys(w.stacks) {
			for _, id := range sortedKeys(w.stacks[name].roles) {
				if !claimed[name+"/"+id] {
					t.Errorf("%s: %s: role %s belongs to no actor of the IAM simulation; add one to actors", w.label, name, id)
				}
			}
		}
	}
	start := time.Now()
	results, err := ev.Evaluate(sims)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d calls simulated in %v", len(sims), time.Since(start).Round(time.Millisecond))
	failures := map[string][]string{}
	for i, c := range cases {
		got := results[i]
		ok := got.Decision == iam.Allowed
		if c.call.refused {
			ok = got.Decision == iam.ImplicitlyDenied || got.Decision == iam.ExplicitlyDenied
		}
		if ok {
			continue
		}
		verb := "DENIED"
		if c.call.refused {
			verb = "ALLOWED, must be refused:"
		}
		principal := c.role.id
		if c.call.service != "" {
			principal = c.call.service + " → " + c.role.id
		}
		line := fmt.Sprintf("%s (%s) %s %s on %s", c.role.label, principal, verb, c.call.action, c.call.resource)
		if len(c.call.context) > 0 {
			line += fmt.Sprintf(" %v", c.call.context)
		}
		line += " — " + c.call.why
		if got.Decision == iam.Invalid {
			line += " [invalid request: " + got.Error + "]"
		}
		failures[c.world] = append(failures[c.world], line)
	}
	for _, w := range sortedKeys(failures) {
		t.Errorf("%s: %d wrong decisions:\n  %s", w, len(failures[w]), strings.Join(failures[w], "\n  "))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestSimulationCoversEveryCall derives the AWS calls of the default and the seed's
// buildspecs, of the TinyStacks corpus (the build.yml and release.yml files users bring)
// and of the handlers from their source (every `aws SERVICE COMMAND` and the IAM
// actions it implies, `docker push`/`pull`, and SDK `new client.OperationCommand`) and
// checks that each is among the simulated calls of the role that makes it: a new call
// cannot go unsimulated.
func TestSimulationCoversEveryCall(t *testing.T) {
	simulated := map[string]map[string]bool{}
	for _, path := range []string{"stagecoach.yaml", "testdata/configs/monorepo.yaml"} {
		w := newWorld(t, path, synthesize(t, path), "arn:aws:codeconnections:us-east-1:"+simAccount+":connection/x")
		for _, a := range actors {
			if simulated[a.name] == nil {
				simulated[a.name] = map[string]bool{}
			}
			for _, r := range a.roles(t, w) {
				for _, c := range r.calls {
					if !c.refused {
						simulated[a.name][c.action] = true
					}
				}
			}
		}
	}
	sources := []struct{ actor, file, text string }{
		{"build project", "internal/buildspecs/build.yml", buildspecs.Build},
		{"release projects", "internal/buildspecs/release.yml", buildspecs.Release},
		{"build project", "internal/buildspecs/seed-build.yml", buildspecs.SeedBuild},
		{"release projects", "internal/buildspecs/seed-release.yml", buildspecs.SeedRelease},
		{"image-tag function", "internal/handlers/imagetags.js", handlers.ImageTags},
		{"stage-record function", "internal/handlers/stagerecord.js", handlers.StageRecord},
		{"stage-tag guard function", "internal/handlers/tagguard.js", handlers.TagGuard},
		{"desired-count function", "internal/handlers/desiredcount.js", handlers.DesiredCount},
	}
	// The TinyStacks corpus: what users bring as their own build.yml and release.yml
	// (a service's build.buildspec, release.buildspec), run by the same projects.
	corpus, err := filepath.Glob("internal/rehearsal/testdata/tinystacks/*.yml")
	if err != nil || len(corpus) == 0 {
		t.Fatalf("no TinyStacks corpus under internal/rehearsal/testdata/tinystacks (%v)", err)
	}
	for _, path := range corpus {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		actor := "release projects"
		if strings.HasSuffix(path, "-build.yml") {
			actor = "build project"
		}
		sources = append(sources, struct{ actor, file, text string }{actor, path, string(b)})
	}
	for _, src := range sources {
		actions := sourceCalls(src.text)
		t.Logf("%s: %s", src.file, strings.Join(actions, " "))
		if len(actions) == 0 {
			t.Errorf("%s: no AWS call found; is the pattern out of date?", src.file)
		}
		for _, a := range actions {
			if why, ok := unreachable[a]; ok {
				t.Logf("%s: %s is not simulated: %s", src.file, a, why)
				continue
			}
			if !simulated[src.actor][a] {
				t.Errorf("%s calls %s, which the %q actor of the IAM simulation does not simulate", src.file, a, src.actor)
			}
		}
	}
}

var (
	cliCall    = regexp.MustCompile(`\baws\s+([a-z0-9-]+)\s+([a-z][a-z0-9-]+)`)
	dockerCall = regexp.MustCompile(`\bdocker\s+(push|pull)\b`)
	sdkClient  = regexp.MustCompile(`(\w+)\s*=\s*require\('@aws-sdk/client-([a-z0-9-]+)'\)`)
	sdkCall    = regexp.MustCompile(`new\s+(\w+)\.(\w+)Command\b`)
	// cliActions are the CLI commands whose IAM action is not their name.
	cliActions = map[string]string{"ecr get-login-password": "ecr:GetAuthorizationToken"}
	// cliImplied are the further actions a CLI command asks IAM for: registering a task
	// definition passes its task and execution roles to ECS.
	cliImplied = map[string][]string{"ecs register-task-definition": {"iam:PassRole"}}
	// sdkPrefixes are the SDK clients whose IAM service prefix is not their name.
	sdkPrefixes = map[string]string{"application-auto-scaling": "application-autoscaling"}
	// unreachable are actions a corpus file names on a path stagecoach never takes.
	unreachable = map[string]string{
		"lambda:UpdateFunctionCode": "TinyStacks' Lambda branch (lambda-release.yml), taken only when LAMBDA_FUNCTION_NAME is set, which stagecoach never sets (config refuses it as a variable); the release role is refused it (releaseProjectRoles)",
	}
)

// sourceCalls lists the IAM actions a buildspec or handler calls.
func sourceCalls(text string) []string {
	seen := map[string]bool{}
	for _, m := range cliCall.FindAllStringSubmatch(text, -1) {
		action, ok := cliActions[m[1]+" "+m[2]]
		if !ok {
			var op strings.Builder
			for _, part := range strings.Split(m[2], "-") {
				op.WriteString(strings.ToUpper(part[:1]) + part[1:])
			}
			action = m[1] + ":" + op.String()
		}
		seen[action] = true
		for _, a := range cliImplied[m[1]+" "+m[2]] {
			seen[a] = true
		}
	}
	for _, m := range dockerCall.FindAllStringSubmatch(text, -1) {
		list := ecrPull
		if m[1] == "push" {
			list = ecrPush
		}
		for _, a := range list {
			seen[a] = true
		}
	}
	clients := map[string]string{}
	for _, m := range sdkClient.FindAllStringSubmatch(text, -1) {
		clients[m[1]] = m[2]
		if prefix, ok := sdkPrefixes[m[2]]; ok {
			clients[m[1]] = prefix
		}
	}
	for _, m := range sdkCall.FindAllStringSubmatch(text, -1) {
		if service, ok := clients[m[1]]; ok {
			seen[service+":"+m[2]] = true
		}
	}
	return sortedKeys(seen)
}
