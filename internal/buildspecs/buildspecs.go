// Package buildspecs holds the CodeBuild buildspecs stagecoach runs when a service's
// config names none of its own: Build, run once per pipeline execution to build and
// push the image, and Release, run once per stage to promote that image and roll the
// stage's ECS service onto it.
//
// The files are plain YAML with comments written for users, so they can be copied
// into a repository as a starting point (see build.yml and release.yml here).
//
// SeedBuild and SeedRelease are TinyStacks' defaults exactly as the "Builds and
// releases" page prints them. They are the contract users' existing buildspecs were
// written against, and tests run them next to ours to prove both keep working.
package buildspecs

import (
	"embed"
	"io/fs"
)

//go:embed build.yml release.yml seed-build.yml seed-release.yml
var files embed.FS

// FS holds every buildspec of this package by file name: build.yml, release.yml,
// seed-build.yml and seed-release.yml.
var FS fs.FS = files

var (
	// Build is stagecoach's default build.yml.
	Build = mustRead("build.yml")
	// Release is stagecoach's default release.yml.
	Release = mustRead("release.yml")
	// SeedBuild is TinyStacks' default build.yml, verbatim.
	SeedBuild = mustRead("seed-build.yml")
	// SeedRelease is TinyStacks' default release.yml, verbatim.
	SeedRelease = mustRead("seed-release.yml")
)

// mustRead reads an embedded file. The names are fixed above, so a failure is a
// broken build of this package, not something a caller can handle.
func mustRead(name string) string {
	b, err := files.ReadFile(name)
	if err != nil {
		panic("buildspecs: embedded " + name + " is missing: " + err.Error())
	}
	return string(b)
}
