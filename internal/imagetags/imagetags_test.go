package imagetags

import (
	"fmt"
	"math/rand"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stagecoach/stagecoach/internal/awsmodel/ecrtags"
)

func TestCoverExamples(t *testing.T) {
	for _, tc := range []struct {
		stages []string
		want   []string // nil: impossible
	}{
		{[]string{"dev", "staging", "prod"}, []string{"latest", "dev", "staging", "prod", "*.previous"}},
		{[]string{"dev", "qa", "staging", "prod"}, []string{"*st*", "dev", "qa", "prod", "*.previous"}},
		{[]string{"dev", "test", "staging", "prod"}, []string{"*test", "dev", "staging", "prod", "*.previous"}},
		// Hex-only names need exact filters; with four of them, latest and the
		// rollback tags share the one place left, under the only character they
		// have in common: broad, but commit tags stay immutable.
		{[]string{"beef", "cafe", "a1", "dead"}, []string{"*s*", "beef", "cafe", "a1", "dead"}},
		{[]string{"beef", "cafe", "a1", "dead", "add"}, nil},
		{[]string{"beef", "cafe", "a1"}, []string{"latest", "beef", "cafe", "a1", "*.previous"}},
		{[]string{"prod-us", "prod-eu", "prod-ap", "staging-us", "staging-eu", "dev"}, []string{"latest", "prod-*", "staging-*", "dev", "*.previous"}},
		// A wildcard takes in every tag it already matches: no filter is redundant.
		{[]string{"stage0", "stage1", "stage2", "stage3", "stage4", "stage5"}, []string{"latest", "stage*"}},
		// "*ev*" covers dev and every rollback tag (previous).
		{[]string{"dev", "qa", "uat", "staging", "preprod", "prod"}, []string{"*st*", "*ev*", "qa", "uat", "pr*od"}},
	} {
		t.Run(strings.Join(tc.stages, ","), func(t *testing.T) {
			got, ok := Cover(Moving(tc.stages), MaxExclusionFilters)
			if len(tc.want) == 0 {
				if ok {
					t.Errorf("Cover = %q, want impossible", got)
				}
				return
			}
			if !ok || !slices.Equal(got, tc.want) {
				t.Errorf("Cover = %q, %v, want %q", got, ok, tc.want)
			}
		})
	}
}

var stageName = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// randomStage makes a stage name as config accepts them, often made only of
// hexadecimal characters, often sharing parts with others.
func randomStage(r *rand.Rand) string {
	parts := []string{"dev", "qa", "test", "uat", "staging", "stage", "prod", "preprod", "eu", "us", "ap", "beef", "cafe", "a1", "dead", "b2", "face", "sandbox", "demo", "x"}
	for {
		var name string
		switch r.Intn(4) {
		case 0: // hex only, starting with a letter
			n := 1 + r.Intn(8)
			b := []byte{"abcdef"[r.Intn(6)]}
			for len(b) < n {
				b = append(b, "0123456789abcdef"[r.Intn(16)])
			}
			name = string(b)
		case 1:
			name = parts[r.Intn(len(parts))]
		default:
			name = parts[r.Intn(len(parts))] + "-" + parts[r.Intn(len(parts))]
			if r.Intn(3) == 0 {
				name += fmt.Sprint(r.Intn(10))
			}
		}
		if stageName.MatchString(name) {
			return name
		}
	}
}

func randomCommit(r *rand.Rand) string {
	n := 7 + r.Intn(58) // 7..64
	if r.Intn(2) == 0 {
		n = 40
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = "0123456789abcdef"[r.Intn(16)]
	}
	return string(b)
}

