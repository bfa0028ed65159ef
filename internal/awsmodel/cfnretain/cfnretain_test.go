package cfnretain

import (
	"errors"
	"testing"
)

func template(resources map[string]map[string]any) map[string]any {
	rs := map[string]any{}
	for id, r := range resources {
		rs[id] = r
	}
	return map[string]any{"Resources": rs}
}

func repo(name, policy string) map[string]any {
	r := map[string]any{"Type": "AWS::ECR::Repository", "Properties": map[string]any{"RepositoryName": name}}
	if policy != "" {
		r["DeletionPolicy"] = policy
	}
	return r
}

func TestRules(t *testing.T) {
	a := NewAccount()
	one := template(map[string]map[string]any{"Repo": repo("acme/web", "Retain"), "Other": repo("acme/tmp", "")})
	if err := a.Deploy("p", "us-east-1", one, Options{}); err != nil {
		t.Fatal(err)
	}
	// Another stack cannot create a name this stack manages, not even by import.
	var exists *ExistsError
	if err := a.Deploy("q", "us-east-1", template(map[string]map[string]any{"R": repo("acme/web", "Retain")}), Options{ImportExisting: true}); !errors.As(err, &exists) || exists.Owner != "p" {
		t.Fatalf("creating a managed name: %v", err)
	}
	// The same name in another region is another resource.
	if err := a.Deploy("q", "eu-west-1", template(map[string]map[string]any{"R": repo("acme/web", "Retain")}), Options{}); err != nil {
		t.Fatal(err)
	}
	// Delete: the retained repository stays, unmanaged; the other is gone.
	a.Delete("p")
	if owner, ok := a.Exists("us-east-1", "AWS::ECR::Repository", "acme/web"); !ok || owner != "" {
		t.Errorf("retained repository: owner %q, exists %v", owner, ok)
	}
	if _, ok := a.Exists("us-east-1", "AWS::ECR::Repository", "acme/tmp"); ok {
		t.Error("a repository without DeletionPolicy survived its stack")
	}
	// Re-create: refused without import, adopted with it.
	if err := a.Deploy("p", "us-east-1", one, Options{}); !errors.As(err, &exists) || exists.Owner != "" || exists.Resource.Name != "acme/web" {
		t.Fatalf("re-create without import: %v", err)
	}
	if _, ok := a.Exists("us-east-1", "AWS::ECR::Repository", "acme/tmp"); ok {
		t.Error("the failed create did not roll back what it created")
	}
	if err := a.Deploy("p", "us-east-1", one, Options{ImportExisting: true}); err != nil {
		t.Fatalf("re-create with import: %v", err)
	}
	if owner, _ := a.Exists("us-east-1", "AWS::ECR::Repository", "acme/web"); owner != "p" {
		t.Errorf("imported repository owned by %q", owner)
	}
	// A name cannot move to another logical ID in one update.
	moved := template(map[string]map[string]any{"Moved": repo("acme/web", "Retain"), "Other": repo("acme/tmp", "")})
	if err := a.Deploy("p", "us-east-1", moved, Options{ImportExisting: true}); !errors.As(err, &exists) || exists.Owner != "p" {
		t.Fatalf("moving a name within a stack: %v", err)
	}
	// Removing a retained resource from a template leaves it behind, unmanaged.
	if err := a.Deploy("p", "us-east-1", template(map[string]map[string]any{"Other": repo("acme/tmp", "")}), Options{}); err != nil {
		t.Fatal(err)
	}
	if owner, ok := a.Exists("us-east-1", "AWS::ECR::Repository", "acme/web"); !ok || owner != "" {
		t.Errorf("removed retained repository: owner %q, exists %v", owner, ok)
	}
	// Import needs DeletionPolicy Retain or RetainExceptOnCreate.
	a.Delete("p")
	b := NewAccount()
	_ = b.Deploy("x", "us-east-1", template(map[string]map[string]any{"R": repo("n", "Retain")}), Options{})
	b.Delete("x")
	if err := b.Deploy("y", "us-east-1", template(map[string]map[string]any{"R": repo("n", "")}), Options{ImportExisting: true}); !errors.As(err, &exists) {
		t.Errorf("import of a resource without Retain: %v", err)
	}
	if err := b.Deploy("y", "us-east-1", template(map[string]map[string]any{"R": repo("n", "RetainExceptOnCreate")}), Options{ImportExisting: true}); err != nil {
		t.Errorf("import with RetainExceptOnCreate: %v", err)
	}
}

func TestFailedCreateLeavesRetainedResources(t *testing.T) {
	a := NewAccount()
	if err := a.Deploy("old", "us-east-1", template(map[string]map[string]any{"B": repo("b", "Retain")}), Options{}); err != nil {
		t.Fatal(err)
	}
	// A creates first (logical IDs in order), then B collides: A stays behind.
	err := a.Deploy("new", "us-east-1", template(map[string]map[string]any{"A": repo("a", "Retain"), "B": repo("b", "Retain")}), Options{})
	if err == nil {
		t.Fatal("no collision")
	}
	if owner, ok := a.Exists("us-east-1", "AWS::ECR::Repository", "a"); !ok || owner != "" {
		t.Errorf("the retained resource of the failed create: owner %q, exists %v", owner, ok)
	}
	if len(a.Stacks()) != 1 {
		t.Errorf("stacks %v", a.Stacks())
	}
}
