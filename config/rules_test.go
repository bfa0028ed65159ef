package config

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// TestRulesNameFields keeps Rules in step with the types: every rule names a field.
func TestRulesNameFields(t *testing.T) {
	types := map[string]reflect.Type{}
	for _, v := range []any{Config{}, Source{}, Stage{}, Service{}, Route{}, Scale{}, Rollout{}, Build{}, Release{}, StageOverride{}} {
		types[reflect.TypeOf(v).Name()] = reflect.TypeOf(v)
	}
	for key, r := range Rules() {
		typ, field, _ := strings.Cut(key, ".")
		tt, ok := types[typ]
		if !ok {
			t.Errorf("rule %s: no config type %s", key, typ)
			continue
		}
		if _, ok := tt.FieldByName(field); !ok {
			t.Errorf("rule %s: %s has no field %s", key, typ, field)
		}
		for _, rr := range []*Rule{&r, r.Items, r.Names, r.Values} {
			if rr != nil && rr.Pattern != "" {
				if _, err := regexp.Compile(rr.Pattern); err != nil {
					t.Errorf("rule %s: %v", key, err)
				}
			}
		}
	}
}

// TestSecretSchema checks the schema's one pattern for secret references accepts
// exactly what ParseSecret accepts, on the forms the tests know.
func TestSecretSchema(t *testing.T) {
	re := regexp.MustCompile(secretSchema())
	for _, v := range []string{
		smARN, ssmARN, "/acme/db", smARN + ":password::", smARN + ":password:AWSCURRENT:",
		"s3cr3t", "arn:aws:secretsmanager:us-east-1:1111:secret:x", "acme/db", smARN + ":password", "",
	} {
		_, err := ParseSecret(v)
		if got, want := re.MatchString(v), err == nil; got != want {
			t.Errorf("%q: schema pattern matches %v, ParseSecret accepts %v", v, got, want)
		}
	}
}
