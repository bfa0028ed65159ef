// Package ecrtags models ECR's image tag mutability: which pushes of a tag ECR refuses.
//
// It follows the Amazon ECR User Guide, "Preventing image tags from being overwritten in
// Amazon ECR", and the API reference for PutImage and ImageTagMutabilityExclusionFilter:
//
//   - MUTABLE: any tag may be moved to another image.
//   - IMMUTABLE: once a tag exists in the repository, no push may put it on another
//     image. docker push fails with "tag invalid: The image tag 'T' already exists in the
//     'R' repository and cannot be overwritten because the tag is immutable."; PutImage
//     fails with ImageTagAlreadyExistsException.
//   - IMMUTABLE_WITH_EXCLUSION: as IMMUTABLE, except tags matching one of the exclusion
//     filters, which stay mutable. MUTABLE_WITH_EXCLUSION: as MUTABLE, except tags
//     matching a filter, which are immutable.
//   - A filter is a WILDCARD pattern of [0-9a-zA-Z._*-], 1–128 characters, in which "*"
//     matches any run of characters (none included); at most five filters.
//   - PutImage of the manifest a tag already names fails with ImageAlreadyExistsException,
//     whatever the mutability (nothing would change). A docker push (a registry manifest
//     PUT) of an existing immutable tag is refused even when it names the same image:
//     the registry API does not compare first (reported by users of docker, buildx and
//     kaniko against ECR).
//
// Not modelled: registry-level repository creation templates, and pull-through cache
// repositories (their tags are always mutable).
package ecrtags

import (
	"fmt"
	"regexp"
	"strings"
)

// The mutability settings ECR accepts (AWS::ECR::Repository ImageTagMutability).
const (
	Mutable                = "MUTABLE"
	Immutable              = "IMMUTABLE"
	ImmutableWithExclusion = "IMMUTABLE_WITH_EXCLUSION"
	MutableWithExclusion   = "MUTABLE_WITH_EXCLUSION"
)

// MaxFilters is how many exclusion filters ECR accepts on one repository.
const MaxFilters = 5

var filterPattern = regexp.MustCompile(`^[0-9a-zA-Z._*-]{1,128}$`)

// Policy is a repository's tag mutability setting.
type Policy struct {
	// Mutability is one of the four settings; empty means MUTABLE (ECR's default).
	Mutability string
	// Exclusions are the WILDCARD filters of the *_WITH_EXCLUSION settings.
	Exclusions []string
}

// Validate reports a setting ECR would refuse at CreateRepository or
// PutImageTagMutability.
func (p Policy) Validate() error {
	switch p.Mutability {
	case "", Mutable, Immutable:
		if len(p.Exclusions) > 0 {
			return fmt.Errorf("exclusion filters need %s or %s, not %q", ImmutableWithExclusion, MutableWithExclusion, p.Mutability)
		}
	case ImmutableWithExclusion, MutableWithExclusion:
		if len(p.Exclusions) == 0 || len(p.Exclusions) > MaxFilters {
			return fmt.Errorf("%s takes 1 to %d exclusion filters, not %d", p.Mutability, MaxFilters, len(p.Exclusions))
		}
	default:
		return fmt.Errorf("unknown tag mutability %q", p.Mutability)
	}
	for _, f := range p.Exclusions {
		if !filterPattern.MatchString(f) {
			return fmt.Errorf("exclusion filter %q does not match %s", f, filterPattern)
		}
	}
	return nil
}

// Immutable reports whether tag, once it exists, can no longer be moved.
func (p Policy) Immutable(tag string) bool {
	switch p.Mutability {
	case Immutable:
		return true
	case ImmutableWithExclusion:
		return !p.excluded(tag)
	case MutableWithExclusion:
		return p.excluded(tag)
	default:
		return false
	}
}

func (p Policy) excluded(tag string) bool {
	for _, f := range p.Exclusions {
		if Match(f, tag) {
			return true
		}
	}
	return false
}

// Match reports whether a WILDCARD filter matches tag: "*" matches any run of
// characters, every other character itself (case-sensitively).
func Match(filter, tag string) bool {
	parts := strings.Split(filter, "*")
	if len(parts) == 1 {
		return filter == tag
	}
	if !strings.HasPrefix(tag, parts[0]) {
		return false
	}
	rest := tag[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(rest, mid)
		if i < 0 {
			return false
		}
		rest = rest[i+len(mid):]
	}
	return len(rest) >= len(last) && strings.HasSuffix(rest, last)
}

// RefusedError is ECR refusing to move an immutable tag. Its message is ECR's.
type RefusedError struct {
	// Code is the API error code: "ImageTagAlreadyExistsException" for PutImage,
	// "TAG_INVALID" for a registry push.
	Code                 string
	Repository, Tag      string
	SameImage, ViaPutAPI bool
}

func (e *RefusedError) Error() string {
	if e.ViaPutAPI {
		return fmt.Sprintf("The image with tag '%s' already exists in the repository with name '%s' and cannot be overwritten because the tag is immutable.", e.Tag, e.Repository)
	}
	return fmt.Sprintf("tag invalid: The image tag '%s' already exists in the '%s' repository and cannot be overwritten because the tag is immutable.", e.Tag, e.Repository)
}

// AlreadyExistsError is PutImage's answer when the tag already names that very image.
type AlreadyExistsError struct{ Repository, Tag, Digest string }

func (e *AlreadyExistsError) Error() string {
	return fmt.Sprintf("Image with digest '%s' and tag '%s' already exists in the repository with name '%s'", e.Digest, e.Tag, e.Repository)
}

// PutImage decides an API PutImage of digest under tag, where current is the digest the
// tag names now ("" if the tag does not exist). nil means ECR accepts it.
func (p Policy) PutImage(repository, tag, current, digest string) error {
	switch {
	case current == "":
		return nil
	case current == digest:
		return &AlreadyExistsError{Repository: repository, Tag: tag, Digest: digest}
	case p.Immutable(tag):
		return &RefusedError{Code: "ImageTagAlreadyExistsException", Repository: repository, Tag: tag, ViaPutAPI: true}
	}
	return nil
}

// Push decides a registry push (docker push, crane, buildx) of digest under tag, where
// current is the digest the tag names now ("" if none). nil means ECR accepts it.
func (p Policy) Push(repository, tag, current, digest string) error {
	if current != "" && p.Immutable(tag) {
		return &RefusedError{Code: "TAG_INVALID", Repository: repository, Tag: tag, SameImage: current == digest}
	}
	return nil
}

// FromTemplate reads the policy of an AWS::ECR::Repository's Properties as synthesized.
func FromTemplate(properties map[string]any) Policy {
	p := Policy{}
	if m, ok := properties["ImageTagMutability"].(string); ok {
		p.Mutability = m
	}
	if fs, ok := properties["ImageTagMutabilityExclusionFilters"].([]any); ok {
		for _, f := range fs {
			if m, ok := f.(map[string]any); ok {
				if v, ok := m["ImageTagMutabilityExclusionFilterValue"].(string); ok {
					p.Exclusions = append(p.Exclusions, v)
				}
			}
		}
	}
	return p
}
