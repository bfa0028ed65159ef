package iampolicy

import "strings"

// conditionsHold evaluates a statement's Condition block against the request's
// condition keys (IAM User Guide, "IAM JSON policy elements: Condition" and
// "Condition operators"): every operator and every key under it must hold; the
// values listed for one key are alternatives. Key names match case-insensitively.
//
// For a key the request does not carry:
//
//   - Null "true" holds and Null "false" does not ("the key is not present");
//   - an operator with the IfExists suffix holds;
//   - the negated operators (StringNotEquals, StringNotEqualsIgnoreCase,
//     StringNotLike, ArnNotEquals, ArnNotLike) hold, since nothing is equal;
//   - every other operator does not hold.
//
// For a key the request carries, the String, Arn and Null operators are
// evaluated; any other operator does not hold (a statement the rehearsal cannot
// decide does not apply).
func conditionsHold(cond map[string]map[string]any, keys map[string]string) bool {
	for op, kv := range cond {
		for key, want := range kv {
			if !holds(op, lookup(keys, key), values(want)) {
				return false
			}
		}
	}
	return true
}

type keyValue struct {
	value   string
	present bool
}

func lookup(keys map[string]string, key string) keyValue {
	for k, v := range keys {
		if strings.EqualFold(k, key) {
			return keyValue{v, true}
		}
	}
	return keyValue{}
}

func values(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case bool:
		if v {
			return []string{"true"}
		}
		return []string{"false"}
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, values(x)...)
		}
		return out
	}
	return nil
}

func holds(op string, k keyValue, want []string) bool {
	if op == "Null" {
		for _, w := range want {
			if strings.EqualFold(w, "true") != k.present {
				return true
			}
		}
		return false
	}
	ifExists := strings.HasSuffix(op, "IfExists")
	op = strings.TrimSuffix(op, "IfExists")
	negated := map[string]bool{"StringNotEquals": true, "StringNotEqualsIgnoreCase": true, "StringNotLike": true, "ArnNotEquals": true, "ArnNotLike": true}[op]
	if !k.present {
		return ifExists || negated
	}
	match := func(w string) bool {
		switch op {
		case "StringEquals", "StringNotEquals", "ArnEquals", "ArnNotEquals":
			return w == k.value
		case "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase":
			return strings.EqualFold(w, k.value)
		case "StringLike", "StringNotLike", "ArnLike", "ArnNotLike":
			return Match(w, k.value)
		}
		return false
	}
	switch op {
	case "StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike":
		for _, w := range want {
			if match(w) {
				return true
			}
		}
		return false
	case "StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike":
		for _, w := range want {
			if match(w) {
				return false
			}
		}
		return true
	}
	return false
}
