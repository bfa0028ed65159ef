package rehearsal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// This file runs a buildspec the way CodeBuild documents it:
//
//   - Version 0.2 runs every command of the build in one shell session: a `cd` or
//     a variable (exported or not) set by one command is seen by the next ones.
//     https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html#build-spec.phases
//   - Within a phase, commands run in order; the first failing command skips the
//     rest of `commands`, `finally` runs regardless, and the phase fails if any
//     command of either block failed (same page, phases/*/finally).
//   - Environment precedence: start-build overrides > project > buildspec
//     env.variables (same page, env/variables).
//   - After a failed phase, without on-failure: a failed install or pre_build
//     phase ends the build; a failed build phase still runs post_build.
//     https://docs.aws.amazon.com/codebuild/latest/userguide/view-build-details-phases.html
//     With on-failure: ABORT ends the build at the failed phase, CONTINUE runs
//     the next phase; either way the build fails (build-spec-ref, on-failure).
//   - CODEBUILD_BUILD_SUCCEEDING is 1 until a phase fails, then 0, so post_build
//     can tell. https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-env-vars.html
//
// CodeBuild's own shell handling is not public; here each command runs in a
// fresh shell that first restores the variables and working directory the
// previous command left (see bashPrologue, shPrologue). That carries what
// buildspecs rely on; shell options (set -e) and functions do not carry over,
// so a buildspec that needs them fails here rather than pass on a guess.
//
// Which shell: env.shell when the buildspec names one, else sh, CodeBuild's
// default on Linux. What sh is depends on the build image: dash on the Ubuntu
// standard images, bash on Amazon Linux. Options.Sh picks, since a buildspec
// with bash syntax (`[ a == b ]`) behaves differently under dash.

// Status is the outcome of a phase.
type Status string

const (
	// Succeeded: every command of the phase exited 0.
	Succeeded Status = "SUCCEEDED"
	// Failed: a command of the phase failed.
	Failed Status = "FAILED"
	// Skipped: an earlier failure meant the phase did not run. CodeBuild lists no
	// such phase at all; the rehearsal says so explicitly.
	Skipped Status = "SKIPPED"
	// TimedOut: the context ended while the phase ran.
	TimedOut Status = "TIMED_OUT"
)

// Options configures Run.
type Options struct {
	// Dir is the checked-out source the build starts in (CODEBUILD_SRC_DIR).
	// Required.
	Dir string
	// Region is the region the build runs in; CodeBuild sets AWS_REGION and
	// AWS_DEFAULT_REGION to it. Default: us-east-1.
	Region string
	// BaseEnv is the build image's own environment, as "NAME=value" entries.
	// Default: PATH and HOME of this process.
	BaseEnv []string
	// Env holds the project's environment variables; they override the
	// buildspec's env.variables.
	Env map[string]string
	// Overrides holds start-build (pipeline action) variables; they override Env.
	Overrides map[string]string
	// Sh is what /bin/sh is in the build image, which runs buildspecs that do
	// not set env.shell: "dash" as in the Ubuntu standard images (CDK's
	// default), or "bash" as in the Amazon Linux images. Default: dash.
	Sh string
	// Log, when set, receives the build log as each command ends.
	Log io.Writer
}

// PhaseResult is what happened in one phase.
type PhaseResult struct {
	// Name is the phase's name, e.g. "build".
	Name string
	// Status is the phase's outcome.
	Status Status
	// FailedCommand is the first command that failed; ExitCode is its status.
	FailedCommand string
	ExitCode      int
	// Duration is how long the phase ran.
	Duration time.Duration
}

// Result is the outcome of a rehearsed build.
type Result struct {
	// Phases has one entry per phase the buildspec defines, in run order.
	Phases []PhaseResult
	// Succeeded is true when every phase that ran succeeded.
	Succeeded bool
	// ExitCode is the status of the command that first failed the build, 0 when
	// it succeeded.
	ExitCode int
	// Log is the build log: CodeBuild-style phase lines and the commands' output.
	Log string
}

// Phase returns the result of the named phase, and whether the buildspec has it.
func (r *Result) Phase(name string) (PhaseResult, bool) {
	for _, p := range r.Phases {
		if p.Name == name {
			return p, true
		}
	}
	return PhaseResult{}, false
}

