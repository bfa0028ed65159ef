package rehearsal

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
)

// Phase names, in the order CodeBuild runs them.
const (
	PhaseInstall   = "install"
	PhasePreBuild  = "pre_build"
	PhaseBuild     = "build"
	PhasePostBuild = "post_build"
)

// PhaseOrder lists the phases a buildspec may define, in run order.
var PhaseOrder = []string{PhaseInstall, PhasePreBuild, PhaseBuild, PhasePostBuild}

// OnFailure is a phase's on-failure setting.
type OnFailure string

const (
	// Transitions is the setting when on-failure is absent: CodeBuild's default
	// phase transitions apply (see Run).
	Transitions OnFailure = ""
	// Abort ends the build at the failed phase.
	Abort OnFailure = "ABORT"
	// Continue goes on to the next phase; the build still fails.
	Continue OnFailure = "CONTINUE"
)

// Buildspec is the part of a version 0.2 buildspec a rehearsal runs.
type Buildspec struct {
	// Shell is env.shell: "bash", "sh" (for sh and /bin/sh), or empty when the
	// buildspec names none, which CodeBuild runs with sh.
	Shell string
	// Variables is env.variables, values as the strings CodeBuild would set.
	Variables map[string]string
	// Phases are the phases the buildspec defines, in run order.
	Phases []Phase
}

// Phase is one phase of a buildspec.
type Phase struct {
	// Name is install, pre_build, build or post_build.
	Name string
	// OnFailure is the phase's on-failure setting.
	OnFailure OnFailure
	// Commands run one after the other until one fails.
	Commands []string
	// Finally runs after Commands, whether they failed or not.
	Finally []string
}

// rawSpec mirrors the buildspec file. Sections that only matter after the
// commands ran (artifacts, reports, cache) are accepted and ignored.
type rawSpec struct {
	Version any    `yaml:"version"`
	RunAs   string `yaml:"run-as"`
	Env     *struct {
		Shell               string         `yaml:"shell"`
		Variables           map[string]any `yaml:"variables"`
		ParameterStore      map[string]any `yaml:"parameter-store"`
		SecretsManager      map[string]any `yaml:"secrets-manager"`
		ExportedVariables   []string       `yaml:"exported-variables"`
		GitCredentialHelper any            `yaml:"git-credential-helper"`
	} `yaml:"env"`
	Proxy     any                 `yaml:"proxy"`
	Batch     any                 `yaml:"batch"`
	Phases    map[string]rawPhase `yaml:"phases"`
	Reports   any                 `yaml:"reports"`
	Artifacts any                 `yaml:"artifacts"`
	Cache     any                 `yaml:"cache"`
}

type rawPhase struct {
	RunAs           string   `yaml:"run-as"`
	OnFailure       string   `yaml:"on-failure"`
	RuntimeVersions any      `yaml:"runtime-versions"`
	Commands        []string `yaml:"commands"`
	Finally         []string `yaml:"finally"`
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Parse reads a buildspec. It refuses what a rehearsal cannot run faithfully
// (version 0.1, run-as, secrets, retries) rather than run it differently from
// CodeBuild.
func Parse(text string) (*Buildspec, error) {
	var raw rawSpec
	if err := yaml.UnmarshalWithOptions([]byte(text), &raw, yaml.Strict()); err != nil {
		return nil, fmt.Errorf("buildspec: %w", err)
	}
	switch fmt.Sprint(raw.Version) {
	case "0.2":
	case "0.1":
		return nil, fmt.Errorf("buildspec: version 0.1 runs every command in its own shell; rehearsals only run 0.2 (set version: 0.2)")
	default:
		return nil, fmt.Errorf("buildspec: version is %v; want 0.2", raw.Version)
	}
	if raw.RunAs != "" {
		return nil, fmt.Errorf("buildspec: run-as %q is not supported by rehearsals (commands run as the test's user)", raw.RunAs)
	}
	b := &Buildspec{Variables: map[string]string{}}
	if e := raw.Env; e != nil {
		switch e.Shell {
		case "", "bash":
			b.Shell = e.Shell
		case "sh", "/bin/sh":
			b.Shell = "sh"
		default:
			return nil, fmt.Errorf("buildspec: env.shell %q is not supported by rehearsals (bash, sh, /bin/sh)", e.Shell)
		}
		if len(e.ParameterStore) > 0 || len(e.SecretsManager) > 0 {
			return nil, fmt.Errorf("buildspec: env.parameter-store and env.secrets-manager need AWS; pass those values as project variables in the rehearsal")
		}
		for k, v := range e.Variables {
			if !envName.MatchString(k) {
				return nil, fmt.Errorf("buildspec: env.variables.%s is not a valid variable name", k)
			}
			b.Variables[k] = scalar(v)
		}
	}
	if len(raw.Phases) == 0 {
		return nil, fmt.Errorf("buildspec: no phases")
	}
	for name := range raw.Phases {
		if !slices.Contains(PhaseOrder, name) {
			return nil, fmt.Errorf("buildspec: unknown phase %q (phases are %s)", name, strings.Join(PhaseOrder, ", "))
		}
	}
	for _, name := range PhaseOrder {
		rp, ok := raw.Phases[name]
		if !ok {
			continue
		}
		if rp.RunAs != "" {
			return nil, fmt.Errorf("buildspec: phases.%s.run-as is not supported by rehearsals", name)
		}
		p := Phase{Name: name, OnFailure: OnFailure(rp.OnFailure), Commands: rp.Commands, Finally: rp.Finally}
		switch p.OnFailure {
		case Transitions, Abort, Continue:
		default:
			return nil, fmt.Errorf("buildspec: phases.%s.on-failure %q is not supported by rehearsals (ABORT, CONTINUE, or none)", name, rp.OnFailure)
		}
		b.Phases = append(b.Phases, p)
	}
	return b, nil
}

// scalar renders a YAML scalar as the string CodeBuild sets.
func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}
