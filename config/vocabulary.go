package config

import (
	"reflect"
	"strings"
)

// vocabulary maps keys of AWS Copilot manifests and TinyStacks settings to what a
// stagecoach config says instead, per config type: an unknown key found here gets
// this hint rather than the nearest spelling (which for "environments" would be
// "env"). Keys are compared in lower case with "_" and "-" removed.
var vocabulary = map[reflect.Type]map[string]string{
	reflect.TypeFor[Config](): {
		"environments": `Copilot's environments are stages here: "stages:" with one "- name: dev" per environment`,
		"environment":  `Copilot's environments are stages here: "stages:" with one "- name: dev" per environment`,
		"pipeline":     `the pipeline is implied: "source:" says where pushes come from, "stages:" lists the stages in release order`,
		"repository":   `the repository goes under source: "source: {repository: owner/name}"`,
		"repo":         `the repository goes under source: "source: {repository: owner/name}"`,
		"branch":       `the branch goes under source: "source: {branch: main}"`,
		"name":         `the app's name is "app:"; service names go under services`,
		"service":      `services are a list: "services: [{name: web, port: 8000}]"`,
		"variables":    `environment variables belong to a service: "env:" under services[N] (or under its stages.NAME)`,
		"env":          `environment variables belong to a service: "env:" under services[N] (or under its stages.NAME)`,
	},
	reflect.TypeFor[Service](): {
		"count":                `Copilot's count is "scale:" here: scale: {min: 1, max: 4, cpuTarget: 60}`,
		"desiredcount":         `the task count is "scale:" here: scale: {min: 1, max: 4}`,
		"variables":            `Copilot's variables are "env:" here`,
		"environment":          `environment variables are "env:" here`,
		"environmentvariables": `environment variables are "env:" here`,
		"image":                `the image is built from the repository: write "dockerfile: PATH" for Copilot's image.build and "port: N" for image.port`,
		"containerport":        `the container port is "port:" here`,
		"http":                 `Copilot's http.path is "route: {paths: [/api/*]}" here and http.healthcheck is "healthCheck:"`,
		"healthcheckpath":      `the health check path is "healthCheck:" here`,
		"dockerfilepath":       `TinyStacks' DOCKERFILE_PATH is "dockerfile:" here`,
		"buildspec":            `a build.yml goes under build: "build: {buildspec: build.yml}" (a release.yml under release:)`,
		"environments":         `per-stage settings are "stages:" here, a mapping from stage name to overrides`,
	},
	reflect.TypeFor[StageOverride](): {
		"count":     `Copilot's count is "scale:" here: scale: {min: 1, max: 4}`,
		"variables": `Copilot's variables are "env:" here`,
	},
}

// vocabularyHint returns " (HINT)" for a Copilot or TinyStacks key of type t, or "".
func vocabularyHint(t reflect.Type, key string) string {
	norm := strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(key))
	if h, ok := vocabulary[t][norm]; ok {
		return " (" + h + ")"
	}
	return ""
}
