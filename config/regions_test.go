package config

import (
	"slices"
	"testing"
)

// TestRegionLists keeps the region lists usable: every code well formed and listed
// once, and every region offering connections a known region, so that a home region
// the validator accepts is one it also knows.
func TestRegionLists(t *testing.T) {
	for name, list := range map[string][]string{"KnownRegions": KnownRegions, "ConnectionRegions": ConnectionRegions} {
		seen := map[string]bool{}
		for _, r := range list {
			if !regionRe.MatchString(r) {
				t.Errorf("%s: %q is not a region code", name, r)
			}
			if seen[r] {
				t.Errorf("%s: %q is listed twice", name, r)
			}
			seen[r] = true
		}
	}
	for _, r := range ConnectionRegions {
		if !slices.Contains(KnownRegions, r) {
			t.Errorf("ConnectionRegions: %q is not in KnownRegions", r)
		}
	}
	// The typo of the issue that started the list, and regions AWS does have.
	c := &Config{}
	for r, want := range map[string]bool{"us-east-9": false, "eu-west-4": false, "us-east-1": true, "ap-east-2": true, "mx-central-1": true, "us-gov-west-1": true} {
		if got := c.knownRegion(r); got != want {
			t.Errorf("knownRegion(%q) = %v, want %v", r, got, want)
		}
	}
}
