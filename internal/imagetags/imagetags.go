// Package imagetags names the tags stagecoach's pipelines move from image to image,
// and finds wildcard patterns that cover them without ever matching a commit tag.
//
// A repository holds three kinds of tags:
//   - commit tags, which build.yml pushes once per commit and ECR keeps immutable:
//     lowercase hexadecimal, [0-9a-f]{7,64} (git's shortest default abbreviation is
//     7 characters, a SHA-1 is 40 and a SHA-256 is 64);
//   - moving tags, which every build or release moves: latest, each stage's tag, and
//     each stage's rollback tag (Rollback), which the default release.yml leaves on
//     the image the stage ran before its latest release;
//   - any other tag a user's build.yml pushes.
//
// ECR's tag immutability exclusions (at most five) and lifecycle rules (at most 50)
// both take wildcard patterns, so when there are more moving tags than places, Cover
// groups them under patterns. A pattern with "*" is only ever made with a literal
// character outside [0-9a-f] in it, so it cannot match a commit tag of any length; a
// pattern without "*" is a moving tag itself (a commit tag equal to a stage name is
// already forbidden by the build contract).
package imagetags

import (
	"sort"
	"strings"

	"github.com/stagecoach/stagecoach/internal/awsmodel/ecrtags"
	"github.com/stagecoach/stagecoach/internal/contract"
)

// RollbackSuffix ends a stage's rollback tag. Stage names are lowercase letters,
// digits and hyphens, so no stage and no commit tag can end in it.
const RollbackSuffix = ".previous"

// Rollback is the tag the default release.yml leaves on the image stage ran before
// its latest release: the image a failed release returns to, and the one to go back
// to by hand. It keeps that image from expiring and lets a human find it.
func Rollback(stage string) string { return stage + RollbackSuffix }

// Moving lists the tags builds and releases move: latest, then each stage's tag,
// then each stage's rollback tag.
func Moving(stages []string) []string {
	tags := []string{contract.LatestTag}
	tags = append(tags, stages...)
	for _, s := range stages {
		tags = append(tags, Rollback(s))
	}
	return tags
}

// Places for patterns in ECR.
const (
	// MaxExclusionFilters is how many tag mutability exclusion filters ECR takes.
	MaxExclusionFilters = 5
	// MaxLifecycleProtections is how many lifecycle rules stagecoach can spend on
	// protecting moving tags: ECR takes 50 rules, and two expire the rest (untagged
	// images, then everything beyond the newest 25).
	MaxLifecycleProtections = 50 - 2
	// maxWildcards is how many "*" a lifecycle tag pattern may hold.
	maxWildcards = 4
	// maxPatternLength is the longest exclusion filter ECR takes.
	maxPatternLength = 128
)

