package rehearsal

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, text string) *Buildspec {
	t.Helper()
	spec, err := Parse(text)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, text)
	}
	return spec
}

func run(t *testing.T, text string, opts Options) *Result {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := Run(ctx, mustParse(t, text), opts)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res
}

// statuses renders phase outcomes compactly, e.g. "install:FAILED build:SKIPPED".
func statuses(r *Result) string {
	var parts []string
	for _, p := range r.Phases {
		parts = append(parts, p.Name+":"+string(p.Status))
	}
	return strings.Join(parts, " ")
}

func TestOneShellSessionAcrossCommandsAndPhases(t *testing.T) {
	res := run(t, `version: 0.2
env:
  shell: bash
phases:
  install:
    commands:
      - mkdir sub && cd sub
      - plain="not exported"
      - export EXPORTED=yes
      - multi=$'two\nlines'
      - exit_keeps_state=kept; exit 0
  build:
    commands:
      - echo "pwd=$(basename "$PWD") plain=$plain exported=$EXPORTED"
      - bash -c 'echo "child sees EXPORTED=$EXPORTED plain=${plain:-unset}"'
      - printf 'multi=%s\n' "$multi" | tr '\n' '|'; echo
      - echo "state=$exit_keeps_state"
`, Options{})
	if !res.Succeeded {
		t.Fatalf("build failed:\n%s", res.Log)
	}
	for _, want := range []string{
		"pwd=sub plain=not exported exported=yes",
		"child sees EXPORTED=yes plain=unset",
		"multi=two|lines|",
		"state=kept",
	} {
		if !strings.Contains(res.Log, want) {
			t.Errorf("log lacks %q:\n%s", want, res.Log)
		}
	}
}

// TestShCarriesStateToo: without env.shell CodeBuild runs sh, which is dash on
// the Ubuntu images and bash on Amazon Linux; state carries over under both.
func TestShCarriesStateToo(t *testing.T) {
	for _, sh := range []string{"dash", "bash"} {
		t.Run(sh, func(t *testing.T) {
			res := run(t, `version: 0.2
phases:
  install:
    commands:
      - mkdir sub && cd sub
      - plain="two
        words"
      - export EXPORTED="it's exported"
  build:
    commands:
      - echo "pwd=$(basename "$PWD") plain=$plain exported=$EXPORTED"
      - sh -c 'echo "child sees EXPORTED=$EXPORTED plain=${plain:-unset}"'
      - if [ a == a ]; then echo "$((1+1)) equals signs work"; fi
`, Options{Sh: sh})
			for _, want := range []string{"pwd=sub plain=two words exported=it's exported", "child sees EXPORTED=it's exported plain=unset"} {
				if !strings.Contains(res.Log, want) {
					t.Errorf("log lacks %q:\n%s", want, res.Log)
				}
			}
			// The bashism that separates the two shells.
			if got, want := strings.Contains(res.Log, "2 equals signs work"), sh == "bash"; got != want {
				t.Errorf("under %s, `[ a == a ]` held: %v, want %v:\n%s", sh, got, want, res.Log)
			}
		})
	}
}

func TestFailureTransitions(t *testing.T) {
	const phases = `
  pre_build:
    %s
    commands:
      - %s
  build:
    %s
    commands:
      - %s
    finally:
      - echo "build finally ran"
  post_build:
    commands:
      - echo "post_build sees CODEBUILD_BUILD_SUCCEEDING=$CODEBUILD_BUILD_SUCCEEDING"
`
	cases := []struct {
		name                string
		preOn, pre, on, cmd string
		want                string
		wantCode            int
		wantLog, wantNoLog  string
	}{
		{"success", "", "true", "", "true", "pre_build:SUCCEEDED build:SUCCEEDED post_build:SUCCEEDED", 0, "CODEBUILD_BUILD_SUCCEEDING=1", ""},
		// A failed pre_build ends the build (no on-failure).
		{"pre_build fails", "", "exit 3", "", "true", "pre_build:FAILED build:SKIPPED post_build:SKIPPED", 3, "", "post_build sees"},
		// A failed build phase still runs post_build, which can tell.
		{"build fails", "", "true", "", "exit 4", "pre_build:SUCCEEDED build:FAILED post_build:SUCCEEDED", 4, "CODEBUILD_BUILD_SUCCEEDING=0", ""},
		{"build fails, ABORT", "", "true", "on-failure: ABORT", "exit 5", "pre_build:SUCCEEDED build:FAILED post_build:SKIPPED", 5, "build finally ran", "post_build sees"},
		{"pre_build fails, CONTINUE", "on-failure: CONTINUE", "false", "", "true", "pre_build:FAILED build:SUCCEEDED post_build:SUCCEEDED", 1, "CODEBUILD_BUILD_SUCCEEDING=0", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := "version: 0.2\nphases:" + sprintf(phases, tc.preOn, tc.pre, tc.on, tc.cmd)
			res := run(t, text, Options{})
			if got := statuses(res); got != tc.want {
				t.Errorf("phases: %s\nwant:   %s\nlog:\n%s", got, tc.want, res.Log)
			}
			if res.Succeeded != (tc.wantCode == 0) || res.ExitCode != tc.wantCode {
				t.Errorf("Succeeded=%v ExitCode=%d, want exit %d", res.Succeeded, res.ExitCode, tc.wantCode)
			}
			if tc.wantLog != "" && !strings.Contains(res.Log, tc.wantLog) {
				t.Errorf("log lacks %q:\n%s", tc.wantLog, res.Log)
			}
			if tc.wantNoLog != "" && strings.Contains(res.Log, tc.wantNoLog) {
				t.Errorf("log has %q:\n%s", tc.wantNoLog, res.Log)
			}
		})
	}
}

