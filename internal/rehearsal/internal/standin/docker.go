package standin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/stagecoach/stagecoach/internal/rehearsal/internal/fakeaws"
)

// Docker's CLI exits 125 when it rejects its own arguments, and 1 when the
// daemon refuses an operation.
const (
	dockerUsage  = 125
	dockerFailed = 1
)

// Labels the stand-in puts on the images it builds, so tests can tell from the
// registry alone which Dockerfile a build used.
const (
	LabelDockerfile       = "rehearsal.dockerfile"
	LabelDockerfileSHA256 = "rehearsal.dockerfile.sha256"
)

// remoteTimeout bounds one registry operation; the registry is on this machine,
// so anything slower is a hang, not a slow network.
const remoteTimeout = 2 * time.Minute

func runDocker(args []string, sio IO, errOut io.Writer) error {
	if len(args) == 0 {
		return fail(dockerUsage, "docker stand-in: no command given (supported: login, build, tag, push, pull, images)")
	}
	if sio.Getenv("REHEARSAL_DOCKER_DAEMON") == "false" {
		// CodeBuild runs the Docker daemon only in privileged mode ("Enables running
		// the Docker daemon inside a Docker container", PrivilegedMode in the
		// CodeBuild API's ProjectEnvironment); without it every docker command that
		// needs the daemon fails as the CLI does when the socket is missing.
		return fail(dockerFailed, "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running? (the CodeBuild project is not in privileged mode)")
	}
	st, err := openStore(sio)
	if err != nil {
		return err
	}
	switch args[0] {
	case "login":
		return st.login(args[1:], sio)
	case "build":
		return st.build(args[1:], sio)
	case "tag":
		return st.tag(args[1:])
	case "push":
		return st.push(args[1:], sio)
	case "pull":
		return st.pull(args[1:], sio)
	case "images":
		return st.images(args[1:], sio)
	default:
		return fail(dockerUsage, "docker stand-in: %q is not supported (supported: login, build, tag, push, pull, images); extend internal/rehearsal/internal/standin if a buildspec needs it", args[0])
	}
}

// store is docker's local image store: an OCI layout holding the blobs, plus a
// map from image names to manifest digests (what `docker images` would list).
type store struct {
	dir    string
	layout layout.Path
	refs   map[string]string // normalised reference -> manifest digest
	logins map[string]string // registry host -> user name
}

func openStore(sio IO) (*store, error) {
	root := sio.Getenv("REHEARSAL_STATE")
	if root == "" {
		return nil, fail(dockerFailed, "docker stand-in: REHEARSAL_STATE is unset; it names the directory that plays the Docker daemon's image store")
	}
	dir := filepath.Join(root, "docker")
	st := &store{dir: dir, refs: map[string]string{}, logins: map[string]string{}}
	lp, err := layout.FromPath(filepath.Join(dir, "layout"))
	if err != nil {
		if lp, err = layout.Write(filepath.Join(dir, "layout"), empty.Index); err != nil {
			return nil, fmt.Errorf("docker stand-in: create the image store in %s: %w", dir, err)
		}
	}
	st.layout = lp
	for file, m := range map[string]map[string]string{"refs.json": st.refs, "logins.json": st.logins} {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err == nil {
			err = json.Unmarshal(b, &m)
		}
		if err != nil {
			return nil, fmt.Errorf("docker stand-in: read %s: %w", filepath.Join(dir, file), err)
		}
	}
	return st, nil
}

func (st *store) save(file string, m map[string]string) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(st.dir, file+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(st.dir, file))
}

// parseRef normalises an image name the way Docker does (builtimage means
// index.docker.io/library/builtimage:latest).
func parseRef(s string) (name.Reference, error) {
	ref, err := name.ParseReference(s)
	if err != nil {
		return nil, fail(dockerFailed, "invalid reference format: %s: %v", s, err)
	}
	return ref, nil
}

func (st *store) image(ref name.Reference) (v1.Image, string, bool) {
	d, ok := st.refs[ref.Name()]
	if !ok {
		return nil, "", false
	}
	h, err := v1.NewHash(d)
	if err != nil {
		return nil, "", false
	}
	img, err := st.layout.Image(h)
	if err != nil {
		return nil, "", false
	}
	return img, d, true
}

