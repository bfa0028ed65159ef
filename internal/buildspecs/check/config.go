package check

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stagecoach/stagecoach/config"
)

// Use is one service's use of a buildspec file of the repository.
type Use struct {
	// Service names the service; File is the path in the repository.
	Service, File string
	// Options are where it runs.
	Options Options
}

// Uses lists every buildspec file the config names, with the options it runs under.
func Uses(cfg *config.Config) []Use {
	var out []Use
	for _, svc := range cfg.Services {
		for _, k := range []Kind{Build, Release} {
			file := svc.Build.Buildspec
			if k == Release {
				file = svc.Release.Buildspec
			}
			if file != "" {
				out = append(out, Use{Service: svc.Name, File: file, Options: ForService(cfg, svc.Name, k)})
			}
		}
	}
	return out
}

// ForService returns the options a buildspec of kind runs under for service.
//
// Tag mutability follows the pipeline stack: a service that names its own build.yml
// has mutable tags; otherwise every tag but :latest and the stage tags is immutable.
// (A build.yml being checked is the service's own, or about to be.)
func ForService(cfg *config.Config, service string, kind Kind) Options {
	o := Options{Kind: kind, Sh: "bash"}
	for i, s := range cfg.Stages {
		o.Stages = append(o.Stages, s.Name)
		if cfg.StageRegion(i) != cfg.Region {
			o.MultiRegion = true
		}
		if cfg.PullsRegionally(i) {
			o.Regional = true
		}
	}
	for _, svc := range cfg.Services {
		if svc.Name != service {
			continue
		}
		o.ImmutableTags = kind == Release && svc.Build.Buildspec == ""
		vars := svc.Release.Env
		if kind == Build {
			vars = svc.Build.Env
			o.UserVariables = slices.Sorted(maps.Keys(svc.Build.Secrets))
		}
		o.UserVariables = append(o.UserVariables, slices.Sorted(maps.Keys(vars))...)
		o.DockerfilePath = svc.Dockerfile != ""
	}
	return o
}

// Find returns the use of file (a path in the repository) in cfg. When the config does
// not name it, the file is taken to be about to become service's buildspec of kind:
// kind "" guesses from the name (release when it contains "release"), and service ""
// takes the only service.
func Find(cfg *config.Config, file, service string, kind Kind) (Use, error) {
	clean := filepath.ToSlash(filepath.Clean(file))
	for _, u := range Uses(cfg) {
		if u.File == clean && (service == "" || u.Service == service) && (kind == "" || u.Options.Kind == kind) {
			return u, nil
		}
	}
	if kind == "" {
		kind = Build
		if strings.Contains(strings.ToLower(filepath.Base(file)), "release") {
			kind = Release
		}
	}
	if service == "" {
		if len(cfg.Services) != 1 {
			return Use{}, fmt.Errorf("the config does not name %s and has %d services: say which one with -service", file, len(cfg.Services))
		}
		service = cfg.Services[0].Name
	}
	if !slices.ContainsFunc(cfg.Services, func(s config.Service) bool { return s.Name == service }) {
		return Use{}, fmt.Errorf("the config has no service %q", service)
	}
	o := ForService(cfg, service, kind)
	if kind == Build {
		o.ImmutableTags = false // it becomes the service's own build.yml
	}
	return Use{Service: service, File: clean, Options: o}, nil
}

// Review checks every buildspec file cfg names that exists under root (the repository)
// and renders the findings as a Markdown section, "" when the config names none that
// exists. Files the config names that are not in this repository (the app's config may
// name files of the application's repository) are left out.
func Review(cfg *config.Config, root string) (string, error) {
	var b strings.Builder
	checked := 0
	for _, u := range Uses(cfg) {
		text, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(u.File)))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		checked++
		findings, err := Check(string(text), u.Options)
		if err != nil {
			fmt.Fprintf(&b, "- `%s` (%s.yml of `%s`): could not be read: %v\n", u.File, u.Options.Kind, u.Service, err)
			continue
		}
		if len(findings) == 0 {
			fmt.Fprintf(&b, "- `%s` (%s.yml of `%s`): nothing to report\n", u.File, u.Options.Kind, u.Service)
			continue
		}
		fmt.Fprintf(&b, "- `%s` (%s.yml of `%s`):\n", u.File, u.Options.Kind, u.Service)
		for _, f := range findings {
			where := fmt.Sprintf("line %d", f.Line)
			if f.Line == 0 {
				where = "file"
			}
			fmt.Fprintf(&b, "  - %s, %s `%s`: %s. Fix: %s\n", where, f.Severity, f.Rule, f.Message, f.Fix)
		}
	}
	if checked == 0 {
		return "", nil
	}
	return "### Buildspecs\n\nWhat `make check-buildspec` reports for the buildspec files the config names:\n\n" + b.String(), nil
}
