package main

import (
	"fmt"
	"strings"
)

// Marker starts every report: the workflow finds its previous comment by it.
const Marker = "<!-- stagecoach-diff -->"

// detailsMarker separates the summary from the per-stack details.
const detailsMarker = "<!-- stagecoach-diff:details -->"

// Status is what happens to a stack as a whole.
type Status string

// The statuses of a stack.
const (
	StackUnchanged Status = "no change"
	StackModified  Status = "modified"
	StackNew       Status = "new stack"
	StackRemoved   Status = "removed stack"
)

// StackDiff is one stack's part of the report.
type StackDiff struct {
	Name, Selector, Description string
	Status                      Status
	Diff                        Diff

	expected expectation
}

// status is the stack's status as reported: cdk diff may find no difference where
// the files differ (it ignores the CDK's own metadata).
func (s StackDiff) status() Status {
	if s.Status == StackModified && s.Diff.Identical {
		return StackUnchanged
	}
	return s.Status
}

// destructive are the resources CloudFormation deletes or replaces; retained
// resources removed from the stack are listed too, since they stay in the account
// unmanaged.
func (s StackDiff) destructive() []ResourceChange {
	var out []ResourceChange
	for _, r := range s.Diff.Resources {
		if r.Op == OpRemove || r.Replaced() {
			out = append(out, r)
		}
	}
	return out
}

// Report is the comparison of every stack.
type Report struct {
	// Base is the revision as given, BaseCommit its commit, Head what the working
	// tree holds.
	Base, BaseCommit, Head string
	// BaseHasApp is false when the base revision has no CDK app yet.
	BaseHasApp bool
	Stacks     []StackDiff
	// Buildspecs is the Markdown review of the buildspec files the config names
	// that the repository holds (see buildspecs/check), "" when there are none.
	Buildspecs string
}

// notes explain, for the resources that are replaced most often, what a replacement
// means in a stagecoach app.
var notes = map[string]string{
	"AWS::ECS::TaskDefinition":                  "a new task definition revision: the service rolls out new tasks (usual for cpu, memory, env, secrets or port changes)",
	"AWS::ECS::Service":                         "a new ECS service: its tasks stop and start again, expect an outage",
	"AWS::ECS::Cluster":                         "a new cluster: every service in it is replaced",
	"AWS::ECR::Repository":                      "a new repository: images and tags in the old one are no longer used",
	"AWS::S3::Bucket":                           "a new bucket: objects in the old one are no longer used",
	"AWS::Logs::LogGroup":                       "a new log group: earlier logs stay in the old one",
	"AWS::ElasticLoadBalancingV2::LoadBalancer": "a new load balancer: a new DNS name",
	"AWS::ElasticLoadBalancingV2::TargetGroup":  "a new target group: tasks register again",
}

// effect says in words what happens to a destructive change.
func effect(r ResourceChange) string {
	switch {
	case r.Impact == "orphan":
		return "🟠 **removed from the stack**, retained in the account"
	case r.Op == OpRemove:
		return "🔴 **deleted**"
	case r.Impact == "may be replaced":
		return "🔴 **may be replaced**"
	default:
		return "🔴 **replaced**"
	}
}

// Markdown renders the report. With limit > 0, the cdk diff output of each stack is
// shortened so that the whole fits in limit bytes, as a pull-request comment must.
func (r Report) Markdown(limit int) string {
	full := r.render(-1)
	if limit <= 0 || len(full) <= limit {
		return full
	}
	// Share what the summary leaves among the stacks with a diff to show.
	overhead := len(r.render(0))
	shown := 0
	for _, s := range r.Stacks {
		if s.status() != StackUnchanged {
			shown++
		}
	}
	if shown == 0 || overhead >= limit {
		return cut(r.render(0), limit)
	}
	return cut(r.render((limit-overhead)/shown), limit)
}

