// Package nagsuppress records, next to the resource it concerns, why a cdk-nag
// AwsSolutions finding is accepted. Every suppression names its rule, is scoped to the
// findings it means (appliesTo) and carries a reason a reviewer can check; the
// README's security section lists them.
package nagsuppress

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Accept suppresses rule on construct (and its children, such as an L2's resource and
// default policy) for reason. appliesTo narrows a rule with several findings, such as
// AwsSolutions-IAM5, to the named ones; an entry written "/…/" is a regular expression.
func Accept(construct constructs.IConstruct, rule, reason string, appliesTo ...string) {
	cdknag.NagSuppressions_AddResourceSuppressions(construct, &[]*cdknag.NagPackSuppression{suppression(rule, reason, appliesTo)}, jsii.Bool(true))
}

// AcceptPath is Accept for a construct the app does not hold, such as a singleton
// aws-cdk-lib creates, addressed by its path in stack.
func AcceptPath(stack awscdk.Stack, path, rule, reason string, appliesTo ...string) {
	cdknag.NagSuppressions_AddResourceSuppressionsByPath(stack, jsii.String(path), &[]*cdknag.NagPackSuppression{suppression(rule, reason, appliesTo)}, jsii.Bool(true))
}

func suppression(rule, reason string, appliesTo []string) *cdknag.NagPackSuppression {
	s := &cdknag.NagPackSuppression{Id: jsii.String(rule), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		list := make([]any, len(appliesTo))
		for i, a := range appliesTo {
			if strings.HasPrefix(a, "/") {
				list[i] = &cdknag.RegexAppliesTo{Regex: jsii.String(a)}
			} else {
				list[i] = a
			}
		}
		s.AppliesTo = &list
	}
	return s
}

// AcceptInStack suppresses rule for the findings named by appliesTo wherever they occur
// in stack, including in resources defined later. Use it only with an appliesTo that
// names one resource of the stack, such as grants on its own bucket.
func AcceptInStack(stack awscdk.Stack, rule, reason string, appliesTo ...string) {
	if len(appliesTo) == 0 {
		panic("nagsuppress: a stack-wide suppression must name the findings it accepts")
	}
	cdknag.NagSuppressions_AddStackSuppressions(stack, &[]*cdknag.NagPackSuppression{suppression(rule, reason, appliesTo)}, jsii.Bool(false))
}

// Check applies the AwsSolutions pack to everything under scope; findings become error
// annotations, which fail `cdk synth` and the tests.
func Check(scope constructs.IConstruct) {
	awscdk.Aspects_Of(scope).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
}
