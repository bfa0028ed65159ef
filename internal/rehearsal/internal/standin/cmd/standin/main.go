// Command standin is the rehearsal's stand-in for `aws` and `docker`: install it
// under those names (links or copies) first on PATH. See package standin.
package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/stagecoach/stagecoach/internal/rehearsal/internal/standin"
)

func main() {
	dir, _ := os.Getwd()
	tool := strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe")
	os.Exit(standin.Main(tool, os.Args[1:], standin.IO{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Getenv: os.Getenv, Environ: os.Environ, Dir: dir,
	}))
}
