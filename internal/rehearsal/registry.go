package rehearsal

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stagecoach/stagecoach/internal/rehearsal/internal/standin"
)

// RegistryBinary is Debian's docker-registry (the CNCF distribution registry).
const RegistryBinary = "/usr/bin/docker-registry"

// RequireRegistryEnv, set to 1, turns a missing registry binary (or AWS CLI) from a skip into
// a failure. CI sets it so the rehearsals cannot silently stop running.
const RequireRegistryEnv = "STAGECOACH_REQUIRE_REGISTRY"

// Registry is a local OCI registry serving over plain HTTP on 127.0.0.1. It
// plays ECR in rehearsals: its Host stands where ACCOUNT.dkr.ecr.REGION.amazonaws.com
// would.
type Registry struct {
	// Host is 127.0.0.1:PORT.
	Host string
	// Dir holds the registry's storage.
	Dir string
}

// StartRegistry starts a registry for the test and stops it when the test ends.
// Without the registry binary the test is skipped, or fails when
// STAGECOACH_REQUIRE_REGISTRY=1.
func StartRegistry(t testing.TB) *Registry {
	t.Helper()
	if _, err := os.Stat(RegistryBinary); err != nil {
		msg := fmt.Sprintf("%s is missing (apt-get install docker-registry): %v", RegistryBinary, err)
		if os.Getenv(RequireRegistryEnv) == "1" {
			t.Fatalf("%s, and %s=1 requires it", msg, RequireRegistryEnv)
		}
		t.Skip(msg)
	}
	// docker-registry cannot listen on port 0 and report the port it got, so a free
	// port is taken first. Another process (another registry of a parallel test) can
	// grab it in between; the registry then exits, and a fresh port is tried.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		reg, exited, err := startRegistry(t)
		if err == nil {
			return reg
		}
		lastErr = err
		if !exited {
			break
		}
	}
	t.Fatal(lastErr)
	return nil
}

// startRegistry starts one registry on a free port. exited reports that the registry
// process ended before it was ready (the port was taken, say): worth another try.
func startRegistry(t testing.TB) (reg *Registry, exited bool, err error) {
	t.Helper()
	dir := t.TempDir()
	port, err := freePort()
	if err != nil {
		return nil, false, fmt.Errorf("find a free port for the registry: %v", err)
	}
	host := "127.0.0.1:" + strconv.Itoa(port)
	config := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
  secret: rehearsal-not-secret
`, (&Registry{Dir: dir}).Storage(), host)
	configPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		return nil, false, err
	}
	var out bytes.Buffer
	cmd := exec.Command(RegistryBinary, "serve", configPath)
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group, so cleanup kills it even if it forked.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, false, fmt.Errorf("start %s: %v", RegistryBinary, err)
	}
	// done is closed when the process has ended, so both the readiness check and the
	// cleanup can wait for it.
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
	if err := waitReady(host, done, func() error { return waitErr }, 30*time.Second); err != nil {
		select {
		case <-done:
			exited = true
		default:
		}
		return nil, exited, fmt.Errorf("registry on %s did not come up: %v\nits output:\n%s", host, err, out.String())
	}
	return &Registry{Host: host, Dir: dir}, false, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls /v2/ until the registry answers with its API version header,
// which a different server on the port would not send.
func waitReady(host string, done <-chan struct{}, exitErr func() error, limit time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for {
		select {
		case <-done:
			return fmt.Errorf("it exited: %v", exitErr())
		default:
		}
		resp, err := client.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.Header.Get("Docker-Distribution-Api-Version") == "registry/2.0" {
				return nil
			}
			err = fmt.Errorf("answered %s without the registry/2.0 header: another server holds the port", resp.Status)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Storage is the registry's storage directory, where the stand-ins remove
// single tags (the registry's API cannot).
func (r *Registry) Storage() string { return filepath.Join(r.Dir, "storage") }

// Untag removes repo:tag in the registry's storage, leaving the image; the
// registry's API can only delete whole manifests.
func (r *Registry) Untag(t testing.TB, repo, tag string) {
	t.Helper()
	dir := filepath.Join(r.Storage(), "docker", "registry", "v2", "repositories", repo, "_manifests", "tags", tag)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
}

// Digest returns the digest that repo:tag points to, or "" when the tag does
// not exist.
func (r *Registry) Digest(t testing.TB, repo, tag string) string {
	t.Helper()
	ref, err := name.NewTag(r.Host + "/" + repo + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(ref)
	if err != nil {
		if standin.IsNotFound(err) {
			return ""
		}
		t.Fatalf("look up %s: %v", ref, err)
	}
	return desc.Digest.String()
}

// Tags lists repo's tags; a repository that does not exist has none.
func (r *Registry) Tags(t testing.TB, repo string) []string {
	t.Helper()
	rp, err := name.NewRepository(r.Host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := remote.List(rp)
	if err != nil {
		if standin.IsNotFound(err) {
			return nil
		}
		t.Fatalf("list %s: %v", rp, err)
	}
	return tags
}

// Labels returns the labels in the config of repo:tag.
func (r *Registry) Labels(t testing.TB, repo, tag string) map[string]string {
	t.Helper()
	ref, err := name.NewTag(r.Host + "/" + repo + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(ref)
	if err != nil {
		t.Fatalf("fetch %s: %v", ref, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatalf("read the config of %s: %v", ref, err)
	}
	return cfg.Config.Labels
}

// Content returns what identifies the content of the image at repo@digest,
// whatever its compression: the digest of its config, which lists its layers'
// uncompressed diff_ids. A copy to another registry that recompresses the
// layers keeps it; "" when there is no such image.
func (r *Registry) Content(t testing.TB, repo, digest string) string {
	t.Helper()
	ref, err := name.NewDigest(r.Host + "/" + repo + "@" + digest)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(ref)
	if err != nil {
		if standin.IsNotFound(err) {
			return ""
		}
		t.Fatalf("fetch %s: %v", ref, err)
	}
	d, err := img.ConfigName()
	if err != nil {
		t.Fatalf("read the config of %s: %v", ref, err)
	}
	return d.String()
}
