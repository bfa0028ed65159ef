package codepipeline

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stagecoach/stagecoach/internal/handlers/handlertest"
	"github.com/stagecoach/stagecoach/internal/rehearsal"
)

// registry is the world of these scenarios: one ECR repository and Parameter Store,
// as the real handler code sees them through handlertest, and the stage tags whose
// push or delete EventBridge has yet to deliver to the stage-tag guard.
type registry struct {
	handlertest.World
	// Pending holds the stage tags with an undelivered ECR event, sorted.
	Pending []string
	// GuardActs counts the tags the guard put back or removed.
	GuardActs int
}

func (r *registry) Key() string {
	b, _ := json.Marshal(r)
	return string(b)
}

func (r *registry) Clone() World {
	var c registry
	b, _ := json.Marshal(r)
	_ = json.Unmarshal(b, &c)
	return &c
}

// touched notes that tag was pushed or deleted: ECR sends an event, delivered later.
// Events of one tag are kept once: the guard acts on the tag as it is when it runs.
func (r *registry) touched(tag string, stages []string) {
	if slices.Contains(stages, tag) && !slices.Contains(r.Pending, tag) {
		r.Pending = append(r.Pending, tag)
		slices.Sort(r.Pending)
	}
}

// digestOf is the image execution e builds.
func digestOf(e int) string { return fmt.Sprintf("sha256:%064x", e+1) }

// golden reads the default config's synthesized pipeline stack.
func golden(t *testing.T) (map[string]any, Pipeline, string) {
	t.Helper()
	tmpl, p, repo, _ := goldenWithGuard(t)
	return tmpl, p, repo
}

// guard is the stage-tag guard of a template: its inline code and its configuration.
type guard struct {
	source string
	config map[string]any
}

