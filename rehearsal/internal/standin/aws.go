package standin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/stagecoach/stagecoach/awsmodel/ecrtags"
)

// LoginToken is what `aws ecr get-login-password` prints and the only password
// the docker stand-in accepts, so a login that lost its token fails.
const LoginToken = "rehearsal-ecr-token"

// The AWS CLI's exit statuses: 252 for arguments it cannot parse, 253 for
// missing configuration, 254 for an error the service returned, 255 for other
// failures (a waiter giving up among them).
const (
	awsUsage   = 252
	awsConfig  = 253
	awsService = 254
	awsOther   = 255
)

// awsCall is a parsed command line: `aws SERVICE OPERATION [WAITER] --opt v ...`.
type awsCall struct {
	service, operation, waiter string
	opts                       map[string][]string
	region, output, query      string
	account                    string
	sio                        IO
}

// booleanFlags take no value.
var booleanFlags = []string{"--force-new-deployment", "--no-force-new-deployment", "--no-cli-pager", "--no-paginate"}

func parseAWS(args []string, sio IO) (*awsCall, error) {
	c := &awsCall{opts: map[string][]string{}, sio: sio}
	var positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			positional = append(positional, a)
			continue
		}
		if k, v, ok := strings.Cut(a, "="); ok {
			c.opts[k] = append(c.opts[k], v)
			continue
		}
		if slices.Contains(booleanFlags, a) {
			c.opts[a] = append(c.opts[a], "true")
			continue
		}
		// A list option takes every value up to the next option.
		j := i + 1
		for j < len(args) && !strings.HasPrefix(args[j], "--") {
			j++
		}
		if j == i+1 {
			return nil, fail(awsUsage, "aws: error: argument %s: expected one argument", a)
		}
		c.opts[a] = append(c.opts[a], args[i+1:j]...)
		i = j - 1
	}
	if len(positional) < 2 {
		return nil, fail(awsUsage, "aws: error: the following arguments are required: command, operation")
	}
	c.service, c.operation = positional[0], positional[1]
	if c.service == "ecs" && c.operation == "wait" && len(positional) > 2 {
		c.waiter, positional = positional[2], positional[1:]
	}
	if len(positional) > 2 {
		return nil, fail(awsUsage, "aws: error: unrecognized arguments: %s", strings.Join(positional[2:], " "))
	}
	c.region = c.single("--region")
	if c.region == "" {
		c.region = sio.Getenv("AWS_REGION")
	}
	if c.region == "" {
		c.region = sio.Getenv("AWS_DEFAULT_REGION")
	}
	c.output = c.single("--output")
	if c.output == "" {
		c.output = sio.Getenv("AWS_DEFAULT_OUTPUT")
	}
	if c.output == "" {
		c.output = "json"
	}
	c.query = c.single("--query")
	c.account = account(sio)
	return c, nil
}

// account is the registry ID ECR reports.
func account(sio IO) string {
	if a := sio.Getenv("REHEARSAL_ACCOUNT"); a != "" {
		return a
	}
	return "123456789012"
}

