package fakeaws

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/stagecoach/stagecoach/internal/awsmodel/ecrtags"
	"github.com/stagecoach/stagecoach/internal/rehearsal/internal/iampolicy"
)

// ECR, after the Amazon ECR API Reference (operations BatchGetImage, PutImage,
// DescribeImages, ListImages, BatchDeleteImage, DescribeRepositories,
// GetAuthorizationToken) and the ECR User Guide ("Private registry authentication",
// "Image tag mutability"):
//
//   - Every region has its own registry; a repository, its images and its tags
//     exist in one region only, and a copy to another region is a new push.
//   - GetAuthorizationToken returns a token for the registry of the request's
//     region; it does not log in to any other region's registry (LoginToken).
//   - PutImage stores the manifest it is given under the tag: the image's digest is
//     the manifest's SHA-256; the same manifest already under the tag is
//     ImageAlreadyExistsException; an immutable tag already on another image is
//     ImageTagAlreadyExistsException (awsmodel/ecrtags, from the repository's
//     mutability and exclusion filters); a given imageDigest that is not the
//     manifest's is ImageDigestDoesNotMatchException.
//   - BatchGetImage and BatchDeleteImage report missing images in failures[], with
//     a 200 response: the CLI then exits 0.

// LoginToken returns the password GetAuthorizationToken gives for region's
// registry, which the docker stand-in accepts for that registry only.
func LoginToken(region string) string { return "rehearsal-ecr-token-" + region }

// remoteTimeout bounds one registry operation: the registry is on this machine.
const remoteTimeout = time.Minute

func (s *Server) ecr(r *request) (any, error) {
	switch r.op {
	case "GetAuthorizationToken":
		if err := r.authorize("ecr:GetAuthorizationToken", "*"); err != nil {
			return nil, err
		}
		reg, ok := s.registries[r.region]
		endpoint := "https://" + r.account + ".dkr.ecr." + r.region + ".amazonaws.com"
		if ok {
			endpoint = "http://" + reg.host
		}
		token := base64.StdEncoding.EncodeToString([]byte("AWS:" + LoginToken(r.region)))
		return map[string]any{"authorizationData": []any{map[string]any{
			"authorizationToken": token,
			"expiresAt":          float64(s.tick().Add(12 * time.Hour).Unix()),
			"proxyEndpoint":      endpoint,
		}}}, nil
	case "BatchGetImage":
		return s.batchGetImage(r)
	case "PutImage":
		return s.putImage(r)
	case "DescribeImages":
		return s.describeImages(r)
	case "ListImages":
		return s.listImages(r)
	case "BatchDeleteImage":
		return s.batchDeleteImage(r)
	case "DescribeRepositories":
		return s.describeRepositories(r)
	}
	return nil, clientError("UnknownOperationException", "ECR %s is not played by the rehearsal's endpoint (extend internal/rehearsal/internal/fakeaws if a buildspec needs it)", r.op)
}

// authorize refuses what the build's role may not do (see package iampolicy).
func (r *request) authorize(action, resource string) error {
	return r.authorizeWith(action, resource, nil)
}

// authorizeWith is authorize for a request that carries condition keys.
func (r *request) authorizeWith(action, resource string, keys map[string]string) error {
	role, err := iampolicy.FromSettings(r.getenv)
	if err != nil {
		return clientError("InvalidParameterException", "rehearsal settings: %v", err)
	}
	if role.AllowedWith(action, resource, keys) {
		return nil
	}
	return clientError("AccessDeniedException", "%s", role.Denial(r.principal(), action, resource))
}

func (r *request) repositoryARN(repo string) string {
	return fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s", r.region, r.account, repo)
}

// repository checks the caller may call action on the request's repository and
// that it exists in the region, and returns it in the region's registry.
func (s *Server) repository(r *request, action string) (string, name.Repository, error) {
	repoName, err := r.need("repositoryName")
	if err != nil {
		return "", name.Repository{}, err
	}
	if err := r.authorize(action, r.repositoryARN(repoName)); err != nil {
		return "", name.Repository{}, err
	}
	notFound := clientError("RepositoryNotFoundException", "The repository with name '%s' does not exist in the registry with id '%s'", repoName, r.account)
	reg, ok := s.registries[r.region]
	if !ok || !RepositoryExists(r.getenv, repoName) || missingInRegion(r.getenv, r.region, repoName) {
		return "", name.Repository{}, notFound
	}
	repo, err := name.NewRepository(reg.host+"/"+repoName, name.Insecure)
	if err != nil {
		return "", name.Repository{}, clientError("InvalidParameterException", "Invalid parameter at 'repositoryName' failed to satisfy constraint: %v", err)
	}
	return repoName, repo, nil
}