// TestCoverProperties checks Cover over many random stage sets against ECR's own
// rules (the ecrtags model): every moving tag stays mutable, no commit tag does, the
// filters are ones ECR accepts; and when Cover gives up, no cover exists.
func TestCoverProperties(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	covered, impossible, wildcards := 0, 0, 0
	for n := 0; n < 1500; n++ {
		var stages []string
		count := 1 + r.Intn(10)
		for len(stages) < count {
			if s := randomStage(r); !slices.Contains(stages, s) && s != "latest" {
				stages = append(stages, s)
			}
		}
		tags := Moving(stages)
		for _, max := range []int{MaxExclusionFilters, 3} {
			patterns, ok := Cover(tags, max)
			if !ok {
				impossible++
				if feasible(tags, max) {
					t.Fatalf("Cover(%q, %d) gave up, but a cover exists", tags, max)
				}
				continue
			}
			covered++
			if len(patterns) > max {
				t.Fatalf("Cover(%q, %d) = %d patterns", tags, max, len(patterns))
			}
			policy := ecrtags.Policy{Mutability: ecrtags.ImmutableWithExclusion, Exclusions: patterns}
			if err := policy.Validate(); err != nil {
				t.Fatalf("Cover(%q) = %q, which ECR refuses: %v", tags, patterns, err)
			}
			for _, p := range patterns {
				if strings.Count(p, "*") > 4 {
					t.Fatalf("pattern %q has more than four wildcards", p)
				}
				if strings.Contains(p, "*") {
					wildcards++
				}
				if MatchesCommitTags(p) {
					t.Fatalf("Cover(%q) = %q: %q can match commit tags", tags, patterns, p)
				}
			}
			for _, tag := range tags {
				if policy.Immutable(tag) {
					t.Fatalf("Cover(%q) = %q leaves %q immutable", tags, patterns, tag)
				}
			}
			for i := 0; i < 50; i++ {
				c := randomCommit(r)
				if slices.Contains(stages, c) {
					continue // the contract forbids a build tag equal to a stage name
				}
				if !policy.Immutable(c) {
					t.Fatalf("Cover(%q) = %q makes commit tag %s mutable", tags, patterns, c)
				}
			}
		}
	}
	t.Logf("%d stage sets covered (%d wildcard patterns), %d impossible", covered, wildcards, impossible)
	if covered == 0 || impossible == 0 || wildcards == 0 {
		t.Error("the random stage sets do not exercise every case")
	}
}

// feasible decides by brute force, independently of Cover, whether tags fit in max
// patterns none of which can match a commit tag: hex-only tags each need their own;
// the others need groups sharing a character outside [0-9a-f].
func feasible(tags []string, max int) bool {
	var rest []string
	hexOnly := 0
	for _, t := range tags {
		if IsHex(t) {
			hexOnly++
		} else {
			rest = append(rest, t)
		}
	}
	budget := max - hexOnly
	if budget < 0 {
		return false
	}
	if len(rest) <= budget {
		return true
	}
	var alphabet []rune
	for r := 'g'; r <= 'z'; r++ {
		alphabet = append(alphabet, r)
	}
	alphabet = append(alphabet, '-', '.')
	// Choose up to budget characters; each tag goes to one it holds; tags with none
	// stand alone.
	var try func(start int, chosen []rune) bool
	try = func(start int, chosen []rune) bool {
		used, alone := map[rune]bool{}, 0
		for _, t := range rest {
			i := strings.IndexFunc(t, func(r rune) bool { return slices.Contains(chosen, r) })
			if i < 0 {
				alone++
				continue
			}
			for _, c := range chosen {
				if strings.ContainsRune(t, c) {
					used[c] = true
					break
				}
			}
		}
		if len(used)+alone <= budget {
			return true
		}
		if len(chosen) == budget {
			return false
		}
		for i := start; i < len(alphabet); i++ {
			if try(i+1, append(slices.Clone(chosen), alphabet[i])) {
				return true
			}
		}
		return false
	}
	return try(0, nil)
}

func TestMatchesCommitTags(t *testing.T) {
	for p, want := range map[string]bool{"*.previous": false, "de*": true, "*": true, "beef": false, "*st*": false, "a*1": true} {
		if got := MatchesCommitTags(p); got != want {
			t.Errorf("MatchesCommitTags(%q) = %v, want %v", p, got, want)
		}
	}
}
