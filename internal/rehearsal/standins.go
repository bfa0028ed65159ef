package rehearsal

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/stagecoach/stagecoach/internal/rehearsal/internal/standin"
)

// Call is one recorded call of a stand-in: tool, arguments, working directory,
// recorded environment and exit status.
type Call = standin.Call

// ReadCalls reads the calls recorded in a REHEARSAL_CALLS file.
func ReadCalls(path string) ([]Call, error) { return standin.ReadCalls(path) }

// LoginTokenFor is the password `aws ecr get-login-password --region REGION`
// prints in a rehearsal; the docker stand-in accepts it for that region's
// registry only, as ECR's tokens are per region.
func LoginTokenFor(region string) string { return standin.LoginToken(region) }

// LoginToken is the login token of the home region of a default Harness
// (us-east-1).
var LoginToken = LoginTokenFor("us-east-1")

// Labels the docker stand-in puts on each image it builds.
const (
	LabelDockerfile       = standin.LabelDockerfile
	LabelDockerfileSHA256 = standin.LabelDockerfileSHA256
)

var (
	standinsOnce sync.Once
	standinsDir  string
	standinsErr  error
)

// BuildStandins builds the aws and docker stand-ins and returns the directory
// that holds them, to put first on PATH. The binary is built once per version of
// its sources and kept in the user's cache directory, so test runs do not pay for
// the link every time and leave nothing behind in /tmp.
func BuildStandins() (string, error) {
	standinsOnce.Do(func() { standinsDir, standinsErr = buildStandins() })
	return standinsDir, standinsErr
}

func buildStandins() (string, error) {
	moduleRoot, err := findModuleRoot()
	if err != nil {
		return "", err
	}
	key, err := sourceKey(moduleRoot)
	if err != nil {
		return "", fmt.Errorf("rehearsal: hash the stand-in sources in %s: %w", moduleRoot, err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "stagecoach-rehearsal", "standin-"+key)
	if _, err := os.Stat(filepath.Join(dir, "docker")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	// Build into a fresh directory and rename it into place, so concurrent test
	// processes never see half a directory.
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "building-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(tmp, "standin")
	cmd := exec.Command(goTool, "build", "-o", bin, "./internal/rehearsal/internal/standin/cmd/standin")
	cmd.Dir = moduleRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("rehearsal: build the stand-ins (go build in %s): %v\n%s", moduleRoot, err, out)
	}
	for _, name := range []string{"aws", "docker"} {
		if err := os.Symlink("standin", filepath.Join(tmp, name)); err != nil {
			return "", err
		}
	}
	if err := writeWaiters(filepath.Join(tmp, "awsdata")); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(tmp, "awscli-warm.py"), []byte(standin.WarmScript), 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, "docker")); statErr == nil {
			return dir, nil // another process got there first
		}
		return "", err
	}
	return dir, nil
}

var (
	warmOnce sync.Once
	warmSock string
	warmIn   *os.File // the server exits when this closes, with the test process
)

// warmCLI starts the warm-start server of the real AWS CLI (see
// internal/standin/awscli/warm.py) once per test process and returns its
// socket, or "" when it cannot start: the aws stand-in then runs /usr/bin/aws
// for every call, which is slower but the same CLI.
func warmCLI(bin string) string {
	warmOnce.Do(func() {
		python := cliInterpreter(standin.DefaultAWSCLI)
		if python == "" {
			return
		}
		dir, err := os.MkdirTemp("", "rehearsal-awscli-")
		if err != nil {
			return
		}
		sock := filepath.Join(dir, "cli.sock")
		r, w, err := os.Pipe()
		if err != nil {
			return
		}
		static, err := json.Marshal(standin.CLIEnv(bin))
		if err != nil {
			return
		}
		cmd := exec.Command(python, filepath.Join(bin, "awscli-warm.py"), sock, string(static))
		cmd.Stdin, cmd.Stderr = r, os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return
		}
		if err := cmd.Start(); err != nil {
			return
		}
		r.Close()
		line := make([]byte, 6)
		if _, err := io.ReadFull(out, line); err != nil || string(line) != "ready\n" {
			w.Close()
			return
		}
		go func() { cmd.Wait(); os.RemoveAll(dir) }()
		warmSock, warmIn = sock, w
	})
	return warmSock
}

// cliInterpreter returns the interpreter of the script cli from its #! line.
func cliInterpreter(cli string) string {
	b, err := os.ReadFile(cli)
	if err != nil {
		return ""
	}
	first, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(strings.TrimPrefix(first, "#!"))
	if !strings.HasPrefix(first, "#!") || len(fields) != 1 || !strings.Contains(fields[0], "python") {
		return ""
	}
	return fields[0]
}

// awsDataDirs are where Debian's awscli keeps its service models.
var awsDataDirs = []string{"/usr/lib/python3/dist-packages/awscli/botocore/data", "/usr/share/awscli/botocore/data"}

// writeWaiters copies the installed AWS CLI's ECS waiter definitions into
// dir/ecs/VERSION/waiters-2.json with every delay set to 0, for the aws
// stand-in's AWS_DATA_PATH: the waiters keep the CLI's acceptors and attempt
// counts but do not sleep 15 s between attempts (the fake endpoint's ECS time
// moves one step per DescribeServices call instead).
func writeWaiters(dir string) error {
	var found []string
	for _, d := range awsDataDirs {
		m, _ := filepath.Glob(filepath.Join(d, "ecs", "*", "waiters-2.json"))
		found = append(found, m...)
	}
	if len(found) == 0 {
		return fmt.Errorf("rehearsal: no ECS waiter definitions of the AWS CLI under %v: install Debian's awscli (apt-get install awscli), which the rehearsals run", awsDataDirs)
	}
	for _, src := range found {
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		var doc struct {
			Version int                       `json:"version"`
			Waiters map[string]map[string]any `json:"waiters"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("rehearsal: %s: %v", src, err)
		}
		for _, w := range doc.Waiters {
			w["delay"] = 0
		}
		out, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, "ecs", filepath.Base(filepath.Dir(src)), "waiters-2.json")
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, out, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// findModuleRoot locates the module's source: next to this file when the test
// binary was built with full paths, else through `go env GOMOD` (-trimpath).
func findModuleRoot() (string, error) {
	if _, self, _, ok := runtime.Caller(0); ok {
		root := filepath.Dir(filepath.Dir(filepath.Dir(self)))
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			return root, nil
		}
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if gomod := strings.TrimSpace(string(out)); err == nil && gomod != "" && gomod != os.DevNull {
		return filepath.Dir(gomod), nil
	}
	return "", errors.New("rehearsal: cannot find the stagecoach module's source to build the stand-ins from; run the tests from inside the repository")
}

// sourceKey hashes what the stand-in binary is built from.
func sourceKey(moduleRoot string) (string, error) {
	h := sha256.New()
	io.WriteString(h, runtime.Version())
	io.WriteString(h, "awsdata/ecs waiters, delay 0\n") // what buildStandins writes besides the binary
	files := []string{filepath.Join(moduleRoot, "go.mod"), filepath.Join(moduleRoot, "go.sum")}
	// The stand-in binary is built from its own package and those it imports.
	for _, src := range []string{filepath.Join(moduleRoot, "internal", "rehearsal", "internal"), filepath.Join(moduleRoot, "internal", "awsmodel")} {
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && !strings.HasSuffix(p, "_test.go") && (strings.HasSuffix(p, ".go") || strings.HasSuffix(p, ".py")) {
				files = append(files, p)
			}
			return err
		})
		if err != nil {
			return "", err
		}
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}
