// Package standin implements the recording stand-ins for the `aws` and `docker`
// commands that rehearsals put first on PATH. There is no AWS and no Docker
// daemon where rehearsals run, so each stand-in records every call, then:
//
//   - aws runs the real AWS CLI (Debian's awscli, v2) against the rehearsal's fake
//     ECR/ECS endpoint (package fakeaws), see awscli.go;
//   - docker does for real what can be done against a local OCI registry
//     (builds of small random images, pushes, pulls, logins with ECR tokens).
//
// One binary serves both names: cmd/standin dispatches on the name it was run as.
// Every setting comes from the environment, since buildspecs run it through bash:
//
//	REHEARSAL_CALLS          file that receives one JSON line per call (Call)
//	REHEARSAL_STATE          directory for docker's local images and logins
//	REHEARSAL_AWS_ENDPOINT   the fake ECR/ECS endpoint, http://127.0.0.1:PORT
//	REHEARSAL_AWS_WARM       socket of the real CLI's warm-start server (optional)
//	REHEARSAL_ECR_REGISTRY   host:port of the registry that plays ECR in the build's region
//	REHEARSAL_ECR_REGISTRY_<REGION>  the same for one region, e.g. ..._EU_WEST_1
//	REHEARSAL_ACCOUNT        registry ID reported by ECR calls (123456789012)
//	REHEARSAL_ECR_REPOSITORIES  repositories that exist, comma-separated; unset: all do
//	REHEARSAL_IMAGE_MB       size of the image `docker build` makes (1)
//	REHEARSAL_IMAGE_LAYERS   its number of layers (2)
//	REHEARSAL_IAM_ALLOW, REHEARSAL_IAM_POLICY  the build role's actions and
//	                         statements (package iampolicy); unset: all allowed
//	REHEARSAL_ECR_TAG_MUTABILITY  MUTABILITY[:FILTER,...]: the repositories' tag
//	                         mutability (see mutability.go); unset: MUTABLE. docker
//	                         push refuses to move an immutable tag; the endpoint
//	                         reads the same setting for put-image
//	REHEARSAL_DOCKERHUB_TOKEN  the access token Docker Hub accepts in `docker login`
//	                         (any user name); unset: every Docker Hub login fails
//	REHEARSAL_DOCKER_DAEMON  "false": no Docker daemon (a project without privileged
//	                         mode), so every docker command fails
//	REHEARSAL_RECORD_ENV     extra variable names to record, comma-separated
//
// Every other REHEARSAL_* variable reaches the endpoint with each aws call
// (REHEARSAL_ECS_* scripts ECS there: see package fakeaws).
package standin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Call is one recorded invocation, as written to the REHEARSAL_CALLS file.
type Call struct {
	// Tool is "aws" or "docker".
	Tool string `json:"tool"`
	// Args are the arguments after the tool's name.
	Args []string `json:"args"`
	// Dir is the working directory of the call.
	Dir string `json:"dir,omitempty"`
	// Env holds the recorded variables that were set: AWS_REGION,
	// AWS_DEFAULT_REGION and those named in REHEARSAL_RECORD_ENV.
	Env map[string]string `json:"env,omitempty"`
	// Exit is the exit status the stand-in returned.
	Exit int `json:"exit"`
	// Error is the first line of what it printed to stderr on failure.
	Error string `json:"error,omitempty"`
}

// IO is what a stand-in reads and writes; Main takes it so tests can run the
// stand-ins in-process.
type IO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Getenv looks up environment variables; Environ, when set, lists them all.
	// Dir is the working directory.
	Getenv  func(string) string
	Environ func() []string
	Dir     string
}

// exitError carries an exit status and the message printed for it.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// fail returns an error that makes the stand-in print msg and exit with code.
func fail(code int, format string, args ...any) error {
	return &exitError{code: code, msg: fmt.Sprintf(format, args...)}
}

// Main runs the stand-in called tool ("aws" or "docker") with args and returns
// its exit status. The call is recorded whatever the outcome.
func Main(tool string, args []string, sio IO) int {
	var stderr strings.Builder
	errOut := io.MultiWriter(sio.Stderr, &stderr)
	var err error
	switch tool {
	case "aws":
		err = runAWS(args, sio, errOut)
	case "docker":
		err = runDocker(args, sio, errOut)
	default:
		err = fail(127, "rehearsal stand-in: run as %q; it only stands in for aws and docker (link or copy it under one of those names)", tool)
	}
	code := 0
	if err != nil {
		code = 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(errOut, msg)
		}
	}
	if rerr := record(tool, args, code, stderr.String(), sio); rerr != nil {
		fmt.Fprintf(sio.Stderr, "rehearsal stand-in: could not record the call: %v\n", rerr)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// record appends the call to REHEARSAL_CALLS, when set. One write per line keeps
// lines whole even if calls overlap (O_APPEND).
func record(tool string, args []string, code int, stderr string, sio IO) error {
	path := sio.Getenv("REHEARSAL_CALLS")
	if path == "" {
		return nil
	}
	names := []string{"AWS_REGION", "AWS_DEFAULT_REGION"}
	for _, n := range strings.Split(sio.Getenv("REHEARSAL_RECORD_ENV"), ",") {
		if n = strings.TrimSpace(n); n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	env := map[string]string{}
	for _, n := range names {
		if v := sio.Getenv(n); v != "" {
			env[n] = v
		}
	}
	c := Call{Tool: tool, Args: args, Dir: sio.Dir, Env: env, Exit: code}
	if code != 0 {
		c.Error, _, _ = strings.Cut(strings.TrimSpace(stderr), "\n")
	}
	if c.Args == nil {
		c.Args = []string{}
	}
	line, err := json.Marshal(c)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadCalls reads a REHEARSAL_CALLS file. A missing file means no call was made.
func ReadCalls(path string) ([]Call, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var calls []Call
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var c Call
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, i+1, err)
		}
		calls = append(calls, c)
	}
	return calls, nil
}
