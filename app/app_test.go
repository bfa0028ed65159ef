package app

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/stagecoach/stagecoach/config"
)

func TestMain(m *testing.M) {
	code := m.Run()
	jsii.Close()
	if code != 0 {
		panic(code)
	}
}

func TestConfigPath(t *testing.T) {
	for _, c := range []struct {
		passed  string
		context any
		want    string
		wantErr string
	}{
		{"", nil, "stagecoach.yaml", ""},
		{"", "other.yaml", "other.yaml", ""},
		{"../stagecoach.yaml", nil, "../stagecoach.yaml", ""},
		{"../stagecoach.yaml", "../x/../stagecoach.yaml", "../stagecoach.yaml", ""},
		// The context key must never silently win over the caller's path.
		{"../stagecoach.yaml", "stagecoach.yaml", "", "the app reads the config ../stagecoach.yaml, but the context key stagecoach:config names stagecoach.yaml"},
		{"", true, "", "must be a file path"},
	} {
		got, err := ConfigPath(c.passed, c.context)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ConfigPath(%q, %v) = %q, %v; want an error containing %q", c.passed, c.context, got, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ConfigPath(%q, %v) = %q, %v; want %q", c.passed, c.context, got, err, c.want)
		}
	}
}

func TestCheckContextNamesEachMissingFlag(t *testing.T) {
	// A plain cdk.json: no feature flags at all.
	plain := awscdk.NewApp(&awscdk.AppProps{Context: &map[string]any{}})
	err := New(plain, nil)
	if err == nil {
		t.Fatal("New accepted a nil config")
	}
	err = CheckContext(plain)
	if err == nil {
		t.Fatal("CheckContext accepted an app without the feature flags")
	}
	for key := range requiredContext {
		if !strings.Contains(err.Error(), `"`+key+`"`) {
			t.Errorf("the error does not name %s:\n%v", key, err)
		}
	}
	// One flag set to the wrong value: named with the value found.
	ctx := RequiredContext()
	ctx["@aws-cdk/core:enablePartitionLiterals"] = false
	wrong := awscdk.NewApp(&awscdk.AppProps{Context: &ctx})
	err = CheckContext(wrong)
	if err == nil || !strings.Contains(err.Error(), `"@aws-cdk/core:enablePartitionLiterals": true (set to false)`) {
		t.Errorf("CheckContext with the partition flag false = %v", err)
	}
	if strings.Count(err.Error(), "\n") != 1 {
		t.Errorf("CheckContext named more than the one wrong flag:\n%v", err)
	}
	ok := RequiredContext()
	if err := CheckContext(awscdk.NewApp(&awscdk.AppProps{Context: &ok})); err != nil {
		t.Errorf("CheckContext with RequiredContext: %v", err)
	}
}

// TestDefaultsNote: a service that leaves out port and healthCheck gets an info
// annotation naming each default, so cdk synth prints it; one that sets both gets none.
func TestDefaultsNote(t *testing.T) {
	cfg, err := config.Parse([]byte(`app: shop
region: us-east-1
source: {repository: acme/shop}
stages: [{name: dev}]
services:
  - name: web
  - name: api
    port: 3000
    healthCheck: /health
    route: {paths: [/api/*]}
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctx := RequiredContext()
	a := awscdk.NewApp(&awscdk.AppProps{Context: &ctx})
	if err := New(a, cfg); err != nil {
		t.Fatal(err)
	}
	infos := func(stack string) []string {
		var out []string
		for _, m := range *a.Node().FindChild(jsii.String(stack)).Node().Metadata() {
			if *m.Type == "aws:cdk:info" {
				out = append(out, fmt.Sprint(m.Data))
			}
		}
		return out
	}
	web := strings.Join(infos("shop-web-pipeline"), "\n")
	for _, want := range []string{"service web: port is not set, so the load balancer sends traffic to port 8000", "service web: healthCheck is not set, so the load balancer probes /ping"} {
		if !strings.Contains(web, want) {
			t.Errorf("shop-web-pipeline's notes lack %q:\n%s", want, web)
		}
	}
	if api := infos("shop-api-pipeline"); len(api) != 0 {
		t.Errorf("shop-api-pipeline has notes although port and healthCheck are set: %v", api)
	}
}

// TestSynthRefuses runs Synth on a valid config in an app without the feature flags:
// it fails naming them, before anything is written. (The jsii runtime reads the
// environment once, so a context key contradicting the caller's path is covered by
// TestConfigPath, whose function Synth calls.)
func TestSynthRefuses(t *testing.T) {
	dir := t.TempDir()
	cfg := dir + "/stagecoach.yaml"
	if err := os.WriteFile(cfg, []byte("app: shop\nregion: us-east-1\nsource: {repository: acme/shop}\nstages: [{name: dev}]\nservices: [{name: web}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := dir + "/cdk.out"
	t.Setenv("CDK_OUTDIR", out)
	err := Synth(Options{Config: cfg})
	if err == nil || !strings.Contains(err.Error(), `"@aws-cdk/core:enablePartitionLiterals": true (missing)`) {
		t.Errorf("Synth without the flags: %v", err)
	}
	if _, err := os.Stat(out + "/manifest.json"); err == nil {
		t.Error("a refused Synth wrote a cloud assembly")
	}
}
