// Package handlers holds the source of the small Node.js Lambda functions stagecoach
// deploys inline (CloudFormation's ZipFile), so templates carry them without assets and
// reviewers see the code in the diff. Each handler takes its AWS calls as an injected
// object, which lets the tests run it under Node with recording fakes, offline.
package handlers

import _ "embed"

// ImageTags is the pipeline step around the build: in "snapshot" mode it records what
// :latest and the stage tags point to before build.yml runs; in "record" mode it checks
// that build.yml moved :latest and no stage tag, and outputs IMAGE_DIGEST.
//
//go:embed imagetags.js
var ImageTags string

// DesiredCount is the custom resource that gives a stage's ECS service its
// DesiredCount and its scalable target's MinCapacity: both 0 while the stage's image
// tag does not exist (so no create or update waits on tasks that cannot start), the
// configured minimum once it does, and on updates never less than the current count
// (so a deploy never resets what autoscaling chose). The same function receives the
// service's deployment events and raises a service still at 0 to its minimum once the
// stage's tag exists: that is how the first release starts a stage.
//
//go:embed desiredcount.js
var DesiredCount string

// MaxInlineSize is the size CloudFormation accepts for inline (ZipFile) code.
const MaxInlineSize = 4096
