package handlers

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stagecoach/stagecoach/internal/handlers/handlertest"
)

const (
	repo    = "acme/web"
	records = "/stagecoach/acme/web"
)

func digest(n int) string { return fmt.Sprintf("sha256:%064x", n) }

func world(tags map[string]string, params map[string]string) *handlertest.World {
	w := &handlertest.World{Images: map[string]*handlertest.Repository{repo: {Tags: tags}}, Params: map[string][]string{}}
	for d := 1; d <= 9; d++ {
		w.Images[repo].Digests = append(w.Images[repo].Digests, digest(d))
	}
	for k, v := range params {
		w.Params[records+"/"+k] = []string{v}
	}
	return w
}

func jobResult(t *testing.T, res handlertest.Result) (ok map[string]string, failed string) {
	t.Helper()
	if res.Error != "" {
		t.Fatalf("the handler threw, so CodePipeline would wait for the Lambda timeout: %s", res.Error)
	}
	var n int
	for _, c := range res.Calls {
		switch c.Op {
		case "succeed":
			n++
			ok = c.Vars
		case "fail":
			n++
			failed = c.Message
		}
	}
	if n != 1 {
		t.Fatalf("%d job results, want exactly one: %+v", n, res.Calls)
	}
	return ok, failed
}

// TestBadUserParametersFailAtOnce: a malformed UserParameters must end in a job failure
// reported by the function, not an exception that leaves the action running until the
// Lambda times out (issue 9, item 7).
func TestBadUserParametersFailAtOnce(t *testing.T) {
	node := handlertest.Start(t)
	for name, src := range map[string]string{"imagetags": ImageTags, "stagerecord": StageRecord} {
		for _, tc := range []struct{ params, says string }{
			{`not json`, "UserParameters is not JSON"},
			{`null`, "UserParameters.mode is null"},
			{`{"mode":"nonsense"}`, `UserParameters.mode is "nonsense"`},
			{`{"mode":"snapshot","repository":"acme/web"}`, "lacks stages"},
			{`{"mode":"record","repository":"acme/web","stages":["dev"]}`, "lacks records"},
			{`{"mode":"authorize","repository":"acme/web","records":"/r","stage":"dev"}`, "lacks digest"},
			{`{"mode":"authorize","repository":"acme/web","records":"/r","stage":"dev","digest":""}`, "lacks digest"},
			{`{"mode":"verify","repository":"acme/web","records":"/r","stage":"dev","digest":"latest"}`, `IMAGE_DIGEST "latest" is not an image digest`},
		} {
			t.Run(name+" "+tc.params, func(t *testing.T) {
				res, err := node.Invoke(src, "run", handlertest.JobEvent("job-1", tc.params), nil, world(map[string]string{}, nil))
				if err != nil {
					t.Fatal(err)
				}
				ok, failed := jobResult(t, res)
				if ok != nil {
					t.Fatalf("succeeded with %s", tc.params)
				}
				says := tc.says
				if mine := map[string][]string{"imagetags": {"snapshot", "record"}, "stagerecord": {"authorize", "verify"}}[name]; strings.Contains(tc.params, `"mode":"`) &&
					!strings.Contains(tc.params, `"mode":"`+mine[0]+`"`) && !strings.Contains(tc.params, `"mode":"`+mine[1]+`"`) {
					says = "want " + mine[0] + " or " + mine[1] // the other handler's mode
				}
				if !strings.Contains(failed, says) {
					t.Errorf("failure %q does not say %q", failed, says)
				}
			})
		}
	}
}