// RepositoryExists tells whether ECR would know repo. A local registry only knows
// a repository once something is pushed to it, while an ECR repository exists
// (empty) from the moment the stack creates it; REHEARSAL_ECR_REPOSITORIES says
// which exist, and when it is unset every repository does.
func RepositoryExists(getenv func(string) string, repo string) bool {
	list := getenv("REHEARSAL_ECR_REPOSITORIES")
	if list == "" {
		return true
	}
	for _, r := range strings.Split(list, ",") {
		if strings.TrimSpace(r) == repo {
			return true
		}
	}
	return false
}

// missingInRegion tells whether repo does not exist (yet) in region although it
// exists in others: a stage stack that creates a region's repository may deploy
// after the pipeline's first release there. REHEARSAL_ECR_MISSING_<REGION> (e.g.
// REHEARSAL_ECR_MISSING_EU_WEST_1) lists such repositories, comma-separated.
func missingInRegion(getenv func(string) string, region, repo string) bool {
	key := "REHEARSAL_ECR_MISSING_" + strings.ToUpper(strings.ReplaceAll(region, "-", "_"))
	for _, r := range strings.Split(getenv(key), ",") {
		if strings.TrimSpace(r) == repo {
			return true
		}
	}
	return false
}

type imageID struct {
	ImageDigest string `json:"imageDigest,omitempty"`
	ImageTag    string `json:"imageTag,omitempty"`
}

type failure struct {
	ImageID       imageID `json:"imageId"`
	FailureCode   string  `json:"failureCode"`
	FailureReason string  `json:"failureReason"`
}

func (r *request) imageIDs() []imageID {
	list, _ := r.input["imageIds"].([]any)
	var out []imageID
	for _, v := range list {
		m, _ := v.(map[string]any)
		d, _ := m["imageDigest"].(string)
		t, _ := m["imageTag"].(string)
		out = append(out, imageID{d, t})
	}
	return out
}

func ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), remoteTimeout)
}

// IsNotFound tells a missing manifest or repository from other registry errors.
func IsNotFound(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	if te.StatusCode == http.StatusNotFound {
		return true
	}
	for _, d := range te.Errors {
		if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
			return true
		}
	}
	return false
}

func (id imageID) ref(repo name.Repository) (name.Reference, error) {
	if id.ImageDigest != "" {
		return name.NewDigest(repo.Name()+"@"+id.ImageDigest, name.Insecure)
	}
	return name.NewTag(repo.Name()+":"+id.ImageTag, name.Insecure)
}

