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
//     action variables (IMAGE_DIGEST) and the IAM statements its role has.
//   - StartRegistry: a local OCI registry (Debian's docker-registry) playing ECR,
//     one per region a rehearsal needs.
//   - The real AWS CLI (Debian's awscli, v2, /usr/bin/aws) against a local ECR and
//     ECS endpoint (internal/fakeaws) that refuses what AWS refuses: ECR acts on
//     the registries (put-image stores the manifest it is given, immutable tags
//     stay put), ECS resolves a deployment's image tag to a digest when it creates
//     the deployment, and rollouts are scripted: deployments roll out, fail and
//     roll back as the scenario says; task definitions last between builds and
//     what Fargate refuses is refused (awsmodel/ecstaskdef). A thin `aws` wrapper
//     points the CLI there.
//   - A stand-in for `docker` (see internal/standin): pushes and pulls move real
//     layers, logins need the ECR token of the registry's region (or Docker Hub's
//     access token), a copy to another registry recompresses, immutable tags are
//     not pushed over, and docker runs only for a project in privileged mode.
//     Both wrappers, built by BuildStandins and put first on PATH, record every
//     call and refuse what the build's role may not do (IAM by action and
//     resource).
//   - Harness: all of the above wired together for one test.
//
// testdata/tinystacks holds buildspecs in the shapes TinyStacks users have; the
// scenarios in tinystacks_test.go run them through the monorepo example's pipeline.
package rehearsal
