// Package iampolicy decides, for the rehearsal's stand-ins and its fake ECR/ECS
// endpoint, whether the build's role may call an action on a resource.
//
// It follows the IAM User Guide, "Policy evaluation logic" and "IAM JSON policy
// elements: Action / Resource", for the identity policies stagecoach's roles use:
//
//   - A request is allowed only when an Allow statement of the role's policies
//     matches both its action and its resource; everything else is an implicit
//     deny ("no identity-based policy allows the ... action").
//
//   - Action names match case-insensitively and may use the wildcards "*" (any run
//     of characters) and "?" (one character): ecr:Batch*, ECS:describeservices.
//
//   - Resource ARNs match case-sensitively with the same wildcards; "*" matches
//     every resource. Actions that take no resource (ecr:GetAuthorizationToken)
//     are decided on "*".
//
//   - An explicit Deny overrides any Allow: a Deny statement that matches the
//     request's action and resource, and whose conditions hold, refuses it
//     ("... with an explicit deny in an identity-based policy").
//
//   - A statement with a Condition block applies only when every condition holds
//     (see condition.go). The calls the rehearsal plays carry no condition keys
//     of their own, so a condition on a key the request does not have decides as
//     IAM decides for a missing key: Null "true" holds, the negated string
//     operators (StringNotEquals...) and ...IfExists hold, everything else does
//     not. A Deny scoped to other repositories of a connection
//     (StringNotEquals on codeconnections:FullRepositoryId with a Null "false"
//     guard) therefore never applies to an ECR or ECS call.
//
// NotAction/NotResource, permission boundaries and resource-based policies are
// not modelled (PipelineFromTemplate refuses a role that uses them). The full
// simulation of IAM belongs to the iam behaviour model (awsmodel/iam); this is
// the small, resource-aware check the rehearsal's calls need.
//
// Two settings, both optional, carry a role to the stand-ins:
//
//	REHEARSAL_IAM_ALLOW   actions the role has, comma-separated (any resource)
//	REHEARSAL_IAM_POLICY  the role's statements as JSON,
//	                      [{"Effect":"Allow","Action":[...],"Resource":[...],"Condition":{...}}]
//	                      (Effect defaults to Allow)
//
// A request must pass both that are set; with neither set everything is allowed.
package iampolicy

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Statement is one statement of a role's identity policies, resolved.
type Statement struct {
	Effect    string                    `json:"Effect,omitempty"` // Allow (default) or Deny
	Action    []string                  `json:"Action"`
	Resource  []string                  `json:"Resource"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

// Role is what the settings say about the build's role.
type Role struct {
	// Actions, when not nil, limits the role to these action patterns.
	Actions []string
	// Statements, when not nil, are the role's statements.
	Statements []Statement
}

// FromSettings reads REHEARSAL_IAM_ALLOW and REHEARSAL_IAM_POLICY through getenv.
func FromSettings(getenv func(string) string) (Role, error) {
	var r Role
	if list := getenv("REHEARSAL_IAM_ALLOW"); list != "" {
		r.Actions = []string{}
		for _, a := range strings.Split(list, ",") {
			if a = strings.TrimSpace(a); a != "" {
				r.Actions = append(r.Actions, a)
			}
		}
	}
	if doc := getenv("REHEARSAL_IAM_POLICY"); doc != "" {
		r.Statements = []Statement{}
		if err := json.Unmarshal([]byte(doc), &r.Statements); err != nil {
			return r, fmt.Errorf("REHEARSAL_IAM_POLICY is not a JSON list of {Effect, Action, Resource, Condition} statements: %v", err)
		}
		for _, st := range r.Statements {
			if st.Effect != "" && st.Effect != "Allow" && st.Effect != "Deny" {
				return r, fmt.Errorf("REHEARSAL_IAM_POLICY: Effect %q is neither Allow nor Deny", st.Effect)
			}
		}
	}
	return r, nil
}

// Allowed tells whether the role may call action on resource.
func (r Role) Allowed(action, resource string) bool {
	return r.Decide(action, resource) == Allow
}

// Decision is the outcome of evaluating a request.
type Decision int

const (
	// ImplicitDeny: no statement allows the request.
	ImplicitDeny Decision = iota
	// Allow: a statement allows it and none denies it.
	Allow
	// ExplicitDeny: a Deny statement applies.
	ExplicitDeny
)

// Decide evaluates a request made with no condition keys against the role.
func (r Role) Decide(action, resource string) Decision {
	return r.DecideWith(action, resource, nil)
}

// AllowedWith tells whether the role may call action on resource in a request
// carrying the condition keys given (e.g. iam:PassedToService for iam:PassRole).
func (r Role) AllowedWith(action, resource string, keys map[string]string) bool {
	return r.DecideWith(action, resource, keys) == Allow
}

// DecideWith evaluates a request carrying the condition keys given.
func (r Role) DecideWith(action, resource string, keys map[string]string) Decision {
	if r.Actions != nil && !anyMatch(r.Actions, action, true) {
		return ImplicitDeny
	}
	if r.Statements == nil {
		return Allow
	}
	allowed := false
	for _, s := range r.Statements {
		if !anyMatch(s.Action, action, true) || !anyMatch(s.Resource, resource, false) || !conditionsHold(s.Condition, keys) {
			continue
		}
		if s.Effect == "Deny" {
			return ExplicitDeny
		}
		allowed = true
	}
	if allowed {
		return Allow
	}
	return ImplicitDeny
}

// Denial is the message AWS gives for a refused request of an identity policy.
func (r Role) Denial(principal, action, resource string) string {
	if r.Decide(action, resource) == ExplicitDeny {
		return fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s with an explicit deny in an identity-based policy", principal, action, resource)
	}
	return Denial(principal, action, resource)
}

// Denial is the message AWS gives for an implicit deny of an identity policy.
func Denial(principal, action, resource string) string {
	return fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action", principal, action, resource, action)
}

func anyMatch(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if fold {
			p, s = strings.ToLower(p), strings.ToLower(s)
		}
		if Match(p, s) {
			return true
		}
	}
	return false
}

// Match reports whether an IAM pattern matches s: "*" matches any run of
// characters ("/" and ":" included), "?" any one character.
func Match(pattern, s string) bool {
	// Iterative wildcard matching with backtracking to the last "*".
	p, i, star, mark := 0, 0, -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