// IsHex reports whether s is made only of characters a commit tag can hold.
func IsHex(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

// MatchesCommitTags reports whether some commit tag ([0-9a-f]{7,64}) other than
// pattern itself could match the wildcard pattern: true when the pattern has a "*"
// and every literal character of it is hexadecimal.
func MatchesCommitTags(pattern string) bool {
	return strings.Contains(pattern, "*") && IsHex(strings.ReplaceAll(pattern, "*", ""))
}

// Cover returns at most max wildcard patterns ("*" matches any run of characters)
// that together match every tag in tags, none of which can match a commit tag, each
// as narrow as the grouping allows: a tag alone is its own pattern; tags that must
// share a pattern share their longest common prefix and suffix and the longest
// common run between them. Patterns come in the order of the first tag each covers.
// ok is false when no such patterns exist: more tags made only of hexadecimal
// characters (each needs an exact pattern) than places, or too few characters
// outside [0-9a-f] in common to group the rest.
//
// Grouping is greedy: it merges the two groups whose pattern stays narrowest (most
// literal characters, anchored ones counting double), folds in every group the new
// pattern already matches, and only merges while the groups left can still be
// covered in max patterns, so it finds patterns whenever any exist.
func Cover(tags []string, max int) (patterns []string, ok bool) {
	var groups []group
	seen := map[string]bool{}
	for i, t := range tags {
		if !seen[t] {
			seen[t] = true
			groups = append(groups, group{members: []string{t}, first: i, pattern: t})
		}
	}
	if !coverable(groups, max) {
		return nil, false
	}
	for len(groups) > max {
		type merge struct {
			i, j    int
			g       group
			score   int
			members int
		}
		var cands []merge
		for i := range groups {
			for j := i + 1; j < len(groups); j++ {
				members := append(append([]string(nil), groups[i].members...), groups[j].members...)
				p, ok := generalize(members)
				if !ok {
					continue
				}
				g := group{members: members, first: min(groups[i].first, groups[j].first), pattern: p}
				cands = append(cands, merge{i, j, g, narrowness(p), len(members)})
			}
		}
		sort.SliceStable(cands, func(a, b int) bool {
			if cands[a].score != cands[b].score {
				return cands[a].score > cands[b].score
			}
			if cands[a].members != cands[b].members {
				return cands[a].members < cands[b].members
			}
			return cands[a].g.pattern < cands[b].g.pattern
		})
		merged := false
		for _, c := range cands {
			// Groups whose tags the new pattern matches already join it: an exact
			// filter for a tag a wildcard covers would make nothing more mutable.
			next := make([]group, 0, len(groups)-1)
			joined := c.g
			for k, g := range groups {
				switch {
				case k == c.i || k == c.j:
				case matchesAll(joined.pattern, g.members):
					joined.members = append(joined.members, g.members...)
					joined.first = min(joined.first, g.first)
				default:
					next = append(next, g)
				}
			}
			next = append(next, joined)
			if coverable(next, max) {
				groups, merged = next, true
				break
			}
		}
		if !merged {
			return nil, false // unreachable while coverable holds; kept as a guard
		}
	}
	sort.Slice(groups, func(a, b int) bool { return groups[a].first < groups[b].first })
	for _, g := range groups {
		patterns = append(patterns, g.pattern)
	}
	return patterns, true
}

func matchesAll(pattern string, tags []string) bool {
	for _, t := range tags {
		if !ecrtags.Match(pattern, t) {
			return false
		}
	}
	return true
}

type group struct {
	members []string
	first   int // index in Cover's input of the first member
	pattern string
}

// narrowness scores a pattern: its literal characters, those anchored at either end
// counting double, since "staging*" matches far fewer tags than "*st*".
func narrowness(p string) int {
	parts := strings.Split(p, "*")
	if len(parts) == 1 {
		return 1 << 20 // exact: cannot be narrower
	}
	score := 2 * (len(parts[0]) + len(parts[len(parts)-1]))
	for _, mid := range parts[1 : len(parts)-1] {
		score += len(mid)
	}
	return score
}

// generalize returns the pattern P*Q (P the common prefix, Q the common suffix of the
// members) matching every member, or P*M*Q when P and Q are only hexadecimal (M the
// longest run with a character outside [0-9a-f] that every member has between them),
// or false when there is no such run.
func generalize(members []string) (string, bool) {
	if len(members) == 1 {
		return members[0], true
	}
	prefix := members[0]
	for _, m := range members[1:] {
		prefix = commonPrefix(prefix, m)
	}
	rests := make([]string, len(members))
	for i, m := range members {
		rests[i] = m[len(prefix):]
	}
	suffix := rests[0]
	for _, r := range rests[1:] {
		suffix = commonSuffix(suffix, r)
	}
	middles := make([]string, len(rests))
	for i, r := range rests {
		middles[i] = r[:len(r)-len(suffix)]
	}
	// A common run in the middle is only added when the pattern needs a character
	// outside [0-9a-f]: "staging-*" reads better than "staging-*u*", for little.
	mid := ""
	if IsHex(prefix + suffix) {
		if mid = commonRun(middles); mid == "" {
			return "", false
		}
	}
	p := prefix + "*" + suffix
	if mid != "" {
		p = prefix + "*" + mid + "*" + suffix
	}
	if strings.Count(p, "*") > maxWildcards || len(p) > maxPatternLength {
		return "", false
	}
	return p, true
}

func commonPrefix(a, b string) string {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return a[:n]
}

func commonSuffix(a, b string) string {
	n := 0
	for n < len(a) && n < len(b) && a[len(a)-1-n] == b[len(b)-1-n] {
		n++
	}
	return a[len(a)-n:]
}

// commonRun returns the longest string with a character outside [0-9a-f] found in
// every one of ss (the first in lexical order among equals); "" when there is none.
func commonRun(ss []string) string {
	shortest := ss[0]
	for _, s := range ss[1:] {
		if len(s) < len(shortest) {
			shortest = s
		}
	}
	for n := len(shortest); n > 0; n-- {
		var found []string
		for i := 0; i+n <= len(shortest); i++ {
			run := shortest[i : i+n]
			if IsHex(run) {
				continue
			}
			all := true
			for _, s := range ss {
				if !strings.Contains(s, run) {
					all = false
					break
				}
			}
			if all {
				found = append(found, run)
			}
		}
		if len(found) > 0 {
			sort.Strings(found)
			return found[0]
		}
	}
	return ""
}

// coverable reports whether groups can be merged into at most max groups, each of
// whose members share a character outside [0-9a-f] (which is what a safe pattern
// needs, and all it needs). A group on its own always counts as one.
func coverable(groups []group, max int) bool {
	if len(groups) <= max {
		return true
	}
	// The characters outside [0-9a-f] every member of a group has.
	sets := make([]map[rune]bool, len(groups))
	var alphabet []rune
	inAlphabet := map[rune]bool{}
	for i, g := range groups {
		sets[i] = common(g.members)
		for r := range sets[i] {
			if !inAlphabet[r] {
				inAlphabet[r] = true
				alphabet = append(alphabet, r)
			}
		}
	}
	sort.Slice(alphabet, func(a, b int) bool { return alphabet[a] < alphabet[b] })
	// blocks is the number of groups left when chosen characters each gather the
	// groups that have them (a group goes to the first chosen character it has).
	blocks := func(chosen []rune) int {
		used := map[rune]bool{}
		alone := 0
		for _, s := range sets {
			placed := false
			for _, r := range chosen {
				if s[r] {
					used[r], placed = true, true
					break
				}
			}
			if !placed {
				alone++
			}
		}
		return len(used) + alone
	}
	// A greedy choice settles most cases at once.
	var chosen []rune
	for len(chosen) < max {
		best, bestBlocks := rune(0), blocks(chosen)
		for _, r := range alphabet {
			if b := blocks(append(chosen, r)); b < bestBlocks {
				best, bestBlocks = r, b
			}
		}
		if best == 0 {
			break
		}
		chosen = append(chosen, best)
		if bestBlocks <= max {
			return true
		}
	}
	// Otherwise try every choice of up to max characters.
	var try func(start int, chosen []rune) bool
	try = func(start int, chosen []rune) bool {
		if blocks(chosen) <= max {
			return true
		}
		if len(chosen) == max {
			return false
		}
		for i := start; i < len(alphabet); i++ {
			if try(i+1, append(chosen, alphabet[i])) {
				return true
			}
		}
		return false
	}
	return try(0, nil)
}

func common(members []string) map[rune]bool {
	set := map[rune]bool{}
	for _, r := range members[0] {
		if !IsHex(string(r)) {
			set[r] = true
		}
	}
	for _, m := range members[1:] {
		for r := range set {
			if !strings.ContainsRune(m, r) {
				delete(set, r)
			}
		}
	}
	return set
}
