package ecrlifecycle

import (
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func daysAgo(d int) time.Time { return now.Add(-time.Duration(d) * 24 * time.Hour) }

func img(digest string, pushedDaysAgo int, tags ...string) Image {
	return Image{Digest: digest, Tags: tags, PushedAt: daysAgo(pushedDaysAgo)}
}

func mustParse(t *testing.T, text string) Policy {
	t.Helper()
	p, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The user guide's "Examples of lifecycle policies", each with the outcome it states.
func TestGuideExamples(t *testing.T) {
	rule := func(prio int, list, status, count string, n int) string {
		sel := `"tagStatus":"` + status + `",`
		if list != "" {
			sel += list + ","
		}
		sel += `"countType":"` + count + `","countNumber":` + strconv.Itoa(n)
		if count == SinceImagePushed {
			sel += `,"countUnit":"days"`
		}
		return `{"rulePriority":` + strconv.Itoa(prio) + `,"selection":{` + sel + `},"action":{"type":"expire"}}`
	}
	policy := func(rules ...string) string { return `{"rules":[` + strings.Join(rules, ",") + `]}` }
	multiple := []Image{img("A", 10, "beta-1", "prod-1"), img("B", 9, "beta-2", "prod-2"), img("C", 8, "beta-3")}
	for _, tc := range []struct {
		name   string
		policy string
		images []Image
		want   map[string]int
	}{
		{"age: prod* older than 14 days", policy(rule(1, `"tagPatternList":["prod*"]`, Tagged, SinceImagePushed, 14)),
			[]Image{img("old", 20, "prod-1"), img("new", 3, "prod-2"), img("other", 30, "beta")}, map[string]int{"old": 1}},
		{"count: keep one untagged", policy(rule(1, "", Untagged, ImageCountMoreThan, 1)),
			[]Image{img("u1", 3), img("u2", 2), img("u3", 1), img("t", 9, "x")}, map[string]int{"u1": 1, "u2": 1}},
		// Example A: rule 2 would expire A and B, but A is already expired and B
		// matches rule 1's tags.
		{"multiple rules, example A", policy(rule(1, `"tagPrefixList":["prod"]`, Tagged, ImageCountMoreThan, 1), rule(2, `"tagPrefixList":["beta"]`, Tagged, ImageCountMoreThan, 1)),
			multiple, map[string]int{"A": 1}},
		// Example B: rule 1 expires A and B; rule 2 sees only images rule 1 selected.
		{"multiple rules, example B", policy(rule(1, `"tagPrefixList":["beta"]`, Tagged, ImageCountMoreThan, 1), rule(2, `"tagPrefixList":["prod"]`, Tagged, ImageCountMoreThan, 1)),
			multiple, map[string]int{"A": 1, "B": 1}},
		// Multiple tags in one rule select only images with all of them.
		{"multiple tags, example A", policy(rule(1, `"tagPrefixList":["alpha","beta"]`, Tagged, SinceImagePushed, 5)),
			[]Image{img("A", 12, "alpha-1"), img("B", 11, "beta-1"), img("C", 10, "alpha-2", "beta-2"), img("D", 4, "alpha-3"), img("E", 3, "beta-3"), img("F", 2, "alpha-4", "beta-4")},
			map[string]int{"C": 1}},
		{"multiple tags, example B", policy(rule(1, `"tagPrefixList":["alpha","beta"]`, Tagged, ImageCountMoreThan, 1)),
			[]Image{img("A", 10, "alpha-1", "beta-1", "gamma-1"), img("B", 9, "alpha-2", "beta-2"), img("C", 8, "alpha-3", "beta-3", "gamma-2")},
			map[string]int{"A": 1, "B": 1}},
		// The same with patterns, and the defect of issue 9: a pattern list of every
		// stage tag selects only an image that carries all of them.
		{"all patterns must match", policy(rule(1, `"tagPatternList":["latest","prod"]`, Tagged, ImageCountMoreThan, 9999), rule(2, "", Any, ImageCountMoreThan, 1)),
			[]Image{img("prod-only", 9, "prod", "abc"), img("both", 8, "latest", "prod"), img("new", 1, "def")}, map[string]int{"prod-only": 2}},
		{"one rule per tag protects each", policy(rule(1, `"tagPatternList":["latest"]`, Tagged, ImageCountMoreThan, 1), rule(2, `"tagPatternList":["prod"]`, Tagged, ImageCountMoreThan, 1), rule(3, "", Any, ImageCountMoreThan, 1)),
			[]Image{img("prod-only", 9, "prod", "abc"), img("latest", 8, "latest"), img("mid", 5, "ghi"), img("new", 1, "def")}, map[string]int{"mid": 3}},
		// Protected images still take their place in a later count.
		{"protected images count", policy(rule(1, `"tagPatternList":["keep"]`, Tagged, ImageCountMoreThan, 9), rule(2, "", Any, ImageCountMoreThan, 2)),
			[]Image{img("k", 1, "keep"), img("a", 2, "a"), img("b", 3, "b")}, map[string]int{"b": 2}},
		// An untagged image matches the untagged rule's tag requirements, so the any
		// rule after it cannot expire it, whatever the count.
		{"untagged rule protects young untagged images", policy(rule(1, "", Untagged, SinceImagePushed, 7), rule(2, "", Any, ImageCountMoreThan, 1)),
			[]Image{img("u-old", 9), img("u-young", 3), img("t-old", 20, "x"), img("t-new", 1, "y")}, map[string]int{"u-old": 1, "t-old": 2}},
		{"wildcards inside", policy(rule(1, `"tagPatternList":["*.previous"]`, Tagged, ImageCountMoreThan, 9999), rule(2, "", Any, ImageCountMoreThan, 1)),
			[]Image{img("p", 9, "prod.previous"), img("x", 8, "previous"), img("n", 1, "n")}, map[string]int{"x": 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, tc.policy)
			if got := p.Expire(tc.images, now); !maps.Equal(got, tc.want) {
				t.Errorf("expired %v, want %v", got, tc.want)
			}
		})
	}
}

func TestValidateRefusesWhatECRRefuses(t *testing.T) {
	ok := Rule{RulePriority: 1, Selection: Selection{TagStatus: Tagged, TagPatternList: []string{"prod"}, CountType: ImageCountMoreThan, CountNumber: 1}, Action: Action{"expire"}}
	anyRule := Rule{RulePriority: 9, Selection: Selection{TagStatus: Any, CountType: ImageCountMoreThan, CountNumber: 25}, Action: Action{"expire"}}
	with := func(f func(r *Rule)) Rule { r := ok; f(&r); return r }
	for _, tc := range []struct {
		name  string
		rules []Rule
		want  string
	}{
		{"no rules", nil, "no rules"},
		{"any not last", []Rule{with(func(r *Rule) { r.RulePriority = 10 }), anyRule}, "must have the highest rulePriority"},
		{"two any", []Rule{anyRule, with(func(r *Rule) { r.RulePriority = 10; r.Selection = anyRule.Selection })}, "only one rule may have tagStatus any"},
		{"duplicate priority", []Rule{ok, with(func(r *Rule) { r.Selection.TagPatternList = []string{"dev"} })}, "same rulePriority"},
		{"zero priority", []Rule{with(func(r *Rule) { r.RulePriority = 0 })}, "positive integer"},
		{"five wildcards", []Rule{with(func(r *Rule) { r.Selection.TagPatternList = []string{"*a*b*c*d*"} })}, "wildcards"},
		{"tagged without list", []Rule{with(func(r *Rule) { r.Selection.TagPatternList = nil })}, "exactly one of"},
		{"tagged with both lists", []Rule{with(func(r *Rule) { r.Selection.TagPrefixList = []string{"p"} })}, "exactly one of"},
		{"untagged with a list", []Rule{with(func(r *Rule) { r.Selection.TagStatus = Untagged })}, "takes no tagPatternList"},
		{"two untagged", []Rule{
			with(func(r *Rule) { r.Selection.TagStatus, r.Selection.TagPatternList = Untagged, nil }),
			with(func(r *Rule) { r.RulePriority = 2; r.Selection.TagStatus, r.Selection.TagPatternList = Untagged, nil })}, "only one rule may select untagged"},
		{"same tags twice", []Rule{ok, with(func(r *Rule) { r.RulePriority = 2 })}, "unique set of tags"},
		{"days without unit", []Rule{with(func(r *Rule) { r.Selection.CountType = SinceImagePushed })}, "countUnit"},
		{"unit with count", []Rule{with(func(r *Rule) { r.Selection.CountUnit = "days" })}, "countUnit is only"},
		{"zero count", []Rule{with(func(r *Rule) { r.Selection.CountNumber = 0 })}, "countNumber"},
		{"unknown count type", []Rule{with(func(r *Rule) { r.Selection.CountType = "sinceImagePulled" })}, "countType"},
		{"bad status", []Rule{with(func(r *Rule) { r.Selection.TagStatus = "TAGGED" })}, "tagStatus"},
		{"transition", []Rule{with(func(r *Rule) { r.Action.Type = "transition" })}, "not expire"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Policy{Rules: tc.rules}.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want an error about %q", err, tc.want)
			}
		})
	}
	var many []Rule
	for i := 1; i <= MaxRules+1; i++ {
		many = append(many, with(func(r *Rule) { r.RulePriority = i; r.Selection.TagPatternList = []string{"t" + strconv.Itoa(i)} }))
	}
	if err := (Policy{Rules: many[:MaxRules]}).Validate(); err != nil {
		t.Errorf("%d rules: %v", MaxRules, err)
	}
	if err := (Policy{Rules: many}).Validate(); err == nil || !strings.Contains(err.Error(), "at most 50") {
		t.Errorf("%d rules: %v, want refused", MaxRules+1, err)
	}
	if _, err := Parse(`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1,"storageClass":"archive"},"action":{"type":"expire"}}]}`); err == nil {
		t.Error("Parse took a field the model does not know")
	}
	long := Policy{Rules: []Rule{with(func(r *Rule) { r.Description = strings.Repeat("x", MaxLength) })}}
	if _, err := Parse(long.Text()); err == nil || !strings.Contains(err.Error(), "characters") {
		t.Errorf("an overlong policy: %v, want refused", err)
	}
}

func TestFromTemplate(t *testing.T) {
	props := map[string]any{"LifecyclePolicy": map[string]any{"LifecyclePolicyText": `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":3},"action":{"type":"expire"}}]}`}}
	p, ok, err := FromTemplate(props)
	if err != nil || !ok || len(p.Rules) != 1 || p.Rules[0].Selection.CountNumber != 3 {
		t.Errorf("FromTemplate = %+v, %v, %v", p, ok, err)
	}
	if _, ok, _ := FromTemplate(map[string]any{}); ok {
		t.Error("a repository without a policy has one")
	}
	round, err := Parse(p.Text())
	if err != nil || round.Text() != p.Text() {
		t.Errorf("Text does not round-trip: %v\n%s\n%s", err, p.Text(), round.Text())
	}
}
