package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Remote is what a Git remote URL says about the repository.
type Remote struct {
	Provider   string // GitHub, GitLab or Bitbucket: config's source.provider
	Repository string // owner/name (GitLab: group/subgroup/name)
}

// providers maps the hosts the config's source.provider knows to their names.
var providers = map[string]string{
	"github.com":    "GitHub",
	"gitlab.com":    "GitLab",
	"bitbucket.org": "Bitbucket",
}

// scpLike is Git's scp-like SSH form, user@host:path (no scheme, no slash before
// the colon).
var scpLike = regexp.MustCompile(`^(?:[^@/]+@)?([^:/]+):(.+)$`)

// ParseRemote reads a Git remote URL in any of the forms Git accepts for the three
// hosts: https://host/owner/name(.git), ssh://git@host/owner/name.git and
// git@host:owner/name.git, with or without a user or port.
func ParseRemote(raw string) (Remote, error) {
	raw = strings.TrimSpace(raw)
	var host, p string
	if strings.Contains(raw, "://") {
		u, err := url.Parse(raw)
		if err != nil {
			return Remote{}, fmt.Errorf("remote URL %q: %v", raw, err)
		}
		host, p = u.Hostname(), u.Path
	} else if m := scpLike.FindStringSubmatch(raw); m != nil {
		host, p = m[1], m[2]
	} else {
		return Remote{}, fmt.Errorf("remote URL %q is neither an HTTPS nor an SSH URL", raw)
	}
	provider, ok := providers[strings.ToLower(host)]
	if !ok {
		return Remote{}, fmt.Errorf("remote URL %q: host %s is not github.com, gitlab.com or bitbucket.org, the hosts source.provider supports; pass --repository OWNER/NAME and set source.provider yourself", raw, host)
	}
	p = strings.TrimSuffix(strings.Trim(p, "/"), ".git")
	parts := strings.Split(p, "/")
	if len(parts) < 2 || (provider != "GitLab" && len(parts) != 2) || slicesContainsEmpty(parts) {
		return Remote{}, fmt.Errorf("remote URL %q: %q is not owner/name", raw, p)
	}
	return Remote{Provider: provider, Repository: p}, nil
}

func slicesContainsEmpty(s []string) bool {
	for _, x := range s {
		if x == "" {
			return true
		}
	}
	return false
}

// git runs git in dir and returns its trimmed output.
func git(dir string, args ...string) (string, error) {
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).Output()
	return strings.TrimSpace(string(out)), err
}

// gitRemote returns the URL of the remote origin, else of the only remote.
func gitRemote(dir string) (string, error) {
	if u, err := git(dir, "remote", "get-url", "origin"); err == nil && u != "" {
		return u, nil
	}
	names, err := git(dir, "remote")
	if err != nil {
		return "", fmt.Errorf("%s is not a Git repository (run init from your app's repository root, or pass -C DIR)", dir)
	}
	list := strings.Fields(names)
	switch len(list) {
	case 0:
		return "", errors.New("the repository has no remote: add one (git remote add origin URL) or pass --repository OWNER/NAME")
	case 1:
		return git(dir, "remote", "get-url", list[0])
	}
	return "", fmt.Errorf("the repository has remotes %s but none named origin: pass --repository OWNER/NAME", strings.Join(list, ", "))
}

// gitBranch returns the remote's default branch when Git knows it, else the
// checked-out branch.
func gitBranch(dir string) string {
	if ref, err := git(dir, "symbolic-ref", "--short", "refs/remotes/origin/HEAD"); err == nil && ref != "" {
		return strings.TrimPrefix(ref, "origin/")
	}
	if b, err := git(dir, "symbolic-ref", "--short", "HEAD"); err == nil && b != "" {
		return b
	}
	return ""
}

// skipDirs are directories the Dockerfile search does not enter.
var skipDirs = map[string]bool{".git": true, "node_modules": true, "vendor": true, "infra": true, "cdk.out": true}

// findDockerfiles lists the files named Dockerfile (or *.Dockerfile, Dockerfile.*)
// at most three directories below root, slash-separated and sorted, root's first.
func findDockerfiles(root string) ([]string, error) {
	var found []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if rel != "." && (skipDirs[d.Name()] || strings.Count(rel, string(filepath.Separator)) >= 3) {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() == "Dockerfile" {
			found = append(found, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Slice(found, func(i, j int) bool {
		di, dj := strings.Count(found[i], "/"), strings.Count(found[j], "/")
		if di != dj {
			return di < dj
		}
		return found[i] < found[j]
	})
	return found, err
}

// Exposed is what a Dockerfile's EXPOSE instructions say.
type Exposed struct {
	Ports []int  // numeric TCP ports, in order
	Line  int    // line of the first EXPOSE
	Other string // an argument that is no port number (e.g. $PORT), if any
}

// exposedPorts reads the EXPOSE instructions of a Dockerfile (of its last stage,
// which is the image that runs). Continuation lines are joined; UDP ports are not
// what a load balancer forwards and are skipped.
func exposedPorts(file string) (Exposed, error) {
	f, err := os.Open(file)
	if err != nil {
		return Exposed{}, err
	}
	defer f.Close()
	var e Exposed
	sc := bufio.NewScanner(f)
	n, start := 0, 0
	var logical string
	for sc.Scan() {
		n++
		line := sc.Text()
		if logical == "" {
			start = n
			if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
				continue
			}
		}
		if strings.HasSuffix(line, "\\") {
			logical += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		logical += line
		fields := strings.Fields(logical)
		logical = ""
		if len(fields) == 0 {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			e = Exposed{} // a new stage: only the last one's ports count
		case "EXPOSE":
			if e.Line == 0 {
				e.Line = start
			}
			for _, a := range fields[1:] {
				num, proto, _ := strings.Cut(a, "/")
				if proto != "" && !strings.EqualFold(proto, "tcp") {
					continue
				}
				if p, err := strconv.Atoi(num); err == nil && p > 0 && p < 65536 {
					e.Ports = append(e.Ports, p)
				} else if e.Other == "" {
					e.Other = a
				}
			}
		}
	}
	return e, sc.Err()
}

// appName turns a repository name into a config app name: lower case, letters,
// digits and single hyphens, starting with a letter, at most max characters.
func appName(repository string, max int) string {
	name := strings.ToLower(path.Base(repository))
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			if s := b.String(); s != "" && !strings.HasSuffix(s, "-") {
				b.WriteByte('-')
			}
		}
	}
	s := strings.TrimLeft(b.String(), "0123456789-")
	if len(s) > max {
		s = s[:max]
	}
	s = strings.Trim(s, "-")
	if s == "" {
		s = "app"
	}
	return s
}
