package rehearsal

import (
	"crypto/sha256"
	"encoding/hex"
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

	"github.com/stagecoach/stagecoach/rehearsal/internal/standin"
)

// Call is one recorded call of a stand-in: tool, arguments, working directory,
// recorded environment and exit status.
type Call = standin.Call

// ReadCalls reads the calls recorded in a REHEARSAL_CALLS file.
func ReadCalls(path string) ([]Call, error) { return standin.ReadCalls(path) }

// LoginToken is the password `aws ecr get-login-password` prints in a rehearsal.
const LoginToken = standin.LoginToken

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
	cmd := exec.Command(goTool, "build", "-o", bin, "./rehearsal/internal/standin/cmd/standin")
	cmd.Dir = moduleRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("rehearsal: build the stand-ins (go build in %s): %v\n%s", moduleRoot, err, out)
	}
	for _, name := range []string{"aws", "docker"} {
		if err := os.Symlink("standin", filepath.Join(tmp, name)); err != nil {
			return "", err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, "docker")); statErr == nil {
			return dir, nil // another process got there first
		}
		return "", err
	}
	return dir, nil
}

// findModuleRoot locates the module's source: next to this file when the test
// binary was built with full paths, else through `go env GOMOD` (-trimpath).
func findModuleRoot() (string, error) {
	if _, self, _, ok := runtime.Caller(0); ok {
		root := filepath.Dir(filepath.Dir(self))
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
	files := []string{filepath.Join(moduleRoot, "go.mod"), filepath.Join(moduleRoot, "go.sum")}
	// The stand-ins and the AWS models they use.
	for _, src := range []string{filepath.Join(moduleRoot, "rehearsal", "internal", "standin"), filepath.Join(moduleRoot, "awsmodel")} {
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
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
