// Package rehearsal runs CodeBuild buildspecs on this machine the way CodeBuild
// would, so stagecoach's build.yml and release.yml, and the TinyStacks ones users
// bring, are tested for real without AWS or a Docker daemon.
//
// The pieces:
//   - Parse and Run: a buildspec (version 0.2) run with CodeBuild's phase order,
//     failure transitions, finally blocks and environment precedence, under bash
//     or under the image's sh (dash on Ubuntu images, bash on Amazon Linux).
//   - EnvFromTemplate: the environment a synthesized CodeBuild project defines,
//     with CloudFormation intrinsics resolved to fake but consistent values, so a
//     rehearsal runs with exactly what `cdk synth` produced. PipelineFromTemplate
//     goes further: every CodeBuild action of the pipeline, in run order, with its
//     action variables (IMAGE_DIGEST) and the IAM actions its role has.
//   - StartRegistry: a local OCI registry (Debian's docker-registry) playing ECR,
//     one per region a rehearsal needs.
//   - Stand-ins for `aws` and `docker` (see internal/standin), built by
//     BuildStandins and put first on PATH: they record every call and act on the
//     registry for real (pushes and pulls move real layers, put-image stores the
//     manifest it is given), refuse what the role may not do and, given the
//     repository's tag mutability, what ECR's immutable tags refuse; they run
//     docker only for a project in privileged mode. ECS deployments are scripted:
//     they roll out, fail and roll back as the scenario says; task definitions are
//     modelled (awsmodel/ecstaskdef): registered revisions last between builds, and
//     what Fargate refuses is refused.
//   - Harness: all of the above wired together for one test.
//
// testdata/tinystacks holds buildspecs in the shapes TinyStacks users have; the
// scenarios in tinystacks_test.go run them through the monorepo example's pipeline.
package rehearsal
