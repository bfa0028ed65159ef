package config

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestDefaultedKeys: Parse records which of port and healthCheck the file left out,
// for the synth-time note, and only those.
func TestDefaultedKeys(t *testing.T) {
	c, err := Parse([]byte(`app: shop
region: us-east-1
source: {repository: acme/shop}
stages: [{name: dev}]
services:
  - name: web
  - name: api
    port: 3000
    route: {paths: [/api/*]}
  - name: admin
    port: 4000
    healthCheck: /health
    route: {paths: [/admin/*]}
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range [][]string{{"port", "healthCheck"}, {"healthCheck"}, nil} {
		if got := c.Services[i].Defaulted; !slices.Equal(got, want) {
			t.Errorf("services[%d].Defaulted = %v, want %v", i, got, want)
		}
	}
	// ApplyDefaults again (e.g. after Validate on a config built in Go) adds nothing.
	c.ApplyDefaults()
	if got := c.Services[0].Defaulted; len(got) != 2 {
		t.Errorf("a second ApplyDefaults left Defaulted = %v", got)
	}
}

// TestConnectionRegion: a connection is global within its partition, so one created
// in another region of the home region's partition is accepted; an ARN whose
// partition does not match its own region is refused.
func TestConnectionRegion(t *testing.T) {
	base := "app: shop\nregion: us-east-1\nsource:\n  repository: acme/shop\n  connection: %s\nstages: [{name: dev}]\nservices: [{name: web}]\n"
	for _, c := range []struct{ arn, want string }{
		{"arn:aws:codeconnections:us-west-2:123456789012:connection/abcd-1234", ""},
		{"arn:aws:codestar-connections:eu-west-1:123456789012:connection/abcd-1234", ""},
		{"arn:aws-cn:codeconnections:us-east-1:123456789012:connection/abcd-1234", "the connection's ARN says partition aws-cn but its region us-east-1 is in aws"},
		{"arn:aws-cn:codeconnections:cn-north-1:123456789012:connection/abcd-1234", "the connection was created in cn-north-1 (partition aws-cn), but the home region us-east-1 is in partition aws"},
	} {
		_, err := Parse([]byte(fmt.Sprintf(base, c.arn)), "t.yaml")
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.arn, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v; want %q", c.arn, err, c.want)
		}
	}
}
