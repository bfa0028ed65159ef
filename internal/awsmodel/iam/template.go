package iam

import (
	"fmt"
	"sort"
	"strings"
)

// Resolve evaluates the CloudFormation intrinsic functions in a value taken from a
// template, giving concrete ARNs and names.
type Resolve func(v any) (any, error)

// Role is an IAM role of a template with every policy that applies to it, resolved.
type Role struct {
	LogicalID string
	// ARN is the role's ARN, the Principal of its requests.
	ARN string
	// Trust is the role's trust policy (AssumeRolePolicyDocument).
	Trust any
	// Policies are its inline policies, the AWS::IAM::Policy resources attached to it,
	// and the AWS managed policies it names.
	Policies []Policy
}

// managedPolicies are the AWS managed policies aws-cdk-lib attaches to roles of ours,
// as AWS publishes them.
var managedPolicies = map[string]any{
	"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Effect":   "Allow",
			"Action":   []any{"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"},
			"Resource": "*",
		}},
	},
}

// Roles reads every AWS::IAM::Role of tmpl and the policies that apply to it, by
// logical ID.
func Roles(tmpl map[string]any, resolve Resolve) (map[string]*Role, error) {
	resources, _ := tmpl["Resources"].(map[string]any)
	roles := map[string]*Role{}
	for _, id := range sortedKeys(resources) {
		res, _ := resources[id].(map[string]any)
		if res["Type"] != "AWS::IAM::Role" {
			continue
		}
		props, _ := res["Properties"].(map[string]any)
		arn, err := resolveString(resolve, map[string]any{"Fn::GetAtt": []any{id, "Arn"}})
		if err != nil {
			return nil, fmt.Errorf("iam: role %s: %v", id, err)
		}
		trust, err := resolve(props["AssumeRolePolicyDocument"])
		if err != nil {
			return nil, fmt.Errorf("iam: role %s: trust policy: %v", id, err)
		}
		r := &Role{LogicalID: id, ARN: arn, Trust: trust}
		inline, _ := props["Policies"].([]any)
		for i, p := range inline {
			p, _ := p.(map[string]any)
			doc, err := resolve(p["PolicyDocument"])
			if err != nil {
				return nil, fmt.Errorf("iam: role %s: inline policy %d: %v", id, i, err)
			}
			r.Policies = append(r.Policies, Policy{Name: fmt.Sprintf("%s/%v", id, p["PolicyName"]), Document: doc})
		}
		managed, _ := props["ManagedPolicyArns"].([]any)
		for _, m := range managed {
			arn, err := resolveString(resolve, m)
			if err != nil {
				return nil, fmt.Errorf("iam: role %s: managed policy: %v", id, err)
			}
			doc, ok := managedPolicies[arn]
			if !ok {
				return nil, fmt.Errorf("iam: role %s: managed policy %s is not known to the model; add its document to managedPolicies", id, arn)
			}
			r.Policies = append(r.Policies, Policy{Name: arn, Document: doc})
		}
		roles[id] = r
	}
	for _, id := range sortedKeys(resources) {
		res, _ := resources[id].(map[string]any)
		if res["Type"] != "AWS::IAM::Policy" {
			continue
		}
		props, _ := res["Properties"].(map[string]any)
		doc, err := resolve(props["PolicyDocument"])
		if err != nil {
			return nil, fmt.Errorf("iam: policy %s: %v", id, err)
		}
		attached, _ := props["Roles"].([]any)
		for _, a := range attached {
			ref, _ := a.(map[string]any)
			name, _ := ref["Ref"].(string)
			r, ok := roles[name]
			if !ok {
				return nil, fmt.Errorf("iam: policy %s is attached to %v, not a role of this template", id, a)
			}
			r.Policies = append(r.Policies, Policy{Name: id, Document: doc})
		}
	}
	return roles, nil
}

