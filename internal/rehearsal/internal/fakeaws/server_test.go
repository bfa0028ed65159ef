package fakeaws

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// call makes a JSON 1.1 request as the CLI does, signed for region.
func call(t *testing.T, s *Server, key, region, service, target, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if key != "" {
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+key+"/20260101/"+region+"/"+service+"/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

func session(t *testing.T, s *Server, settings map[string]string) string {
	t.Helper()
	b, _ := json.Marshal(settings)
	resp, err := http.Post(s.URL+"/rehearsal/session", "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ AccessKeyID string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.AccessKeyID == "" {
		t.Fatalf("no session: %v", err)
	}
	return out.AccessKeyID
}

// TestProtocol: dispatch on X-Amz-Target, the region from the credential scope,
// and errors as {"__type", "message"} with a 4xx status.
func TestProtocol(t *testing.T) {
	s, err := Start("us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	key := session(t, s, nil)
	const token = ecrPrefix + "GetAuthorizationToken"
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		code, out := call(t, s, key, region, "ecr", token, "{}")
		data, _ := out["authorizationData"].([]any)
		if code != 200 || len(data) != 1 {
			t.Fatalf("%s: %d %v", region, code, out)
		}
		tok, _ := data[0].(map[string]any)["authorizationToken"].(string)
		// Each region's token opens that region's registry only.
		if dec, err := base64.StdEncoding.DecodeString(tok); err != nil || string(dec) != "AWS:"+LoginToken(region) {
			t.Fatalf("%s: token %q decodes to %q, want AWS:%s", region, tok, dec, LoginToken(region))
		}
	}
	for _, tc := range []struct {
		key, service, target string
		status               int
		code                 string
	}{
		{"", "ecr", token, 403, "MissingAuthenticationTokenException"},
		{"AKIAUNKNOWN", "ecr", token, 400, "UnrecognizedClientException"},
		{key, "ecr", "AmazonSSM.GetParameter", 400, "UnknownOperationException"},
		{key, "ecs", ecsPrefix + "DescribeServices", 400, "ClusterNotFoundException"},
		{key, "ecs", token, 400, "InvalidSignatureException"},
	} {
		body := `{"services": ["s"]}`
		status, out := call(t, s, tc.key, "us-east-1", tc.service, tc.target, body)
		if status != tc.status || out["__type"] != tc.code || out["message"] == "" {
			t.Errorf("%s %s: %d %v, want %d %s with a message", tc.service, tc.target, status, out, tc.status, tc.code)
		}
	}
	// The region decides where ECS looks: a cluster exists in its region only.
	s.AddService("eu-west-1", "c", "svc", "127.0.0.1:1/x:y", 1)
	if status, out := call(t, s, key, "eu-west-1", "ecs", ecsPrefix+"DescribeServices", `{"cluster": "c", "services": ["svc"]}`); status != 200 || len(out["services"].([]any)) != 1 {
		t.Errorf("describe in eu-west-1: %d %v", status, out)
	}
	if status, out := call(t, s, key, "us-east-1", "ecs", ecsPrefix+"DescribeServices", `{"cluster": "c", "services": ["svc"]}`); status != 400 || out["__type"] != "ClusterNotFoundException" {
		t.Errorf("describe in us-east-1: %d %v", status, out)
	}
	// Settings travel with the session.
	denied := session(t, s, map[string]string{"REHEARSAL_IAM_ALLOW": "ecs:DescribeServices"})
	if status, out := call(t, s, denied, "us-east-1", "ecr", token, "{}"); status != 400 || out["__type"] != "AccessDeniedException" || !strings.Contains(out["message"].(string), "ecr:GetAuthorizationToken on resource: *") {
		t.Errorf("a role without ecr:GetAuthorizationToken: %d %v", status, out)
	}
}
