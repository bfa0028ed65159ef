package rehearsal

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/stagecoach/stagecoach/internal/awsmodel/codepipeline"
	"github.com/stagecoach/stagecoach/internal/handlers/handlertest"
)

// This file runs the Lambda side of a synthesized pipeline stack against a rehearsal's
// registry: the pipeline's Lambda actions (ImageDigest, Authorize, Verify) and the
// stage-tag guard, each the template's own inline code under Node. Parameter Store is
// an in-memory map kept here. ECR events are delivered to the guard after each
// CodeBuild run, as EventBridge would deliver them a little later.

// lambdas is a pipeline stack's functions, wired to a harness.
type lambdas struct {
	h        *Harness
	node     *handlertest.Node
	tmpl     map[string]any
	repo     string
	pipeline codepipeline.Pipeline
	params   map[string][]string
	// guard is the stage-tag guard's code and configuration; nil when the template
	// has none.
	guardSource string
	guardConfig map[string]any
	// Guarded lists what the guard did: "putTag prod sha256:…", "deleteTag dev".
	Guarded []string
	// Served lists, per stage, the digests its service was deployed on, in order.
	Served     map[string][]string
	servedDir  string
	servedRead int
}

func newLambdas(t *testing.T, h *Harness, golden, repo string) *lambdas {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, golden+".template.json"))
	if err != nil {
		t.Fatal(err)
	}
	l := &lambdas{h: h, node: handlertest.Start(t), repo: repo, params: map[string][]string{}, Served: map[string][]string{}}
	if err := json.Unmarshal(b, &l.tmpl); err != nil {
		t.Fatal(err)
	}
	r := Resolver{}
	if l.pipeline, err = codepipeline.FromTemplate(l.tmpl, func(v any) (any, error) { return r.Resolve(l.tmpl, v) }); err != nil {
		t.Fatal(err)
	}
	for id, res := range l.tmpl["Resources"].(map[string]any) {
		props, _ := res.(map[string]any)["Properties"].(map[string]any)
		env, _ := props["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		if raw, ok := vars["GUARD"]; ok {
			v, err := r.Resolve(l.tmpl, raw)
			if err != nil {
				t.Fatal(err)
			}
			l.guardSource = l.code(t, id)
			if err := json.Unmarshal([]byte(v.(string)), &l.guardConfig); err != nil {
				t.Fatal(err)
			}
		}
	}
	return l
}

func (l *lambdas) code(t *testing.T, id string) string {
	t.Helper()
	res, _ := l.tmpl["Resources"].(map[string]any)[id].(map[string]any)
	props, _ := res["Properties"].(map[string]any)
	code, _ := props["Code"].(map[string]any)
	src, ok := code["ZipFile"].(string)
	if !ok {
		t.Fatalf("function %s has no inline code", id)
	}
	return src
}

// world reads the registry into what the handlers see.
func (l *lambdas) world(t *testing.T) *handlertest.World {
	t.Helper()
	repo := &handlertest.Repository{Tags: map[string]string{}}
	for _, tag := range l.h.Registry.Tags(t, l.repo) {
		repo.Tags[tag] = l.h.Registry.Digest(t, l.repo, tag)
	}
	revs := filepath.Join(l.h.Registry.Storage(), "docker", "registry", "v2", "repositories", l.repo, "_manifests", "revisions", "sha256")
	entries, _ := os.ReadDir(revs)
	for _, e := range entries {
		repo.Digests = append(repo.Digests, "sha256:"+e.Name())
	}
	return &handlertest.World{Images: map[string]*handlertest.Repository{l.repo: repo}, Params: l.params}
}

// apply carries the handler's ECR effects out on the registry.
func (l *lambdas) apply(t *testing.T, calls []handlertest.Call) {
	t.Helper()
	for _, c := range calls {
		switch c.Op {
		case "putTag":
			src, err := name.NewDigest(l.h.Registry.Host + "/" + c.Repository + "@" + c.Digest)
			if err != nil {
				t.Fatal(err)
			}
			desc, err := remote.Get(src)
			if err != nil {
				t.Fatal(err)
			}
			dst, err := name.NewTag(l.h.Registry.Host + "/" + c.Repository + ":" + c.Tag)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Put(dst, rawManifest{desc.Manifest, desc.MediaType}); err != nil {
				t.Fatal(err)
			}
			l.Guarded = append(l.Guarded, "putTag "+c.Tag+" "+c.Digest)
		case "deleteTag":
			l.h.Registry.Untag(t, c.Repository, c.Tag)
			l.Guarded = append(l.Guarded, "deleteTag "+c.Tag)
		case "redeploy":
			// ECS resolves the tag when the deployment starts.
			stage := c.Target["stage"]
			for st, conf := range l.guardConfig["stages"].(map[string]any) {
				if conf.(map[string]any)["service"] == c.Target["service"] {
					stage = st
				}
			}
			l.Served[stage] = append(l.Served[stage], l.h.Registry.Digest(t, l.repo, stage))
		}
	}
}

type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

