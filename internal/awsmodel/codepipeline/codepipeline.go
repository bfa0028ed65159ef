// Package codepipeline models how CodePipeline (pipeline type V2) runs several executions
// of one pipeline at once in SUPERSEDED mode, so tests can drive the real actions of a
// synthesized pipeline through every order in which CodePipeline may run them.
//
// It follows the AWS CodePipeline User Guide, "How pipeline executions work" and "Set or
// change the pipeline execution mode" (CodePipeline execution modes), and "Working with
// variables" for action variables. The rules, in our own words:
//
//   - An execution runs the pipeline's stages in order, and within a stage its actions in
//     run order; an action that fails fails the execution, which goes no further.
//   - A stage holds at most one execution at a time: the stage is locked from the moment an
//     execution enters it until that execution has finished or failed it. A manual approval
//     keeps its stage locked for as long as nobody answers it.
//   - Different executions can be in different stages at the same moment: while one waits
//     for prod's approval, newer ones build and release to dev and staging.
//   - An execution that has finished a stage and finds the next one locked waits between
//     the two. If a newer execution finishes the same stage and comes to wait there too,
//     the older waiting one is superseded (it stops, neither failed nor succeeded): the
//     newer execution overtakes it. Once the stage is free, the waiting execution enters.
//   - Executions start in the order of the pushes that started them.
//   - An action's configuration may name variables, #{Namespace.Name}: output variables of
//     earlier actions of the same execution, and the pipeline-level
//     #{codepipeline.PipelineExecutionId}. They resolve when the action starts.
//
// Each action is one atomic step here: the model interleaves actions, not the API calls
// inside them. Not modelled: QUEUED and PARALLEL modes, retries and rollbacks (a retry
// re-runs a failed action with the same variables), parallel actions (same run order),
// stage conditions, and approvals that are rejected.
package codepipeline

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Kind is what an action does.
type Kind string

// The kinds of action stagecoach's pipelines use.
const (
	Source    Kind = "Source"
	Lambda    Kind = "Lambda"
	CodeBuild Kind = "CodeBuild"
	Approval  Kind = "Approval"
)

// Action is one action of a stage.
type Action struct {
	// Name is the action's name, e.g. "ImageDigest".
	Name string
	// Kind is what it does.
	Kind Kind
	// RunOrder orders the actions of a stage.
	RunOrder int
	// Namespace is where its output variables go, e.g. "Image".
	Namespace string
	// Target is the function (Lambda) or project (CodeBuild) it runs: a logical ID.
	Target string
	// UserParameters is a Lambda action's parameters, variables unresolved.
	UserParameters string
	// Env holds a CodeBuild action's environment variables, variables unresolved.
	Env map[string]string
}

// Stage is one stage of the pipeline.
type Stage struct {
	Name    string
	Actions []Action
}

// Pipeline is a pipeline's structure.
type Pipeline struct {
	Stages []Stage
}

var variable = regexp.MustCompile(`#\{([A-Za-z0-9@\-_]+\.[A-Za-z0-9@\-_]+)\}`)

