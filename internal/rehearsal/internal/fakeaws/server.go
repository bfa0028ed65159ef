// Package fakeaws is a local ECR and ECS endpoint for rehearsals: the real AWS
// CLI (Debian's awscli, v2) is pointed at it with --endpoint-url, so option
// parsing, --query (JMESPath), text output, pagination, waiters, error text and
// exit codes are the CLI's own, and only the services are played here.
//
// It speaks the services' JSON 1.1 protocol on 127.0.0.1, as the AWS API
// references describe it ("Making API requests" in the ECR and ECS references):
// a POST to / whose X-Amz-Target header names the operation,
// AmazonEC2ContainerRegistry_V20150921.<Operation> or
// AmazonEC2ContainerServiceV20141113.<Operation>; errors are a JSON body
// {"__type": CODE, "message": TEXT} with a 4xx status, which the CLI prints as
// "An error occurred (CODE) when calling the OPERATION operation: TEXT" and exits
// 254. The region of a request is the one in the credential scope of its SigV4
// Authorization header (Credential=KEY/DATE/REGION/SERVICE/aws4_request); the
// signature itself is not checked.
//
// ECR acts on real registries (one per region, see SetRegistry): images, tags and
// manifests are the registry's; ECR's rules (tag immutability, ImageAlreadyExists,
// digest checks) are applied on top. ECS is scripted: services, their task
// definitions and how deployments roll out are set by the rehearsal, while what a
// deployment runs is resolved from the registry as ECS does (see ecs.go).
//
// Each CLI call carries its settings (the REHEARSAL_* variables of the build that
// made it) through a session: the wrapper registers them at /rehearsal/session and
// signs the call with the access key it gets back. The settings the endpoint reads:
//
//	REHEARSAL_ACCOUNT             the account of ARNs and registry IDs (123456789012)
//	REHEARSAL_IAM_ALLOW, REHEARSAL_IAM_POLICY  the build role (package iampolicy)
//	REHEARSAL_ECR_REPOSITORIES    repositories that exist, comma-separated; unset: all
//	REHEARSAL_ECR_MISSING_<REGION>  repositories that do not exist (yet) in that region
//	REHEARSAL_ECR_TAG_MUTABILITY  MUTABILITY[:FILTER,...] for every repository, over
//	                              the one SetRepository gave
//	REHEARSAL_ECS_*               how ECS plays out (see ecs.go)
package fakeaws

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/stagecoach/stagecoach/internal/awsmodel/ecrtags"
)

// DefaultAccount is the account every ARN and registry ID is in, unless a
// session's REHEARSAL_ACCOUNT says otherwise.
const DefaultAccount = "123456789012"

// The targets' prefixes, one per service.
const (
	ecrPrefix = "AmazonEC2ContainerRegistry_V20150921."
	ecsPrefix = "AmazonEC2ContainerServiceV20141113."
)

// Server is one fake endpoint. Its state lasts as long as the server: ECS
// services keep their deployments from one build to the next, as they do in AWS.
type Server struct {
	// URL is http://127.0.0.1:PORT, for --endpoint-url.
	URL string

	ln   net.Listener
	http *http.Server

	mu         sync.Mutex
	sessions   map[string]map[string]string
	registries map[string]registry // by region
	home       string
	repos      map[string]ecrtags.Policy
	clusters   map[string]*cluster // by REGION/NAME
	taskDefs   map[string][]map[string]any
	nextID     int
	now        time.Time
}

type registry struct{ host, storage string }

// Start starts a server on a free port of 127.0.0.1. home is the region whose
// registry plays ECR when no other is set for a region (see SetRegistry).
func Start(home string) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fakeaws: listen on 127.0.0.1: %w", err)
	}
	s := &Server{
		URL: "http://" + ln.Addr().String(), ln: ln, home: home,
		sessions: map[string]map[string]string{}, registries: map[string]registry{},
		repos: map[string]ecrtags.Policy{}, clusters: map[string]*cluster{},
		taskDefs: map[string][]map[string]any{},
		now:      time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.http.Serve(ln)
	return s, nil
}

// Close stops the server.
func (s *Server) Close() error { return s.http.Close() }

// SetRegistry makes the local registry at host (host:port, its storage
// directory storage) play ECR in region. Every region has its own registry, as
// in AWS; a region without one has no repositories.
func (s *Server) SetRegistry(region, host, storage string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.registries[region] = registry{host, storage}
}

