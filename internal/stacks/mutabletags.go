package stacks

import (
	"github.com/stagecoach/stagecoach/internal/imagetags"
)

// mutableTagFilters returns the tag mutability exclusion filters that keep latest,
// every stage tag and every rollback tag movable while every commit tag stays
// immutable: at most five (ECR's limit), exact tags where they fit, else wildcards
// that each hold a character outside [0-9a-f], which no commit tag has (see
// imagetags.Cover). Other tags a build pushes that happen to match a wildcard are
// movable too. nil means no such filters exist (many stage names made only of the
// characters 0-9 and a-f); the repository then has to be fully mutable.
func mutableTagFilters(stages []string) []string {
	filters, ok := imagetags.Cover(imagetags.Moving(stages), imagetags.MaxExclusionFilters)
	if !ok {
		return nil
	}
	return filters
}
