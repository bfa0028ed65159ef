package standin

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// A copy from one registry to another through docker does not keep the image's
// digest. Docker stores pulled layers uncompressed and compresses them again
// when it pushes them to a registry they did not come from, so the layer blobs,
// and with them the manifest's digest, may differ while the content (the
// config and its diff_ids) stays the same. Of a multi-platform image, docker
// pulls the one manifest of its own platform (linux/amd64), so the copy is a
// single-platform image with a digest of its own. (Docker documentation,
// "docker image pull" and "docker image push"; the ECR User Guide, "Pushing a
// multi-architecture image", for what an index is.) The stand-in does both, so a
// release that assumes the regional digest equals the home one fails here as it
// would in AWS.

// pulledFrom records, per image digest, the registry host a pull took it from.
const pulledFile = "pulled.json"

func (st *store) pulledFrom() map[string]string {
	m := map[string]string{}
	b, err := os.ReadFile(filepath.Join(st.dir, pulledFile))
	if err == nil {
		_ = json.Unmarshal(b, &m)
	}
	return m
}

func (st *store) recordPull(digest, host string) error {
	m := st.pulledFrom()
	m[digest] = host
	return st.save(pulledFile, m)
}

// forPush returns the image docker would push to host: as stored, unless it
// was pulled from another registry, in which case its layers are compressed
// anew, at gzip's default level as docker does (builds here compress at the fastest).
func (st *store) forPush(img v1.Image, digest, host string) (v1.Image, error) {
	from, ok := st.pulledFrom()[digest]
	if !ok || from == host {
		return img, nil
	}
	return recompress(img)
}

func recompress(img v1.Image) (v1.Image, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	var adds []mutate.Addendum
	for _, l := range layers {
		l := l
		mt, err := l.MediaType()
		if err != nil {
			return nil, err
		}
		nl, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return l.Uncompressed() },
			tarball.WithCompressionLevel(gzip.DefaultCompression), tarball.WithMediaType(mt))
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.Addendum{Layer: nl, MediaType: mt})
	}
	out, err := mutate.Append(empty.Image, adds...)
	if err != nil {
		return nil, err
	}
	if out, err = mutate.ConfigFile(out, cfg); err != nil {
		return nil, err
	}
	out = mutate.MediaType(out, m.MediaType)
	out = mutate.ConfigMediaType(out, m.Config.MediaType)
	if before, after := mustDigest(img), mustDigest(out); before == after && before != "" {
		return nil, errors.New("docker stand-in: recompressing the layers left the digest as it was")
	}
	return out, nil
}

func mustDigest(img v1.Image) string {
	d, err := img.Digest()
	if err != nil {
		return ""
	}
	return d.String()
}
