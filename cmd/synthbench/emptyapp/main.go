// Command emptyapp is a Go CDK app with one empty stack: synthbench times it to tell
// what every synth pays (CLI, Go start-up, Node, loading aws-cdk-lib through jsii)
// before stagecoach defines anything.
package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	awscdk.NewStack(app, jsii.String("Empty"), nil)
	app.Synth(nil)
}