func TestFirstFailureSkipsTheRestAndFinallyStillRuns(t *testing.T) {
	res := run(t, `version: 0.2
phases:
  build:
    commands:
      - echo one
      - false
      - echo never
    finally:
      - echo cleanup
`, Options{})
	p, _ := res.Phase(PhaseBuild)
	if p.Status != Failed || p.FailedCommand != "false" || p.ExitCode != 1 {
		t.Errorf("build phase = %+v, want FAILED on `false` with 1", p)
	}
	if strings.Contains(res.Log, "never") || !strings.Contains(res.Log, "cleanup") {
		t.Errorf("want `echo never` skipped and finally run:\n%s", res.Log)
	}
	if !strings.Contains(res.Log, "[Container] Phase complete: BUILD State: FAILED") {
		t.Errorf("log lacks CodeBuild's phase line:\n%s", res.Log)
	}
}

func TestEnvironmentPrecedence(t *testing.T) {
	res := run(t, `version: 0.2
env:
  variables:
    FROM_SPEC: spec
    BOTH: spec
    ALL: spec
    NUMBER: 0.10
phases:
  build:
    commands:
      - echo "FROM_SPEC=$FROM_SPEC BOTH=$BOTH ALL=$ALL NUMBER=$NUMBER region=$AWS_REGION src=$CODEBUILD_SRC_DIR"
`, Options{
		Dir:       "/",
		Region:    "eu-west-1",
		Env:       map[string]string{"BOTH": "project", "ALL": "project"},
		Overrides: map[string]string{"ALL": "override"},
	})
	if want := "FROM_SPEC=spec BOTH=project ALL=override NUMBER=0.1 region=eu-west-1 src=/"; !strings.Contains(res.Log, want) {
		t.Errorf("log lacks %q:\n%s", want, res.Log)
	}
}

func TestBackgroundProcessesNeitherHangNorSurvive(t *testing.T) {
	t.Parallel()
	start := time.Now()
	dir := t.TempDir()
	res := run(t, `version: 0.2
phases:
  build:
    commands:
      - (sleep 0.3; echo "late output") &
      - sleep 0.5
      - sleep 60 & echo $! > sleeper.pid
`, Options{Dir: dir})
	if !res.Succeeded {
		t.Fatalf("build failed:\n%s", res.Log)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the build waited %v for a background sleep", d)
	}
	if !strings.Contains(res.Log, "late output") {
		t.Errorf("background output is missing from the log:\n%s", res.Log)
	}
	b, err := os.ReadFile(filepath.Join(dir, "sleeper.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	// A killed process whose parent is gone may stay a zombie until PID 1 reaps
	// it; a zombie runs nothing, so it counts as ended.
	alive := func() bool {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		return err == nil && !strings.Contains(string(stat), ") Z ")
	}
	for deadline := time.Now().Add(2 * time.Second); alive(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the background sleep (pid %d) outlived the build", pid)
		}
	}
}

func TestContextEndsTheBuild(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res, err := Run(ctx, mustParse(t, "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 30\n"), Options{Dir: t.TempDir()})
	if err == nil {
		t.Fatal("Run returned no error for a cancelled build")
	}
	if p, _ := res.Phase(PhaseBuild); p.Status != TimedOut {
		t.Errorf("build phase %s, want %s", p.Status, TimedOut)
	}
}

func TestParseRefusesWhatItCannotRunFaithfully(t *testing.T) {
	for _, text := range []string{
		"version: 0.1\nphases: {build: {commands: [true]}}",
		"version: 0.2\nphases: {biuld: {commands: [true]}}",
		"version: 0.2\nphases: {build: {on-failure: RETRY, commands: [true]}}",
		"version: 0.2\nenv: {shell: zsh}\nphases: {build: {commands: [true]}}",
		"version: 0.2\nenv: {secrets-manager: {X: a:b}}\nphases: {build: {commands: [true]}}",
		"version: 0.2\nrun-as: nobody\nphases: {build: {commands: [true]}}",
		"version: 0.2\nphases: {build: {comands: [true]}}",
	} {
		if _, err := Parse(text); err == nil {
			t.Errorf("Parse accepted:\n%s", text)
		}
	}
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
