package rehearsal

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stagecoach/stagecoach/internal/buildspecs"
	"github.com/stagecoach/stagecoach/internal/contract"
)

// BenchmarkPromotion measures promoting a built image to the first stage with
// the seed's release.yml (docker pull, tag, push) and with ours (a retag through
// the ECR API), for a small and a large image, and prints both side by side.
// Only the promotion is measured: the service is a placeholder, so neither
// release deploys. Each iteration is a whole CodeBuild run in a fresh container
// (an empty docker image store), and the stage tag is removed between runs so
// every promotion is a first one. Building the images takes a while, once.
// The table of both at the end is on standard output.
//
//	go test -run '^$' -bench Promotion ./rehearsal/
//
// The stand-in's pull stores layers as they come; real docker also unpacks
// them, so against ECR the seed's promotion costs more than measured here.
func BenchmarkPromotion(b *testing.B) {
	sizes := []int{50, 500}
	specs := []struct{ name, spec string }{
		{"seed", buildspecs.SeedRelease},
		{"default", buildspecs.Release},
	}
	perRun := map[string]time.Duration{}
	for _, mb := range sizes {
		for _, s := range specs {
			key := fmt.Sprintf("%dMB/%s", mb, s.name)
			b.Run(key, func(b *testing.B) {
				h := NewHarness(b)
				h.Settings["REHEARSAL_IMAGE_MB"] = fmt.Sprint(mb)
				// Layers of about 10% of the image, as a base image and a few
				// application layers would be.
				h.Settings["REHEARSAL_IMAGE_LAYERS"] = "10"
				res, _ := h.Run(b, buildspecs.Build, buildEnv(h, nil))
				if !res.Succeeded {
					b.Fatalf("build failed:\n%s", res.Log)
				}
				digest := h.Registry.Digest(b, repo, contract.LatestTag)
				env := releaseEnv(h, stages[0], contract.LatestTag)
				env[contract.ServiceName] = "placeholder"
				job := Job{Spec: s.spec, Env: env, Overrides: map[string]string{contract.ImageDigest: digest}}
				for b.Loop() {
					res, _ := h.RunJob(b, job)
					if !res.Succeeded || h.Registry.Digest(b, repo, stages[0].name) != digest {
						b.Fatalf("the release did not promote %s:\n%s", digest, res.Log)
					}
					b.StopTimer()
					h.Registry.Untag(b, repo, stages[0].name)
					b.StartTimer()
				}
				perRun[key] = b.Elapsed() / time.Duration(b.N)
			})
		}
	}
	var table strings.Builder
	fmt.Fprintf(&table, "\npromotion to one stage, per run (a whole CodeBuild run, local registry)\n")
	fmt.Fprintf(&table, "%-8s %12s %12s %8s\n", "image", "seed", "default", "ratio")
	for _, mb := range sizes {
		seed, ours := perRun[fmt.Sprintf("%dMB/seed", mb)], perRun[fmt.Sprintf("%dMB/default", mb)]
		if seed == 0 || ours == 0 {
			continue // filtered out with -bench
		}
		fmt.Fprintf(&table, "%-8s %12s %12s %7.1fx\n", fmt.Sprintf("%d MB", mb), seed.Round(time.Millisecond), ours.Round(time.Millisecond), float64(seed)/float64(ours))
	}
	// Printed, not logged: a parent benchmark's log is dropped without -v.
	fmt.Print(table.String())
}
