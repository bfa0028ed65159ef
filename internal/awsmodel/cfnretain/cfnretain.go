// Package cfnretain models what happens to an account's named resources when
// CloudFormation stacks that hold them are created, updated and deleted: which names
// a stack may create, which survive a deletion, and when a deploy can adopt them.
//
// It follows the CloudFormation User Guide ("DeletionPolicy attribute", "Import AWS
// resources into a CloudFormation stack automatically") and the resource types'
// references (AWS::ECR::Repository, AWS::Logs::LogGroup):
//
//   - A resource with DeletionPolicy Retain is left in the account, managed by no
//     stack, when its stack is deleted or when it is removed from its stack's
//     template; RetainExceptOnCreate does the same except when the stack creation that
//     made it rolls back. Any other resource is deleted with its stack.
//   - A failed stack creation rolls back, deleting what it created, except resources
//     with DeletionPolicy Retain, which stay behind.
//   - Creating a resource whose physical name already exists in the account and
//     region fails: ECR answers RepositoryAlreadyExistsException and CloudWatch Logs
//     ResourceAlreadyExistsException, and the stack operation fails ("already
//     exists"). CloudFormation never adopts an existing resource on its own.
//   - With ImportExistingResources (the CDK CLI's --import-existing-resources), a
//     resource that already exists is imported instead, if its name is a static
//     string in the template, its DeletionPolicy is Retain or RetainExceptOnCreate,
//     it belongs to no other stack and its type supports import (ECR repositories and
//     log groups do). Otherwise the creation fails as above.
//   - In an update, new resources are created before removed ones are deleted, so a
//     name cannot move from one logical ID to another in a single deploy.
//
// Only named resources are modelled; a resource whose name CloudFormation generates
// never collides. Not modelled: resource types other than those in NameProperty,
// replacement on property changes (UpdateReplacePolicy), and stack sets.
package cfnretain

import (
	"fmt"
	"sort"
)

// NameProperty is the property holding the physical name of the resource types whose
// names are unique in an account and region, with whether they support import.
var NameProperty = map[string]struct {
	Property string
	Import   bool
}{
	"AWS::ECR::Repository":                      {"RepositoryName", true},
	"AWS::Logs::LogGroup":                       {"LogGroupName", true},
	"AWS::S3::Bucket":                           {"BucketName", true},
	"AWS::ECS::Cluster":                         {"ClusterName", true},
	"AWS::CodeBuild::Project":                   {"Name", true},
	"AWS::CodePipeline::Pipeline":               {"Name", true},
	"AWS::ElasticLoadBalancingV2::LoadBalancer": {"Name", true},
	"AWS::ElasticLoadBalancingV2::TargetGroup":  {"Name", true},
	"AWS::IAM::Role":                            {"RoleName", true},
	"AWS::Lambda::Function":                     {"FunctionName", true},
}

// Resource is one named resource of a template.
type Resource struct {
	LogicalID, Type, Name string
	// Policy is the DeletionPolicy ("" is Delete).
	Policy string
}

func (r Resource) key(region string) string { return region + "\x00" + r.Type + "\x00" + r.Name }

func (r Resource) retained(onCreateRollback bool) bool {
	return r.Policy == "Retain" || (r.Policy == "RetainExceptOnCreate" && !onCreateRollback)
}

// Named lists the resources of a template that have a static physical name.
func Named(template map[string]any) []Resource {
	var out []Resource
	rs, _ := template["Resources"].(map[string]any)
	for id, v := range rs {
		r, _ := v.(map[string]any)
		typ, _ := r["Type"].(string)
		np, ok := NameProperty[typ]
		if !ok {
			continue
		}
		props, _ := r["Properties"].(map[string]any)
		name, ok := props[np.Property].(string) // a static string; a token is not a name we know
		if !ok {
			continue
		}
		policy, _ := r["DeletionPolicy"].(string)
		out = append(out, Resource{LogicalID: id, Type: typ, Name: name, Policy: policy})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LogicalID < out[j].LogicalID })
	return out
}

// Account is the named resources of one AWS account, in every region.
type Account struct {
	owner  map[string]string // resource key → stack that manages it, "" when none
	stacks map[string]*stack
}

type stack struct {
	region    string
	resources map[string]Resource // logical ID → resource
}

// NewAccount returns an empty account.
func NewAccount() *Account {
	return &Account{owner: map[string]string{}, stacks: map[string]*stack{}}
}

// Options are the deploy's options.
type Options struct {
	// ImportExisting is --import-existing-resources.
	ImportExisting bool
}

// ExistsError is a creation refused because the name exists.
type ExistsError struct {
	Stack    string
	Resource Resource
	// Owner is the stack managing the existing resource, "" when it was retained.
	Owner string
}

func (e *ExistsError) Error() string {
	where := "left in the account by a deleted stack (retained)"
	if e.Owner != "" {
		where = "managed by stack " + e.Owner
	}
	return fmt.Sprintf("%s: %s %s (%s) already exists, %s", e.Stack, e.Resource.Type, e.Resource.Name, e.Resource.LogicalID, where)
}

// Stacks are the stacks that exist, sorted.
func (a *Account) Stacks() []string {
	var out []string
	for s := range a.stacks {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Exists reports whether a resource of typ named name exists in region, and the
// stack that manages it ("" when none does).
func (a *Account) Exists(region, typ, name string) (owner string, ok bool) {
	owner, ok = a.owner[Resource{Type: typ, Name: name}.key(region)]
	return owner, ok
}

// Deploy creates stack name in region from template, or updates it.
func (a *Account) Deploy(name, region string, template map[string]any, opt Options) error {
	old := a.stacks[name]
	next := &stack{region: region, resources: map[string]Resource{}}
	var created []Resource
	var failure error
	for _, r := range Named(template) {
		next.resources[r.LogicalID] = r
		if old != nil {
			if prev, ok := old.resources[r.LogicalID]; ok && prev.Type == r.Type && prev.Name == r.Name {
				continue // the same resource, updated in place
			}
		}
		k := r.key(region)
		owner, exists := a.owner[k]
		switch {
		case !exists:
		case owner == "" && opt.ImportExisting && NameProperty[r.Type].Import && (r.Policy == "Retain" || r.Policy == "RetainExceptOnCreate"):
		default:
			failure = &ExistsError{Stack: name, Resource: r, Owner: owner}
		}
		if failure != nil {
			break
		}
		a.owner[k] = name
		created = append(created, r)
	}
	if failure != nil {
		// Roll back what this operation created; a failed creation keeps what it
		// created with DeletionPolicy Retain (it was created, so it is not imported).
		for _, r := range created {
			k := r.key(region)
			if old == nil && r.retained(true) {
				a.owner[k] = ""
			} else {
				delete(a.owner, k)
			}
		}
		return failure
	}
	if old != nil {
		for id, r := range old.resources {
			if n, ok := next.resources[id]; ok && n.Type == r.Type && n.Name == r.Name {
				continue
			}
			a.release(r, old.region)
		}
	}
	a.stacks[name] = next
	return nil
}

// Delete deletes stack name: retained resources stay, managed by no stack.
func (a *Account) Delete(name string) {
	st := a.stacks[name]
	if st == nil {
		return
	}
	for _, r := range st.resources {
		a.release(r, st.region)
	}
	delete(a.stacks, name)
}

func (a *Account) release(r Resource, region string) {
	if r.retained(false) {
		a.owner[r.key(region)] = ""
	} else {
		delete(a.owner, r.key(region))
	}
}
