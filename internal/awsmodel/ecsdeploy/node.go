package ecsdeploy

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// bridge runs a handler's exports.run(api, event) with an api object answering from
// a snapshot of the model and recording the writes, which the model then applies.
// It offers the union of the calls stagecoach's handlers make (see handlers/): the
// older desiredCount alongside service, so the handler of any revision can run.
const bridge = `
const fs = require('fs');
const h = require(process.argv[2]);
const input = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
const out = { calls: [], response: null };
const svc = (cluster, service) => input.services[cluster + '/' + service];
const api = {
  desiredCount: async (cluster, service) => { const s = svc(cluster, service); return s ? s.desired : undefined; },
  service: async (cluster, service) => { const s = svc(cluster, service); return s ? { desiredCount: s.desired, runningCount: s.running } : undefined; },
  tagExists: async (region, repository, tag) => input.images.includes(region + '/' + repository + ':' + tag),
  registerScalableTarget: async (cluster, service, min, max) => { out.calls.push({ register: { cluster, service, min, max } }); },
  respond: async (url, body) => { out.response = JSON.parse(body); },
};
// The function's own console output is its log; the result goes to a file.
Promise.resolve(h.run(api, input.event)).then(
  () => fs.writeFileSync(process.argv[4], JSON.stringify(out)),
  (e) => fs.writeFileSync(process.argv[4], JSON.stringify({ error: String(e && e.message || e) })));
`

// Node returns a Lambda that runs inline handler code under the node binary found on
// PATH, in a fresh process per invocation, offline: the handler's AWS calls go to the
// model through the api object stagecoach's handlers take (see package handlers).
func Node(dir string) (Lambda, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, err
	}
	bridgePath := filepath.Join(dir, "bridge.js")
	if err := os.WriteFile(bridgePath, []byte(bridge), 0o644); err != nil {
		return nil, err
	}
	n := 0
	return func(source string, event map[string]any, api *API) error {
		n++
		handler := filepath.Join(dir, fmt.Sprintf("handler%d.js", n))
		if err := os.WriteFile(handler, []byte(source), 0o644); err != nil {
			return err
		}
		type svc struct {
			Desired int `json:"desired"`
			Running int `json:"running"`
		}
		state := struct {
			Event    map[string]any `json:"event"`
			Services map[string]svc `json:"services"`
			Images   []string       `json:"images"`
		}{Event: event, Services: map[string]svc{}, Images: []string{}}
		for k, s := range api.a.Services {
			if s.Region == api.region {
				state.Services[k] = svc{s.Desired, s.Running}
			}
		}
		for img, ok := range api.a.Images {
			if ok {
				state.Images = append(state.Images, img)
			}
		}
		b, err := json.Marshal(state)
		if err != nil {
			return err
		}
		input := filepath.Join(dir, fmt.Sprintf("input%d.json", n))
		if err := os.WriteFile(input, b, 0o644); err != nil {
			return err
		}
		result := filepath.Join(dir, fmt.Sprintf("result%d.json", n))
		if log, err := exec.Command(node, bridgePath, handler, input, result).CombinedOutput(); err != nil {
			return fmt.Errorf("node: %v\n%s", err, log)
		}
		stdout, err := os.ReadFile(result)
		if err != nil {
			return err
		}
		var got struct {
			Error    string           `json:"error"`
			Response map[string]any   `json:"response"`
			Calls    []map[string]any `json:"calls"`
		}
		if err := json.Unmarshal(stdout, &got); err != nil {
			return fmt.Errorf("node wrote %q: %v", stdout, err)
		}
		if got.Error != "" {
			return fmt.Errorf("the function threw: %s", got.Error)
		}
		api.Response = got.Response
		for _, c := range got.Calls {
			if r, ok := c["register"].(map[string]any); ok {
				cluster, _ := r["cluster"].(string)
				service, _ := r["service"].(string)
				var lo, hi *int
				if v, ok := number(r["min"]); ok {
					lo = &v
				}
				if v, ok := number(r["max"]); ok {
					hi = &v
				}
				if err := api.RegisterScalableTarget(cluster, service, lo, hi); err != nil {
					return err
				}
			}
		}
		return nil
	}, nil
}