// render renders the report with each stack's cdk diff output cut to budget bytes
// (-1: whole).
func (r Report) render(budget int) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("%s\n## Infrastructure changes\n\n", Marker)
	base := fmt.Sprintf("`%s`", r.Base)
	if short := shortCommit(r.BaseCommit); !strings.HasPrefix(r.BaseCommit, r.Base) {
		base += fmt.Sprintf(" (%s)", short)
	}
	p("CloudFormation templates of `%s` compared with %s by the pinned `cdk diff`, offline.", r.Head, base)
	if !r.BaseHasApp {
		p(" The base has no CDK app (no cdk.json): every stack is new.")
	}
	p("\n\n")

	var destroy, security []string
	changed := 0
	for _, s := range r.Stacks {
		if s.status() != StackUnchanged {
			changed++
		}
		if len(s.destructive()) > 0 {
			destroy = append(destroy, fmt.Sprintf("`%s`", s.Name))
		}
		if len(s.Diff.Security()) > 0 {
			security = append(security, fmt.Sprintf("`%s`", s.Name))
		}
	}
	switch {
	case len(destroy)+len(security) > 0:
		p("> [!CAUTION]\n")
		if len(destroy) > 0 {
			p("> **🔴 REPLACES OR REMOVES RESOURCES** in %s: see the list below.\n", strings.Join(destroy, ", "))
		}
		if len(destroy) > 0 && len(security) > 0 {
			p(">\n")
		}
		if len(security) > 0 {
			p("> **🔐 CHANGES IAM OR SECURITY GROUPS** in %s: review the tables in the stack's section.\n", strings.Join(security, ", "))
		}
		p("\n")
	case changed == 0:
		p("No stack changes.\n\n")
	default:
		p("No resource is replaced or removed, and no IAM or security group changes.\n\n")
	}

	p("| Stack | Change | Added | Modified | Removed | Flags |\n|---|---|--:|--:|--:|---|\n")
	for _, s := range r.Stacks {
		st := s.status()
		if st == StackUnchanged {
			p("| `%s` | %s | | | | |\n", s.Name, st)
			continue
		}
		counts := map[Op]int{}
		for _, c := range s.Diff.Resources {
			counts[c.Op]++
		}
		name := string(st)
		if st != StackModified {
			name = "**" + name + "**"
		}
		p("| `%s` | %s | %d | %d | %d | %s |\n", s.Name, name, counts[OpAdd]+counts[OpImport], counts[OpUpdate], counts[OpRemove], flags(s))
	}
	p("\n")

	var rows []string
	for _, s := range r.Stacks {
		for _, c := range s.destructive() {
			path := c.Path
			if path == "" {
				path = c.LogicalID
			}
			note := ""
			if c.Replaced() {
				note = notes[c.Type]
			}
			rows = append(rows, fmt.Sprintf("| `%s` | `%s` | `%s` | %s | %s |", s.Name, path, c.Type, effect(c), note))
		}
	}
	if len(rows) > 0 {
		p("### 🔴 Replaced or removed resources\n\n| Stack | Resource | Type | Effect | Note |\n|---|---|---|---|---|\n%s\n\n", strings.Join(rows, "\n"))
	}

	if r.Buildspecs != "" {
		p("%s\n", r.Buildspecs)
	}

	p("%s\n", detailsMarker)
	for _, s := range r.Stacks {
		st := s.status()
		p("### `%s`: %s\n\n", s.Name, st)
		if s.Description != "" {
			p("_%s_\n\n", s.Description)
		}
		if st == StackUnchanged {
			p("No differences.\n\n")
			continue
		}
		if f := flags(s); f != "" {
			p("%s\n\n", f)
		}
		text := s.Diff.Text
		lines := strings.Count(text, "\n") + 1
		summary := fmt.Sprintf("cdk diff (%d lines)", lines)
		if budget >= 0 && len(text) > budget {
			text = shorten(s.Diff.compact(), budget)
			summary = fmt.Sprintf("cdk diff (%d lines, shortened to the changed resources)", lines)
		}
		f := fence(text)
		p("<details><summary>%s</summary>\n\n%s\n%s\n%s\n\n</details>\n\n", summary, f, text, f)
	}
	return b.String()
}

// flags sums up what needs a reviewer's attention in one stack.
func flags(s StackDiff) string {
	var replaced, deleted, orphaned int
	for _, c := range s.destructive() {
		switch {
		case c.Replaced():
			replaced++
		case c.Impact == "orphan":
			orphaned++
		default:
			deleted++
		}
	}
	var out []string
	if s.status() == StackRemoved {
		out = append(out, "🔴 **STACK DELETED**")
	}
	if replaced > 0 {
		out = append(out, fmt.Sprintf("🔴 **%d REPLACED**", replaced))
	}
	if deleted > 0 {
		out = append(out, fmt.Sprintf("🔴 **%d DELETED**", deleted))
	}
	if orphaned > 0 {
		out = append(out, fmt.Sprintf("🟠 %d retained, no longer managed", orphaned))
	}
	if sec := s.Diff.Security(); len(sec) > 0 {
		out = append(out, "🔐 **"+strings.ToUpper(strings.Join(sec, ", "))+"**")
	}
	return strings.Join(out, " · ")
}

// fence is a code fence longer than any run of backticks in text (a buildspec or a
// variable may hold some), so text cannot end its code block.
func fence(text string) string {
	f := "```"
	for strings.Contains(text, f) {
		f += "`"
	}
	return f
}

// compact is the short form of a diff for a comment: the resource lines, without
// the property changes and the IAM and security group tables.
func (d Diff) compact() string {
	lines := []string{"Resources (property changes and IAM or security group tables: see the full report)"}
	for _, c := range d.Resources {
		lines = append(lines, c.String())
	}
	return strings.Join(lines, "\n")
}

// shorten cuts text to at most budget bytes at a line boundary and says how much is
// left out.
func shorten(text string, budget int) string {
	if len(text) <= budget {
		return text
	}
	const note = "\n… %d more lines: see the full report (make diff writes it to cdk.out/diff.md; in CI, the run's summary)"
	keep := max(budget-len(note)-10, 0)
	i := strings.LastIndex(text[:keep], "\n")
	if i < 0 {
		i = 0
	}
	return text[:i] + fmt.Sprintf(note, strings.Count(text[i:], "\n"))
}

// cut is the last resort when even the summary does not fit.
func cut(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	const note = "\n\n… the report is too long for a comment: see the run's summary.\n"
	i := strings.LastIndex(s[:limit-len(note)], "\n")
	return s[:i] + note
}

func shortCommit(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