// BucketPolicies returns the AWS::S3::BucketPolicy documents of tmpl by bucket ARN.
func BucketPolicies(tmpl map[string]any, resolve Resolve) (map[string]any, error) {
	resources, _ := tmpl["Resources"].(map[string]any)
	out := map[string]any{}
	for _, id := range sortedKeys(resources) {
		res, _ := resources[id].(map[string]any)
		if res["Type"] != "AWS::S3::BucketPolicy" {
			continue
		}
		props, _ := res["Properties"].(map[string]any)
		bucket, err := resolveString(resolve, props["Bucket"])
		if err != nil {
			return nil, fmt.Errorf("iam: bucket policy %s: %v", id, err)
		}
		doc, err := resolve(props["PolicyDocument"])
		if err != nil {
			return nil, fmt.Errorf("iam: bucket policy %s: %v", id, err)
		}
		out["arn:aws:s3:::"+strings.TrimPrefix(bucket, "arn:aws:s3:::")] = doc
	}
	return out, nil
}

func resolveString(resolve Resolve, v any) (string, error) {
	r, err := resolve(v)
	if err != nil {
		return "", err
	}
	s, ok := r.(string)
	if !ok {
		return "", fmt.Errorf("%v resolves to %T, not a string", v, r)
	}
	return s, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// FunctionPolicies returns the resource-based policy of each Lambda function of tmpl,
// by function ARN, built from its AWS::Lambda::Permission resources as Lambda builds
// it (Lambda Developer Guide, "Viewing resource-based IAM policies in Lambda";
// AddPermission in the Lambda API Reference): each permission is one statement that
// allows its Action on the function to its Principal (a service principal or an
// account), and, when the permission names a SourceArn or SourceAccount, only for
// requests whose aws:SourceArn matches it (ArnLike) or whose aws:SourceAccount equals
// it. A function without a permission has no resource-based policy: only identities
// of the account with an identity-based allow may invoke it.
func FunctionPolicies(tmpl map[string]any, resolve Resolve) (map[string]any, error) {
	resources, _ := tmpl["Resources"].(map[string]any)
	statements := map[string][]any{}
	for _, id := range sortedKeys(resources) {
		res, _ := resources[id].(map[string]any)
		if res["Type"] != "AWS::Lambda::Permission" {
			continue
		}
		props, _ := res["Properties"].(map[string]any)
		fn, err := resolveString(resolve, props["FunctionName"])
		if err != nil {
			return nil, fmt.Errorf("iam: permission %s: function: %v", id, err)
		}
		if !strings.HasPrefix(fn, "arn:") {
			return nil, fmt.Errorf("iam: permission %s: function %q is not named by its ARN; the model keys policies by ARN", id, fn)
		}
		action, err := resolveString(resolve, props["Action"])
		if err != nil {
			return nil, fmt.Errorf("iam: permission %s: action: %v", id, err)
		}
		principal, err := resolveString(resolve, props["Principal"])
		if err != nil {
			return nil, fmt.Errorf("iam: permission %s: principal: %v", id, err)
		}
		st := map[string]any{"Sid": id, "Effect": "Allow", "Action": action, "Resource": fn}
		if strings.Contains(principal, ".") {
			st["Principal"] = map[string]any{"Service": principal}
		} else {
			st["Principal"] = map[string]any{"AWS": principal}
		}
		cond := map[string]any{}
		if props["SourceArn"] != nil {
			src, err := resolveString(resolve, props["SourceArn"])
			if err != nil {
				return nil, fmt.Errorf("iam: permission %s: source ARN: %v", id, err)
			}
			cond["ArnLike"] = map[string]any{"AWS:SourceArn": src}
		}
		if props["SourceAccount"] != nil {
			acct, err := resolveString(resolve, props["SourceAccount"])
			if err != nil {
				return nil, fmt.Errorf("iam: permission %s: source account: %v", id, err)
			}
			cond["StringEquals"] = map[string]any{"AWS:SourceAccount": acct}
		}
		if len(cond) > 0 {
			st["Condition"] = cond
		}
		statements[fn] = append(statements[fn], st)
	}
	out := map[string]any{}
	for fn, sts := range statements {
		out[fn] = map[string]any{"Version": "2012-10-17", "Statement": sts}
	}
	return out, nil
}
