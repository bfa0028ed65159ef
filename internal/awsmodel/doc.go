// Package awsmodel is the home of stagecoach's models of documented AWS behaviour:
// what ECR, CodePipeline, IAM, Application Auto Scaling, ECS and CloudFormation do with
// our templates over time, which no snapshot can show.
//
// Each subpackage models one service's rules. Its doc comment names the AWS document it
// follows, states the rules in our own words, and says what it leaves out, so a reader
// can check the model against AWS. Scenario tests drive the real templates, handlers
// and buildspecs through these models; the models themselves use no AWS API.
package awsmodel