// SetRepository sets the tag mutability of the repository name in every region
// (a repository's default is MUTABLE, as ECR's).
func (s *Server) SetRepository(name string, p ecrtags.Policy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos[name] = p
}

// tick is the fake's clock: every call moves it on a second, so timestamps
// (imagePushedAt, createdAt) are ordered and reproducible.
func (s *Server) tick() time.Time {
	s.now = s.now.Add(time.Second)
	return s.now
}

// request is one call: its operation, region, session settings and input.
type request struct {
	op, service, region, account string
	settings                     map[string]string
	input                        map[string]any
}

func (r *request) getenv(k string) string { return r.settings[k] }

// apiError is an error response.
type apiError struct {
	status    int
	code, msg string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func clientError(code, format string, args ...any) error {
	return &apiError{http.StatusBadRequest, code, fmt.Sprintf(format, args...)}
}

var credentialScope = regexp.MustCompile(`Credential=([^/,\s]+)/[0-9]{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request`)

func (s *Server) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	if hr.URL.Path == "/rehearsal/session" {
		s.newSession(w, hr)
		return
	}
	out, err := s.serve(hr)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = &apiError{http.StatusInternalServerError, "ServerException", err.Error()}
		}
		w.WriteHeader(ae.status)
		json.NewEncoder(w).Encode(map[string]string{"__type": ae.code, "message": ae.msg})
		return
	}
	json.NewEncoder(w).Encode(out)
}

func (s *Server) serve(hr *http.Request) (any, error) {
	if hr.Method != http.MethodPost {
		return nil, clientError("UnknownOperationException", "the JSON protocol takes POST, not %s", hr.Method)
	}
	m := credentialScope.FindStringSubmatch(hr.Header.Get("Authorization"))
	if m == nil {
		return nil, &apiError{http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token"}
	}
	key, region := m[1], m[2]
	s.mu.Lock()
	settings, ok := s.sessions[key]
	s.mu.Unlock()
	if !ok {
		return nil, clientError("UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	target := hr.Header.Get("X-Amz-Target")
	req := &request{region: region, settings: settings, account: DefaultAccount, input: map[string]any{}}
	if a := settings["REHEARSAL_ACCOUNT"]; a != "" {
		req.account = a
	}
	body, err := io.ReadAll(hr.Body)
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &req.input); err != nil {
			return nil, &apiError{http.StatusBadRequest, "SerializationException", err.Error()}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case strings.HasPrefix(target, ecrPrefix):
		req.op, req.service = strings.TrimPrefix(target, ecrPrefix), "ecr"
		if m[3] != "ecr" && m[3] != "api.ecr" {
			return nil, clientError("InvalidSignatureException", "Credential should be scoped to correct service: 'ecr'.")
		}
		return s.ecr(req)
	case strings.HasPrefix(target, ecsPrefix):
		req.op, req.service = strings.TrimPrefix(target, ecsPrefix), "ecs"
		if m[3] != "ecs" {
			return nil, clientError("InvalidSignatureException", "Credential should be scoped to correct service: 'ecs'.")
		}
		return s.ecs(req)
	}
	return nil, clientError("UnknownOperationException", "the fake endpoint plays ECR and ECS only; X-Amz-Target %q is neither (extend internal/rehearsal/internal/fakeaws if a buildspec needs it)", target)
}

// newSession registers a call's settings and answers with the access key that
// names them.
func (s *Server) newSession(w http.ResponseWriter, hr *http.Request) {
	var settings map[string]string
	if err := json.NewDecoder(hr.Body).Decode(&settings); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.nextID++
	key := fmt.Sprintf("AKIAREHEARSAL%07d", s.nextID)
	s.sessions[key] = settings
	s.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]string{"accessKeyId": key})
}

// principal is who the calls are made as: a CodeBuild project's role.
func (r *request) principal() string {
	return fmt.Sprintf("arn:aws:sts::%s:assumed-role/rehearsal-codebuild-role/AWSCodeBuild", r.account)
}

// Input readers. The CLI has validated types against the service model already.

func (r *request) str(k string) string {
	v, _ := r.input[k].(string)
	return v
}

func (r *request) strs(k string) []string {
	list, _ := r.input[k].([]any)
	var out []string
	for _, v := range list {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func (r *request) need(k string) (string, error) {
	v := r.str(k)
	if v == "" {
		return "", clientError("InvalidParameterException", "%s is required", k)
	}
	return v, nil
}
