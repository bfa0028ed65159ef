package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// stagecoachModule is the module an upgrade check moves to another version (a
// variable for the test, which serves the module under another path).
var stagecoachModule = "github.com/stagecoach/stagecoach"

// stateful are the resource types whose replacement or removal loses what they hold
// or what points at them: images, objects, logs, the service and its tasks, the load
// balancer's DNS name, keys, parameters and secrets, and the network everything runs
// in. A replaced task definition or target group is a rolling deployment, not a loss.
var stateful = map[string]bool{
	"AWS::ECR::Repository":                      true,
	"AWS::S3::Bucket":                           true,
	"AWS::Logs::LogGroup":                       true,
	"AWS::ECS::Cluster":                         true,
	"AWS::ECS::Service":                         true,
	"AWS::ElasticLoadBalancingV2::LoadBalancer": true,
	"AWS::KMS::Key":                             true,
	"AWS::SSM::Parameter":                       true,
	"AWS::SecretsManager::Secret":               true,
	"AWS::EC2::VPC":                             true,
	"AWS::CodeStarConnections::Connection":      true,
	"AWS::CodeConnections::Connection":          true,
}

// Verdict is what an upgrade does to the deployed app.
type Verdict struct {
	// Stateful lists "STACK RESOURCE (TYPE): EFFECT" for each stateful resource the
	// upgrade replaces or removes.
	Stateful []string
	// Security lists "STACK: SECTION" for each IAM or security group change.
	Security []string
}

// Judge reads the stack diffs of an upgrade.
func Judge(stacks []StackDiff) Verdict {
	var v Verdict
	for _, s := range stacks {
		for _, r := range s.destructive() {
			if stateful[r.Type] {
				v.Stateful = append(v.Stateful, fmt.Sprintf("%s %s (%s): %s", s.Name, r.Path, r.Type, strings.Trim(effect(r), "🔴🟠 *")))
			}
		}
		if s.Status == StackRemoved {
			continue // its resources are listed above
		}
		for _, sec := range s.Diff.Security() {
			v.Security = append(v.Security, s.Name+": "+sec)
		}
	}
	sort.Strings(v.Stateful)
	return v
}

// Text is the verdict in a few lines, the first of which says whether anything
// stateful is replaced.
func (v Verdict) Text() string {
	var b strings.Builder
	if len(v.Stateful) == 0 {
		b.WriteString("no stateful replacement: no repository, bucket, log group, service, load balancer, key, parameter, secret or VPC is replaced or removed\n")
	} else {
		fmt.Fprintf(&b, "%d stateful replacement(s) or removal(s):\n", len(v.Stateful))
		for _, s := range v.Stateful {
			b.WriteString("  " + s + "\n")
		}
	}
	if len(v.Security) == 0 {
		b.WriteString("no IAM or security group change\n")
	} else {
		fmt.Fprintf(&b, "IAM or security group changes (see the report):\n")
		for _, s := range v.Security {
			b.WriteString("  " + s + "\n")
		}
	}
	return b.String()
}

// moduleVersion returns the stagecoach version the app in dir uses, as go list says
// (with its replacement, if any).
func moduleVersion(ctx context.Context, dir string, env []string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Version}}{{with .Replace}} => {{.Path}}{{end}}", stagecoachModule)
	cmd.Dir, cmd.Env = dir, env
	b, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go list -m %s in %s (is this a stagecoach app?): %v\n%s", stagecoachModule, dir, err, b)
	}
	return strings.TrimSpace(string(b)), nil
}

// upgradeModfile writes, in tmp, a copy of dir's go.mod and go.sum that requires
// stagecoach at version (without a replace directive for it) and returns the copy's
// path, for GOFLAGS=-modfile: the app's own go.mod is not touched.
func upgradeModfile(ctx context.Context, dir, tmp, version string) (string, error) {
	mod := filepath.Join(tmp, "upgrade.mod")
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(mod, b, 0o644); err != nil {
		return "", err
	}
	if sum, err := os.ReadFile(filepath.Join(dir, "go.sum")); err == nil {
		if err := os.WriteFile(strings.TrimSuffix(mod, ".mod")+".sum", sum, 0o644); err != nil {
			return "", err
		}
	}
	for _, args := range [][]string{
		{"mod", "edit", "-modfile=" + mod, "-dropreplace=" + stagecoachModule},
		{"get", "-modfile=" + mod, stagecoachModule + "@" + version},
	} {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = dir
		cmd.Env = withoutGOFLAGS(os.Environ())
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return mod, nil
}

// withoutGOFLAGS drops -modfile from the caller's GOFLAGS (the check sets its own).
func withoutGOFLAGS(env []string) []string {
	var out []string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GOFLAGS="); ok {
			var keep []string
			for _, f := range strings.Fields(v) {
				if !strings.HasPrefix(f, "-modfile") {
					keep = append(keep, f)
				}
			}
			kv = "GOFLAGS=" + strings.Join(keep, " ")
		}
		out = append(out, kv)
	}
	return out
}

