package rehearsal

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestStandinDockerImages: `docker images --no-trunc --quiet REF` prints the image ID,
// the digest of the image's config, as Docker does.
func TestStandinDockerImages(t *testing.T) {
	h := newHarness(t)
	c := newCLI(t, h)
	c.pushed()
	id := strings.TrimSpace(c.ok("docker", "images", "--no-trunc", "--quiet", "builtimage:latest"))
	config := strings.TrimSpace(c.ok("aws", "ecr", "batch-get-image", "--repository-name", repo, "--image-ids", "imageTag=latest", "--query", "images[0].imageManifest", "--output", "text"))
	var m struct{ Config struct{ Digest string } }
	if err := json.Unmarshal([]byte(config), &m); err != nil {
		t.Fatal(err)
	}
	if id != m.Config.Digest {
		t.Errorf("image ID %q, want the config digest %q", id, m.Config.Digest)
	}
	if short := strings.TrimSpace(c.ok("docker", "images", "-q", "builtimage")); short != strings.TrimPrefix(id, "sha256:")[:12] {
		t.Errorf("short ID %q", short)
	}
	if out := c.ok("docker", "images", "-q", "other:latest"); out != "" {
		t.Errorf("an image that does not exist: %q", out)
	}
}

// TestStandinTaskDefinitions: register-task-definition refuses what Fargate refuses,
// a Fargate service refuses an EC2-only revision, IAM checks the passed roles, and a
// call without the stage's region does not find its cluster.
func TestStandinTaskDefinitions(t *testing.T) {
	h := newHarness(t)
	const region, cluster, service = "eu-west-1", "arn:aws:ecs:eu-west-1:123456789012:cluster/acme-prod", "acme-prod-web"
	first := h.AddStageService(region, cluster, service, map[string]any{
		"family": "acme-prod-web", "compatibilities": []any{"EC2", "FARGATE"},
		"requiresCompatibilities": []any{"FARGATE"}, "networkMode": "awsvpc", "cpu": "256", "memory": "512",
		"executionRoleArn": "arn:aws:iam::123456789012:role/acme-prod-web-execution",
		"containerDefinitions": []any{map[string]any{"name": "App", "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/acme/web:prod",
			"logConfiguration": map[string]any{"logDriver": "awslogs"}}},
	}, "FARGATE")
	if first != "arn:aws:ecs:eu-west-1:123456789012:task-definition/acme-prod-web:1" {
		t.Fatalf("the stage's task definition is %s", first)
	}
	c := newCLI(t, h)
	at := []string{"--region", region}
	if got := c.ok(append([]string{"aws", "ecs", "describe-services", "--cluster", cluster, "--services", service, "--query", "services[0].taskDefinition", "--output", "text"}, at...)...); got != first+"\n" {
		t.Errorf("the service runs %q, want %s", got, first)
	}
	// A cluster ARN of another region than the call's: ECS answers
	// InvalidParameterException "Invalid Region in ARN".
	if _, code := c.run("", "aws", "ecs", "describe-services", "--cluster", cluster, "--services", service); code != 254 || !strings.Contains(c.last, "Invalid Region in ARN") {
		t.Errorf("describe-services in the home region: exit %d, %s", code, c.last)
	}
	containers := `[{"name":"App","image":"123456789012.dkr.ecr.eu-west-1.amazonaws.com/acme/web:abc","logConfiguration":{"logDriver":"awslogs"}}]`
	register := append([]string{"aws", "ecs", "register-task-definition", "--family", "acme-prod-web", "--container-definitions", containers,
		"--task-role-arn", "arn:aws:iam::123456789012:role/acme-prod-web-task", "--query", "taskDefinition.taskDefinitionArn", "--output", "text"}, at...)
	// As written for EC2: registered, for EC2 only; the Fargate service refuses it.
	ec2 := strings.TrimSpace(c.ok(register...))
	if ec2 != "arn:aws:ecs:eu-west-1:123456789012:task-definition/acme-prod-web:2" {
		t.Errorf("the EC2 revision is %q", ec2)
	}
	if _, code := c.run("", append([]string{"aws", "ecs", "update-service", "--cluster", cluster, "--service", service, "--task-definition", ec2}, at...)...); code != 254 || !strings.Contains(c.last, "does not support launch_type FARGATE") {
		t.Errorf("moving a Fargate service to an EC2 revision: exit %d, %s", code, c.last)
	}
	// Asking for Fargate without its fields.
	if _, code := c.run("", append(register, "--requires-compatibilities", "FARGATE", "--network-mode", "awsvpc")...); code != 254 || !strings.Contains(c.last, "'cpu' be defined at the task level") {
		t.Errorf("Fargate without cpu: exit %d, %s", code, c.last)
	}
	fargate := append(register, "--requires-compatibilities", "FARGATE", "--network-mode", "awsvpc", "--cpu", "256", "--memory", "512",
		"--execution-role-arn", "arn:aws:iam::123456789012:role/acme-prod-web-execution")
	// IAM: passing the roles needs iam:PassRole.
	denied := newCLI(t, h, "REHEARSAL_IAM_ALLOW=ecs:*")
	if _, code := denied.run("", fargate...); code != 254 || !strings.Contains(denied.last, "iam:PassRole") {
		t.Errorf("register without iam:PassRole: exit %d, %s", code, denied.last)
	}
	rev := strings.TrimSpace(c.ok(fargate...))
	c.ok(append([]string{"aws", "ecs", "update-service", "--cluster", cluster, "--service", service, "--task-definition", rev}, at...)...)
	if got := c.ok(append([]string{"aws", "ecs", "describe-task-definition", "--task-definition", "acme-prod-web", "--query", "taskDefinition.[revision, cpu, networkMode]", "--output", "text"}, at...)...); got != "3\t256\tawsvpc\n" {
		t.Errorf("the family's latest revision: %q", got)
	}
	if got := c.ok(append([]string{"aws", "ecs", "describe-services", "--cluster", cluster, "--services", service, "--query", "services[0].taskDefinition", "--output", "text"}, at...)...); got != rev+"\n" {
		t.Errorf("after update-service the service runs %q, want %s", got, rev)
	}
	// A family is per region: the home region has none.
	if _, code := c.run("", "aws", "ecs", "describe-task-definition", "--task-definition", "acme-prod-web"); code != 254 || !strings.Contains(c.last, "Unable to describe task definition") {
		t.Errorf("describe-task-definition in the home region: exit %d, %s", code, c.last)
	}
}
