package rehearsal

import (
	"fmt"
	"strings"

	"github.com/stagecoach/stagecoach/internal/awsmodel/ecrtags"
)

// TagMutabilitySetting is the REHEARSAL_ECR_TAG_MUTABILITY value (see
// internal/standin) that makes the stand-ins refuse what ECR refuses for the one
// AWS::ECR::Repository of template: a push or put-image that would move an
// immutable tag.
func TagMutabilitySetting(template map[string]any) (string, error) {
	resources, _ := template["Resources"].(map[string]any)
	var found []ecrtags.Policy
	for _, res := range resources {
		res, _ := res.(map[string]any)
		if res["Type"] != "AWS::ECR::Repository" {
			continue
		}
		props, _ := res["Properties"].(map[string]any)
		found = append(found, ecrtags.FromTemplate(props))
	}
	if len(found) != 1 {
		return "", fmt.Errorf("rehearsal: the template has %d ECR repositories, want 1", len(found))
	}
	p := found[0]
	if p.Mutability == "" {
		p.Mutability = ecrtags.Mutable
	}
	if err := p.Validate(); err != nil {
		return "", fmt.Errorf("rehearsal: the repository's tag mutability: %w", err)
	}
	if len(p.Exclusions) == 0 {
		return p.Mutability, nil
	}
	return p.Mutability + ":" + strings.Join(p.Exclusions, ","), nil
}