// withModfile returns env whose GOFLAGS also holds -modfile=mod.
func withModfile(env []string, mod string) []string {
	env = withoutGOFLAGS(env)
	for i, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GOFLAGS="); ok {
			env[i] = strings.TrimSpace("GOFLAGS=" + v + " -modfile=" + mod)
			return env
		}
	}
	return append(env, "GOFLAGS=-modfile="+mod)
}

// runUpgrade synthesizes the app as it is (the base) and with stagecoach at
// o.upgrade (into o.out), compares them and writes the report. The report's verdict
// (Judge) is returned with it.
func runUpgrade(ctx context.Context, o options, repo, cdk, out string) (string, Verdict, error) {
	tmp, err := os.MkdirTemp("", "cdkdiff-upgrade-")
	if err != nil {
		return "", Verdict{}, err
	}
	defer os.RemoveAll(tmp)
	env := offlineEnv(tmp)
	current, err := moduleVersion(ctx, repo, env)
	if err != nil {
		return "", Verdict{}, err
	}
	start := time.Now()
	mod, err := upgradeModfile(ctx, repo, tmp, o.upgrade)
	if err != nil {
		return "", Verdict{}, err
	}
	logf("stagecoach %s → %s: module resolved in %s", current, o.upgrade, since(start))

	baseOut := filepath.Join(tmp, "base.out")
	var baseErr, headErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		baseErr = synth(ctx, cdk, repo, baseOut, env)
	}()
	headErr = synth(ctx, cdk, repo, out, withModfile(env, mod))
	wg.Wait()
	if err := errors.Join(baseErr, headErr); err != nil {
		return "", Verdict{}, err
	}
	logf("synthesized both versions: %s", since(start))
	head, err := readAssembly(out)
	if err != nil {
		return "", Verdict{}, err
	}
	base, err := readAssembly(baseOut)
	if err != nil {
		return "", Verdict{}, err
	}
	empty := filepath.Join(tmp, "empty.template.json")
	if err := os.WriteFile(empty, []byte("{}\n"), 0o644); err != nil {
		return "", Verdict{}, err
	}
	stacks, err := compare(ctx, head, base, func(ctx context.Context, st Stack, baseTemplate string) (string, error) {
		if baseTemplate == "" {
			baseTemplate = empty
		}
		return cdkDiff(ctx, cdk, repo, out, baseTemplate, st.Selector, env)
	}, o.jobs)
	if err != nil {
		return "", Verdict{}, err
	}
	from := "stagecoach " + current
	r := Report{Base: from, BaseCommit: from, Head: "stagecoach " + o.upgrade, BaseHasApp: true, Stacks: stacks}
	v := Judge(stacks)
	full := "<!-- upgrade check -->\n" + v.Text() + "\n" + strings.TrimPrefix(r.Markdown(0), Marker+"\n")
	if err := os.MkdirAll(filepath.Dir(o.report), 0o755); err != nil {
		return "", v, err
	}
	if err := os.WriteFile(o.report, []byte(full), 0o644); err != nil {
		return "", v, err
	}
	return full, v, nil
}

// upgradeFailure is the error -fail returns for a verdict with findings, or nil.
func upgradeFailure(v Verdict) error {
	if len(v.Stateful) == 0 && len(v.Security) == 0 {
		return nil
	}
	var b bytes.Buffer
	b.WriteString("the upgrade ")
	switch {
	case len(v.Stateful) > 0 && len(v.Security) > 0:
		b.WriteString("replaces or removes stateful resources and changes IAM or security groups")
	case len(v.Stateful) > 0:
		b.WriteString("replaces or removes stateful resources")
	default:
		b.WriteString("changes IAM or security groups")
	}
	b.WriteString(" (see the report and CHANGELOG.md's template impact; rerun without -fail to accept)")
	return errors.New(b.String())
}