// goldenWithGuard also returns the template's stage-tag guard, if it has one.
func goldenWithGuard(t *testing.T) (map[string]any, Pipeline, string, *guard) {
	t.Helper()
	path := filepath.Join("..", "..", "..", "testdata", "golden", "default", "acme-web-pipeline.template.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tmpl map[string]any
	if err := json.Unmarshal(b, &tmpl); err != nil {
		t.Fatal(err)
	}
	r := rehearsal.Resolver{}
	p, err := FromTemplate(tmpl, func(v any) (any, error) { return r.Resolve(tmpl, v) })
	if err != nil {
		t.Fatal(err)
	}
	var g *guard
	for id, res := range tmpl["Resources"].(map[string]any) {
		props, _ := res.(map[string]any)["Properties"].(map[string]any)
		env, _ := props["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		if raw, ok := vars["GUARD"]; ok {
			v, err := r.Resolve(tmpl, raw)
			if err != nil {
				t.Fatal(err)
			}
			g = &guard{source: inlineCode(t, tmpl, id), config: map[string]any{}}
			if err := json.Unmarshal([]byte(v.(string)), &g.config); err != nil {
				t.Fatal(err)
			}
		}
	}
	return tmpl, p, "acme/web", g
}

// inlineCode is the source of the Lambda function with logical ID id.
func inlineCode(t *testing.T, tmpl map[string]any, id string) string {
	t.Helper()
	res, _ := tmpl["Resources"].(map[string]any)[id].(map[string]any)
	props, _ := res["Properties"].(map[string]any)
	code, _ := props["Code"].(map[string]any)
	src, ok := code["ZipFile"].(string)
	if !ok {
		t.Fatalf("function %s has no inline code", id)
	}
	return src
}

// scenario runs the pipeline's actions for real: the Lambda actions are the template's
// inline handlers under Node; the build pushes :latest (and, for executions listed in
// pushes, stage tags too, as a hostile build.yml would); a release moves its stage's tag
// to IMAGE_DIGEST, as the default release.yml does.
type scenario struct {
	t      *testing.T
	node   *handlertest.Node
	tmpl   map[string]any
	repo   string
	pushes map[int][]string // stage tags each execution's build.yml also pushes
	// unstable makes an execution's release to a stage fail as the default release.yml
	// does when the service does not become stable: the tag goes back where it was.
	unstable map[int]string
	// releasePushes makes an execution's release of a stage (a release.yml from its
	// commit) also push other stage tags to its image.
	releasePushes map[int]map[string][]string
	calls         int // handler invocations made under Node
	memo          map[string]memoized
	stages        []string
	guard         *guard
}

// invoke runs a handler's run(api, event, config) against w. Handlers are functions of
// their input and the world, so an invocation already made from the same world is
// answered from memory: the exploration reaches the same world by many orders.
func (sc *scenario) invoke(source string, event, config any, w *handlertest.World) (handlertest.Result, error) {
	in, err := json.Marshal([]any{source, event, config, w})
	if err != nil {
		return handlertest.Result{}, err
	}
	if sc.memo == nil {
		sc.memo = map[string]memoized{}
	}
	if m, ok := sc.memo[string(in)]; ok {
		return m.res, json.Unmarshal(m.world, w)
	}
	sc.calls++
	res, err := sc.node.Invoke(source, "run", event, config, w)
	if err != nil {
		return res, err
	}
	after, err := json.Marshal(w)
	sc.memo[string(in)] = memoized{res, after}
	return res, err
}

type memoized struct {
	res   handlertest.Result
	world []byte
}

// deliver runs the stage-tag guard on the event of a push or delete of tag.
func (sc *scenario) deliver(w World, tag string) error {
	reg := w.(*registry)
	reg.Pending = slices.DeleteFunc(reg.Pending, func(p string) bool { return p == tag })
	event := map[string]any{"source": "aws.ecr", "detail-type": "ECR Image Action", "detail": map[string]any{
		"result": "SUCCESS", "repository-name": sc.repo, "action-type": "PUSH", "image-tag": tag}}
	res, err := sc.invoke(sc.guard.source, event, sc.guard.config, &reg.World)
	if err != nil {
		sc.t.Fatal(err)
	}
	if res.Error != "" {
		return fmt.Errorf("the guard threw: %s", res.Error)
	}
	for _, c := range res.Calls {
		if c.Op == "putTag" || c.Op == "deleteTag" {
			reg.GuardActs++
			reg.touched(c.Tag, sc.stages)
		}
	}
	return nil
}

// stageNames lists the pipeline's release stages.
func stageNames(p Pipeline) []string {
	var out []string
	for _, st := range p.Stages[2:] {
		out = append(out, st.Name)
	}
	return out
}

// unapproved returns the stage tags that point where no approval of their stage lets them.
func unapproved(w *registry, repo string, stages []string) []string {
	var out []string
	for _, st := range stages {
		now := w.Images[repo].Tags[st]
		ok := recordNames(w, st)
		if ok == nil {
			ok = []string{""}
		}
		if !slices.Contains(ok, now) {
			out = append(out, st+"="+now)
		}
	}
	return out
}

func (sc *scenario) run(w World, e *Execution, stage string, a Action, r Action) (map[string]string, error) {
	reg := w.(*registry)
	repo := reg.Images[sc.repo]
	switch a.Kind {
	case Source:
		return map[string]string{"CommitId": fmt.Sprintf("%040x", e.ID+1)}, nil
	case Approval:
		return nil, nil
	case CodeBuild:
		if stage == "Build" {
			d := digestOf(e.ID)
			repo.Digests = append(repo.Digests, d)
			repo.Tags["latest"] = d
			for _, s := range sc.pushes[e.ID] {
				repo.Tags[s] = d
				reg.touched(s, sc.stages)
			}
			return nil, nil
		}
		d := r.Env["IMAGE_DIGEST"]
		if !slices.Contains(repo.Digests, d) {
			return nil, fmt.Errorf("release: no image %s", d)
		}
		was, had := repo.Tags[stage]
		repo.Tags[stage] = d
		reg.touched(stage, sc.stages)
		for _, other := range sc.releasePushes[e.ID][stage] {
			repo.Tags[other] = d
			reg.touched(other, sc.stages)
		}
		if sc.unstable[e.ID] == stage {
			if had {
				repo.Tags[stage] = was
			} else {
				delete(repo.Tags, stage)
			}
			return nil, fmt.Errorf("release: the service did not become stable; :%s is back on %q", stage, was)
		}
		return nil, nil
	case Lambda:
		res, err := sc.invoke(inlineCode(sc.t, sc.tmpl, a.Target), handlertest.JobEvent("job", r.UserParameters), nil, &reg.World)
		if err != nil {
			sc.t.Fatal(err)
		}
		if res.Error != "" {
			return nil, fmt.Errorf("the function threw (CodePipeline waits until it times out): %s", res.Error)
		}
		for _, c := range res.Calls {
			switch c.Op {
			case "succeed":
				return c.Vars, nil
			case "fail":
				return nil, fmt.Errorf("%s", c.Message)
			}
		}
		return nil, fmt.Errorf("the function reported no job result: %+v", res)
	}
	return nil, fmt.Errorf("unknown action kind %s", a.Kind)
}

func newWorld(repo string) *registry {
	return &registry{World: handlertest.World{Images: map[string]*handlertest.Repository{repo: {Tags: map[string]string{}}}}}
}

// TestSupersededHealthyExecutionsNeverFail: three pushes in a row, every build
// well-behaved. In no order of their actions may any execution fail: a release of one
// execution moving a stage tag between another's TagsBefore and ImageDigest is normal
// in SUPERSEDED mode, not build.yml's doing.
func TestSupersededHealthyExecutionsNeverFail(t *testing.T) {
	tmpl, p, repo, g := goldenWithGuard(t)
	sc := &scenario{t: t, node: handlertest.Start(t), tmpl: tmpl, repo: repo, stages: stageNames(p), guard: g}
	m := Model{Pipeline: p, Executions: 3, Run: sc.run, Check: func(s *State) error {
		for _, e := range s.Execs {
			if e.Status == Failed {
				return fmt.Errorf("healthy execution #%d failed: %s", e.ID, e.Error)
			}
		}
		w := s.World.(*registry)
		if w.GuardActs > 0 {
			return fmt.Errorf("the stage-tag guard undid a release: tags %v, records %v", w.Images[repo].Tags, w.Params)
		}
		// Once every execution has ended, each stage runs the image of the last
		// execution that released it, and its record says so.
		for _, e := range s.Execs {
			if e.Status == NotStarted || e.Status == Waiting || e.Status == InStage {
				return nil
			}
		}
		for _, st := range sc.stages {
			last := ""
			for _, step := range s.Trace {
				if step.Stage == st && step.Action == "Release" {
					last = digestOf(step.Exec)
				}
			}
			if got := w.Images[repo].Tags[st]; got != last {
				return fmt.Errorf("at the end :%s is on %q, want %q, the last execution released there", st, got, last)
			}
			if ok := recordNames(w, st); last != "" && !slices.Equal(ok, []string{last}) {
				return fmt.Errorf("at the end the record of %s approves %v, want only %s", st, ok, last)
			}
		}
		return nil
	}}
	if g != nil {
		m.Pending = func(w World) []string { return w.(*registry).Pending }
		m.Deliver = sc.deliver
	}
	stats, err := m.Explore(newWorld(repo))
	t.Logf("%d states, %d steps, %d final states, %d handler invocations", stats.States, stats.Steps, stats.Finals, sc.calls)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Finals < 2 {
		t.Errorf("only %d final states: the model did not interleave the executions", stats.Finals)
	}
}

// TestSupersededReleasePushingProdIsUndone: the dev release of one execution (a
// release.yml from its commit) also pushes :prod, beside a healthy execution. In every
// order: once the guard has had the events, :prod is where an approval of prod put
// it. The other execution fails only where it sees the tampering before the guard
// has undone it: in ImageDigest or Verify, which both say so (once the guard has acted,
// retrying ImageDigest, or all of the stage's actions for Verify, passes).
func TestSupersededReleasePushingProdIsUndone(t *testing.T) {
	tmpl, p, repo, g := goldenWithGuard(t)
	if g == nil {
		t.Fatal("the template has no stage-tag guard")
	}
	for _, bad := range []int{0, 1} {
		t.Run(fmt.Sprintf("execution %d", bad), func(t *testing.T) {
			sc := &scenario{t: t, node: handlertest.Start(t), tmpl: tmpl, repo: repo, stages: stageNames(p), guard: g,
				releasePushes: map[int]map[string][]string{bad: {"dev": {"prod"}}}}
			undone := 0
			m := Model{Pipeline: p, Executions: 2, Run: sc.run, Pending: func(w World) []string { return w.(*registry).Pending }, Deliver: sc.deliver,
				Check: func(s *State) error {
					w := s.World.(*registry)
					for _, e := range s.Execs {
						if e.Status == Failed && !strings.Contains(e.Error, "/Verify: ") && !strings.Contains(e.Error, "another execution's release did") {
							return fmt.Errorf("execution #%d failed: %s", e.ID, e.Error)
						}
					}
					if w.GuardActs > 0 {
						undone++
					}
					if bad := unapproved(w, repo, sc.stages); len(w.Pending) == 0 && len(bad) > 0 {
						return fmt.Errorf("with every event delivered, stage tags %v are where no approval put them", bad)
					}
					return nil
				}}
			stats, err := m.Explore(newWorld(repo))
			t.Logf("%d states, %d steps, %d final states; the guard had acted in %d", stats.States, stats.Steps, stats.Finals, undone)
			if err != nil {
				t.Fatal(err)
			}
			if undone == 0 {
				t.Error("the guard never acted: the scenario tests nothing")
			}
		})
	}
}

// TestSupersededFailedReleases: releases that fail and put their stage's tag back, in
// the middle of other executions. The guard must never take that for tampering, and
// no other execution may fail.
func TestSupersededFailedReleases(t *testing.T) {
	tmpl, p, repo, g := goldenWithGuard(t)
	if g == nil {
		t.Fatal("the template has no stage-tag guard")
	}
	for _, unstable := range []map[int]string{{0: "prod"}, {0: "prod", 1: "prod"}, {0: "dev", 1: "staging"}} {
		t.Run(fmt.Sprint(unstable), func(t *testing.T) {
			sc := &scenario{t: t, node: handlertest.Start(t), tmpl: tmpl, repo: repo, unstable: unstable, stages: stageNames(p), guard: g}
			m := Model{Pipeline: p, Executions: 2, Run: sc.run, Pending: func(w World) []string { return w.(*registry).Pending }, Deliver: sc.deliver,
				Check: func(s *State) error {
					for _, e := range s.Execs {
						if e.Status == Failed && !strings.HasPrefix(e.Error, unstable[e.ID]+"/Release: ") {
							return fmt.Errorf("execution #%d failed: %s", e.ID, e.Error)
						}
					}
					if w := s.World.(*registry); w.GuardActs > 0 {
						return fmt.Errorf("the stage-tag guard undid a release: tags %v, records %v", w.Images[repo].Tags, w.Params)
					}
					return nil
				}}
			stats, err := m.Explore(newWorld(repo))
			t.Logf("%d states, %d steps, %d final states", stats.States, stats.Steps, stats.Finals)
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// recordNames returns the digests a stage's record approves, from the world's
// Parameter Store ("digest=D previous=P … state=S": D, and P until the release of D
// completed); nil when there is no record.
func recordNames(w *registry, stage string) []string {
	for name, versions := range w.Params {
		if !strings.HasSuffix(name, "/"+stage) || len(versions) == 0 {
			continue
		}
		r := map[string]string{}
		for _, kv := range strings.Fields(versions[len(versions)-1]) {
			k, v, _ := strings.Cut(kv, "=")
			r[k] = v
		}
		if r["state"] == "released" {
			return []string{r["digest"]}
		}
		return []string{r["digest"], r["previous"]}
	}
	return nil
}

// TestSupersededBuildPushingAStageTagIsCaught: a build.yml that pushes a stage tag, in
// an execution beside healthy ones. Whatever the order: its ImageDigest step fails
// while the tag it pushed still stands (unless a release of that stage has since moved
// it); once the guard has had the events, every stage tag is where an approval of its
// stage put it; a healthy execution fails only in Verify, when the hostile push lands
// between its release and that check (it reports the tampering).
func TestSupersededBuildPushingAStageTagIsCaught(t *testing.T) {
	tmpl, p, repo, g := goldenWithGuard(t)
	if g == nil {
		t.Fatal("the template has no stage-tag guard")
	}
	for _, tc := range []struct {
		name   string
		pushes map[int][]string
		bad    int
	}{
		{"second build pushes prod", map[int][]string{1: {"prod"}}, 1},
		{"first build pushes dev and staging", map[int][]string{0: {"dev", "staging"}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := &scenario{t: t, node: handlertest.Start(t), tmpl: tmpl, repo: repo, pushes: tc.pushes, stages: stageNames(p), guard: g}
			caught, verified := 0, 0
			m := Model{Pipeline: p, Executions: 2, Run: sc.run, Pending: func(w World) []string { return w.(*registry).Pending }, Deliver: sc.deliver, Check: func(s *State) error {
				w := s.World.(*registry)
				for _, e := range s.Execs {
					if e.Status == Failed && e.ID != tc.bad {
						if !strings.Contains(e.Error, "/Verify: ") {
							return fmt.Errorf("healthy execution #%d failed: %s", e.ID, e.Error)
						}
						verified++
					}
				}
				if bad := unapproved(w, repo, sc.stages); len(w.Pending) == 0 && len(bad) > 0 {
					return fmt.Errorf("with every event delivered, stage tags %v are where no approval put them", bad)
				}
				last := s.Trace[max(len(s.Trace)-1, 0):]
				if len(last) == 0 || last[0].Exec != tc.bad || last[0].Action != "ImageDigest" {
					return nil
				}
				e := s.Execs[tc.bad]
				if e.Status == Failed {
					caught++
					return nil
				}
				for _, st := range tc.pushes[tc.bad] {
					if d := w.Images[repo].Tags[st]; d == digestOf(tc.bad) && !slices.Contains(recordNames(w, st), d) {
						return fmt.Errorf("ImageDigest of #%d passed while :%s still points to the image its build.yml pushed there (tags %v)", tc.bad, st, maps.Collect(maps.All(w.Images[repo].Tags)))
					}
				}
				return nil
			}}
			stats, err := m.Explore(newWorld(repo))
			t.Logf("%d states, %d steps, %d final states; ImageDigest caught it in %d, a healthy Verify in %d", stats.States, stats.Steps, stats.Finals, caught, verified)
			if err != nil {
				t.Fatal(err)
			}
			if caught == 0 {
				t.Error("the hostile build was never caught")
			}
		})
	}
}