// TestImageDigestWithRecords: a stage tag that moved during the build is only the
// build's doing when no approval of the stage names its new digest.
func TestImageDigestWithRecords(t *testing.T) {
	node := handlertest.Start(t)
	before := fmt.Sprintf("latest=%s,dev=%s,prod=%s", digest(1), digest(1), digest(2))
	for _, tc := range []struct {
		name    string
		tags    map[string]string
		records map[string]string
		fails   string
	}{
		{"another execution released prod meanwhile", map[string]string{"latest": digest(3), "dev": digest(1), "prod": digest(1)},
			map[string]string{"prod": "digest=" + digest(1) + " previous=" + digest(2)}, ""},
		{"a release failed and went back meanwhile", map[string]string{"latest": digest(3), "dev": digest(1), "prod": digest(5)},
			map[string]string{"prod": "digest=" + digest(4) + " previous=" + digest(5)}, ""},
		{"build pushed prod", map[string]string{"latest": digest(3), "dev": digest(1), "prod": digest(3)},
			map[string]string{"prod": "digest=" + digest(2) + " previous="}, "moved the stage tag(s) prod"},
		{"build pushed a stage never released", map[string]string{"latest": digest(3), "dev": digest(1), "prod": digest(2), "staging": digest(3)},
			nil, "moved the stage tag(s) staging"},
		{"build pushed prod back to the image before the last completed release", map[string]string{"latest": digest(3), "dev": digest(1), "prod": digest(5)},
			map[string]string{"prod": "digest=" + digest(2) + " previous=" + digest(5) + " state=released"}, "moved the stage tag(s) prod"},
		{"build removed dev", map[string]string{"latest": digest(3), "prod": digest(2)},
			map[string]string{"dev": "digest=" + digest(1) + " previous=" + digest(6)}, "moved the stage tag(s) dev"},
		{"a first release failed and removed its tag", map[string]string{"latest": digest(3), "prod": digest(2)},
			map[string]string{"dev": "digest=" + digest(1) + " previous="}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			params, _ := json.Marshal(map[string]any{"mode": "record", "repository": repo, "stages": []string{"dev", "staging", "prod"}, "before": before, "records": records})
			res, err := node.Invoke(ImageTags, "run", handlertest.JobEvent("job-1", string(params)), nil, world(tc.tags, tc.records))
			if err != nil {
				t.Fatal(err)
			}
			ok, failed := jobResult(t, res)
			if tc.fails == "" {
				if ok["IMAGE_DIGEST"] != digest(3) {
					t.Errorf("got %v / %q, want IMAGE_DIGEST %s", ok, failed, digest(3))
				}
			} else if !strings.Contains(failed, tc.fails) {
				t.Errorf("failure %q, want %q", failed, tc.fails)
			}
		})
	}
}

func TestStageRecord(t *testing.T) {
	node := handlertest.Start(t)
	params := func(mode string, d int) string {
		b, _ := json.Marshal(map[string]any{"mode": mode, "repository": repo, "records": records, "stage": "prod", "digest": digest(d), "commit": "c0ffee", "execution": "e-1"})
		return string(b)
	}
	t.Run("authorize", func(t *testing.T) {
		const meta = " commit=c0ffee execution=e-1 state=releasing"
		for _, tc := range []struct {
			name, record string
			tag          string
			want         string
		}{
			{"first release", "", "", "digest=" + digest(3) + " previous=" + meta},
			{"first release after an upgrade", "", digest(2), "digest=" + digest(3) + " previous=" + digest(2) + meta},
			{"later release", "digest=" + digest(2) + " previous=" + digest(1) + " state=released", digest(2), "digest=" + digest(3) + " previous=" + digest(2) + meta},
			{"after a failed release", "digest=" + digest(2) + " previous=" + digest(1) + " state=releasing", digest(1), "digest=" + digest(3) + " previous=" + digest(1) + meta},
			{"retry of the same release", "digest=" + digest(3) + " previous=" + digest(2) + " state=releasing", digest(3), "digest=" + digest(3) + " previous=" + digest(2) + meta},
			// A tampered tag does not become the way back: the record says where the stage was.
			{"later release, tag tampered", "digest=" + digest(2) + " previous=" + digest(1) + " state=released", digest(9), "digest=" + digest(3) + " previous=" + digest(2) + meta},
			{"later release, tag on the image before", "digest=" + digest(2) + " previous=" + digest(1) + " state=released", digest(1), "digest=" + digest(3) + " previous=" + digest(2) + meta},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tags, recs := map[string]string{}, map[string]string{}
				if tc.tag != "" {
					tags["prod"] = tc.tag
				}
				if tc.record != "" {
					recs["prod"] = tc.record
				}
				w := world(tags, recs)
				res, err := node.Invoke(StageRecord, "run", handlertest.JobEvent("job-1", params("authorize", 3)), nil, w)
				if err != nil {
					t.Fatal(err)
				}
				if _, failed := jobResult(t, res); failed != "" {
					t.Fatal(failed)
				}
				h := w.Params[records+"/prod"]
				if got := h[len(h)-1]; got != tc.want {
					t.Errorf("record %q, want %q", got, tc.want)
				}
				if w.Images[repo].Tags["prod"] != tc.tag {
					t.Error("authorize moved the tag; only releases do")
				}
			})
		}
	})
	t.Run("verify", func(t *testing.T) {
		rec := map[string]string{"prod": "digest=" + digest(3) + " previous=" + digest(2) + " commit=c0ffee execution=e-1 state=releasing"}
		for _, tc := range []struct{ tag, fails string }{
			{digest(3), ""},
			{digest(2), "points to " + digest(2) + ", not to " + digest(3)},
			{digest(7), "No approval names it"},
			{"", "points to nothing"},
		} {
			tags := map[string]string{}
			if tc.tag != "" {
				tags["prod"] = tc.tag
			}
			w := world(tags, rec)
			res, err := node.Invoke(StageRecord, "run", handlertest.JobEvent("job-1", params("verify", 3)), nil, w)
			if err != nil {
				t.Fatal(err)
			}
			_, failed := jobResult(t, res)
			if (tc.fails == "") != (failed == "") || !strings.Contains(failed, tc.fails) {
				t.Errorf("tag %q: failure %q, want %q", tc.tag, failed, tc.fails)
			}
			h := w.Params[records+"/prod"]
			want := rec["prod"]
			if tc.fails == "" {
				want = strings.Replace(want, "state=releasing", "state=released", 1)
			}
			if got := h[len(h)-1]; got != want {
				t.Errorf("tag %q: record %q, want %q", tc.tag, got, want)
			}
		}
		// Verify of a release another execution has since re-recorded fails too.
		w := world(map[string]string{"prod": digest(3)}, map[string]string{"prod": "digest=" + digest(4) + " previous=" + digest(3) + " state=releasing"})
		res, _ := node.Invoke(StageRecord, "run", handlertest.JobEvent("job-1", params("verify", 3)), nil, w)
		if _, failed := jobResult(t, res); failed == "" {
			t.Error("verify passed although the record names another release")
		}
	})
}