// Run runs the buildspec under bash. The error is for what stopped the
// rehearsal itself (no bash, a cancelled context); a build that fails is a
// Result with Succeeded false.
func Run(ctx context.Context, spec *Buildspec, opts Options) (*Result, error) {
	if opts.Dir == "" {
		return nil, errors.New("rehearsal: Options.Dir is required: the source directory the build starts in")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	shell, prologue, err := pickShell(spec.Shell, opts.Sh)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "rehearsal-run-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	s := &session{shell: shell, prologue: prologue, dir: dir, tmp: tmp, state: filepath.Join(tmp, "state.sh"), out: opts.Log}
	defer s.killLeftovers()
	if s.logFile, err = os.OpenFile(filepath.Join(tmp, "build.log"), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600); err != nil {
		return nil, err
	}
	defer s.logFile.Close()
	if err := os.WriteFile(s.state, []byte(initialState(spec, opts, dir)), 0o600); err != nil {
		return nil, err
	}

	res := &Result{Succeeded: true}
	stop := false // an earlier phase ended the build
	for _, p := range spec.Phases {
		pr := PhaseResult{Name: p.Name}
		if stop {
			pr.Status = Skipped
			res.Phases = append(res.Phases, pr)
			continue
		}
		start := time.Now()
		s.logf("Entering phase %s", strings.ToUpper(p.Name))
		failed, err := s.runPhase(ctx, p, res.Succeeded, &pr)
		pr.Duration = time.Since(start)
		if err != nil {
			pr.Status = TimedOut
			res.Phases = append(res.Phases, pr)
			res.Succeeded = false
			s.logf("Phase complete: %s State: %s", strings.ToUpper(p.Name), pr.Status)
			res.Log = s.log.String()
			return res, err
		}
		pr.Status = Succeeded
		if failed {
			pr.Status = Failed
			if res.Succeeded {
				res.ExitCode = pr.ExitCode
			}
			res.Succeeded = false
			switch p.OnFailure {
			case Abort:
				stop = true
			case Continue:
			default:
				// Documented transitions: only a failed build phase moves on (to
				// post_build); install and pre_build failures end the build.
				stop = p.Name != PhaseBuild
			}
		}
		s.logf("Phase complete: %s State: %s", strings.ToUpper(p.Name), pr.Status)
		if failed {
			s.logf("Phase context status code: COMMAND_EXECUTION_ERROR Message: Error while executing command: %s. Reason: exit status %d", pr.FailedCommand, pr.ExitCode)
		}
		res.Phases = append(res.Phases, pr)
	}
	res.Log = s.log.String()
	return res, nil
}

// runPhase runs a phase's commands, then its finally block. It reports whether
// the phase failed, filling pr with the first failing command.
func (s *session) runPhase(ctx context.Context, p Phase, succeeding bool, pr *PhaseResult) (bool, error) {
	failed := false
	for _, block := range [][]string{p.Commands, p.Finally} {
		for _, c := range block {
			code, err := s.run(ctx, c, succeeding && !failed)
			if err != nil {
				return true, err
			}
			if code != 0 {
				s.logf("Command did not exit successfully %s exit status %d", c, code)
				if !failed {
					failed, pr.FailedCommand, pr.ExitCode = true, c, code
				}
				break // the rest of this block is skipped; finally still runs
			}
		}
	}
	return failed, nil
}

// pickShell returns the command line that runs a command script, and the
// prologue that carries state into and out of it.
func pickShell(specShell, sh string) ([]string, func(string) string, error) {
	find := func(name string) (string, error) {
		p, err := exec.LookPath(name)
		if err != nil {
			return "", fmt.Errorf("rehearsal: this buildspec runs under %s, which is not on PATH: %w", name, err)
		}
		return p, nil
	}
	if specShell == "bash" {
		bash, err := find("bash")
		return []string{bash}, bashPrologue, err
	}
	switch sh {
	case "", "dash":
		dash, err := find("dash")
		return []string{dash}, shPrologue, err
	case "bash":
		// bash started as sh runs in POSIX mode.
		bash, err := find("bash")
		return []string{bash, "--posix"}, bashPrologue, err
	default:
		return nil, nil, fmt.Errorf("rehearsal: Options.Sh is %q; want dash or bash", sh)
	}
}

// session is one build: its shell state, log and processes.
type session struct {
	shell           []string
	prologue        func(state string) string
	dir, tmp, state string
	logFile         *os.File
	logRead         int64
	log             bytes.Buffer
	out             io.Writer
	n               int
	pgids           []int
}

func (s *session) logf(format string, args ...any) {
	fmt.Fprintf(s.logFile, "[Container] "+format+"\n", args...)
	s.flush()
}

// flush copies what was appended to the log file since the last flush, which
// includes output of background processes the build started.
func (s *session) flush() {
	b := make([]byte, 32*1024)
	for {
		n, err := s.logFile.ReadAt(b, s.logRead)
		s.logRead += int64(n)
		s.log.Write(b[:n])
		if s.out != nil {
			s.out.Write(b[:n])
		}
		if err != nil || n == 0 {
			return
		}
	}
}

// run runs one command in a fresh bash that restores, then saves, the session
// state. It returns the command's exit status.
func (s *session) run(ctx context.Context, command string, succeeding bool) (int, error) {
	s.n++
	s.logf("Running command %s", command)
	ok := "0"
	if succeeding {
		ok = "1"
	}
	script := s.prologue(s.state) + "export CODEBUILD_BUILD_SUCCEEDING=" + ok + "\n" + command + "\n"
	path := filepath.Join(s.tmp, fmt.Sprintf("command-%03d.sh", s.n))
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		return 0, err
	}
	cmd := exec.CommandContext(ctx, s.shell[0], append(s.shell[1:], path)...)
	cmd.Dir = s.dir
	cmd.Env = []string{} // everything comes from the state file
	// The log is a file, not a pipe: a background process that keeps it open
	// cannot hold up the build, and its later output still reaches the log.
	cmd.Stdout, cmd.Stderr = s.logFile, s.logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if cmd.Process != nil {
		s.pgids = append(s.pgids, cmd.Process.Pid)
	}
	s.flush()
	if ctx.Err() != nil {
		s.logf("Command timed out or was cancelled: %v", ctx.Err())
		return -1, fmt.Errorf("rehearsal: command %q: %w", command, ctx.Err())
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exit):
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return exit.ExitCode(), nil
	default:
		return 0, fmt.Errorf("rehearsal: run %q: %w", command, err)
	}
}

