package standin

import (
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// images lists local images as `docker images` does, for the forms buildspecs use to
// read an image's ID: `docker images [-q|--quiet] [--no-trunc] [REPOSITORY[:TAG]]`.
// The ID Docker prints is the digest of the image's config, not of its manifest;
// without --no-trunc it is cut to 12 hex digits. Without --quiet the stand-in prints
// REPOSITORY, TAG and IMAGE ID columns.
func (st *store) images(args []string, sio IO) error {
	quiet, noTrunc := false, false
	filter := ""
	for _, a := range args {
		switch {
		case a == "-q" || a == "--quiet":
			quiet = true
		case a == "--no-trunc":
			noTrunc = true
		case a == "-a" || a == "--all":
		case strings.HasPrefix(a, "-"):
			return fail(dockerUsage, "unknown flag: %s (the images stand-in takes -q, --quiet, --no-trunc, -a)", a)
		case filter == "":
			filter = a
		default:
			return fail(dockerUsage, "\"docker images\" requires at most 1 argument")
		}
	}
	var want name.Reference
	if filter != "" && strings.Contains(filter[strings.LastIndex(filter, "/")+1:], ":") {
		ref, err := parseRef(filter)
		if err != nil {
			return err
		}
		want = ref
	}
	var repo string
	if filter != "" && want == nil {
		r, err := name.NewRepository(filter)
		if err != nil {
			return fail(dockerFailed, "invalid reference format: %s", filter)
		}
		repo = r.Name()
	}
	names := make([]string, 0, len(st.refs))
	for n := range st.refs {
		names = append(names, n)
	}
	sort.Strings(names)
	seen := map[string]bool{}
	for _, n := range names {
		ref, err := name.ParseReference(n)
		if err != nil {
			continue
		}
		switch {
		case want != nil && ref.Name() != want.Name():
			continue
		case repo != "" && ref.Context().Name() != repo:
			continue
		}
		img, _, ok := st.image(ref)
		if !ok {
			continue
		}
		id, err := dockerImageID(img)
		if err != nil {
			return err
		}
		if !noTrunc {
			id = strings.TrimPrefix(id, "sha256:")[:12]
		}
		if quiet {
			if !seen[id] {
				seen[id] = true
				fmt.Fprintln(sio.Stdout, id)
			}
			continue
		}
		fmt.Fprintf(sio.Stdout, "%s\t%s\t%s\n", ref.Context().Name(), ref.Identifier(), id)
	}
	return nil
}

// dockerImageID is Docker's image ID: the digest of the image's config.
func dockerImageID(img v1.Image) (string, error) {
	h, err := img.ConfigName()
	if err != nil {
		return "", err
	}
	return h.String(), nil
}
