package ecrtags

import (
	"errors"
	"testing"
)

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		filter, tag string
		want        bool
	}{
		{"prod", "prod", true},
		{"prod", "prod2", false},
		{"dev-*", "dev-", true},
		{"dev-*", "dev-1", true},
		{"dev-*", "xdev-1", false},
		{"*-cache", "build-cache", true},
		{"*-cache", "-cache", true},
		{"a*b*c", "abc", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "acb", false},
		{"*", "anything", true},
		{"st*g*", "staging", true},
		{"Prod", "prod", false},
		{"a*a", "a", false},
	} {
		if got := Match(tc.filter, tc.tag); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.filter, tc.tag, got, tc.want)
		}
	}
}

func TestPolicy(t *testing.T) {
	p := Policy{Mutability: ImmutableWithExclusion, Exclusions: []string{"latest", "dev", "prod"}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	var refused *RefusedError
	var exists *AlreadyExistsError
	// A commit tag: new is fine, moving it is refused, re-pushing the same image by the
	// registry API is refused too, by PutImage it is "already exists".
	if err := p.Push("acme/web", "abc123", "", "sha256:1"); err != nil {
		t.Errorf("new tag refused: %v", err)
	}
	if err := p.Push("acme/web", "abc123", "sha256:1", "sha256:2"); !errors.As(err, &refused) || refused.Code != "TAG_INVALID" {
		t.Errorf("moving an immutable tag by push: %v", err)
	}
	if err := p.Push("acme/web", "abc123", "sha256:1", "sha256:1"); !errors.As(err, &refused) || !refused.SameImage {
		t.Errorf("re-pushing an immutable tag: %v", err)
	}
	if err := p.PutImage("acme/web", "abc123", "sha256:1", "sha256:2"); !errors.As(err, &refused) || refused.Code != "ImageTagAlreadyExistsException" {
		t.Errorf("moving an immutable tag by PutImage: %v", err)
	}
	if err := p.PutImage("acme/web", "prod", "sha256:1", "sha256:1"); !errors.As(err, &exists) {
		t.Errorf("PutImage of the same image: %v", err)
	}
	// Excluded tags move freely.
	for _, tag := range []string{"latest", "dev", "prod"} {
		if err := p.Push("acme/web", tag, "sha256:1", "sha256:2"); err != nil {
			t.Errorf("%s: %v", tag, err)
		}
		if err := p.PutImage("acme/web", tag, "sha256:1", "sha256:2"); err != nil {
			t.Errorf("%s: %v", tag, err)
		}
	}
	if (Policy{}).Immutable("x") || !(Policy{Mutability: Immutable}).Immutable("latest") {
		t.Error("MUTABLE / IMMUTABLE")
	}
	if !(Policy{Mutability: MutableWithExclusion, Exclusions: []string{"v*"}}).Immutable("v1") {
		t.Error("MUTABLE_WITH_EXCLUSION: a matching tag is immutable")
	}
}

func TestValidate(t *testing.T) {
	for _, p := range []Policy{
		{Mutability: "SOMETIMES"},
		{Mutability: Immutable, Exclusions: []string{"x"}},
		{Mutability: ImmutableWithExclusion},
		{Mutability: ImmutableWithExclusion, Exclusions: []string{"a", "b", "c", "d", "e", "f"}},
		{Mutability: ImmutableWithExclusion, Exclusions: []string{"a/b"}},
	} {
		if p.Validate() == nil {
			t.Errorf("%+v: accepted, ECR refuses it", p)
		}
	}
}

func TestFromTemplate(t *testing.T) {
	p := FromTemplate(map[string]any{
		"ImageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
		"ImageTagMutabilityExclusionFilters": []any{
			map[string]any{"ImageTagMutabilityExclusionFilterType": "WILDCARD", "ImageTagMutabilityExclusionFilterValue": "latest"},
			map[string]any{"ImageTagMutabilityExclusionFilterType": "WILDCARD", "ImageTagMutabilityExclusionFilterValue": "dev"},
		},
	})
	if p.Mutability != ImmutableWithExclusion || len(p.Exclusions) != 2 || p.Exclusions[1] != "dev" {
		t.Errorf("FromTemplate = %+v", p)
	}
}