// Resolve replaces the variables in s with vars, as CodePipeline does when an action
// starts. A variable with no value is an error: CodePipeline fails the action.
func Resolve(s string, vars map[string]string) (string, error) {
	var missing []string
	out := variable.ReplaceAllStringFunc(s, func(m string) string {
		v, ok := vars[m[2:len(m)-1]]
		if !ok {
			missing = append(missing, m)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("no value for %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// Status is where an execution is.
type Status string

// The states of an execution.
const (
	NotStarted Status = "NotStarted"
	Waiting    Status = "Waiting" // between stages, for Stage to be free
	InStage    Status = "InStage"
	Succeeded  Status = "Succeeded"
	Failed     Status = "Failed"
	Superseded Status = "Superseded"
)

// Execution is one pipeline execution's progress.
type Execution struct {
	// ID is its number, 0 for the first push; also its PipelineExecutionId here.
	ID     int
	Status Status
	// Stage is the stage it is in or waits for; Action the next action to run there.
	Stage, Action int
	// Vars are the variables its actions have output so far, "Namespace.Name".
	Vars map[string]string
	// Error is why it failed.
	Error string
}

// Step is one move of the model: execution Exec starts, or runs Action in Stage; with
// Exec -1, the world delivers an event (Action).
type Step struct {
	Exec          int
	Stage, Action string
}

func (s Step) String() string {
	if s.Exec < 0 {
		return s.Stage + " " + s.Action
	}
	if s.Stage == "" {
		return fmt.Sprintf("#%d starts", s.Exec)
	}
	return fmt.Sprintf("#%d %s/%s", s.Exec, s.Stage, s.Action)
}

// World is the state the actions act on (registries, parameters); the model copies it
// at every branch of the exploration and uses Key to recognise states already seen.
type World interface {
	Key() string
	Clone() World
}

// Runner carries out one action of execution e in w (which it may change) with the
// action's configuration resolved, and returns the action's output variables, or an
// error when the action fails.
type Runner func(w World, e *Execution, stage string, a Action, resolved Action) (map[string]string, error)

// State is the model's whole state: every execution and the world.
type State struct {
	Execs []*Execution
	World World
	// Trace is the steps that led here.
	Trace []Step
}

func (s *State) clone() *State {
	c := &State{World: s.World.Clone(), Trace: slices.Clone(s.Trace)}
	for _, e := range s.Execs {
		x := *e
		x.Vars = make(map[string]string, len(e.Vars))
		for k, v := range e.Vars {
			x.Vars[k] = v
		}
		c.Execs = append(c.Execs, &x)
	}
	return c
}

func (s *State) key() string {
	type ek struct {
		S      Status
		St, Ac int
		V      map[string]string
	}
	var es []ek
	for _, e := range s.Execs {
		es = append(es, ek{e.Status, e.Stage, e.Action, e.Vars})
	}
	b, _ := json.Marshal(es) // maps marshal with sorted keys
	return string(b) + "|" + s.World.Key()
}

// locked tells whether an execution is in stage k.
func (s *State) locked(k int) bool {
	for _, e := range s.Execs {
		if e.Status == InStage && e.Stage == k {
			return true
		}
	}
	return false
}

// settle lets waiting executions into free stages and supersedes older waiters, as
// CodePipeline does without anyone's action.
func (s *State) settle(p Pipeline) {
	for k := range p.Stages {
		var waiting []*Execution
		for _, e := range s.Execs {
			if e.Status == Waiting && e.Stage == k {
				waiting = append(waiting, e)
			}
		}
		sort.Slice(waiting, func(i, j int) bool { return waiting[i].ID < waiting[j].ID })
		for i, e := range waiting {
			if i < len(waiting)-1 {
				e.Status = Superseded
			}
		}
		if len(waiting) > 0 && !s.locked(k) {
			e := waiting[len(waiting)-1]
			e.Status, e.Action = InStage, 0
		}
	}
}

// Model is a pipeline, the executions pushed to it, and what its actions do.
type Model struct {
	Pipeline Pipeline
	// Executions is how many pushes start executions.
	Executions int
	// Run carries out actions.
	Run Runner
	// Check is called on every state reached; an error stops the exploration and is
	// returned with the trace that led to the state.
	Check func(*State) error
	// Pending, when set, lists what the world has to deliver asynchronously (events
	// that EventBridge delivers to a rule's target some time later); Deliver delivers
	// one. Each delivery is a step of its own, in any order with the actions.
	Pending func(World) []string
	Deliver func(w World, event string) error
}

// Stats says how much of the state space an exploration covered.
type Stats struct {
	States, Steps, Finals int
}

// Explore visits every state the executions can reach, in every order CodePipeline may
// run their actions, starting from world. It returns the first failed Check.
func (m Model) Explore(world World) (Stats, error) {
	for _, st := range m.Pipeline.Stages {
		sort.SliceStable(st.Actions, func(i, j int) bool { return st.Actions[i].RunOrder < st.Actions[j].RunOrder })
	}
	start := &State{World: world.Clone()}
	for i := 0; i < m.Executions; i++ {
		start.Execs = append(start.Execs, &Execution{ID: i, Status: NotStarted, Vars: map[string]string{}})
	}
	seen := map[string]bool{}
	var stats Stats
	var visit func(s *State) error
	visit = func(s *State) error {
		k := s.key()
		if seen[k] {
			return nil
		}
		seen[k] = true
		stats.States++
		if m.Check != nil {
			if err := m.Check(s); err != nil {
				return fmt.Errorf("%w\nafter: %s", err, traceString(s.Trace))
			}
		}
		moves := 0
		for i := range s.Execs {
			next, ok, err := m.step(s, i)
			if err != nil {
				return fmt.Errorf("%w\nafter: %s", err, traceString(s.Trace))
			}
			if !ok {
				continue
			}
			moves++
			stats.Steps++
			if err := visit(next); err != nil {
				return err
			}
		}
		if m.Pending != nil {
			for _, ev := range m.Pending(s.World) {
				n := s.clone()
				n.Trace = append(n.Trace, Step{Exec: -1, Stage: "event", Action: ev})
				if err := m.Deliver(n.World, ev); err != nil {
					return fmt.Errorf("%w\nafter: %s", err, traceString(n.Trace))
				}
				moves++
				stats.Steps++
				if err := visit(n); err != nil {
					return err
				}
			}
		}
		if moves == 0 {
			stats.Finals++
		}
		return nil
	}
	return stats, visit(start)
}

// step moves execution i one step from s, if it can move.
func (m Model) step(s *State, i int) (*State, bool, error) {
	e := s.Execs[i]
	switch e.Status {
	case NotStarted:
		if i > 0 && s.Execs[i-1].Status == NotStarted {
			return nil, false, nil
		}
		n := s.clone()
		n.Execs[i].Status, n.Execs[i].Stage = Waiting, 0
		n.Trace = append(n.Trace, Step{Exec: i})
		n.settle(m.Pipeline)
		return n, true, nil
	case InStage:
	default:
		return nil, false, nil
	}
	n := s.clone()
	ne := n.Execs[i]
	stage := m.Pipeline.Stages[ne.Stage]
	a := stage.Actions[ne.Action]
	n.Trace = append(n.Trace, Step{Exec: i, Stage: stage.Name, Action: a.Name})
	vars := map[string]string{"codepipeline.PipelineExecutionId": fmt.Sprint(ne.ID)}
	for k, v := range ne.Vars {
		vars[k] = v
	}
	resolved := a
	var err error
	if resolved.UserParameters, err = Resolve(a.UserParameters, vars); err == nil && a.Env != nil {
		resolved.Env = map[string]string{}
		for k, v := range a.Env {
			if resolved.Env[k], err = Resolve(v, vars); err != nil {
				break
			}
		}
	}
	var out map[string]string
	if err == nil {
		out, err = m.Run(n.World, ne, stage.Name, a, resolved)
	}
	if err != nil {
		ne.Status, ne.Error = Failed, fmt.Sprintf("%s/%s: %v", stage.Name, a.Name, err)
		n.settle(m.Pipeline)
		return n, true, nil
	}
	for k, v := range out {
		ne.Vars[a.Namespace+"."+k] = v
	}
	ne.Action++
	if ne.Action == len(stage.Actions) {
		if ne.Stage == len(m.Pipeline.Stages)-1 {
			ne.Status = Succeeded
		} else {
			ne.Status, ne.Stage = Waiting, ne.Stage+1
		}
	}
	n.settle(m.Pipeline)
	return n, true, nil
}

func traceString(t []Step) string {
	var parts []string
	for _, s := range t {
		parts = append(parts, s.String())
	}
	return strings.Join(parts, " → ")
}
