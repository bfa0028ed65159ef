package standin

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stagecoach/stagecoach/internal/rehearsal/internal/fakeaws"
)

// The `aws` stand-in is a thin wrapper around the real AWS CLI (Debian's awscli,
// v2): it points the CLI at the rehearsal's fake ECR/ECS endpoint
// (rehearsal/internal/fakeaws) with --endpoint-url, gives it dummy credentials,
// records the call and passes on the CLI's output and exit status untouched. So
// option parsing, --query (JMESPath), --output text, pagination, waiters, error
// messages and exit codes (252 usage, 253 configuration, 254 service error, 255
// other, a waiter giving up among them) are the real CLI's. This CLI version
// predates AWS_ENDPOINT_URL, hence the option.
//
//	REHEARSAL_AWS_ENDPOINT  http://127.0.0.1:PORT of the fake endpoint (required)
//	REHEARSAL_AWS_CLI       the CLI to run (default /usr/bin/aws: a pyenv or pip
//	                        `aws` earlier on PATH may be v1, or this wrapper)
//
// The call's REHEARSAL_* settings (IAM, ECS scripts, ...) reach the endpoint
// through a session: the wrapper registers them and signs the call with the
// access key the endpoint hands back.
//
// Waiters: the CLI reads its service models from AWS_DATA_PATH first. The
// wrapper points it at awsdata/ next to this binary, which holds the installed
// CLI's own ECS waiter definitions with every delay set to 0 (see
// rehearsal.BuildStandins): the acceptors and attempt counts are the CLI's, only
// the 15 s sleeps between attempts are gone, and the fake endpoint advances its
// scripted ECS time by one step per DescribeServices call instead.

// DefaultAWSCLI is where Debian's awscli package installs the CLI.
const DefaultAWSCLI = "/usr/bin/aws"

// The CLI's exit status for failures outside the service (a missing setting).
const awsOther = 255

// awsSettings are the variables that are settings for the endpoint.
func awsSettings(sio IO) map[string]string {
	out := map[string]string{}
	if sio.Environ == nil {
		return out
	}
	for _, kv := range sio.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "REHEARSAL_") {
			out[k] = v
		}
	}
	return out
}

func runAWS(args []string, sio IO, errOut io.Writer) error {
	endpoint := sio.Getenv("REHEARSAL_AWS_ENDPOINT")
	if endpoint == "" {
		return fail(awsOther, "aws stand-in: REHEARSAL_AWS_ENDPOINT is unset; it names the rehearsal's fake ECR/ECS endpoint (http://127.0.0.1:PORT)")
	}
	cli := sio.Getenv("REHEARSAL_AWS_CLI")
	if cli == "" {
		cli = DefaultAWSCLI
	}
	if _, err := os.Stat(cli); err != nil {
		return fail(awsOther, "aws stand-in: the AWS CLI is not installed at %s (apt-get install awscli): %v", cli, err)
	}
	body, _ := json.Marshal(awsSettings(sio))
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Post(strings.TrimRight(endpoint, "/")+"/rehearsal/session", "application/json", bytes.NewReader(body))
	if err != nil {
		return fail(awsOther, "aws stand-in: the fake endpoint at %s does not answer: %v", endpoint, err)
	}
	var session struct {
		AccessKeyID string `json:"accessKeyId"`
	}
	err = json.NewDecoder(resp.Body).Decode(&session)
	resp.Body.Close()
	if err != nil || session.AccessKeyID == "" {
		return fail(awsOther, "aws stand-in: the fake endpoint at %s gave no session (%s): %v", endpoint, resp.Status, err)
	}

	env := []string{}
	if sio.Environ != nil {
		for _, kv := range sio.Environ() {
			k, _, _ := strings.Cut(kv, "=")
			switch k {
			case "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
				"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_DATA_PATH", "AWS_PAGER", "AWS_CA_BUNDLE", "AWS_ENDPOINT_URL":
				continue
			}
			env = append(env, kv)
		}
	}
	env = append(env,
		"AWS_ACCESS_KEY_ID="+session.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=rehearsal-secret",
	)
	if self, err := os.Executable(); err == nil {
		for k, v := range CLIEnv(filepath.Dir(self)) {
			env = append(env, k+"="+v)
		}
	}
	args = append([]string{"--endpoint-url", endpoint}, args...)
	if sock := sio.Getenv("REHEARSAL_AWS_WARM"); sock != "" && cli == DefaultAWSCLI {
		if code, ok := runWarm(sock, args, env, sio, errOut); ok {
			if code != 0 {
				return &exitError{code: code}
			}
			return nil
		}
	}
	cmd := exec.Command(cli, args...)
	cmd.Env, cmd.Dir = env, sio.Dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = sio.Stdin, sio.Stdout, errOut
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exit):
		return &exitError{code: exit.ExitCode()}
	default:
		return fail(awsOther, "aws stand-in: run %s: %v", cli, err)
	}
}

// WarmScript is the warm-start server of the real CLI (see awscli/warm.py):
// it imports the CLI once and forks a child per call that runs the CLI's own
// entry point. REHEARSAL_AWS_WARM names its socket; without it, or when it does
// not answer, the wrapper runs /usr/bin/aws itself.
//
//go:embed awscli/warm.py
var WarmScript string

// runWarm runs the CLI through the warm-start server at sock, with this
// process's stdin and stdout and a pipe for stderr (so the call's error can be
// recorded). ok is false when the server could not take the call.
func runWarm(sock string, args, env []string, sio IO, errOut io.Writer) (code int, ok bool) {
	stdin, inOK := sio.Stdin.(*os.File)
	stdout, outOK := sio.Stdout.(*os.File)
	if !inOK || !outOK {
		return 0, false
	}
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return 0, false
	}
	defer conn.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return 0, false
	}
	defer r.Close()
	envMap := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		envMap[k] = v
	}
	dir := sio.Dir
	if dir == "" {
		dir, _ = os.Getwd()
	}
	msg, _ := json.Marshal(map[string]any{"args": args, "env": envMap, "dir": dir})
	rights := syscall.UnixRights(int(stdin.Fd()), int(stdout.Fd()), int(w.Fd()))
	_, _, err = conn.WriteMsgUnix(append(msg, '\n'), rights, nil)
	w.Close()
	if err != nil {
		return 0, false
	}
	io.Copy(errOut, r) // until the CLI exits
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		fmt.Fprintf(errOut, "aws stand-in: the warm CLI server did not report an exit status: %v\n", err)
		return awsOther, true
	}
	n, err := strconv.Atoi(strings.Fields(line + " x")[0])
	if err != nil {
		fmt.Fprintf(errOut, "aws stand-in: the warm CLI server: %s", line)
		return awsOther, true
	}
	return n, true
}

// CLIEnv is the environment every call of the real CLI gets, whatever its
// build's: no configuration or credential files, no pager, no prompt, no
// instance metadata, and the waiters of bin/awsdata (see above).
func CLIEnv(bin string) map[string]string {
	env := map[string]string{
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_PAGER":                   "",
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CLI_AUTO_PROMPT":         "off",
	}
	if data := filepath.Join(bin, "awsdata"); isDir(data) {
		env["AWS_DATA_PATH"] = data
	}
	return env
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// LoginToken returns the password `aws ecr get-login-password` prints for
// region: the docker stand-in accepts it for that region's registry only.
func LoginToken(region string) string { return fakeaws.LoginToken(region) }
