package config

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// FuzzParse feeds Parse arbitrary bytes, seeded with every config in the repository,
// valid and invalid. Parse must return (never panic or hang) within parseBound, and
// a config it accepts must be whole: it validates again, its defaults are complete,
// and every service resolves in every stage to a size Fargate runs.
//
// Run it with: go test -run='^$' -fuzz=FuzzParse -fuzztime=5m ./config/
// Inputs it fails on land in testdata/fuzz/FuzzParse and rerun with every go test.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/*.yaml", "testdata/invalid/*.yaml", "../testdata/configs/*.yaml", "../stagecoach.yaml"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	// Valid configs in forms the files above do not use, so that mutations
	// explore accepted input too.
	for _, src := range []string{
		"\ufeffapp: a\nregion: eu-west-1\nsource: {repository: o/r}\nstages: [{name: s}]\nservices: [{name: w}]\n",
		"%YAML 1.2\n---\n{app: a, region: us-east-1, source: {repository: o/r, branch: \"0755\"}, stages: [{name: d}, {name: p, approval: true, region: ap-south-1}], services: [{name: w, port: 80, scale: {min: 3}}]}\n",
		"app: a\nregion: us-east-1\nsource:\n  repository: o/r\nstages:\n- name: d\n- name: p\nservices:\n- name: w\n  env: &e {A: 1, B: true, C: ~}\n  stages: {p: {cpu: 1024, memory: 2048, scale: {max: 5}, env: {A: 2}}}\n- name: v\n  route: {hosts: [v.example.com], priority: 1}\n  env: *e\n  secrets: {S: /p/s}\n",
	} {
		f.Add([]byte(src))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		type result struct {
			c   *Config
			err error
		}
		done := make(chan result, 1)
		go func() {
			c, err := Parse(data, "fuzz.yaml")
			done <- result{c, err}
		}()
		var r result
		select {
		case r = <-done:
		case <-time.After(parseBound):
			t.Fatalf("Parse did not return within %v", parseBound)
		}
		if r.err != nil {
			if errors.Is(r.err, errPanic) {
				t.Fatalf("Parse panicked: %v", r.err)
			}
			if r.c != nil {
				t.Error("Parse returned both a config and an error")
			}
			if n := len(r.err.Error()); n > 100<<10 {
				t.Errorf("the error has %d bytes; it must stay readable", n)
			}
			return
		}
		checkWhole(t, r.c)
	})
}

// checkWhole asserts what the stacks rely on in a config Parse accepted.
func checkWhole(t *testing.T, c *Config) {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatalf("Parse accepted a config that Validate refuses:\n%v", err)
	}
	again := cloneConfig(c)
	again.ApplyDefaults()
	if !reflect.DeepEqual(c, again) {
		t.Errorf("ApplyDefaults changed a parsed config: its defaults were incomplete\nbefore: %+v\nafter:  %+v", c, again)
	}
	for s := range c.Services {
		for i := range c.Stages {
			d := c.Deployment(s, i)
			if !ValidTaskSize(d.CPU, d.Memory) {
				t.Errorf("services[%d] in stage %q: %d CPU with %d MiB is no Fargate size", s, d.Stage.Name, d.CPU, d.Memory)
			}
			if d.Scale.Min < 1 || d.Scale.Max < d.Scale.Min || d.Scale.Max > MaxScale {
				t.Errorf("services[%d] in stage %q: scale %+v is out of range", s, d.Stage.Name, d.Scale)
			}
			if d.Region == "" {
				t.Errorf("services[%d] in stage %q has no region", s, d.Stage.Name)
			}
			for name := range d.Secrets {
				if _, plain := d.Env[name]; plain {
					t.Errorf("services[%d] in stage %q: %s is both plain and secret", s, d.Stage.Name, name)
				}
				if _, err := ParseSecret(d.Secrets[name]); err != nil {
					t.Errorf("services[%d] in stage %q: secret %s: %v", s, d.Stage.Name, name, err)
				}
			}
		}
	}
}

// cloneConfig copies c deeply enough that ApplyDefaults on the copy leaves c alone.
func cloneConfig(c *Config) *Config {
	out := *c
	out.Stages = append([]Stage(nil), c.Stages...)
	out.Services = append([]Service(nil), c.Services...)
	for i := range out.Services {
		s := &out.Services[i]
		s.Stages = maps.Clone(s.Stages)
	}
	return &out
}