// single returns the one value of an option, or "" when absent.
func (c *awsCall) single(opt string) string {
	if v := c.opts[opt]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

// take returns an option's values and marks it used; unused options are errors,
// so a buildspec never relies on an option the stand-in silently ignores.
func (c *awsCall) take(opt string) []string {
	v := c.opts[opt]
	delete(c.opts, opt)
	return v
}

func (c *awsCall) required(opt string) (string, error) {
	v := c.take(opt)
	if len(v) != 1 {
		return "", fail(awsUsage, "aws: error: the following arguments are required: %s (exactly one value)", opt)
	}
	return v[0], nil
}

func (c *awsCall) checkUnused() error {
	for _, o := range []string{"--region", "--output", "--query", "--no-cli-pager", "--no-paginate", "--profile"} {
		delete(c.opts, o)
	}
	if len(c.opts) == 0 {
		return nil
	}
	var left []string
	for k := range c.opts {
		left = append(left, k)
	}
	sort.Strings(left)
	return fail(awsUsage, "aws stand-in: %s %s: options %v are not supported; extend rehearsal/internal/standin if a buildspec needs them", c.service, c.operation, left)
}

func runAWS(args []string, sio IO, errOut io.Writer) error {
	c, err := parseAWS(args, sio)
	if err != nil {
		return err
	}
	if c.region == "" {
		return fail(awsConfig, "You must specify a region. You can also configure your region by running \"aws configure\".")
	}
	var out any
	switch c.service + " " + c.operation {
	case "ecr get-login-password":
		if err := c.checkUnused(); err != nil {
			return err
		}
		if err := c.authorize("GetAuthorizationToken", "ecr:GetAuthorizationToken", "*"); err != nil {
			return err
		}
		fmt.Fprintln(sio.Stdout, LoginToken)
		return nil
	case "ecr batch-get-image":
		out, err = c.batchGetImage()
	case "ecr put-image":
		out, err = c.putImage()
	case "ecr describe-images":
		out, err = c.describeImages()
	case "ecr batch-delete-image":
		out, err = c.batchDeleteImage()
	case "ecs update-service":
		out, err = c.updateService()
	case "ecs describe-services":
		out, err = c.describeServices()
	case "ecs wait":
		return c.wait()
	case "ecs describe-task-definition":
		out, err = c.describeTaskDefinition()
	case "ecs register-task-definition":
		out, err = c.registerTaskDefinition()
	default:
		return fail(awsUsage, "aws stand-in: %s %s is not supported (supported: ecr get-login-password, batch-get-image, put-image, describe-images, batch-delete-image; ecs update-service, describe-services, wait services-stable, describe-task-definition, register-task-definition)", c.service, c.operation)
	}
	if err != nil {
		return err
	}
	return c.print(out)
}

// ecrRegistry maps the call's region to the local registry that plays ECR there.
func (c *awsCall) ecrRegistry() (string, error) {
	key := "REHEARSAL_ECR_REGISTRY_" + strings.ToUpper(strings.ReplaceAll(c.region, "-", "_"))
	if r := c.sio.Getenv(key); r != "" {
		return r, nil
	}
	if r := c.sio.Getenv("REHEARSAL_ECR_REGISTRY"); r != "" {
		return r, nil
	}
	return "", fail(awsConfig, "aws stand-in: REHEARSAL_ECR_REGISTRY is unset; it names the local registry (127.0.0.1:PORT) that plays ECR")
}

// repo maps an ECR repository name to the local registry, failing as ECR does
// for a repository that does not exist. op names the API operation for the error.
func (c *awsCall) repo(repoName, op string) (name.Repository, error) {
	reg, err := c.ecrRegistry()
	if err != nil {
		return name.Repository{}, err
	}
	if !repositoryExists(c.sio.Getenv, repoName) || regionalMissing(c.sio.Getenv, c.region, repoName) {
		return name.Repository{}, c.serviceError("RepositoryNotFoundException", op, "The repository with name '%s' does not exist in the registry with id '%s'", repoName, c.account)
	}
	r, err := name.NewRepository(reg + "/" + repoName)
	if err != nil {
		return name.Repository{}, fail(awsService, "An error occurred (InvalidParameterException): invalid repository name %q: %v", repoName, err)
	}
	return r, nil
}

func (c *awsCall) serviceError(code, op, format string, args ...any) error {
	return fail(awsService, "\nAn error occurred (%s) when calling the %s operation: %s", code, op, fmt.Sprintf(format, args...))
}

// imageID is ECR's ImageIdentifier.
type imageID struct {
	ImageDigest string `json:"imageDigest,omitempty"`
	ImageTag    string `json:"imageTag,omitempty"`
}

// parseImageIDs reads --image-ids in shorthand (imageTag=T imageDigest=D, or
// imageTag=T,imageDigest=D for one id) or JSON form.
func parseImageIDs(vals []string) ([]imageID, error) {
	if len(vals) == 1 && strings.HasPrefix(strings.TrimSpace(vals[0]), "[") {
		var ids []imageID
		if err := json.Unmarshal([]byte(vals[0]), &ids); err != nil {
			return nil, fail(awsUsage, "aws: error: --image-ids: invalid JSON: %v", err)
		}
		return ids, nil
	}
	var ids []imageID
	for _, v := range vals {
		var id imageID
		for _, kv := range strings.Split(v, ",") {
			k, val, _ := strings.Cut(kv, "=")
			switch k {
			case "imageTag":
				id.ImageTag = val
			case "imageDigest":
				id.ImageDigest = val
			default:
				return nil, fail(awsUsage, "aws: error: --image-ids: unknown key %q in %q (use imageTag=... or imageDigest=...)", k, v)
			}
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func (id imageID) ref(repo name.Repository) (name.Reference, error) {
	if id.ImageDigest != "" {
		return name.NewDigest(repo.Name() + "@" + id.ImageDigest)
	}
	return name.NewTag(repo.Name() + ":" + id.ImageTag)
}

func ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), remoteTimeout)
}

// repositoryAndImages reads --repository-name and --image-ids, which every ECR
// image call takes; required says whether --image-ids must name an image.
func (c *awsCall) repositoryAndImages(required bool) (string, []imageID, error) {
	repoName, err := c.required("--repository-name")
	if err != nil {
		return "", nil, err
	}
	ids, err := parseImageIDs(c.take("--image-ids"))
	if err != nil {
		return "", nil, err
	}
	if required && len(ids) == 0 {
		return "", nil, fail(awsUsage, "aws: error: the following arguments are required: --image-ids")
	}
	return repoName, ids, nil
}

func (c *awsCall) batchGetImage() (any, error) {
	repoName, ids, err := c.repositoryAndImages(true)
	if err != nil {
		return nil, err
	}
	accepted := c.take("--accepted-media-types")
	if err := c.checkUnused(); err != nil {
		return nil, err
	}
	if err := c.authorize("BatchGetImage", "ecr:BatchGetImage", c.repositoryARN(repoName)); err != nil {
		return nil, err
	}
	repo, err := c.repo(repoName, "BatchGetImage")
	if err != nil {
		return nil, err
	}
	type image struct {
		RegistryID             string  `json:"registryId"`
		RepositoryName         string  `json:"repositoryName"`
		ImageID                imageID `json:"imageId"`
		ImageManifest          string  `json:"imageManifest"`
		ImageManifestMediaType string  `json:"imageManifestMediaType"`
	}
	type failure struct {
		ImageID       imageID `json:"imageId"`
		FailureCode   string  `json:"failureCode"`
		FailureReason string  `json:"failureReason"`
	}
	images, failures := []image{}, []failure{}
	for _, id := range ids {
		ref, err := id.ref(repo)
		if err != nil {
			return nil, fail(awsService, "\nAn error occurred (InvalidParameterException) when calling the BatchGetImage operation: %v", err)
		}
		cx, cancel := ctx()
		desc, err := remote.Get(ref, remote.WithContext(cx))
		cancel()
		if err != nil {
			if IsNotFound(err) {
				failures = append(failures, failure{id, "ImageNotFound", "Requested image not found"})
				continue
			}
			return nil, fail(awsOther, "aws stand-in: batch-get-image %s: %v", ref, err)
		}
		if len(accepted) > 0 && !slices.Contains(accepted, string(desc.MediaType)) {
			failures = append(failures, failure{id, "UnsupportedImageType", "Image manifest media type is not in the accepted media types"})
			continue
		}
		got := imageID{ImageDigest: desc.Digest.String(), ImageTag: id.ImageTag}
		images = append(images, image{c.account, repoName, got, string(desc.Manifest), string(desc.MediaType)})
	}
	return map[string]any{"images": images, "failures": failures}, nil
}

// rawManifest lets remote.Put send a manifest byte for byte, so its digest is
// the one the caller computed.
type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

func (c *awsCall) putImage() (any, error) {
	repoName, err := c.required("--repository-name")
	if err != nil {
		return nil, err
	}
	manifest, err := c.required("--image-manifest")
	if err != nil {
		return nil, err
	}
	// The CLI reads file:// values from the file, as for any parameter.
	if p, ok := strings.CutPrefix(manifest, "file://"); ok {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fail(awsOther, "\nError parsing parameter '--image-manifest': Unable to load paramfile %s: %v", manifest, err)
		}
		manifest = string(b)
	}
	tag := c.single("--image-tag")
	c.take("--image-tag")
	mediaType := c.single("--image-manifest-media-type")
	c.take("--image-manifest-media-type")
	wantDigest := c.single("--image-digest")
	c.take("--image-digest")
	if err := c.checkUnused(); err != nil {
		return nil, err
	}
	if tag == "" {
		return nil, fail(awsUsage, "aws stand-in: put-image without --image-tag is not supported (it only stores an untagged manifest)")
	}
	// IAM decides before the service looks at the request.
	if err := c.authorize("PutImage", "ecr:PutImage", c.repositoryARN(repoName)); err != nil {
		return nil, err
	}
	if mediaType == "" {
		// ECR reads the media type from the manifest when the call gives none.
		var m struct {
			MediaType string `json:"mediaType"`
		}
		if json.Unmarshal([]byte(manifest), &m) != nil || m.MediaType == "" {
			return nil, c.serviceError("InvalidParameterException", "PutImage", "Invalid parameter at 'imageManifest' failed to satisfy constraint: 'Invalid JSON syntax or missing mediaType'")
		}
		mediaType = m.MediaType
	}
	sum := sha256.Sum256([]byte(manifest))
	digest := "sha256:" + hex.EncodeToString(sum[:])
	if wantDigest != "" && wantDigest != digest {
		return nil, c.serviceError("ImageDigestDoesNotMatchException", "PutImage", "The specified digest %s does not match the digest of the manifest, %s", wantDigest, digest)
	}
	repo, err := c.repo(repoName, "PutImage")
	if err != nil {
		return nil, err
	}
	ref, err := name.NewTag(repo.Name() + ":" + tag)
	if err != nil {
		return nil, c.serviceError("InvalidParameterException", "PutImage", "invalid tag %q: %v", tag, err)
	}
	cx, cancel := ctx()
	defer cancel()
	// ECR refuses to put a tag where it already is (release scripts that re-run
	// must handle this), and to move an immutable tag (see mutability.go).
	policy, err := tagPolicy(c.sio.Getenv)
	if err != nil {
		return nil, err
	}
	switch err := policy.PutImage(repoName, tag, currentDigest(cx, ref), digest).(type) {
	case nil:
	case *ecrtags.AlreadyExistsError:
		return nil, c.serviceError("ImageAlreadyExistsException", "PutImage", "Image with digest '%s' and tag '%s' already exists in the repository with name '%s' in registry with id '%s'", digest, tag, repoName, c.account)
	case *ecrtags.RefusedError:
		return nil, c.serviceError(err.Code, "PutImage", "%s", err.Error())
	default:
		return nil, err
	}
	if err := remote.Put(ref, rawManifest{[]byte(manifest), types.MediaType(mediaType)}, remote.WithContext(cx)); err != nil {
		if strings.Contains(err.Error(), "BLOB_UNKNOWN") || strings.Contains(err.Error(), "MANIFEST_BLOB_UNKNOWN") {
			return nil, c.serviceError("LayersNotFoundException", "PutImage", "Layers referenced by the manifest are not in repository '%s': %v", repoName, err)
		}
		return nil, fail(awsOther, "aws stand-in: put-image %s: %v", ref, err)
	}
	return map[string]any{"image": map[string]any{
		"registryId":             c.account,
		"repositoryName":         repoName,
		"imageId":                imageID{ImageDigest: digest, ImageTag: tag},
		"imageManifest":          manifest,
		"imageManifestMediaType": mediaType,
	}}, nil
}

