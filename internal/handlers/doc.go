// Package handlers holds the source of the small Node.js Lambda functions stagecoach
// deploys inline (CloudFormation's ZipFile), so templates carry them without assets and
// reviewers see the code in the diff. Each handler takes its AWS calls as an injected
// object, which lets the tests run it under Node with recording fakes, offline.
package handlers

import _ "embed"

// ImageTags is the pipeline step around the build: in "snapshot" mode it records what
// :latest and the stage tags point to before build.yml runs; in "record" mode it checks
// that build.yml moved :latest and left every stage tag alone, and outputs IMAGE_DIGEST.
// A stage tag that moved meanwhile is build.yml's doing only if no approval of that
// stage names where it points now (see StageRecord): in SUPERSEDED mode other
// executions release while this one builds. It reads tags and records, never writes.
//
//go:embed imagetags.js
var ImageTags string

// StageRecord is the pipeline step before and after each stage's release. Before
// ("authorize", after the stage's approval), it writes the stage's record, a Parameter
// Store parameter "digest=D previous=P commit=C execution=E state=releasing": the stage
// tag may now point to D (this execution's IMAGE_DIGEST) or stay on P (where an earlier
// approval put it, and where a failed release puts it back). After ("verify"), it fails
// the stage unless the tag points to D, and otherwise writes the record again with
// state=released: from then on only D is approved. Only this function writes records,
// and only the pipeline may invoke it, with parameters fixed in the template: no build
// or release can.
//
//go:embed stagerecord.js
var StageRecord string

// TagGuard runs on every ECR push or delete of a stage tag (an EventBridge rule): if
// the tag now points to a digest its stage's record does not approve, it puts the tag
// back on the last digest a release of the stage completed with (while a release is
// under way, where it started from; no tag at all if none did), logs a line the
// stage-tag alarm counts, and forces a new deployment of the stage's service.
//
//go:embed tagguard.js
var TagGuard string

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
