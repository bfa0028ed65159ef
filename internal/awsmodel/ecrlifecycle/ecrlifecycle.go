// Package ecrlifecycle models ECR lifecycle policies: which images a policy expires,
// and which policies ECR refuses to store.
//
// It follows the Amazon ECR User Guide, "Lifecycle policy properties", "How lifecycle
// policies work" (its "Lifecycle policy evaluation rules"), "Examples of lifecycle
// policies", and the "Amazon ECR service quotas" page:
//
//   - Rules run in ascending rulePriority; every priority is a unique positive integer.
//     A rule with tagStatus "any" must have the highest priority (run last).
//   - tagStatus "tagged" selects tagged images and needs exactly one of tagPatternList
//     and tagPrefixList; "untagged" and "any" take neither. Only one rule may select
//     untagged images, and no two rules may select by the same set of tags.
//   - A list selects an image only if EVERY entry matches one of the image's tags: a
//     pattern entry by wildcard ("*" matches any run of characters, at most four "*" in
//     one entry), a prefix entry by prefix. ["latest", "prod"] therefore selects only
//     images tagged both latest and prod.
//   - Each rule identifies the images it would expire: with imageCountMoreThan N,
//     every image it selects beyond the N most recently pushed; with sinceImagePushed
//     (countUnit "days"), every image it selects pushed more than N days ago. countNumber
//     is a positive integer.
//   - An image is expired by at most one rule, and never by a rule of lower priority
//     than one whose tag selection matches it: a rule that selects an image protects it
//     from every later rule, whatever its own count. Later rules still count such images
//     when they rank by push time ("can still identify them as if they haven't been
//     expired"; in the guide's Example A the second rule ranks an image the first
//     already expired).
//   - At most 50 rules, and at most 30,720 characters of policy text (service quotas,
//     not adjustable). The only action is "expire".
//
// Not modelled: the archive storage class and its "transition" action with the
// sinceImagePulled and sinceImageTransitioned count types (Validate refuses them), and
// the up to 24 hours ECR takes to act (Expire answers what the policy expires at now).
package ecrlifecycle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/stagecoach/stagecoach/internal/awsmodel/ecrtags"
)

// ECR's limits on a lifecycle policy.
const (
	// MaxRules is how many rules one policy may have ("Rules per lifecycle policy").
	MaxRules = 50
	// MaxLength is how many characters the policy text may have ("Lifecycle policy
	// length").
	MaxLength = 30720
	// MaxWildcards is how many "*" one tagPatternList entry may hold.
	MaxWildcards = 4
)

// Tag statuses and count types ECR accepts.
const (
	Tagged             = "tagged"
	Untagged           = "untagged"
	Any                = "any"
	ImageCountMoreThan = "imageCountMoreThan"
	SinceImagePushed   = "sinceImagePushed"
)

// Policy is a lifecycle policy as ECR stores it (LifecyclePolicyText).
type Policy struct {
	Rules []Rule `json:"rules"`
}

// Rule is one rule of a policy.
type Rule struct {
	RulePriority int       `json:"rulePriority"`
	Description  string    `json:"description,omitempty"`
	Selection    Selection `json:"selection"`
	Action       Action    `json:"action"`
}

// Selection says which images a rule looks at and which of them it expires.
type Selection struct {
	TagStatus      string   `json:"tagStatus"`
	TagPatternList []string `json:"tagPatternList,omitempty"`
	TagPrefixList  []string `json:"tagPrefixList,omitempty"`
	CountType      string   `json:"countType"`
	CountUnit      string   `json:"countUnit,omitempty"`
	CountNumber    int      `json:"countNumber"`
}

// Action is what a rule does to the images it identifies.
type Action struct {
	Type string `json:"type"`
}

// Parse reads a policy text. Fields ECR does not know, and fields this model does not
// model (storageClass, targetStorageClass), are errors.
func Parse(text string) (Policy, error) {
	var p Policy
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Policy{}, fmt.Errorf("lifecycle policy: %w", err)
	}
	if len(text) > MaxLength {
		return p, fmt.Errorf("lifecycle policy: %d characters, ECR takes at most %d", len(text), MaxLength)
	}
	return p, p.Validate()
}

