// Package iampolicy decides, for the rehearsal's stand-ins and its fake ECR/ECS
// endpoint, whether the build's role may call an action on a resource.
//
// It follows the IAM User Guide, "Policy evaluation logic" and "IAM JSON policy
// elements: Action / Resource", for the identity policies stagecoach's roles use:
//
//   - A request is allowed only when an Allow statement of the role's policies
//     matches both its action and its resource; everything else is an implicit
//     deny ("no identity-based policy allows the ... action").
//   - Action names match case-insensitively and may use the wildcards "*" (any run
//     of characters) and "?" (one character): ecr:Batch*, ECS:describeservices.
//   - Resource ARNs match case-sensitively with the same wildcards; "*" matches
//     every resource. Actions that take no resource (ecr:GetAuthorizationToken)
//     are decided on "*".
//
// Deny statements, conditions, NotAction/NotResource, permission boundaries and
// resource-based policies are not modelled: the golden templates' build and
// release roles have none (PipelineFromTemplate refuses a role that does). The
// full simulation of IAM belongs to the iam behaviour model; this is the small,
// resource-aware check the rehearsal needs until it can use that.
//
// Two settings, both optional, carry a role to the stand-ins:
//
//	REHEARSAL_IAM_ALLOW   actions the role has, comma-separated (any resource)
//	REHEARSAL_IAM_POLICY  the role's Allow statements as JSON, [{"Action":[...],"Resource":[...]}]
//
// A request must pass both that are set; with neither set everything is allowed.
package iampolicy

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Statement is one Allow statement of a role's identity policies, resolved.
type Statement struct {
	Action   []string `json:"Action"`
	Resource []string `json:"Resource"`
}

// Role is what the settings say about the build's role.
type Role struct {
	// Actions, when not nil, limits the role to these action patterns.
	Actions []string
	// Statements, when not nil, are the role's Allow statements.
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
			return r, fmt.Errorf("REHEARSAL_IAM_POLICY is not a JSON list of {Action, Resource} statements: %v", err)
		}
	}
	return r, nil
}

// Allowed tells whether the role may call action on resource.
func (r Role) Allowed(action, resource string) bool {
	if r.Actions != nil && !anyMatch(r.Actions, action, true) {
		return false
	}
	if r.Statements == nil {
		return true
	}
	for _, s := range r.Statements {
		if anyMatch(s.Action, action, true) && anyMatch(s.Resource, resource, false) {
			return true
		}
	}
	return false
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
