package standin

import (
	"context"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/stagecoach/stagecoach/awsmodel/ecrtags"
)

// tagPolicy is the tag mutability of the repositories that play ECR, from
// REHEARSAL_ECR_TAG_MUTABILITY (MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION,
// MUTABLE_WITH_EXCLUSION) and REHEARSAL_ECR_TAG_EXCLUSIONS (the wildcard filters,
// comma-separated). Unset, tags are mutable, as ECR's default is.
//
// This is the smallest hook that lets a rehearsal refuse what ECR refuses; a fuller
// model of per-repository settings may replace it.
func tagPolicy(getenv func(string) string) ecrtags.Policy {
	p := ecrtags.Policy{Mutability: getenv("REHEARSAL_ECR_TAG_MUTABILITY")}
	for _, f := range strings.Split(getenv("REHEARSAL_ECR_TAG_EXCLUSIONS"), ",") {
		if f = strings.TrimSpace(f); f != "" {
			p.Exclusions = append(p.Exclusions, f)
		}
	}
	return p
}

// refusePush fails a docker push of digest to ref as ECR does when the tag exists and
// is immutable: a registry push is refused even when the tag names that very image.
func refusePush(ctx context.Context, sio IO, host string, ref name.Reference, digest string) error {
	tag, ok := ref.(name.Tag)
	if !ok {
		return nil
	}
	if _, ecr := ecrRegion(sio, host); !ecr {
		return nil
	}
	current := ""
	if desc, err := remote.Head(tag, remote.WithContext(ctx)); err == nil {
		current = desc.Digest.String()
	}
	if err := tagPolicy(sio.Getenv).Push(tag.RepositoryStr(), tag.TagStr(), current, digest); err != nil {
		return fail(dockerFailed, "%v", err)
	}
	return nil
}