type imageDetail struct {
	RegistryID             string   `json:"registryId"`
	RepositoryName         string   `json:"repositoryName"`
	ImageDigest            string   `json:"imageDigest"`
	ImageTags              []string `json:"imageTags,omitempty"`
	ImageSizeInBytes       int64    `json:"imageSizeInBytes"`
	ImageManifestMediaType string   `json:"imageManifestMediaType"`
	ArtifactMediaType      string   `json:"artifactMediaType,omitempty"`
}

func (c *awsCall) describeImages() (any, error) {
	repoName, ids, err := c.repositoryAndImages(false)
	if err != nil {
		return nil, err
	}
	if err := c.checkUnused(); err != nil {
		return nil, err
	}
	if err := c.authorize("DescribeImages", "ecr:DescribeImages", c.repositoryARN(repoName)); err != nil {
		return nil, err
	}
	repo, err := c.repo(repoName, "DescribeImages")
	if err != nil {
		return nil, err
	}
	cx, cancel := ctx()
	defer cancel()
	tags, err := remote.List(repo, remote.WithContext(cx))
	if IsNotFound(err) {
		tags, err = nil, nil // an ECR repository nothing was pushed to yet
	}
	if err != nil {
		return nil, fail(awsOther, "aws stand-in: describe-images %s: %v", repo, err)
	}
	// Group the tags by digest, as ECR lists images, not tags.
	byDigest := map[string][]string{}
	var order []string
	for _, t := range tags {
		d, err := remote.Head(repo.Tag(t), remote.WithContext(cx))
		if err != nil {
			return nil, fail(awsOther, "aws stand-in: describe-images %s:%s: %v", repo, t, err)
		}
		k := d.Digest.String()
		if _, ok := byDigest[k]; !ok {
			order = append(order, k)
		}
		byDigest[k] = append(byDigest[k], t)
	}
	var wanted []string
	for _, id := range ids {
		d := id.ImageDigest
		if d == "" {
			for k, ts := range byDigest {
				if slices.Contains(ts, id.ImageTag) {
					d = k
				}
			}
		}
		if _, ok := byDigest[d]; !ok {
			return nil, c.serviceError("ImageNotFoundException", "DescribeImages", "The image with imageId {imageDigest:'%s', imageTag:'%s'} does not exist within the repository with name '%s' in the registry with id '%s'", orNull(id.ImageDigest), orNull(id.ImageTag), repoName, c.account)
		}
		if !slices.Contains(wanted, d) {
			wanted = append(wanted, d)
		}
	}
	if len(ids) == 0 {
		wanted = order
	}
	details := []imageDetail{}
	for _, d := range wanted {
		desc, err := remote.Get(repo.Digest(d), remote.WithContext(cx))
		if err != nil {
			return nil, fail(awsOther, "aws stand-in: describe-images %s@%s: %v", repo, d, err)
		}
		det := imageDetail{RegistryID: c.account, RepositoryName: repoName, ImageDigest: d, ImageManifestMediaType: string(desc.MediaType)}
		det.ImageTags = slices.Sorted(slices.Values(byDigest[d]))
		if m, err := v1.ParseManifest(bytes.NewReader(desc.Manifest)); err == nil {
			det.ArtifactMediaType = string(m.Config.MediaType)
			det.ImageSizeInBytes = m.Config.Size
			for _, l := range m.Layers {
				det.ImageSizeInBytes += l.Size
			}
		}
		details = append(details, det)
	}
	return map[string]any{"imageDetails": details}, nil
}

