package ecstaskdef

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

const image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/api:dev"

// fargate is what stagecoach's stage stacks register: valid for Fargate.
func fargate() TaskDefinition {
	return TaskDefinition{
		Family:                  "shop-dev-api",
		Containers:              []Container{{Name: "App", Image: image, LogDriver: "awslogs"}},
		RequiresCompatibilities: []string{Fargate},
		NetworkMode:             AWSVPC,
		CPU:                     "256",
		Memory:                  "512",
		ExecutionRoleARN:        "arn:aws:iam::123456789012:role/shop-dev-api-execution",
		TaskRoleARN:             "arn:aws:iam::123456789012:role/shop-dev-api-task",
	}
}

func TestRegister(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*TaskDefinition)
		compat []string
		err    string
	}{
		{"fargate", func(*TaskDefinition) {}, []string{EC2, Fargate}, ""},
		// What a release.yml written for EC2 registers: family, containers, task role.
		{"ec2 only", func(td *TaskDefinition) {
			td.RequiresCompatibilities, td.NetworkMode, td.CPU, td.Memory, td.ExecutionRoleARN = nil, "", "", "", ""
		}, []string{EC2}, ""},
		{"bridge", func(td *TaskDefinition) { td.NetworkMode = "bridge" }, nil, "network mode 'awsvpc'"},
		{"no network mode", func(td *TaskDefinition) { td.NetworkMode = "" }, nil, "network mode 'awsvpc'"},
		{"no cpu", func(td *TaskDefinition) { td.CPU = "" }, nil, "'cpu' be defined at the task level"},
		{"no memory", func(td *TaskDefinition) { td.Memory = "" }, nil, "'memory' be defined at the task level"},
		{"bad size", func(td *TaskDefinition) { td.Memory = "4096" }, nil, "No Fargate configuration exists for given values: 256 CPU, 4096 memory"},
		{"no execution role, ECR", func(td *TaskDefinition) { td.ExecutionRoleARN = "" }, nil, "to support ECR images"},
		{"no execution role, awslogs", func(td *TaskDefinition) {
			td.ExecutionRoleARN, td.Containers[0].Image = "", "public.ecr.aws/nginx/nginx:latest"
		}, nil, "to support log driver awslogs"},
		{"no execution role, public image, no logs", func(td *TaskDefinition) {
			td.ExecutionRoleARN, td.Containers[0].Image, td.Containers[0].LogDriver = "", "public.ecr.aws/nginx/nginx:latest", ""
		}, []string{EC2, Fargate}, ""},
		{"no family", func(td *TaskDefinition) { td.Family = "" }, nil, "Family"},
		{"no containers", func(td *TaskDefinition) { td.Containers = nil }, nil, "Container list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			td := fargate()
			td.Containers = slices.Clone(td.Containers)
			tc.change(&td)
			compat, err := Register(td)
			if tc.err == "" {
				if err != nil || !slices.Equal(compat, tc.compat) {
					t.Errorf("Register = %v, %v; want %v", compat, err, tc.compat)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(e.Message, tc.err) {
				t.Errorf("Register = %v; want an ECS error saying %q", err, tc.err)
			}
		})
	}
}

func TestValidSize(t *testing.T) {
	for _, tc := range []struct {
		cpu, memory string
		want        bool
	}{
		{"256", "512", true}, {"256", "1024", true}, {"256", "2048", true}, {"256", "1536", false}, {"256", "3072", false},
		{"512", "1024", true}, {"512", "4096", true}, {"512", "512", false}, {"512", "1536", false},
		{"1024", "2048", true}, {"1024", "8192", true}, {"1024", "9216", false},
		{"2048", "16384", true}, {"4096", "30720", true}, {"4096", "31744", false},
		{"8192", "16384", true}, {"8192", "20480", true}, {"8192", "17408", false},
		{"16384", "122880", true}, {"16384", "40960", true}, {"16384", "36864", false},
		{"300", "512", false}, {"1 vCPU", "2048", false},
	} {
		if got := ValidSize(tc.cpu, tc.memory); got != tc.want {
			t.Errorf("ValidSize(%s, %s) = %v, want %v", tc.cpu, tc.memory, got, tc.want)
		}
	}
}

func TestUpdateService(t *testing.T) {
	if err := UpdateService(Fargate, []string{EC2}); err == nil || !strings.Contains(err.Error(), "does not support launch_type FARGATE") {
		t.Errorf("a Fargate service moved to an EC2-only task definition: %v", err)
	}
	if err := UpdateService(Fargate, []string{EC2, Fargate}); err != nil {
		t.Error(err)
	}
}
