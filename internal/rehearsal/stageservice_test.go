package rehearsal

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stagecoach/stagecoach/internal/contract"
)

// TestStageServicesRunTheStageTag checks the model RunJob registers a release's
// stage service with (registerStage) against the golden stage templates: the
// service a release project names (SERVICE_NAME, in CLUSTER_ARN's cluster) runs
// one task definition whose containers' image is the stage tag of the
// repository the release moves (REGIONAL_ECR_IMAGE_URL for a regional stage,
// else ECR_IMAGE_URL). If the stacks change what a service runs, the
// rehearsal's ECS would resolve the wrong tag, so this fails first.
func TestStageServicesRunTheStageTag(t *testing.T) {
	dirs, err := os.ReadDir(goldenDir)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, d := range dirs {
		files, _ := filepath.Glob(filepath.Join(goldenDir, d.Name(), "*.template.json"))
		// Every stage service of the config, by name: its cluster and images.
		type svc struct {
			cluster string
			images  []string
		}
		services := map[string]svc{}
		var pipelines []map[string]any
		for _, f := range files {
			tmpl := readTemplate(t, f)
			if strings.HasSuffix(f, "-pipeline.template.json") {
				pipelines = append(pipelines, tmpl)
				continue
			}
			resources, _ := tmpl["Resources"].(map[string]any)
			for id, r := range resources {
				r, _ := r.(map[string]any)
				if r["Type"] != "AWS::ECS::Service" {
					continue
				}
				props, _ := r["Properties"].(map[string]any)
				name, _ := props["ServiceName"].(string)
				cluster, err := Resolver{}.Resolve(tmpl, props["Cluster"])
				if err != nil {
					t.Fatalf("%s: %s: %v", f, id, err)
				}
				tdRef, _ := props["TaskDefinition"].(map[string]any)["Ref"].(string)
				td, _ := resources[tdRef].(map[string]any)["Properties"].(map[string]any)
				defs, _ := td["ContainerDefinitions"].([]any)
				var images []string
				for _, c := range defs {
					img, err := Resolver{}.Resolve(tmpl, c.(map[string]any)["Image"])
					if err != nil {
						t.Fatalf("%s: %s: %v", f, tdRef, err)
					}
					images = append(images, img.(string))
				}
				c, _ := cluster.(string)
				services[name] = svc{cluster: c, images: images}
			}
		}
		for _, tmpl := range pipelines {
			steps, err := PipelineFromTemplate(tmpl, Resolver{})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range steps[1:] {
				env, err := PlaintextEnv(s.Vars)
				if err != nil {
					t.Fatal(err)
				}
				name := env[contract.ServiceName]
				if name == "" || name == "placeholder" {
					continue
				}
				want := env[contract.RegionalECRImageURL]
				if want == "" {
					want = env[contract.ECRImageURL]
				}
				want += ":" + env[contract.StageName]
				got, ok := services[name]
				if m, _ := filepath.Glob(filepath.Join(goldenDir, d.Name(), "*-"+s.Stage+".template.json")); !ok && len(m) == 0 {
					continue // the golden corpus keeps no template of this stage
				}
				if !ok {
					t.Errorf("%s: the release of %s names service %s, which no stage template of the config defines", d.Name(), s.Stage, name)
					continue
				}
				cluster := env[contract.ClusterARN]
				if got.cluster != cluster[strings.LastIndex(cluster, "/")+1:] {
					t.Errorf("%s: %s runs in cluster %q, the release says %s", d.Name(), name, got.cluster, cluster)
				}
				if len(got.images) != 1 || got.images[0] != want {
					t.Errorf("%s: %s runs %v, want the one image %s (what the rehearsal's ECS resolves)", d.Name(), name, got.images, want)
				}
				checked++
			}
		}
	}
	if checked == 0 {
		t.Fatal("no stage service checked")
	}
}

func readTemplate(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tmpl map[string]any
	if err := json.Unmarshal(b, &tmpl); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return tmpl
}
