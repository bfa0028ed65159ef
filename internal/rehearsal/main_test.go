package rehearsal

import (
	"flag"
	"os"
	"testing"
)

// rehearsalParallel is how many scenarios run at once unless -test.parallel
// says otherwise. A rehearsal spends most of its time waiting on the
// processes it runs (bash, the AWS CLI, docker-registry) rather than
// computing, so more scenarios than cores (go test's default) keep the
// machine busy: on 2 cores, 8 halve the package's time.
const rehearsalParallel = "8"

func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", rehearsalParallel)
	}
	os.Exit(m.Run())
}
