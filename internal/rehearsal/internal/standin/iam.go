package standin

import (
	"fmt"
	"strings"

	"github.com/stagecoach/stagecoach/internal/rehearsal/internal/iampolicy"
)

// principal is who the stand-ins act as: a CodeBuild project's role.
func principal(sio IO) string {
	return fmt.Sprintf("arn:aws:sts::%s:assumed-role/rehearsal-codebuild-role/AWSCodeBuild", account(sio))
}

// account is the registry ID ECR reports.
func account(sio IO) string {
	if a := sio.Getenv("REHEARSAL_ACCOUNT"); a != "" {
		return a
	}
	return "123456789012"
}

// authorizeDocker fails as docker does when ECR refuses the role one of actions
// on repo, a repository of host: by the repository's ARN in the registry's
// region, from the role's actions and statements (package iampolicy). Only
// registries that play ECR check.
func authorizeDocker(sio IO, host, repo string, actions ...string) error {
	region, ok := ecrRegion(sio, host)
	if !ok {
		return nil
	}
	role, err := iampolicy.FromSettings(sio.Getenv)
	if err != nil {
		return fail(dockerFailed, "docker stand-in: %v", err)
	}
	resource := fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s", region, account(sio), repo)
	for _, a := range actions {
		if !role.Allowed(a, resource) {
			return fail(dockerFailed, "denied: %s", role.Denial(principal(sio), a, resource))
		}
	}
	return nil
}

// ecrRegion tells whether host plays ECR and for which region: the region of a
// REHEARSAL_ECR_REGISTRY_<REGION> naming it, else the build's own region for
// REHEARSAL_ECR_REGISTRY.
func ecrRegion(sio IO, host string) (string, bool) {
	if sio.Environ != nil {
		for _, kv := range sio.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			if r, ok := strings.CutPrefix(k, "REHEARSAL_ECR_REGISTRY_"); ok && v == host {
				return strings.ToLower(strings.ReplaceAll(r, "_", "-")), true
			}
		}
	}
	if host == sio.Getenv("REHEARSAL_ECR_REGISTRY") {
		region := sio.Getenv("REHEARSAL_ECR_HOME_REGION")
		if region == "" {
			region = sio.Getenv("AWS_REGION")
		}
		if region == "" {
			region = sio.Getenv("AWS_DEFAULT_REGION")
		}
		return region, true
	}
	return "", false
}
