// Package handlertest runs the inline Lambda handlers of package handlers under Node,
// against an in-memory stand-in for the AWS calls they make (image tags of ECR
// repositories, Parameter Store parameters, ECS redeployments, CodePipeline job
// results). Tests and the AWS behaviour models share it: one Node process serves many
// invocations, so a model can explore thousands of interleavings with the real code.
//
// A handler is written against an injected api object (see package handlers); the
// driver gives it one whose methods act on a World:
//
//	tags(repository)                -> {tag: digest}; RepositoryNotFoundException if absent
//	putTag(repository, tag, digest) ImageNotFoundException unless the image exists
//	deleteTag(repository, tag)
//	getParam(name) -> latest value or null; putParam(name, value) adds a version
//	redeploy({cluster, service, region})
//	succeed(jobId, vars, summary); fail(jobId, message)
package handlertest

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"testing"
)

//go:embed driver.js
var driver string

// Repository is one ECR repository of a World.
type Repository struct {
	// Tags maps each tag to the digest it points to.
	Tags map[string]string `json:"tags"`
	// Digests lists the images (manifests) the repository holds, tagged or not.
	Digests []string `json:"digests"`
}

// World is the AWS state a handler sees.
type World struct {
	// Images holds the ECR repositories by name.
	Images map[string]*Repository `json:"images"`
	// Params holds each Parameter Store parameter's versions, oldest first.
	Params map[string][]string `json:"params"`
}

// Call is one effect a handler had: Op is putTag, deleteTag, putParam, redeploy,
// succeed or fail.
type Call struct {
	Op         string            `json:"op"`
	Repository string            `json:"repository,omitempty"`
	Tag        string            `json:"tag,omitempty"`
	Digest     string            `json:"digest,omitempty"`
	Name       string            `json:"name,omitempty"`
	Value      string            `json:"value,omitempty"`
	Target     map[string]string `json:"target,omitempty"`
	Job        string            `json:"job,omitempty"`
	Vars       map[string]string `json:"vars,omitempty"`
	Summary    string            `json:"summary,omitempty"`
	Message    string            `json:"message,omitempty"`
}

// Result is what one invocation did.
type Result struct {
	Calls []Call
	// Log is what the handler printed.
	Log string
	// Error is an exception the handler let escape: in Lambda, an invocation error.
	Error string
}

// Node is a running driver process.
type Node struct {
	mu  sync.Mutex
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

// Start runs the driver for t and stops it when t ends. It skips t when node is
// not installed (the CDK needs it anyway).
func Start(t testing.TB) *Node {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed (it is needed for the CDK anyway)")
	}
	cmd := exec.Command(node, "-e", driver)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &Node{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<20)}
	t.Cleanup(func() {
		in.Close()
		_ = cmd.Wait()
	})
	return n
}

// Invoke calls the function entry that source exports with (api, event, config),
// against w, which it updates. An escaped exception is returned in Result.Error.
func (n *Node) Invoke(source, entry string, event, config any, w *World) (Result, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	req, err := json.Marshal(map[string]any{"source": source, "entry": entry, "event": event, "config": config, "world": w})
	if err != nil {
		return Result{}, err
	}
	if _, err := n.in.Write(append(req, '\n')); err != nil {
		return Result{}, fmt.Errorf("handlertest: write to node: %w", err)
	}
	line, err := n.out.ReadBytes('\n')
	if err != nil {
		return Result{}, fmt.Errorf("handlertest: read from node: %w", err)
	}
	var resp struct {
		World World  `json:"world"`
		Calls []Call `json:"calls"`
		Log   string `json:"log"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(line, &resp); err != nil {
		return Result{}, fmt.Errorf("handlertest: %v: %s", err, line)
	}
	*w = resp.World
	return Result{Calls: resp.Calls, Log: resp.Log, Error: resp.Error}, nil
}

// JobEvent is the event CodePipeline sends a Lambda action: job id and UserParameters.
func JobEvent(id, userParameters string) map[string]any {
	return map[string]any{"CodePipeline.job": map[string]any{"id": id, "data": map[string]any{
		"actionConfiguration": map[string]any{"configuration": map[string]any{"UserParameters": userParameters}}}}}
}