func (s *Server) batchGetImage(r *request) (any, error) {
	repoName, repo, err := s.repository(r, "ecr:BatchGetImage")
	if err != nil {
		return nil, err
	}
	ids := r.imageIDs()
	if len(ids) == 0 {
		return nil, clientError("InvalidParameterException", "imageIds must have at least 1 item")
	}
	accepted := r.strs("acceptedMediaTypes")
	images, failures := []any{}, []failure{}
	for _, id := range ids {
		ref, err := id.ref(repo)
		if err != nil {
			failures = append(failures, failure{id, "InvalidImageDigest", "Invalid request parameters: image digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'"})
			continue
		}
		cx, cancel := ctx()
		desc, err := remote.Get(ref, remote.WithContext(cx))
		cancel()
		if IsNotFound(err) {
			failures = append(failures, failure{id, "ImageNotFound", "Requested image not found"})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("batch-get-image %s: %w", ref, err)
		}
		if len(accepted) > 0 && !slices.Contains(accepted, string(desc.MediaType)) {
			failures = append(failures, failure{id, "UnsupportedImageType", "Image manifest media type is not in the accepted media types"})
			continue
		}
		images = append(images, map[string]any{
			"registryId": r.account, "repositoryName": repoName,
			"imageId":                imageID{desc.Digest.String(), id.ImageTag},
			"imageManifest":          string(desc.Manifest),
			"imageManifestMediaType": string(desc.MediaType),
		})
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

func (s *Server) putImage(r *request) (any, error) {
	repoName, repo, err := s.repository(r, "ecr:PutImage")
	if err != nil {
		return nil, err
	}
	manifest, err := r.need("imageManifest")
	if err != nil {
		return nil, err
	}
	tag, mediaType, wantDigest := r.str("imageTag"), r.str("imageManifestMediaType"), r.str("imageDigest")
	if mediaType == "" {
		// ECR reads the media type from the manifest when the call gives none.
		var m struct {
			MediaType string `json:"mediaType"`
		}
		if json.Unmarshal([]byte(manifest), &m) != nil || m.MediaType == "" {
			return nil, clientError("InvalidParameterException", "Invalid parameter at 'imageManifest' failed to satisfy constraint: 'Invalid JSON syntax or missing mediaType'")
		}
		mediaType = m.MediaType
	}
	sum := sha256.Sum256([]byte(manifest))
	digest := "sha256:" + hex.EncodeToString(sum[:])
	if wantDigest != "" && wantDigest != digest {
		return nil, clientError("ImageDigestDoesNotMatchException", "Provided digest '%s' does not match digest of manifest: '%s'", wantDigest, digest)
	}
	var ref name.Reference = repo.Digest(digest)
	current := ""
	cx, cancel := ctx()
	defer cancel()
	if tag != "" {
		t, err := name.NewTag(repo.Name()+":"+tag, name.Insecure)
		if err != nil {
			return nil, clientError("InvalidParameterException", "Invalid parameter at 'imageTag' failed to satisfy constraint: %v", err)
		}
		ref = t
		if cur, err := remote.Head(t, remote.WithContext(cx)); err == nil {
			current = cur.Digest.String()
		} else if !IsNotFound(err) {
			return nil, fmt.Errorf("put-image %s: %w", t, err)
		}
		var exists *ecrtags.AlreadyExistsError
		var refused *ecrtags.RefusedError
		policy, err := s.tagPolicy(r, repoName)
		if err != nil {
			return nil, err
		}
		switch err := policy.PutImage(repoName, tag, current, digest); {
		case errors.As(err, &exists):
			return nil, clientError("ImageAlreadyExistsException", "Image with digest '%s' and tag '%s' already exists in the repository with name '%s' in registry with id '%s'", digest, tag, repoName, r.account)
		case errors.As(err, &refused):
			return nil, clientError(refused.Code, "%s", refused.Error())
		case err != nil:
			return nil, err
		}
	}
	if err := remote.Put(ref, rawManifest{[]byte(manifest), types.MediaType(mediaType)}, remote.WithContext(cx)); err != nil {
		if strings.Contains(err.Error(), "BLOB_UNKNOWN") || strings.Contains(err.Error(), "MANIFEST_BLOB_UNKNOWN") {
			return nil, clientError("LayersNotFoundException", "Layers with digests referenced by the manifest are not available in the repository '%s' in the registry with id '%s'", repoName, r.account)
		}
		if strings.Contains(err.Error(), "MANIFEST_INVALID") || strings.Contains(err.Error(), "unsupported") {
			return nil, clientError("InvalidParameterException", "Invalid parameter at 'imageManifest' failed to satisfy constraint: %v", err)
		}
		return nil, fmt.Errorf("put-image %s: %w", ref, err)
	}
	return map[string]any{"image": map[string]any{
		"registryId": r.account, "repositoryName": repoName,
		"imageId":                imageID{digest, tag},
		"imageManifest":          manifest,
		"imageManifestMediaType": mediaType,
	}}, nil
}

// tagPolicy is the tag mutability of repoName: the one set for it (SetRepository,
// from the template), unless the call's settings give one for every repository,
// REHEARSAL_ECR_TAG_MUTABILITY=MUTABILITY[:FILTER,...].
func (s *Server) tagPolicy(r *request, repoName string) (ecrtags.Policy, error) {
	v := r.getenv("REHEARSAL_ECR_TAG_MUTABILITY")
	if v == "" {
		return s.repos[repoName], nil
	}
	m, filters, _ := strings.Cut(v, ":")
	p := ecrtags.Policy{Mutability: m}
	for _, f := range strings.Split(filters, ",") {
		if f = strings.TrimSpace(f); f != "" {
			p.Exclusions = append(p.Exclusions, f)
		}
	}
	if err := p.Validate(); err != nil {
		return p, clientError("InvalidParameterException", "rehearsal settings: REHEARSAL_ECR_TAG_MUTABILITY=%q: %v", v, err)
	}
	return p, nil
}

// images lists the repository's images, each with its tags, in the order their
// first tag sorts (the registry lists tags sorted).
func (s *Server) images(repo name.Repository) ([]string, map[string][]string, error) {
	cx, cancel := ctx()
	defer cancel()
	tags, err := remote.List(repo, remote.WithContext(cx))
	if IsNotFound(err) {
		return nil, map[string][]string{}, nil // an ECR repository nothing was pushed to yet
	}
	if err != nil {
		return nil, nil, err
	}
	byDigest := map[string][]string{}
	var order []string
	for _, t := range tags {
		d, err := remote.Head(repo.Tag(t), remote.WithContext(cx))
		if err != nil {
			return nil, nil, err
		}
		k := d.Digest.String()
		if _, ok := byDigest[k]; !ok {
			order = append(order, k)
		}
		byDigest[k] = append(byDigest[k], t)
	}
	return order, byDigest, nil
}

// page applies maxResults and nextToken, as the ECR list operations paginate.
func (r *request) page(n int) (from, to int, next string) {
	if t := r.str("nextToken"); t != "" {
		from, _ = strconv.Atoi(t)
	}
	to = n
	if m, ok := r.input["maxResults"].(float64); ok && int(m) > 0 && from+int(m) < n {
		to = from + int(m)
		next = strconv.Itoa(to)
	}
	return min(from, n), to, next
}

func (s *Server) describeImages(r *request) (any, error) {
	repoName, repo, err := s.repository(r, "ecr:DescribeImages")
	if err != nil {
		return nil, err
	}
	order, byDigest, err := s.images(repo)
	if err != nil {
		return nil, fmt.Errorf("describe-images %s: %w", repo, err)
	}
	ids := r.imageIDs()
	wanted := order
	if len(ids) > 0 {
		wanted = nil
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
				return nil, clientError("ImageNotFoundException", "The image with imageId {imageDigest:'%s', imageTag:'%s'} does not exist within the repository with name '%s' in the registry with id '%s'", orNull(id.ImageDigest), orNull(id.ImageTag), repoName, r.account)
			}
			if !slices.Contains(wanted, d) {
				wanted = append(wanted, d)
			}
		}
	}
	from, to, next := r.page(len(wanted))
	cx, cancel := ctx()
	defer cancel()
	details := []any{}
	for _, d := range wanted[from:to] {
		desc, err := remote.Get(repo.Digest(d), remote.WithContext(cx))
		if err != nil {
			return nil, fmt.Errorf("describe-images %s@%s: %w", repo, d, err)
		}
		det := map[string]any{
			"registryId": r.account, "repositoryName": repoName, "imageDigest": d,
			"imageTags":              slices.Sorted(slices.Values(byDigest[d])),
			"imageManifestMediaType": string(desc.MediaType),
			"imageSizeInBytes":       0,
		}
		if m, err := v1.ParseManifest(bytes.NewReader(desc.Manifest)); err == nil {
			det["artifactMediaType"] = string(m.Config.MediaType)
			size := m.Config.Size
			for _, l := range m.Layers {
				size += l.Size
			}
			det["imageSizeInBytes"] = size
		}
		details = append(details, det)
	}
	out := map[string]any{"imageDetails": details}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

func (s *Server) listImages(r *request) (any, error) {
	_, repo, err := s.repository(r, "ecr:ListImages")
	if err != nil {
		return nil, err
	}
	order, byDigest, err := s.images(repo)
	if err != nil {
		return nil, fmt.Errorf("list-images %s: %w", repo, err)
	}
	status := ""
	if f, ok := r.input["filter"].(map[string]any); ok {
		status, _ = f["tagStatus"].(string)
	}
	var ids []imageID
	if status != "UNTAGGED" {
		for _, d := range order {
			for _, t := range byDigest[d] {
				ids = append(ids, imageID{d, t})
			}
		}
	}
	from, to, next := r.page(len(ids))
	out := map[string]any{"imageIds": append([]imageID{}, ids[from:to]...)}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

func orNull(s string) string {
	if s == "" {
		return "null"
	}
	return s
}

// batchDeleteImage removes tags, or whole images by digest, as ECR does: an
// image whose last tag goes is deleted with it. The registry's API only deletes
// whole manifests, so a tag is removed in the registry's storage, which the
// registry reads on every request.
func (s *Server) batchDeleteImage(r *request) (any, error) {
	repoName, repo, err := s.repository(r, "ecr:BatchDeleteImage")
	if err != nil {
		return nil, err
	}
	ids := r.imageIDs()
	if len(ids) == 0 {
		return nil, clientError("InvalidParameterException", "imageIds must have at least 1 item")
	}
	storage := s.registries[r.region].storage
	if storage == "" {
		return nil, fmt.Errorf("batch-delete-image: the registry of %s was given without its storage directory, where tags are removed", r.region)
	}
	tagsDir := filepath.Join(storage, "docker", "registry", "v2", "repositories", repoName, "_manifests", "tags")
	cx, cancel := ctx()
	defer cancel()
	tagsOf := func(d string) ([]string, error) {
		_, byDigest, err := s.images(repo)
		return byDigest[d], err
	}
	deleted, failures := []imageID{}, []failure{}
	for _, id := range ids {
		// A tag is looked up by itself, so a digest given with it can be checked.
		look := id
		if id.ImageTag != "" {
			look = imageID{ImageTag: id.ImageTag}
		}
		ref, err := look.ref(repo)
		if err != nil {
			failures = append(failures, failure{id, "InvalidImageDigest", "Invalid request parameters: image digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'"})
			continue
		}
		desc, err := remote.Head(ref, remote.WithContext(cx))
		if IsNotFound(err) {
			failures = append(failures, failure{id, "ImageNotFound", "Requested image not found"})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("batch-delete-image %s: %w", ref, err)
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
				return nil, err
			}
		}
		for _, t := range remove {
			if err := os.RemoveAll(filepath.Join(tagsDir, t)); err != nil {
				return nil, err
			}
			deleted = append(deleted, imageID{d, t})
		}
		left, err := tagsOf(d)
		if err != nil {
			return nil, err
		}
		if len(left) == 0 {
			if err := remote.Delete(repo.Digest(d), remote.WithContext(cx)); err != nil && !IsNotFound(err) {
				return nil, err
			}
			if len(remove) == 0 {
				deleted = append(deleted, imageID{ImageDigest: d})
			}
		}
	}
	return map[string]any{"imageIds": deleted, "failures": failures}, nil
}

func (s *Server) describeRepositories(r *request) (any, error) {
	names := r.strs("repositoryNames")
	if len(names) == 0 {
		return nil, clientError("InvalidParameterException", "the rehearsal's endpoint lists named repositories only: give --repository-names")
	}
	reg, ok := s.registries[r.region]
	var repos []any
	for _, n := range names {
		if err := r.authorize("ecr:DescribeRepositories", r.repositoryARN(n)); err != nil {
			return nil, err
		}
		if !ok || !RepositoryExists(r.getenv, n) || missingInRegion(r.getenv, r.region, n) {
			return nil, clientError("RepositoryNotFoundException", "The repository with name '%s' does not exist in the registry with id '%s'", n, r.account)
		}
		p, err := s.tagPolicy(r, n)
		if err != nil {
			return nil, err
		}
		mut := p.Mutability
		if mut == "" {
			mut = ecrtags.Mutable
		}
		repo := map[string]any{
			"repositoryArn": r.repositoryARN(n), "registryId": r.account, "repositoryName": n,
			"repositoryUri": reg.host + "/" + n, "imageTagMutability": mut,
		}
		if len(p.Exclusions) > 0 {
			var fs []any
			for _, e := range p.Exclusions {
				fs = append(fs, map[string]any{"filterType": "WILDCARD", "filter": e})
			}
			repo["imageTagMutabilityExclusionFilters"] = fs
		}
		repos = append(repos, repo)
	}
	return map[string]any{"repositories": repos}, nil
}