// FromTemplate reads the policy of an AWS::ECR::Repository's Properties as
// synthesized (LifecyclePolicy.LifecyclePolicyText). ok is false when the repository
// has no lifecycle policy.
func FromTemplate(properties map[string]any) (p Policy, ok bool, err error) {
	lp, _ := properties["LifecyclePolicy"].(map[string]any)
	raw, present := lp["LifecyclePolicyText"]
	if !present {
		return Policy{}, false, nil
	}
	text, isString := raw.(string)
	if !isString {
		return Policy{}, true, fmt.Errorf("lifecycle policy: LifecyclePolicyText is %T, want a string", raw)
	}
	p, err = Parse(text)
	return p, true, err
}

// Text is the policy as JSON, as ECR would store it.
func (p Policy) Text() string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		panic(err) // plain structs always encode
	}
	return strings.TrimSpace(b.String())
}

// Validate reports what ECR would refuse in p (PutLifecyclePolicy, or the
// repository's LifecyclePolicy in CloudFormation).
func (p Policy) Validate() error {
	if len(p.Rules) == 0 {
		return fmt.Errorf("lifecycle policy: no rules")
	}
	if len(p.Rules) > MaxRules {
		return fmt.Errorf("lifecycle policy: %d rules, ECR takes at most %d", len(p.Rules), MaxRules)
	}
	priorities := map[int]bool{}
	selections := map[string]int{}
	highest, anyAt, untagged := 0, 0, 0
	for _, r := range p.Rules {
		at := fmt.Sprintf("lifecycle policy: rule %d", r.RulePriority)
		if r.RulePriority < 1 {
			return fmt.Errorf("%s: rulePriority must be a positive integer", at)
		}
		if priorities[r.RulePriority] {
			return fmt.Errorf("%s: another rule has the same rulePriority", at)
		}
		priorities[r.RulePriority] = true
		highest = max(highest, r.RulePriority)
		s := r.Selection
		lists := 0
		if len(s.TagPatternList) > 0 {
			lists++
		}
		if len(s.TagPrefixList) > 0 {
			lists++
		}
		switch s.TagStatus {
		case Tagged:
			if lists != 1 {
				return fmt.Errorf("%s: tagStatus tagged takes exactly one of tagPatternList and tagPrefixList", at)
			}
		case Untagged, Any:
			if lists != 0 {
				return fmt.Errorf("%s: tagStatus %s takes no tagPatternList or tagPrefixList", at, s.TagStatus)
			}
			if s.TagStatus == Any {
				if anyAt != 0 {
					return fmt.Errorf("%s: only one rule may have tagStatus any", at)
				}
				anyAt = r.RulePriority
			} else {
				untagged++
			}
		default:
			return fmt.Errorf("%s: tagStatus %q is not tagged, untagged or any", at, s.TagStatus)
		}
		if untagged > 1 {
			return fmt.Errorf("%s: only one rule may select untagged images", at)
		}
		for _, pat := range s.TagPatternList {
			if pat == "" {
				return fmt.Errorf("%s: an empty tag pattern", at)
			}
			if n := strings.Count(pat, "*"); n > MaxWildcards {
				return fmt.Errorf("%s: tag pattern %q has %d wildcards, ECR takes at most %d", at, pat, n, MaxWildcards)
			}
		}
		for _, pre := range s.TagPrefixList {
			if pre == "" {
				return fmt.Errorf("%s: an empty tag prefix", at)
			}
		}
		if s.TagStatus == Tagged {
			key := selectionKey(s)
			if other, ok := selections[key]; ok {
				return fmt.Errorf("%s: selects by the same tags as rule %d; the rules must have a unique set of tags", at, other)
			}
			selections[key] = r.RulePriority
		}
		switch s.CountType {
		case ImageCountMoreThan:
			if s.CountUnit != "" {
				return fmt.Errorf("%s: countUnit is only for %s", at, SinceImagePushed)
			}
		case SinceImagePushed:
			if s.CountUnit != "days" {
				return fmt.Errorf("%s: %s takes countUnit \"days\", not %q", at, SinceImagePushed, s.CountUnit)
			}
		default:
			return fmt.Errorf("%s: countType %q is not %s or %s (the archive count types are not modelled)", at, s.CountType, ImageCountMoreThan, SinceImagePushed)
		}
		if s.CountNumber < 1 {
			return fmt.Errorf("%s: countNumber must be a positive integer, not %d", at, s.CountNumber)
		}
		if r.Action.Type != "expire" {
			return fmt.Errorf("%s: action type %q is not expire (transition to archive is not modelled)", at, r.Action.Type)
		}
	}
	if anyAt != 0 && anyAt != highest {
		return fmt.Errorf("lifecycle policy: rule %d has tagStatus any, so it must have the highest rulePriority (%d is higher)", anyAt, highest)
	}
	return nil
}

