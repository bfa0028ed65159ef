// Command checkbuildspec reads a build.yml or release.yml and reports, with line
// numbers and the fix, what will not work when stagecoach runs it (see package
// buildspecs/check). `make check-buildspec FILE=path/to/release.yml` runs it.
//
// Where the file runs comes from the config: the service that names it as its build or
// release buildspec, else the service given with -service (or the only one), as the
// kind given with -kind (or guessed from the file name).
//
// Exit status: 0 when nothing will fail (notes may be printed), 1 when something will,
// 2 on bad usage or an unreadable file or config.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/stagecoach/stagecoach/config"
	"github.com/stagecoach/stagecoach/internal/buildspecs/check"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("checkbuildspec", flag.ContinueOnError)
	fl.SetOutput(stderr)
	cfgPath := fl.String("config", "", "the stagecoach config `file` (default: the one cdk.json names, else stagecoach.yaml)")
	service := fl.String("service", "", "the `service` the file is for, when the config does not name the file")
	kind := fl.String("kind", "", "build or release, when the config does not name the file (default: from its name)")
	fl.Usage = func() {
		fmt.Fprintf(stderr, "usage: checkbuildspec [-config FILE] [-service NAME] [-kind build|release] BUILDSPEC\n\n")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if fl.NArg() != 1 || (*kind != "" && *kind != string(check.Build) && *kind != string(check.Release)) {
		fl.Usage()
		return 2
	}
	file := fl.Arg(0)
	if *cfgPath == "" {
		*cfgPath = configFromCDKJSON()
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	use, err := check.Find(cfg, file, *service, check.Kind(*kind))
	if err != nil {
		fmt.Fprintln(stderr, "checkbuildspec:", err)
		return 2
	}
	text, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintln(stderr, "checkbuildspec:", err)
		return 2
	}
	findings, err := check.Check(string(text), use.Options)
	if err != nil {
		fmt.Fprintf(stderr, "checkbuildspec: %s: %v\n", file, err)
		return 2
	}
	fmt.Fprintf(stdout, "%s: checked as the %s.yml of service %s (%s)\n", file, use.Options.Kind, use.Service, *cfgPath)
	errs := 0
	for _, f := range findings {
		line := fmt.Sprintf("%s:%d", file, f.Line)
		if f.Line == 0 {
			line = file
		}
		fmt.Fprintf(stdout, "%s: %s [%s] %s\n    fix: %s\n", line, f.Severity, f.Rule, f.Message, f.Fix)
		if f.Severity == check.Error {
			errs++
		}
	}
	if errs > 0 {
		fmt.Fprintf(stdout, "%d problem(s): this file will not work as it is\n", errs)
		return 1
	}
	fmt.Fprintln(stdout, "nothing will fail")
	return 0
}

// configFromCDKJSON returns the config file cdk.json names (context
// "stagecoach:config"), or stagecoach.yaml.
func configFromCDKJSON() string {
	var cdk struct {
		Context map[string]any `json:"context"`
	}
	if b, err := os.ReadFile("cdk.json"); err == nil && json.Unmarshal(b, &cdk) == nil {
		if s, ok := cdk.Context["stagecoach:config"].(string); ok && s != "" {
			return s
		}
	}
	return "stagecoach.yaml"
}
