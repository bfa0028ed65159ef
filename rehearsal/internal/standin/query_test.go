package standin

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestQuery(t *testing.T) {
	var doc any
	if err := json.Unmarshal([]byte(`{"images": [{"imageManifest": "{}", "imageId": {"imageTag": "dev"}}, {"imageManifest": "m2"}], "failures": []}`), &doc); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]any{
		"images[0].imageManifest":    "{}",
		"images[-1].imageManifest":   "m2",
		"images[0].imageId.imageTag": "dev",
		"images[5].imageManifest":    nil,
		"failures[0].failureCode":    nil,
		"nothing.at.all":             nil,
		"images[0].imageId":          map[string]any{"imageTag": "dev"},
	} {
		got, err := query(doc, q)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("query %q = %v, %v; want %v", q, got, err, want)
		}
	}
	for _, q := range []string{"images[*].imageManifest", "images[].imageManifest", "length(images)", "images.", "a..b", "images[0",
		"images[?x>'y']", "images[?x=='y'", "images[?x==y]", "images[0] || failures", "images.imageId[imageTag]", "images[0].[a,"} {
		if _, err := query(doc, q); err == nil {
			t.Errorf("query %q was accepted; the stand-in must refuse what it does not evaluate", q)
		}
	}
}

func TestQueryFiltersListsAndPipes(t *testing.T) {
	var doc any
	if err := json.Unmarshal([]byte(`{"services": [{"status": "ACTIVE", "desiredCount": 2, "deployments": [
		{"id": "d2", "status": "PRIMARY", "rolloutState": "IN_PROGRESS"},
		{"id": "d1", "status": "ACTIVE", "rolloutState": "FAILED", "rolloutStateReason": "circuit breaker"}]}]}`), &doc); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]any{
		"services[0].[status, desiredCount]":                                          []any{"ACTIVE", float64(2)},
		"services[1].[status, desiredCount]":                                          nil,
		"services[0].deployments[?status=='PRIMARY'].id":                              []any{"d2"},
		"services[0].deployments[?status=='PRIMARY'].id | [0]":                        "d2",
		"services[0].deployments[?status!='PRIMARY'].rolloutStateReason":              []any{"circuit breaker"},
		"services[0].deployments[?id=='d1'] | [0].[rolloutState, rolloutStateReason]": []any{"FAILED", "circuit breaker"},
		"services[0].deployments[?id=='d9'] | [0].[rolloutState, rolloutStateReason]": nil,
		"services[0].deployments[?id=='d2'].rolloutStateReason":                       []any{},
		"services[?desiredCount==`2`].status":                                         []any{"ACTIVE"},
		"[services[0].status, services[0].desiredCount]":                              []any{"ACTIVE", float64(2)},
	} {
		got, err := query(doc, q)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("query %q = %#v, %v; want %#v", q, got, err, want)
		}
	}
}

func TestText(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
	}{
		{nil, "None"}, {"s", "s"}, {true, "True"}, {float64(42), "42"}, {[]any{"a", "b"}, "a\tb"},
	} {
		if got, err := text(tc.in); err != nil || got != tc.want {
			t.Errorf("text(%v) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := text(map[string]any{"a": "b"}); err == nil {
		t.Error("text of an object was accepted")
	}
}

func TestParseAWS(t *testing.T) {
	env := map[string]string{"AWS_DEFAULT_REGION": "eu-west-1"}
	c, err := parseAWS([]string{"ecr", "batch-get-image", "--repository-name", "r", "--image-ids", "imageTag=a", "imageDigest=sha256:x", "--output=text"}, IO{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	if c.region != "eu-west-1" || c.output != "text" || !reflect.DeepEqual(c.opts["--image-ids"], []string{"imageTag=a", "imageDigest=sha256:x"}) {
		t.Errorf("parsed %+v", c)
	}
	ids, err := parseImageIDs(c.opts["--image-ids"])
	if err != nil || !reflect.DeepEqual(ids, []imageID{{ImageTag: "a"}, {ImageDigest: "sha256:x"}}) {
		t.Errorf("image ids %v, %v", ids, err)
	}
	if _, err := parseAWS([]string{"ecr", "put-image", "--image-tag"}, IO{Getenv: func(string) string { return "" }}); err == nil {
		t.Error("an option without its value was accepted")
	}
}
