package standin

import (
	"fmt"
	"path"
	"strings"
)

// principal is who the stand-ins act as: a CodeBuild project's role.
func principal(sio IO) string {
	return fmt.Sprintf("arn:aws:sts::%s:assumed-role/rehearsal-codebuild-role/AWSCodeBuild", account(sio))
}

// allowed tells whether REHEARSAL_IAM_ALLOW lets the build call action. Unset,
// everything is allowed; set, it lists the actions the project's role has,
// comma-separated, with IAM's wildcards (ecr:*, ecr:Batch*) and its
// case-insensitive matching. Resources are not modelled: a rehearsal talks to
// one repository and the services its scenario names.
func allowed(sio IO, action string) bool {
	list := sio.Getenv("REHEARSAL_IAM_ALLOW")
	if list == "" {
		return true
	}
	for _, pattern := range strings.Split(list, ",") {
		pattern = strings.ToLower(strings.TrimSpace(pattern))
		if ok, _ := path.Match(pattern, strings.ToLower(action)); ok {
			return true
		}
	}
	return false
}

// authorize fails as the AWS CLI does when the role lacks action.
func (c *awsCall) authorize(operation, action, resource string) error {
	if allowed(c.sio, action) {
		return nil
	}
	return c.serviceError("AccessDeniedException", operation, "User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action", principal(c.sio), action, resource, action)
}

// repositoryARN is the ARN of an ECR repository in the call's region.
func (c *awsCall) repositoryARN(repo string) string {
	return fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s", c.region, c.account, repo)
}

// authorizeDocker fails as docker does when ECR refuses the role one of actions
// on repo, a repository of host. Only registries that play ECR check.
func authorizeDocker(sio IO, host, repo string, actions ...string) error {
	region, ok := ecrRegion(sio, host)
	if !ok {
		return nil
	}
	for _, a := range actions {
		if !allowed(sio, a) {
			resource := fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s", region, account(sio), repo)
			return fail(dockerFailed, "denied: User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action", principal(sio), a, resource, a)
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
		region := sio.Getenv("AWS_REGION")
		if region == "" {
			region = sio.Getenv("AWS_DEFAULT_REGION")
		}
		return region, true
	}
	return "", false
}