func orNull(s string) string {
	if s == "" {
		return "null"
	}
	return s
}

// print writes out as the CLI would for --output and --query.
func (c *awsCall) print(out any) error {
	// Go through JSON so the query sees the same shapes the CLI's does.
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		return err
	}
	if c.query != "" {
		if doc, err = query(doc, c.query); err != nil {
			return err
		}
	}
	switch c.output {
	case "json":
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "    ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(doc); err != nil {
			return err
		}
		_, err = c.sio.Stdout.Write(buf.Bytes())
		return err
	case "text":
		s, err := text(doc)
		if err != nil {
			return err
		}
		fmt.Fprintln(c.sio.Stdout, s)
		return nil
	default:
		return fail(awsUsage, "aws stand-in: --output %s is not supported (json, text)", c.output)
	}
}

// batchDeleteImage removes tags, or whole images by digest, as ECR does: an
// image whose last tag goes is deleted with it. The registry's API only deletes
// whole manifests, so a tag is removed in the registry's storage
// (REHEARSAL_REGISTRY_STORAGE), which the registry reads on every request.
func (c *awsCall) batchDeleteImage() (any, error) {
	repoName, ids, err := c.repositoryAndImages(true)
	if err != nil {
		return nil, err
	}
	if err := c.checkUnused(); err != nil {
		return nil, err
	}
	if err := c.authorize("BatchDeleteImage", "ecr:BatchDeleteImage", c.repositoryARN(repoName)); err != nil {
		return nil, err
	}
	repo, err := c.repo(repoName, "BatchDeleteImage")
	if err != nil {
		return nil, err
	}
	storage, err := registryStorage(c.sio, repo.RegistryStr())
	if err != nil {
		return nil, err
	}
	tagsDir := filepath.Join(storage, "docker", "registry", "v2", "repositories", repoName, "_manifests", "tags")
	cx, cancel := ctx()
	defer cancel()
	// tagsOf lists the tags on digest d.
	tagsOf := func(d string) ([]string, error) {
		all, err := remote.List(repo, remote.WithContext(cx))
		if IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		var out []string
		for _, t := range all {
			desc, err := remote.Head(repo.Tag(t), remote.WithContext(cx))
			if err != nil {
				return nil, err
			}
			if desc.Digest.String() == d {
				out = append(out, t)
			}
		}
		return out, nil
	}
	type failure struct {
		ImageID       imageID `json:"imageId"`
		FailureCode   string  `json:"failureCode"`
		FailureReason string  `json:"failureReason"`
	}
	deleted, failures := []imageID{}, []failure{}
	for _, id := range ids {
		// A tag is looked up by itself, so a digest given with it can be checked.
		ref, err := id.ref(repo)
		if id.ImageTag != "" {
			ref, err = imageID{ImageTag: id.ImageTag}.ref(repo)
		}
		if err != nil {
			return nil, c.serviceError("InvalidParameterException", "BatchDeleteImage", "%v", err)
		}
		desc, err := remote.Head(ref, remote.WithContext(cx))
		if IsNotFound(err) {
			failures = append(failures, failure{id, "ImageNotFound", "Requested image not found"})
			continue
		}
		if err != nil {
			return nil, fail(awsOther, "aws stand-in: batch-delete-image %s: %v", ref, err)
		}
		d := desc.Digest.String()
		if id.ImageTag != "" && id.ImageDigest != "" && id.ImageDigest != d {
			failures = append(failures, failure{id, "ImageTagDoesNotMatchDigest", "Invalid image tag and digest combination"})
			continue
		}
		remove := []string{id.ImageTag}
		if id.ImageTag == "" {
			// By digest, the image goes with every tag on it.
			if remove, err = tagsOf(d); err != nil {
				return nil, fail(awsOther, "aws stand-in: batch-delete-image: list tags of %s: %v", d, err)
			}
		}
		for _, t := range remove {
			if err := os.RemoveAll(filepath.Join(tagsDir, t)); err != nil {
				return nil, fail(awsOther, "aws stand-in: batch-delete-image: remove tag %s: %v", t, err)
			}
			deleted = append(deleted, imageID{ImageDigest: d, ImageTag: t})
		}
		left, err := tagsOf(d)
		if err != nil {
			return nil, fail(awsOther, "aws stand-in: batch-delete-image: list tags of %s: %v", d, err)
		}
		if len(left) == 0 {
			if err := remote.Delete(repo.Digest(d), remote.WithContext(cx)); err != nil && !IsNotFound(err) {
				return nil, fail(awsOther, "aws stand-in: batch-delete-image: delete %s: %v", d, err)
			}
			if len(remove) == 0 {
				deleted = append(deleted, imageID{ImageDigest: d})
			}
		}
	}
	return map[string]any{"imageIds": deleted, "failures": failures}, nil
}

// registryStorage returns the storage directory of the local registry at host.
func registryStorage(sio IO, host string) (string, error) {
	for _, entry := range strings.Split(sio.Getenv("REHEARSAL_REGISTRY_STORAGE"), ",") {
		if h, dir, ok := strings.Cut(strings.TrimSpace(entry), "="); ok && h == host {
			return dir, nil
		}
	}
	return "", fail(awsOther, "aws stand-in: batch-delete-image needs the storage directory of the registry at %s in REHEARSAL_REGISTRY_STORAGE (HOST=DIR,...): the registry's API cannot remove a single tag", host)
}