// remoteHost checks that ref names a registry on this machine: rehearsals have no
// other network, and a push to Docker Hub would only hang.
// add stores img's blobs and lists it in the layout's index, where image()
// finds it; an image already there is left alone.
func (st *store) add(img v1.Image) error {
	d, err := img.Digest()
	if err != nil {
		return err
	}
	if _, err := st.layout.Image(d); err == nil {
		return nil
	}
	return st.layout.AppendImage(img)
}

func (st *store) remoteHost(ref name.Reference, verb string) (string, error) {
	host := ref.Context().RegistryStr()
	h := host
	if i := strings.LastIndex(h, ":"); i >= 0 {
		h = h[:i]
	}
	if h != "localhost" && h != "127.0.0.1" && h != "[::1]" {
		return "", fail(dockerFailed, "docker stand-in: cannot %s %s: only registries on this machine (127.0.0.1:PORT) are reachable in a rehearsal", verb, ref)
	}
	// ECR refuses pushes and pulls without a login; so does the stand-in, so a
	// buildspec that forgets `docker login` fails here as it would in CodeBuild.
	if _, ok := st.logins[host]; !ok {
		return "", fail(dockerFailed, "no basic auth credentials (the stand-in saw no `docker login %s` first)", host)
	}
	return host, nil
}

// flagValue returns the value of the flag at args[*i], written "--flag=value" or
// "--flag value" (then *i moves past the value), as docker's parser takes it.
func flagValue(args []string, i *int) (string, error) {
	a := args[*i]
	if k, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(k, "--") {
		return v, nil
	}
	if *i+1 >= len(args) {
		return "", fail(dockerUsage, "flag needs an argument: %s", a)
	}
	*i++
	return args[*i], nil
}

func (st *store) login(args []string, sio IO) error {
	var user, password, server string
	stdin := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		val := func() (string, error) { return flagValue(args, &i) }
		var err error
		switch {
		case a == "-u" || a == "--username" || strings.HasPrefix(a, "--username="):
			user, err = val()
		case a == "-p" || a == "--password" || strings.HasPrefix(a, "--password="):
			password, err = val()
		case a == "--password-stdin":
			stdin = true
		case strings.HasPrefix(a, "-"):
			err = fail(dockerUsage, "unknown flag: %s (the login stand-in takes -u, -p, --password-stdin)", a)
		case server == "":
			server = a
		default:
			err = fail(dockerUsage, "\"docker login\" requires at most 1 argument")
		}
		if err != nil {
			return err
		}
	}
	if stdin {
		if password != "" {
			return fail(dockerUsage, "--password and --password-stdin are mutually exclusive")
		}
		b, err := io.ReadAll(sio.Stdin)
		if err != nil {
			return err
		}
		password = strings.TrimRight(string(b), "\r\n")
	}
	if server == "" {
		return fail(dockerFailed, "docker stand-in: login without a server would go to Docker Hub; name the registry (ECR_ENDPOINT)")
	}
	if user == "" {
		return fail(dockerFailed, "Error: Cannot perform an interactive login from a non TTY device")
	}
	if password == "" {
		return fail(dockerFailed, "Error: Password Required")
	}
	if dockerHub(server) {
		// Docker Hub takes the account's access token: REHEARSAL_DOCKERHUB_TOKEN.
		if want := sio.Getenv("REHEARSAL_DOCKERHUB_TOKEN"); want == "" || password != want {
			return fail(dockerFailed, "Error response from daemon: Get \"https://registry-1.docker.io/v2/\": unauthorized: incorrect username or password")
		}
		st.logins[DockerHub] = user
		if err := st.save("logins.json", st.logins); err != nil {
			return err
		}
		fmt.Fprintln(sio.Stdout, "Login Succeeded")
		return nil
	}
	// An ECR token opens the registry of the region it was issued for, and no other.
	if region, ok := ecrRegion(sio, server); !ok || password != LoginToken(region) {
		return fail(dockerFailed, "Error response from daemon: login attempt to https://%s/v2/ failed with status: 401 Unauthorized (the password is not what `aws ecr get-login-password --region REGION` printed for this registry's region)", server)
	}
	st.logins[server] = user
	if err := st.save("logins.json", st.logins); err != nil {
		return err
	}
	fmt.Fprintln(sio.Stdout, "Login Succeeded")
	return nil
}

// DockerHub is the key under which the stand-in records a Docker Hub login.
const DockerHub = "docker.io"

// dockerHub reports whether a docker login server names Docker Hub: its index URL,
// which the CLI uses when no server is given, or one of its host names.
func dockerHub(server string) bool {
	switch strings.TrimSuffix(server, "/") {
	case "https://index.docker.io/v1", "index.docker.io", "docker.io", "registry-1.docker.io":
		return true
	}
	return false
}

