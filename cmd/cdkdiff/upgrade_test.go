package main

import (
	"strings"
	"testing"
)

// TestJudge: an upgrade that only rolls task definitions has no stateful
// replacement; one that renames a bucket's construct ID (removal of the old logical
// ID, retained or not) or replaces a repository has; IAM changes are listed apart.
func TestJudge(t *testing.T) {
	parse := func(out string) Diff {
		d, err := ParseDiff(out)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	rolling := []StackDiff{{Name: "shop-dev", Status: StackModified, Diff: parse(
		"Stack shop-dev\nResources\n[~] AWS::ECS::TaskDefinition Web/Task WebTask1234 replace\n")}}
	v := Judge(rolling)
	if len(v.Stateful) != 0 || len(v.Security) != 0 || !strings.HasPrefix(v.Text(), "no stateful replacement") {
		t.Errorf("a task definition roll: %+v\n%s", v, v.Text())
	}
	if err := upgradeFailure(v); err != nil {
		t.Errorf("-fail on a task definition roll: %v", err)
	}

	renamed := []StackDiff{{Name: "shop-web-pipeline", Status: StackModified, Diff: parse(
		"Stack shop-web-pipeline\nIAM Statement Changes\n┌───┐\n└───┘\nResources\n" +
			"[-] AWS::S3::Bucket AccessLogs AccessLogs1234 orphan\n" +
			"[+] AWS::S3::Bucket AccessLog AccessLog5678\n" +
			"[~] AWS::ECR::Repository Repository Repository22E5 replace\n")}}
	v = Judge(renamed)
	if len(v.Stateful) != 2 || !strings.Contains(v.Text(), "2 stateful replacement(s) or removal(s)") ||
		!strings.Contains(v.Text(), "shop-web-pipeline: IAM Statement Changes") {
		t.Errorf("a renamed bucket and a replaced repository: %+v\n%s", v, v.Text())
	}
	if err := upgradeFailure(v); err == nil || !strings.Contains(err.Error(), "replaces or removes stateful resources and changes IAM") {
		t.Errorf("-fail: %v", err)
	}
}

func TestWithModfile(t *testing.T) {
	env := withModfile([]string{"A=1", "GOFLAGS=-mod=mod -modfile=/old.mod"}, "/new.mod")
	if env[1] != "GOFLAGS=-mod=mod -modfile=/new.mod" {
		t.Errorf("GOFLAGS: %q", env[1])
	}
	if env := withModfile([]string{"A=1"}, "/new.mod"); env[1] != "GOFLAGS=-modfile=/new.mod" {
		t.Errorf("no GOFLAGS before: %q", env)
	}
}
