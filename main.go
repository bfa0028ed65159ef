package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipelineactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodestarconnections"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapplicationautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

var _ = awsecs.NewCluster
var _ = awscodepipeline.NewPipeline
var _ = awscodebuild.NewProject
var _ = awsec2.NewVpc
var _ = awsecr.NewRepository
var _ = awselasticloadbalancingv2.NewApplicationLoadBalancer
var _ = awscodepipelineactions.NewCodeBuildAction
var _ = awscodestarconnections.NewCfnConnection
var _ = awsapplicationautoscaling.NewScalableTarget
var _ = awslogs.NewLogGroup
var _ = awss3.NewBucket
var _ = awsiam.NewRole
var _ = assertions.Template_FromStack
var _ = customresources.NewAwsCustomResource
var _ = cdknag.NewAwsSolutionsChecks
var _ constructs.Construct

func main() {
	app := awscdk.NewApp(nil)
	awscdk.NewStack(app, jsii.String("Warm"), nil)
	app.Synth(nil)
	jsii.Close()
}