func (st *store) build(args []string, sio IO) error {
	var tags, buildArgs []string
	var dockerfile, context string
	for i := 0; i < len(args); i++ {
		a := args[i]
		val := func() (string, error) { return flagValue(args, &i) }
		var v string
		var err error
		switch {
		case a == "-t" || a == "--tag" || strings.HasPrefix(a, "--tag="):
			v, err = val()
			tags = append(tags, v)
		case a == "-f" || a == "--file" || strings.HasPrefix(a, "--file="):
			dockerfile, err = val()
		case a == "--build-arg" || strings.HasPrefix(a, "--build-arg="):
			v, err = val()
			buildArgs = append(buildArgs, v)
		case a == "--pull" || a == "--no-cache" || a == "-q" || a == "--quiet":
		case strings.HasPrefix(a, "-") && a != "-":
			err = fail(dockerUsage, "unknown flag: %s (the build stand-in takes -t, -f, --build-arg, --pull, --no-cache, -q)", a)
		case context == "":
			context = a
		default:
			err = fail(dockerUsage, "\"docker build\" requires exactly 1 argument")
		}
		if err != nil {
			return err
		}
	}
	if context == "" {
		return fail(dockerUsage, "\"docker build\" requires exactly 1 argument")
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(sio.Dir, p)
	}
	if fi, err := os.Stat(abs(context)); err != nil || !fi.IsDir() {
		return fail(dockerFailed, "unable to prepare context: path %q not found", context)
	}
	// Docker reads -f relative to the working directory and defaults to the
	// context's Dockerfile.
	if dockerfile == "" {
		dockerfile = filepath.Join(context, "Dockerfile")
	}
	content, err := os.ReadFile(abs(dockerfile))
	if err != nil {
		return fail(dockerFailed, "ERROR: failed to solve: failed to read dockerfile: open %s: no such file or directory", dockerfile)
	}
	size, layers, err := imageSize(sio)
	if err != nil {
		return err
	}
	// Random content gives every build its own digest, as a real rebuild after a
	// commit would, and makes pushes and pulls move real bytes.
	img, err := random.Image(size/layers, layers)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(content)
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	c := cfg.Config
	c.Labels = map[string]string{LabelDockerfile: filepath.ToSlash(dockerfile), LabelDockerfileSHA256: hex.EncodeToString(sum[:])}
	if img, err = mutate.Config(img, c); err != nil {
		return err
	}
	if err := st.add(img); err != nil {
		return fmt.Errorf("docker stand-in: write the built image to %s: %w", st.dir, err)
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	for _, t := range tags {
		ref, err := parseRef(t)
		if err != nil {
			return err
		}
		st.refs[ref.Name()] = d.String()
	}
	if err := st.save("refs.json", st.refs); err != nil {
		return err
	}
	fmt.Fprintf(sio.Stdout, "rehearsal: built %s from %s (%d bytes in %d layers, build args %v)\n", d, dockerfile, size, layers, buildArgs)
	for _, t := range tags {
		fmt.Fprintf(sio.Stdout, "Successfully tagged %s\n", t)
	}
	return nil
}

// imageSize reads REHEARSAL_IMAGE_MB and REHEARSAL_IMAGE_LAYERS.
func imageSize(sio IO) (size, layers int64, err error) {
	mb, layers := 1.0, int64(2)
	if s := sio.Getenv("REHEARSAL_IMAGE_MB"); s != "" {
		if mb, err = strconv.ParseFloat(s, 64); err != nil || mb <= 0 {
			return 0, 0, fail(dockerFailed, "docker stand-in: REHEARSAL_IMAGE_MB=%q is not a positive number of megabytes", s)
		}
	}
	if s := sio.Getenv("REHEARSAL_IMAGE_LAYERS"); s != "" {
		if layers, err = strconv.ParseInt(s, 10, 64); err != nil || layers <= 0 {
			return 0, 0, fail(dockerFailed, "docker stand-in: REHEARSAL_IMAGE_LAYERS=%q is not a positive whole number", s)
		}
	}
	size = int64(mb * 1024 * 1024)
	if size < layers {
		size = layers
	}
	return size, layers, nil
}

func (st *store) tag(args []string) error {
	if len(args) != 2 {
		return fail(dockerUsage, "\"docker tag\" requires exactly 2 arguments (SOURCE TARGET), got %d", len(args))
	}
	src, err := parseRef(args[0])
	if err != nil {
		return err
	}
	dst, err := parseRef(args[1])
	if err != nil {
		return err
	}
	d, ok := st.refs[src.Name()]
	if !ok {
		return fail(dockerFailed, "Error response from daemon: No such image: %s", args[0])
	}
	st.refs[dst.Name()] = d
	return st.save("refs.json", st.refs)
}

func (st *store) push(args []string, sio IO) error {
	if len(args) != 1 {
		return fail(dockerUsage, "\"docker push\" requires exactly 1 argument (the stand-in takes no flags)")
	}
	ref, err := parseRef(args[0])
	if err != nil {
		return err
	}
	img, d, ok := st.image(ref)
	if !ok {
		return fail(dockerFailed, "An image does not exist locally with the tag: %s", args[0])
	}
	host, err := st.remoteHost(ref, "push")
	if err != nil {
		return err
	}
	if err := authorizeDocker(sio, host, ref.Context().RepositoryStr(), "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage"); err != nil {
		return err
	}
	if host == sio.Getenv("REHEARSAL_ECR_REGISTRY") && !fakeaws.RepositoryExists(sio.Getenv, ref.Context().RepositoryStr()) {
		return fail(dockerFailed, "name unknown: The repository with name '%s' does not exist in the registry with id '%s'", ref.Context().RepositoryStr(), account(sio))
	}
	ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
	defer cancel()
	fmt.Fprintf(sio.Stdout, "The push refers to repository [%s]\n", ref.Context().Name())
	if img, err = st.forPush(img, d, host); err != nil {
		return fmt.Errorf("docker stand-in: push %s: %w", ref, err)
	}
	if pushed, err := img.Digest(); err == nil {
		d = pushed.String()
	}
	// ECR refuses a push of an immutable tag that exists, even of the same image.
	if tag, isTag := ref.(name.Tag); isTag {
		if _, ecr := ecrRegion(sio, host); ecr {
			policy, err := tagPolicy(sio.Getenv)
			if err != nil {
				return err
			}
			if err := policy.Push(ref.Context().RepositoryStr(), tag.TagStr(), currentDigest(ctx, tag), d); err != nil {
				return fail(dockerFailed, "%s", err.Error())
			}
		}
	}
	if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
		return fail(dockerFailed, "docker stand-in: push %s: %v", ref, err)
	}
	size, _ := img.Size()
	fmt.Fprintf(sio.Stdout, "%s: digest: %s size: %d\n", ref.Identifier(), d, size)
	return nil
}

