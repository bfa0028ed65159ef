// Package stacks defines the CloudFormation stacks stagecoach deploys for a config:
// one pipeline stack per service in the home region, one stage stack per stage in the
// stage's region, and one repository stack per other region whose stages pull from a
// regional copy. The stacks share no CloudFormation exports and declare no dependencies;
// every name that crosses from one to another comes from package names, so they deploy
// in any order, across regions, and `cdk destroy STACK` deletes that stack alone.
//
// This package is not part of stagecoach's supported Go API: define the stacks through
// package app (app.New), which stays put when the internals move.
package stacks