func TestTagGuard(t *testing.T) {
	node := handlertest.Start(t)
	conf := map[string]any{"repository": repo, "records": records, "stages": map[string]any{
		"dev":  map[string]string{"cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/acme-dev", "service": "acme-dev-web", "region": "us-east-1"},
		"prod": map[string]string{"cluster": "arn:aws:ecs:eu-west-1:123456789012:cluster/acme-prod", "service": "acme-prod-web", "region": "eu-west-1"},
	}}
	event := func(tag string) map[string]any {
		return map[string]any{"source": "aws.ecr", "detail-type": "ECR Image Action", "detail": map[string]any{
			"result": "SUCCESS", "repository-name": repo, "action-type": "PUSH", "image-tag": tag, "image-digest": digest(9)}}
	}
	for _, tc := range []struct {
		name, tag, now, record string
		want                   string // the tag afterwards; "" removed
		acts                   bool
	}{
		{"release of the approved digest", "prod", digest(3), "digest=" + digest(3) + " previous=" + digest(2), digest(3), false},
		{"failed release went back", "prod", digest(2), "digest=" + digest(3) + " previous=" + digest(2), digest(2), false},
		{"build pushed prod after its release", "prod", digest(9), "digest=" + digest(3) + " previous=" + digest(2) + " state=released", digest(3), true},
		{"build pushed the image before", "prod", digest(2), "digest=" + digest(3) + " previous=" + digest(2) + " state=released", digest(3), true},
		{"build pushed prod during its release", "prod", digest(9), "digest=" + digest(3) + " previous=" + digest(2) + " state=releasing", digest(2), true},
		{"prod never released", "prod", digest(9), "", "", true},
		{"prod deleted", "prod", "", "digest=" + digest(3) + " previous=" + digest(2) + " state=released", digest(3), true},
		{"first release failed and removed the tag", "prod", "", "digest=" + digest(3) + " previous=", "", false},
		{"build pushed prod during its first release", "prod", digest(9), "digest=" + digest(3) + " previous= state=releasing", "", true},
		{"not a stage tag", "latest", digest(9), "", digest(9), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tags, recs := map[string]string{}, map[string]string{}
			if tc.now != "" {
				tags[tc.tag] = tc.now
			}
			if tc.record != "" {
				recs[tc.tag] = tc.record
			}
			w := world(tags, recs)
			res, err := node.Invoke(TagGuard, "run", event(tc.tag), conf, w)
			if err != nil || res.Error != "" {
				t.Fatal(err, res.Error)
			}
			if got := w.Images[repo].Tags[tc.tag]; got != tc.want {
				t.Errorf(":%s is on %q, want %q", tc.tag, got, tc.want)
			}
			var redeployed []map[string]string
			for _, c := range res.Calls {
				if c.Op == "redeploy" {
					redeployed = append(redeployed, c.Target)
				}
			}
			alarmed := strings.Contains(res.Log, "UNAPPROVED_STAGE_TAG "+repo+":"+tc.tag)
			if alarmed != tc.acts || (len(redeployed) == 1) != tc.acts {
				t.Errorf("logged the alarm line %v, redeployed %v; want action %v (log %q)", alarmed, redeployed, tc.acts, res.Log)
			}
			if tc.acts && redeployed[0]["service"] != "acme-"+tc.tag+"-web" {
				t.Errorf("redeployed %v, want the %s service", redeployed[0], tc.tag)
			}
		})
	}
	// Events about another repository, or failed pushes, are not the guard's business.
	w := world(map[string]string{"prod": digest(9)}, nil)
	ev := event("prod")
	ev["detail"].(map[string]any)["result"] = "FAILURE"
	if res, err := node.Invoke(TagGuard, "run", ev, conf, w); err != nil || len(res.Calls) != 0 || w.Images[repo].Tags["prod"] != digest(9) {
		t.Errorf("a failed push was acted on: %+v %v", res, err)
	}
}
