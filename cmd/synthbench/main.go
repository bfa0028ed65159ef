// Command synthbench measures `cdk synth` of configs of growing size: wall time and
// peak memory (of the whole process tree: CLI, Go app and its Node child), the cost
// of each extra stack, and how much of a synth is start-up and CloudFormation
// validation. It is a benchmark, not a test: `make bench` runs it and prints a table.
//
//	go run ./cmd/synthbench [-runs 3] [config.yaml ...]
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// defaultConfigs are the sizes compared: services × stages.
var defaultConfigs = []string{"stagecoach.yaml", "testdata/configs/bench-3x4.yaml", "testdata/configs/scale.yaml"}

type result struct {
	config       string
	stacks       int
	wall         time.Duration // median
	maxRSS       int64         // KiB, largest of the runs
	noValidation time.Duration // median with CDK_VALIDATION=false
}

func main() {
	runs := flag.Int("runs", 3, "synths per measurement; the median is reported")
	flag.Parse()
	configs := flag.Args()
	if len(configs) == 0 {
		configs = defaultConfigs
	}
	tmp, err := os.MkdirTemp("", "synthbench")
	check(err)
	defer os.RemoveAll(tmp)

	// Build once, as `go run .` would, so the numbers are synth, not compile.
	app := filepath.Join(tmp, "stagecoach")
	build := exec.Command("go", "build", "-o", app, ".")
	build.Stderr = os.Stderr
	check(build.Run())

	baseline := measureEmpty(tmp, *runs)
	var results []result
	for _, c := range configs {
		r := result{config: c}
		r.wall, r.maxRSS, r.stacks = measureConfig(tmp, app, c, *runs, true)
		r.noValidation, _, _ = measureConfig(tmp, app, c, *runs, false)
		results = append(results, r)
	}

	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "config\tstacks\tsynth\tpeak RSS\twithout validation\tvalidation\t× smallest\t")
	for _, r := range results {
		fmt.Fprintf(w, "%s\t%d\t%.2fs\t%d MiB\t%.2fs\t%.2fs\t%.2f\t\n", r.config, r.stacks, r.wall.Seconds(), r.maxRSS/1024,
			r.noValidation.Seconds(), (r.wall - r.noValidation).Seconds(), r.wall.Seconds()/results[0].wall.Seconds())
	}
	w.Flush()
	if len(results) > 1 {
		first, last := results[0], results[len(results)-1]
		per := (last.wall - first.wall) / time.Duration(max(1, last.stacks-first.stacks))
		fmt.Printf("\ncost per extra stack: %.0f ms (from %d to %d stacks)\n", float64(per.Milliseconds()), first.stacks, last.stacks)
	}
	fmt.Printf("an app with one empty stack (CLI, Go, Node, aws-cdk-lib through jsii): %.2fs\n", baseline.Seconds())
}

// measureConfig synthesizes config runs times and returns the median wall time, the
// largest peak RSS and the number of stacks.
func measureConfig(tmp, app, config string, runs int, validate bool) (time.Duration, int64, int) {
	out := filepath.Join(tmp, "out")
	var walls []time.Duration
	var peak int64
	for range runs {
		os.RemoveAll(out)
		wall, rss := synth(app+" ", config, out, validate)
		walls = append(walls, wall)
		peak = max(peak, rss)
	}
	stacks, _ := filepath.Glob(filepath.Join(out, "*.template.json"))
	slices.Sort(walls)
	return walls[len(walls)/2], peak, len(stacks)
}

// measureEmpty times an app with one empty stack: what every synth pays before
// stagecoach defines anything.
func measureEmpty(tmp string, runs int) time.Duration {
	app := filepath.Join(tmp, "emptyapp")
	build := exec.Command("go", "build", "-o", app, "./cmd/synthbench/emptyapp")
	build.Stderr = os.Stderr
	check(build.Run())
	var walls []time.Duration
	for range runs {
		wall, _ := synth(app, "", filepath.Join(tmp, "empty-out"), true)
		walls = append(walls, wall)
	}
	slices.Sort(walls)
	return walls[len(walls)/2]
}

func synth(app, config, out string, validate bool) (time.Duration, int64) {
	args := []string{"synth", "-q", "--app", strings.TrimSpace(app), "-o", out}
	if config != "" {
		args = append(args, "-c", "stagecoach:config="+config)
	}
	cmd := cdk(args...)
	if !validate {
		cmd.Env = append(cmd.Env, "CDK_VALIDATION=false")
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "synth %s: %v\n%s", config, err, stderr.String())
		os.Exit(1)
	}
	wall := time.Since(start)
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss // KiB on Linux; the largest process of the tree
	}
	return wall, rss
}

func cdk(args ...string) *exec.Cmd {
	cmd := exec.Command("node_modules/.bin/cdk", args...)
	cmd.Env = append(os.Environ(), "CDK_DISABLE_VERSION_CHECK=1", "CDK_DISABLE_CLI_TELEMETRY=true",
		"AWS_EC2_METADATA_DISABLED=true", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20")
	return cmd
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
