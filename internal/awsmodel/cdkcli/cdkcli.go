// Package cdkcli models which stacks the AWS CDK CLI acts on when given stack names:
// what `cdk destroy STACK` deletes and what `cdk deploy STACK` deploys, read from the
// cloud assembly's manifest (cdk.out/manifest.json) the app synthesizes.
//
// It follows the CLI's own source, aws-cdk 2.1148.1 as package.json pins it
// (node_modules/aws-cdk/lib/cli/cli.js and lib/index.js, from github.com/aws/aws-cdk-cli):
//
//   - Stacks are named by patterns matched against each stack artifact's ID (its
//     display name), "*" matching any run of characters; --all selects every stack.
//   - `cdk destroy` extends the selection downstream unless --exclusively is given
//     (cli.js: expandDown): every stack whose manifest dependencies include a selected
//     stack is selected too, repeatedly, until nothing changes (includeDownstreamStacks).
//     The CLI prints them as "Including depending stacks".
//   - `cdk deploy` extends it upstream unless --exclusively is given (expandUp): every
//     stack a selected stack depends on is selected too (includeUpstreamStacks), and
//     stacks deploy after the stacks they depend on.
//   - Dependencies on artifacts that are not stacks (asset manifests) select nothing.
//
// Not modelled: nested assemblies (CDK stages), and the CLI's refusal of patterns that
// match nothing (destroy only warns).
package cdkcli

import (
	"encoding/json"
	"fmt"
	"path"
	"sort"
)

// StackType is the artifact type of a CloudFormation stack in the manifest.
const StackType = "aws:cloudformation:stack"

// Manifest is the part of a cloud assembly manifest the selection reads.
type Manifest struct {
	Artifacts map[string]Artifact `json:"artifacts"`
}

// Artifact is one entry of the manifest's artifacts.
type Artifact struct {
	Type         string   `json:"type"`
	Dependencies []string `json:"dependencies"`
	DisplayName  string   `json:"displayName"`
}

// Read parses manifest.json.
func Read(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest.json: %v", err)
	}
	return &m, nil
}

// Stacks are the IDs of the stack artifacts, sorted.
func (m *Manifest) Stacks() []string {
	var out []string
	for id, a := range m.Artifacts {
		if a.Type == StackType {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// DependsOn are the stacks stack depends on directly.
func (m *Manifest) DependsOn(stack string) []string {
	var out []string
	for _, d := range m.Artifacts[stack].Dependencies {
		if m.Artifacts[d].Type == StackType {
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out
}

// Destroy is what `cdk destroy PATTERNS…` (with --exclusively when exclusively)
// deletes, sorted.
func (m *Manifest) Destroy(patterns []string, exclusively bool) ([]string, error) {
	selected, err := m.match(patterns)
	if err != nil || exclusively {
		return keys(selected), err
	}
	for changed := true; changed; {
		changed = false
		for _, id := range m.Stacks() {
			if selected[id] {
				continue
			}
			for _, d := range m.DependsOn(id) {
				if selected[d] {
					selected[id], changed = true, true
					break
				}
			}
		}
	}
	return keys(selected), nil
}

// Deploy is what `cdk deploy PATTERNS…` deploys, sorted.
func (m *Manifest) Deploy(patterns []string, exclusively bool) ([]string, error) {
	selected, err := m.match(patterns)
	if err != nil || exclusively {
		return keys(selected), err
	}
	for changed := true; changed; {
		changed = false
		for id := range selected {
			for _, d := range m.DependsOn(id) {
				if !selected[d] {
					selected[d], changed = true, true
				}
			}
		}
	}
	return keys(selected), nil
}

func (m *Manifest) match(patterns []string) (map[string]bool, error) {
	selected := map[string]bool{}
	for _, p := range patterns {
		for _, id := range m.Stacks() {
			name := id
			if d := m.Artifacts[id].DisplayName; d != "" {
				name = d
			}
			ok, err := path.Match(p, name)
			if err != nil {
				return nil, fmt.Errorf("pattern %q: %v", p, err)
			}
			if ok {
				selected[id] = true
			}
		}
	}
	return selected, nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
