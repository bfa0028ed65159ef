package standin

import "strings"

// regionalMissing tells whether repo does not exist in region although it exists in
// the home one: a stage stack that creates a region's repositories may deploy after the
// pipeline's first release there. REHEARSAL_ECR_MISSING_<REGION> (e.g.
// REHEARSAL_ECR_MISSING_EU_WEST_1) lists such repositories, comma-separated.
func regionalMissing(getenv func(string) string, region, repo string) bool {
	key := "REHEARSAL_ECR_MISSING_" + strings.ToUpper(strings.ReplaceAll(region, "-", "_"))
	for _, r := range strings.Split(getenv(key), ",") {
		if strings.TrimSpace(r) == repo {
			return true
		}
	}
	return false
}
