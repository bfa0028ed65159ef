package main

import (
	"fmt"
	"strings"
)

// Op is what happens to a resource.
type Op string

// The resource operations cdk diff prints at the start of a line of its Resources
// section.
const (
	OpAdd    Op = "[+]"
	OpUpdate Op = "[~]"
	OpRemove Op = "[-]"
	OpImport Op = "[←]"
)

// ResourceChange is one resource line of cdk diff, e.g.
//
//	[~] AWS::ECS::TaskDefinition Web/Task WebTask30236CB9 replace
type ResourceChange struct {
	Op   Op
	Type string
	// Path is the construct path, without the stack; empty when the template has no
	// path metadata.
	Path      string
	LogicalID string
	// Impact is cdk diff's verdict: "replace", "may be replaced", "destroy" (a removal
	// that deletes), "orphan" (a removal that retains), "import", or "" for an
	// in-place update or a creation.
	Impact string
}

// impacts are the words cdk diff ends a resource line with (aws-cdk's
// cloudformation-diff, formatImpact).
var impacts = []string{"may be replaced", "replace", "destroy", "orphan", "import"}

// Replaced reports whether CloudFormation replaces the resource: a new physical
// resource, and the old one deleted.
func (c ResourceChange) Replaced() bool {
	return c.Impact == "replace" || c.Impact == "may be replaced"
}

// String prints the change as cdk diff does.
func (c ResourceChange) String() string {
	parts := []string{string(c.Op), c.Type}
	if c.Path != "" {
		parts = append(parts, c.Path)
	}
	parts = append(parts, c.LogicalID)
	if c.Impact != "" {
		parts = append(parts, c.Impact)
	}
	return strings.Join(parts, " ")
}

// Diff is what cdk diff reported for one stack.
type Diff struct {
	// Text is the report, without the CLI's "Stack NAME" header and closing count.
	Text string
	// Identical is true when cdk diff found no difference.
	Identical bool
	// Sections are the sections of the report, e.g. "IAM Statement Changes", "Resources".
	Sections []string
	// Resources are the changed resources, in the order printed.
	Resources []ResourceChange
}

// sections are the headings cdk diff prints (aws-cdk's cloudformation-diff, format.ts).
var sections = map[string]bool{
	"Template": true, "Parameters": true, "Metadata": true, "Mappings": true,
	"Conditions": true, "Resources": true, "Outputs": true, "Other Changes": true,
	"IAM Statement Changes": true, "IAM Policy Changes": true,
	"IAM Identity Center Changes": true, "Security Group Changes": true,
}

// Security lists the sections that change who may do what: IAM statements and
// policies, and security group rules.
func (d Diff) Security() []string {
	var out []string
	for _, s := range d.Sections {
		if strings.HasPrefix(s, "IAM ") || s == "Security Group Changes" {
			out = append(out, s)
		}
	}
	return out
}

// ParseDiff reads the output of `cdk diff --no-color` for one stack.
func ParseDiff(out string) (Diff, error) {
	var d Diff
	var kept []string
	section := ""
	started := false
	for _, line := range strings.Split(strings.ReplaceAll(out, "\r\n", "\n"), "\n") {
		switch {
		case !started:
			// Anything before the stack's header is the CLI talking (warnings).
			started = strings.HasPrefix(line, "Stack ")
			continue
		case strings.HasPrefix(line, "✨"):
			// "✨  Number of stacks with differences: N" closes the report.
			started = false
			continue
		case line == "There were no differences":
			d.Identical = true
		case sections[line]:
			section = line
			d.Sections = append(d.Sections, line)
		case section == "Resources" && len(line) > 4 && line[0] == '[':
			c, err := parseResourceLine(line)
			if err != nil {
				return Diff{}, err
			}
			d.Resources = append(d.Resources, c)
		}
		kept = append(kept, line)
	}
	if kept == nil {
		return Diff{}, fmt.Errorf("no report in cdk diff's output:\n%s", lastLines([]byte(out), 20))
	}
	d.Text = strings.TrimSpace(strings.Join(kept, "\n"))
	if d.Identical && len(d.Sections) > 0 {
		return Diff{}, fmt.Errorf("cdk diff reported no differences and differences:\n%s", d.Text)
	}
	return d, nil
}

// parseResourceLine reads "OP TYPE [PATH] LOGICAL_ID [IMPACT] [(OR move …)]". The
// path may contain spaces ("…/SecurityGroup/to web:8000"); the type and the logical
// ID never do.
func parseResourceLine(line string) (ResourceChange, error) {
	var c ResourceChange
	op, rest, _ := strings.Cut(line, " ")
	switch Op(op) {
	case OpAdd, OpUpdate, OpRemove, OpImport:
		c.Op = Op(op)
	default:
		return c, fmt.Errorf("unknown resource line in cdk diff's output: %q", line)
	}
	if i := strings.Index(rest, " (OR move"); i >= 0 {
		rest = rest[:i]
	}
	for _, impact := range impacts {
		if r, ok := strings.CutSuffix(rest, " "+impact); ok {
			c.Impact, rest = impact, r
			break
		}
	}
	fields := strings.Fields(rest)
	if len(fields) < 2 {
		return c, fmt.Errorf("unknown resource line in cdk diff's output: %q", line)
	}
	c.Type = fields[0]
	c.LogicalID = fields[len(fields)-1]
	rest = strings.TrimSpace(strings.TrimPrefix(rest, c.Type))
	c.Path = strings.TrimSpace(strings.TrimSuffix(rest, c.LogicalID))
	return c, nil
}
