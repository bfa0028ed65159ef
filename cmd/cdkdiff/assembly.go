package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Stack is one stack of a cloud assembly.
type Stack struct {
	// Selector is the stack's hierarchical ID, which `cdk diff` selects it by and
	// which pairs a stack of the base with one of the working tree.
	Selector string
	// Name is its CloudFormation stack name.
	Name string
	// Template is the path of its template file.
	Template string
}

// readAssembly lists the stacks of the cloud assembly in dir, in the order the app
// defined them, nested assemblies (CDK Stages) included.
func readAssembly(dir string) ([]Stack, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("read the cloud assembly: %w", err)
	}
	var manifest struct {
		Artifacts json.RawMessage `json:"artifacts"`
	}
	if err := json.Unmarshal(b, &manifest); err != nil {
		return nil, fmt.Errorf("%s/manifest.json: %w", dir, err)
	}
	type artifact struct {
		Type        string `json:"type"`
		DisplayName string `json:"displayName"`
		Properties  struct {
			TemplateFile  string `json:"templateFile"`
			StackName     string `json:"stackName"`
			DirectoryName string `json:"directoryName"`
		} `json:"properties"`
	}
	var stacks []Stack
	err = eachInOrder(manifest.Artifacts, func(id string, raw json.RawMessage) error {
		var a artifact
		if err := json.Unmarshal(raw, &a); err != nil {
			return fmt.Errorf("%s/manifest.json: artifact %s: %w", dir, id, err)
		}
		switch a.Type {
		case "aws:cloudformation:stack":
			st := Stack{Selector: id, Name: id, Template: filepath.Join(dir, a.Properties.TemplateFile)}
			if a.DisplayName != "" {
				st.Selector = a.DisplayName
			}
			if a.Properties.StackName != "" {
				st.Name = a.Properties.StackName
			}
			stacks = append(stacks, st)
		case "cdk:cloud-assembly":
			nested, err := readAssembly(filepath.Join(dir, a.Properties.DirectoryName))
			if err != nil {
				return err
			}
			stacks = append(stacks, nested...)
		}
		return nil
	})
	return stacks, err
}

// eachInOrder calls f for every member of a JSON object, in the order of the file.
func eachInOrder(object json.RawMessage, f func(key string, value json.RawMessage) error) error {
	if len(object) == 0 {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(object))
	if _, err := d.Token(); err != nil { // {
		return err
	}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return err
		}
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return err
		}
		if err := f(t.(string), v); err != nil {
			return err
		}
	}
	return nil
}

// Template is the part of a CloudFormation template the report reads.
type Template struct {
	Description string              `json:"Description"`
	Resources   map[string]Resource `json:"Resources"`
}

// Resource is one resource of a template.
type Resource struct {
	Type           string         `json:"Type"`
	DeletionPolicy string         `json:"DeletionPolicy"`
	Metadata       map[string]any `json:"Metadata"`
}

// path is the resource's construct path as cdk diff shows it: without the stack's
// name, and without a trailing /Resource or /Default.
func (r Resource) path() string {
	p, _ := r.Metadata["aws:cdk:path"].(string)
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	if len(parts) < 2 {
		return ""
	}
	parts = parts[1:]
	if last := parts[len(parts)-1]; len(parts) > 1 && (last == "Resource" || last == "Default") {
		parts = parts[:len(parts)-1]
	}
	return strings.Join(parts, "/")
}

// retained reports whether deleting the resource from its stack leaves it in the account.
func (r Resource) retained() bool {
	return r.DeletionPolicy == "Retain" || r.DeletionPolicy == "RetainExceptOnCreate"
}

// hidden are resource types cdk diff leaves out of its report unless --strict.
var hidden = map[string]bool{"AWS::CDK::Metadata": true}

