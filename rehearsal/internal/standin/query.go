package standin

import (
	"strconv"
	"strings"
)

// query evaluates the small part of JMESPath that buildspecs use to pick one
// value out of a response: fields and list indexes, e.g. images[0].imageManifest
// or imageDetails[-1].imageTags. Anything else is refused, so a buildspec never
// passes against a query the real CLI would evaluate differently.
func query(doc any, q string) (any, error) {
	cur := doc
	rest := q
	for rest != "" {
		switch {
		case rest[0] == '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, unsupportedQuery(q)
			}
			i, err := strconv.Atoi(rest[1:end])
			if err != nil {
				return nil, unsupportedQuery(q)
			}
			rest = rest[end+1:]
			list, ok := cur.([]any)
			if !ok {
				cur = nil
				continue
			}
			if i < 0 {
				i += len(list)
			}
			if i < 0 || i >= len(list) {
				cur = nil
				continue
			}
			cur = list[i]
		case rest[0] == '.':
			rest = rest[1:]
			if rest == "" || rest[0] == '.' || rest[0] == '[' {
				return nil, unsupportedQuery(q)
			}
		default:
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			field := rest[:end]
			for _, r := range field {
				if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
					return nil, unsupportedQuery(q)
				}
			}
			rest = rest[end:]
			obj, ok := cur.(map[string]any)
			if !ok {
				cur = nil
				continue
			}
			cur = obj[field]
		}
	}
	return cur, nil
}

func unsupportedQuery(q string) error {
	return fail(awsUsage, "aws stand-in: --query %q is beyond what the stand-in evaluates (fields and [N] indexes, e.g. images[0].imageManifest)", q)
}

// text renders a value as --output text does for scalars and lists of scalars.
func text(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "None", nil
	case string:
		return x, nil
	case bool:
		if x {
			return "True", nil
		}
		return "False", nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			s, err := text(e)
			if err != nil {
				return "", err
			}
			if _, nested := e.([]any); nested {
				return "", fail(awsUsage, "aws stand-in: --output text of nested lists is not supported; narrow the --query")
			}
			parts[i] = s
		}
		return strings.Join(parts, "\t"), nil
	default:
		return "", fail(awsUsage, "aws stand-in: --output text of an object is not supported; narrow the --query to a value")
	}
}
