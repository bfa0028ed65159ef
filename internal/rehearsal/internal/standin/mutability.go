package standin

import (
	"context"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/stagecoach/stagecoach/internal/awsmodel/ecrtags"
)

// tagPolicy is the tag mutability of the repositories that play ECR, from
// REHEARSAL_ECR_TAG_MUTABILITY: MUTABILITY[:FILTER,FILTER...], as an
// AWS::ECR::Repository sets it (ImageTagMutability and its exclusion filters), e.g.
// IMMUTABLE_WITH_EXCLUSION:latest,dev,*.previous. Unset: MUTABLE, ECR's default.
// Every repository, home and regional, has the same setting, as stagecoach's
// stacks give them.
func tagPolicy(getenv func(string) string) (ecrtags.Policy, error) {
	v := getenv("REHEARSAL_ECR_TAG_MUTABILITY")
	if v == "" {
		return ecrtags.Policy{Mutability: ecrtags.Mutable}, nil
	}
	m, filters, _ := strings.Cut(v, ":")
	p := ecrtags.Policy{Mutability: m}
	if filters != "" {
		p.Exclusions = strings.Split(filters, ",")
	}
	if err := p.Validate(); err != nil {
		return p, fail(dockerUsage, "rehearsal stand-in: REHEARSAL_ECR_TAG_MUTABILITY=%q: %v", v, err)
	}
	return p, nil
}

// currentDigest is the digest tag names in the registry now, or "" when the tag
// does not exist there.
func currentDigest(ctx context.Context, tag name.Tag) string {
	desc, err := remote.Head(tag, remote.WithContext(ctx))
	if err != nil {
		return ""
	}
	return desc.Digest.String()
}
