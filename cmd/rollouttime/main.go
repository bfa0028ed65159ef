// Command rollouttime prints the modelled minimum rollout time of every ECS service in
// a cloud assembly (default: cdk.out), next to what ECS and ALB defaults would give.
// Run `make rollout`, which synthesizes first.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/stagecoach/stagecoach/internal/rollout"
)

func main() {
	dir := "cdk.out"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.template.json"))
	if len(files) == 0 {
		fmt.Fprintf(os.Stderr, "no templates in %s: run `make synth` first\n", dir)
		os.Exit(1)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "service\thealth check\tdrain\tstop\twaves\tmodelled\tECS/ALB defaults\t")
	d := rollout.Defaults
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		var tmpl map[string]any
		if err := json.Unmarshal(b, &tmpl); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", f, err)
			os.Exit(1)
		}
		services, err := rollout.FromTemplate(strings.TrimSuffix(filepath.Base(f), ".template.json"), tmpl)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for _, s := range services {
			x := s.Settings
			fmt.Fprintf(w, "%s\t%ds × %d\t%ds\t%ds\t%d\t%ds\t%ds\t\n", s.Name, x.HealthCheckInterval, x.HealthyThreshold,
				x.DeregistrationDelay, x.StopTimeout, x.Waves(), x.Seconds(), d.Seconds())
		}
	}
	w.Flush()
	fmt.Printf("\nModel: waves × (%ds task start + interval × healthy threshold + deregistration delay + stop timeout).\n", rollout.TaskStartSeconds)
}
