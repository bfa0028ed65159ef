// Package stacks defines the CloudFormation stacks stagecoach deploys for a config:
// one pipeline stack per service in the home region and one stage stack per stage in
// the stage's region. The stacks share no CloudFormation exports; every name that
// crosses from one to another comes from package names, so they deploy in any order,
// across regions, and can be deleted one by one.
package stacks