func (st *store) pull(args []string, sio IO) error {
	if len(args) != 1 {
		return fail(dockerUsage, "\"docker pull\" requires exactly 1 argument (the stand-in takes no flags)")
	}
	ref, err := parseRef(args[0])
	if err != nil {
		return err
	}
	host, err := st.remoteHost(ref, "pull")
	if err != nil {
		return err
	}
	if err := authorizeDocker(sio, host, ref.Context().RepositoryStr(), "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), remoteTimeout)
	defer cancel()
	img, err := remote.Image(ref, remote.WithContext(ctx))
	if err != nil {
		if IsNotFound(err) {
			return fail(dockerFailed, "Error response from daemon: manifest for %s not found: manifest unknown: manifest unknown", args[0])
		}
		return fail(dockerFailed, "docker stand-in: pull %s: %v", ref, err)
	}
	fmt.Fprintf(sio.Stdout, "%s: Pulling from %s\n", ref.Identifier(), ref.Context().RepositoryStr())
	// Writing the layers to the local store downloads them: the cost a
	// pull-and-push release pays, which a registry-side retag does not.
	if err := st.add(img); err != nil {
		return fmt.Errorf("docker stand-in: store %s in %s: %w", ref, st.dir, err)
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	st.refs[ref.Name()] = d.String()
	if err := st.save("refs.json", st.refs); err != nil {
		return err
	}
	if err := st.recordPull(d.String(), host); err != nil {
		return err
	}
	fmt.Fprintf(sio.Stdout, "Digest: %s\nStatus: Downloaded newer image for %s\n%s\n", d, args[0], args[0])
	return nil
}

// IsNotFound tells a missing manifest or repository from other registry errors
// (the endpoint's test, shared with the stand-ins and the harness).
func IsNotFound(err error) bool { return fakeaws.IsNotFound(err) }
