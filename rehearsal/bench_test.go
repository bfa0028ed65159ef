package rehearsal

import (
	"fmt"
	"testing"

	"github.com/stagecoach/stagecoach/buildspecs"
	"github.com/stagecoach/stagecoach/contract"
)

// BenchmarkRelease measures one stage release of an already built image with
// each release.yml, for a small and a large image. The pull-and-push release
// moves every layer through the build container, so its cost grows with the
// image; run with -benchtime=3x or so, each iteration is a whole CodeBuild run.
//
//	go test -run '^$' -bench Release -benchtime 3x ./rehearsal/
func BenchmarkRelease(b *testing.B) {
	for _, mb := range []int{1, 64} {
		for _, tc := range []struct{ name, release string }{
			{"seed", buildspecs.SeedRelease},
			{"default", buildspecs.Release},
		} {
			b.Run(fmt.Sprintf("%s/%dMB", tc.name, mb), func(b *testing.B) {
				h := NewHarness(b)
				h.Settings["REHEARSAL_IMAGE_MB"] = fmt.Sprint(mb)
				res, _ := h.Run(b, buildspecs.Build, buildEnv(h, nil))
				if !res.Succeeded {
					b.Fatalf("build failed:\n%s", res.Log)
				}
				env := releaseEnv(h, stages[0], contract.LatestTag)
				b.ResetTimer()
				for b.Loop() {
					res, _ := h.Run(b, tc.release, env)
					if !res.Succeeded {
						b.Fatalf("release failed:\n%s", res.Log)
					}
				}
			})
		}
	}
}
