package rollout

import "testing"

func TestSeconds(t *testing.T) {
	tests := []struct {
		name string
		s    Settings
		want int
	}{
		// 30 start + 30×5 healthy + 300 drain + 30 stop.
		{"ECS and ALB defaults", Defaults, 510},
		{"stagecoach defaults", Settings{5, 2, 15, 10, 100, 200}, 65},
		{"half the room: two waves", Settings{5, 2, 15, 10, 50, 100}, 130},
		{"no room: never", Settings{5, 2, 15, 10, 100, 100}, 0},
	}
	for _, tc := range tests {
		if got := tc.s.Seconds(); got != tc.want {
			t.Errorf("%s: %d s, want %d", tc.name, got, tc.want)
		}
	}
}

func TestFromTemplate(t *testing.T) {
	tmpl := map[string]any{"Resources": map[string]any{
		"Svc": map[string]any{"Type": "AWS::ECS::Service", "Properties": map[string]any{
			"ServiceName":             "acme-dev-web",
			"DeploymentConfiguration": map[string]any{"MinimumHealthyPercent": 100.0, "MaximumPercent": 200.0},
			"LoadBalancers":           []any{map[string]any{"TargetGroupArn": map[string]any{"Ref": "TG"}}},
			"TaskDefinition":          map[string]any{"Ref": "Task"},
		}},
		"TG": map[string]any{"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": map[string]any{
			"HealthCheckIntervalSeconds": 5.0, "HealthyThresholdCount": 2.0,
			"TargetGroupAttributes": []any{map[string]any{"Key": "deregistration_delay.timeout_seconds", "Value": "15"}},
		}},
		"Task": map[string]any{"Type": "AWS::ECS::TaskDefinition", "Properties": map[string]any{
			"ContainerDefinitions": []any{map[string]any{"StopTimeout": 10.0}},
		}},
	}}
	got, err := FromTemplate("acme-dev", tmpl)
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{5, 2, 15, 10, 100, 200}
	if len(got) != 1 || got[0].Settings != want || got[0].Name != "acme-dev-web" {
		t.Errorf("got %+v, want one service with %+v", got, want)
	}
	// A template without the settings falls back to the defaults.
	delete(tmpl["Resources"].(map[string]any)["TG"].(map[string]any), "Properties")
	tmpl["Resources"].(map[string]any)["TG"].(map[string]any)["Properties"] = map[string]any{}
	got, _ = FromTemplate("acme-dev", tmpl)
	if got[0].Settings.HealthCheckInterval != 30 || got[0].Settings.DeregistrationDelay != 300 {
		t.Errorf("missing settings did not default: %+v", got[0].Settings)
	}
}