func selectionKey(s Selection) string {
	kind, list := "pattern", s.TagPatternList
	if len(s.TagPrefixList) > 0 {
		kind, list = "prefix", s.TagPrefixList
	}
	sorted := append([]string(nil), list...)
	sort.Strings(sorted)
	return kind + "\x00" + strings.Join(sorted, "\x00")
}

// Image is one image in a repository.
type Image struct {
	Digest   string
	Tags     []string
	PushedAt time.Time
}

// Selects reports whether r's tag selection matches img (the rule's "tagging
// requirements", whatever its count).
func (r Rule) Selects(img Image) bool {
	s := r.Selection
	switch s.TagStatus {
	case Any:
		return true
	case Untagged:
		return len(img.Tags) == 0
	case Tagged:
		if len(img.Tags) == 0 {
			return false
		}
		every := func(entries []string, match func(entry, tag string) bool) bool {
			for _, e := range entries {
				found := false
				for _, t := range img.Tags {
					if match(e, t) {
						found = true
						break
					}
				}
				if !found {
					return false
				}
			}
			return true
		}
		if len(s.TagPatternList) > 0 {
			return every(s.TagPatternList, ecrtags.Match)
		}
		return every(s.TagPrefixList, func(prefix, tag string) bool { return strings.HasPrefix(tag, prefix) })
	}
	return false
}

// identifies returns the images r would expire, ignoring higher-priority rules.
func (r Rule) identifies(images []Image, now time.Time) []Image {
	var selected []Image
	for _, img := range images {
		if r.Selects(img) {
			selected = append(selected, img)
		}
	}
	s := r.Selection
	switch s.CountType {
	case ImageCountMoreThan:
		// Newest first; ties keep the repository's order.
		sort.SliceStable(selected, func(i, j int) bool { return selected[i].PushedAt.After(selected[j].PushedAt) })
		if len(selected) <= s.CountNumber {
			return nil
		}
		return selected[s.CountNumber:]
	case SinceImagePushed:
		limit := time.Duration(s.CountNumber) * 24 * time.Hour
		var old []Image
		for _, img := range selected {
			if now.Sub(img.PushedAt) > limit {
				old = append(old, img)
			}
		}
		return old
	}
	return nil
}

// Expire returns, by digest, the rulePriority of the rule that expires each image the
// policy expires at now. Images it keeps are absent. p must be valid.
func (p Policy) Expire(images []Image, now time.Time) map[string]int {
	rules := append([]Rule(nil), p.Rules...)
	sort.Slice(rules, func(i, j int) bool { return rules[i].RulePriority < rules[j].RulePriority })
	expired := map[string]int{}
	for i, r := range rules {
		for _, img := range r.identifies(images, now) {
			if _, done := expired[img.Digest]; done {
				continue
			}
			protected := false
			for _, higher := range rules[:i] {
				if higher.Selects(img) {
					protected = true
					break
				}
			}
			if !protected {
				expired[img.Digest] = r.RulePriority
			}
		}
	}
	return expired
}