// killLeftovers ends what the build left running in the background, as the end
// of a CodeBuild build tears down its container.
func (s *session) killLeftovers() {
	for _, pgid := range s.pgids {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
}

// bashPrologue restores the session state, then arranges for it to be saved
// when the command exits, whatever way it exits (exit 1 included). Bash's own
// and read-only variables are left out: the new shell sets its own.
func bashPrologue(state string) string {
	q := shellQuote(state)
	return `source ` + q + `
__rehearsal_save() {
  local __rehearsal_n __rehearsal_a
  {
    while IFS= read -r __rehearsal_n; do
      case $__rehearsal_n in
        __rehearsal_*|BASH|BASH_*|BASHOPTS|BASHPID|SHELLOPTS|EUID|UID|PPID|GROUPS|FUNCNAME|PIPESTATUS|RANDOM|SRANDOM|SECONDS|LINENO|HISTCMD|EPOCHSECONDS|EPOCHREALTIME|DIRSTACK|COMP_WORDBREAKS|SHLVL|PWD|OLDPWD|_|HOSTNAME|HOSTTYPE|MACHTYPE|OSTYPE|OPTIND|OPTERR|PS4|CODEBUILD_BUILD_SUCCEEDING) continue ;;
      esac
      __rehearsal_a=${!__rehearsal_n@a}
      [[ $__rehearsal_a == *r* ]] && continue
      declare -p "$__rehearsal_n" 2>/dev/null
    done < <(compgen -v)
    printf 'cd -- %q\n' "$PWD"
  } > ` + q + `
}
trap __rehearsal_save EXIT
`
}

// shPrologue does what bashPrologue does with POSIX sh alone: `set` lists
// every variable in a form the shell reads back, `export -p` the exported ones.
func shPrologue(state string) string {
	q := shellQuote(state)
	return `. ` + q + `
__rehearsal_save() {
  { set; export -p; printf "cd -- '%s'\n" "$PWD"; } > ` + q + `
}
trap __rehearsal_save EXIT
`
}

// initialState is the state the first command starts from: the layered
// environment, exported, and the source directory.
func initialState(spec *Buildspec, opts Options, dir string) string {
	env := map[string]string{}
	base := opts.BaseEnv
	if base == nil {
		base = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	}
	for _, kv := range base {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	region := opts.Region
	if region == "" {
		region = "us-east-1"
	}
	env["AWS_REGION"], env["AWS_DEFAULT_REGION"] = region, region
	env["CODEBUILD_SRC_DIR"] = dir
	for _, layer := range []map[string]string{spec.Variables, opts.Env, opts.Overrides} {
		for k, v := range layer {
			env[k] = v
		}
	}
	names := make([]string, 0, len(env))
	for k := range env {
		if envName.MatchString(k) {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(env[k]))
	}
	fmt.Fprintf(&b, "cd -- %s\n", shellQuote(dir))
	return b.String()
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