func readTemplate(path string) (Template, any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Template{}, nil, err
	}
	var t Template
	var whole any
	if err := json.Unmarshal(b, &t); err != nil {
		return Template{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := json.Unmarshal(b, &whole); err != nil {
		return Template{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, whole, nil
}

// differ runs cdk diff for a stack of the working tree against a base template file
// ("" for a stack the base does not have).
type differ func(ctx context.Context, st Stack, baseTemplate string) (string, error)

// compare pairs the stacks of the working tree with those of the base and diffs each
// pair, at most jobs at once. Stacks come in the working tree's order, then the
// stacks only the base has.
func compare(ctx context.Context, current, base []Stack, diff differ, jobs int) ([]StackDiff, error) {
	baseBySelector := map[string]Stack{}
	for _, st := range base {
		baseBySelector[st.Selector] = st
	}
	var out []StackDiff
	type job struct {
		i      int
		st     Stack
		before string
	}
	var jobsToRun []job
	for _, st := range current {
		cur, curWhole, err := readTemplate(st.Template)
		if err != nil {
			return nil, err
		}
		sd := StackDiff{Name: st.Name, Selector: st.Selector, Description: cur.Description, Status: StackNew}
		b, ok := baseBySelector[st.Selector]
		var old Template
		if ok {
			delete(baseBySelector, st.Selector)
			var oldWhole any
			if old, oldWhole, err = readTemplate(b.Template); err != nil {
				return nil, err
			}
			sd.Status = StackModified
			if reflect.DeepEqual(curWhole, oldWhole) {
				sd.Status = StackUnchanged
			}
		}
		sd.expected = expectChanges(old, cur)
		out = append(out, sd)
		if sd.Status != StackUnchanged {
			jobsToRun = append(jobsToRun, job{len(out) - 1, st, b.Template})
		}
	}
	for _, st := range base {
		if _, ok := baseBySelector[st.Selector]; !ok {
			continue
		}
		old, _, err := readTemplate(st.Template)
		if err != nil {
			return nil, err
		}
		out = append(out, removedStack(st, old))
	}

	// cdk diff starts a Node process that loads the whole CLI (about 2 s of CPU):
	// run several.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	sem := make(chan struct{}, jobs)
	for _, j := range jobsToRun {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			text, err := diff(ctx, j.st, j.before)
			if err == nil {
				var d Diff
				d, err = ParseDiff(text)
				if err == nil {
					err = out[j.i].expected.check(d)
				}
				out[j.i].Diff = d
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("stack %s: %w", j.st.Selector, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		sort.Slice(errs, func(a, b int) bool { return errs[a].Error() < errs[b].Error() })
		return nil, errs[0]
	}
	return out, nil
}

// removedStack describes a stack only the base has: deleting it deletes every resource
// it holds, except those it retains.
func removedStack(st Stack, old Template) StackDiff {
	sd := StackDiff{Name: st.Name, Selector: st.Selector, Description: old.Description, Status: StackRemoved}
	ids := make([]string, 0, len(old.Resources))
	for id := range old.Resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var lines []string
	for _, id := range ids {
		r := old.Resources[id]
		if hidden[r.Type] {
			continue
		}
		c := ResourceChange{Op: OpRemove, Type: r.Type, Path: r.path(), LogicalID: id, Impact: "destroy"}
		if r.retained() {
			c.Impact = "orphan"
		}
		sd.Diff.Resources = append(sd.Diff.Resources, c)
		lines = append(lines, c.String())
	}
	sd.Diff.Sections = []string{"Resources"}
	sd.Diff.Text = "Resources\n" + strings.Join(lines, "\n")
	return sd
}

// expectation is what the templates say cdk diff must report about resources. It
// guards the parser: a CLI whose output it misreads must fail the report, not make it
// silently miss a removal.
type expectation struct {
	added, removed []string // logical IDs
}

func expectChanges(old, cur Template) expectation {
	var e expectation
	for id, r := range cur.Resources {
		if _, ok := old.Resources[id]; !ok && !hidden[r.Type] {
			e.added = append(e.added, id)
		}
	}
	for id, r := range old.Resources {
		if _, ok := cur.Resources[id]; !ok && !hidden[r.Type] {
			e.removed = append(e.removed, id)
		}
	}
	sort.Strings(e.added)
	sort.Strings(e.removed)
	return e
}

func (e expectation) check(d Diff) error {
	var added, removed []string
	for _, r := range d.Resources {
		switch r.Op {
		case OpAdd, OpImport:
			added = append(added, r.LogicalID)
		case OpRemove:
			removed = append(removed, r.LogicalID)
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	if !slices.Equal(added, e.added) || !slices.Equal(removed, e.removed) {
		return fmt.Errorf("cdk diff reported %d added and %d removed resources, the templates have %d and %d: "+
			"its output format may have changed (update cmd/cdkdiff/parse.go)\nadded: %v\nremoved: %v",
			len(added), len(removed), len(e.added), len(e.removed), e.added, e.removed)
	}
	return nil
}