// action runs the Lambda action named action of stage with the execution's variables,
// and returns its output variables, or the failure it reported.
func (l *lambdas) action(t *testing.T, stage, action string, vars map[string]string) (map[string]string, string) {
	t.Helper()
	for _, st := range l.pipeline.Stages {
		for _, a := range st.Actions {
			if st.Name != stage || a.Name != action {
				continue
			}
			if a.Kind != codepipeline.Lambda {
				t.Fatalf("%s/%s is a %s action", stage, action, a.Kind)
			}
			params, err := codepipeline.Resolve(a.UserParameters, vars)
			if err != nil {
				t.Fatalf("%s/%s: %v", stage, action, err)
			}
			w := l.world(t)
			res, err := l.node.Invoke(l.code(t, a.Target), "run", handlertest.JobEvent("job", params), nil, w)
			if err != nil {
				t.Fatal(err)
			}
			if res.Error != "" {
				t.Fatalf("%s/%s threw: %s", stage, action, res.Error)
			}
			l.params = w.Params
			l.apply(t, res.Calls)
			for _, c := range res.Calls {
				switch c.Op {
				case "succeed":
					return c.Vars, ""
				case "fail":
					return nil, c.Message
				}
			}
			t.Fatalf("%s/%s reported no result", stage, action)
		}
	}
	t.Fatalf("the pipeline has no action %s/%s", stage, action)
	return nil, ""
}

// has tells whether the pipeline has the Lambda action stage/action.
func (l *lambdas) has(stage, action string) bool {
	for _, st := range l.pipeline.Stages {
		for _, a := range st.Actions {
			if st.Name == stage && a.Name == action {
				return true
			}
		}
	}
	return false
}

// events delivers to the guard the ECR events of the stage tags that calls pushed or
// deleted in the home registry, once per tag: the guard acts on the tag as it is
// when it runs. Without a guard in the template, nothing happens, as in AWS.
func (l *lambdas) events(t *testing.T, calls []Call) {
	t.Helper()
	var tags []string
	for _, c := range calls {
		if c.Exit != 0 {
			continue
		}
		var tag string
		switch {
		case c.Tool == "aws" && slices.Equal(c.Args[:2], []string{"ecr", "put-image"}) && arg(c.Args, "--region") == "":
			tag = arg(c.Args, "--image-tag")
		case c.Tool == "aws" && slices.Equal(c.Args[:2], []string{"ecr", "batch-delete-image"}) && arg(c.Args, "--region") == "":
			tag = strings.TrimPrefix(arg(c.Args, "--image-ids"), "imageTag=")
		case c.Tool == "docker" && c.Args[0] == "push" && strings.HasPrefix(c.Args[1], l.h.Registry.Host+"/"+l.repo+":"):
			tag = strings.TrimPrefix(c.Args[1], l.h.Registry.Host+"/"+l.repo+":")
		}
		if tag != "" && !slices.Contains(tags, tag) {
			tags = append(tags, tag)
		}
	}
	if l.guardSource == "" {
		return
	}
	for _, tag := range tags {
		event := map[string]any{"source": "aws.ecr", "detail-type": "ECR Image Action", "detail": map[string]any{
			"result": "SUCCESS", "repository-name": l.repo, "action-type": "PUSH", "image-tag": tag}}
		w := l.world(t)
		res, err := l.node.Invoke(l.guardSource, "run", event, l.guardConfig, w)
		if err != nil {
			t.Fatal(err)
		}
		if res.Error != "" {
			t.Fatalf("the guard threw on :%s: %s", tag, res.Error)
		}
		if res.Log != "" {
			t.Log("guard: " + res.Log)
		}
		l.apply(t, res.Calls)
	}
}

// deployments returns a release job change that records, for every successful
// `aws ecs update-service` of the run, the digest the stage tag pointed to: what ECS
// resolves the tag to when a deployment starts. deployed reads the record.
func (l *lambdas) deployments(t *testing.T) adjust {
	t.Helper()
	if l.servedDir == "" {
		l.servedDir = t.TempDir()
		real := filepath.Join(l.h.bin, "aws")
		script := `#!/bin/bash
"` + real + `" "$@"; rc=$?
if [ "$1 $2" = "ecs update-service" ] && [ $rc = 0 ]; then
  d=$("` + real + `" ecr batch-get-image --repository-name "${ECR_IMAGE_URL#"$ECR_ENDPOINT"/}" --image-ids "imageTag=$STAGE_NAME" \
    --query 'images[0].imageId.imageDigest' --output text 2>/dev/null)
  echo "$STAGE_NAME $d" >> "` + filepath.Join(l.servedDir, "served") + `"
fi
exit $rc
`
		if err := os.WriteFile(filepath.Join(l.servedDir, "aws"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return func(_ string, j *Job) {
		j.Settings["PATH"] = l.servedDir + string(os.PathListSeparator) + l.h.bin + string(os.PathListSeparator) + os.Getenv("PATH")
	}
}

// deployed adds the deployments recorded since the last call to Served.
func (l *lambdas) deployed(t *testing.T) {
	t.Helper()
	if l.servedDir == "" {
		return
	}
	b, err := os.ReadFile(filepath.Join(l.servedDir, "served"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for _, line := range lines[min(l.servedRead, len(lines)):] {
		if stage, digest, ok := strings.Cut(line, " "); ok {
			l.Served[stage] = append(l.Served[stage], digest)
		}
	}
	l.servedRead = len(lines)
}

// executionVars are the pipeline variables of an execution that built digest.
func executionVars(id int, commit, digest string) map[string]string {
	return map[string]string{"Image.IMAGE_DIGEST": digest, "Source.CommitId": commit,
		"codepipeline.PipelineExecutionId": fmt.Sprintf("00000000-0000-0000-0000-%012d", id)}
}
