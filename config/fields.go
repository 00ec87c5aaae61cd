package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// fieldProblems reads a stack's JSON value of an object key against the Go type it decodes into
// and returns every problem, each with its path (capacity.spot.instanceTypes, jobs[0].timeout):
// a field name that is not one of the type's exactly as written (encoding/json would read
// cputarget as cpuTarget), and a value of the wrong JSON type. encoding/json alone reports only the
// first problem of a value, where this project reports them all at once. A value that is not JSON
// at all is left to the decoder, whose error says where.
func fieldProblems(path string, raw json.RawMessage, t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if string(raw) == "null" {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		var object map[string]json.RawMessage
		if err := json.Unmarshal(raw, &object); err != nil {
			return []string{fmt.Sprintf("%s: must be an object (got %s)", path, short(raw))}
		}
		fields := jsonFields(t)
		var problems []string
		for _, name := range slices.Sorted(maps.Keys(object)) {
			f, ok := fields[name]
			if !ok {
				problems = append(problems, unknownField(path, name, fields))
				continue
			}
			problems = append(problems, fieldProblems(path+"."+name, object[name], f.Type)...)
		}
		return problems
	case reflect.Slice:
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return []string{fmt.Sprintf("%s: must be %s (got %s)", path, describe(t), short(raw))}
		}
		var problems []string
		for i, item := range list {
			problems = append(problems, fieldProblems(fmt.Sprintf("%s[%d]", path, i), item, t.Elem())...)
		}
		return problems
	case reflect.Map:
		var object map[string]json.RawMessage
		if err := json.Unmarshal(raw, &object); err != nil {
			return []string{fmt.Sprintf("%s: must be %s (got %s)", path, describe(t), short(raw))}
		}
		var problems []string
		for _, k := range slices.Sorted(maps.Keys(object)) {
			problems = append(problems, fieldProblems(path+"."+k, object[k], t.Elem())...)
		}
		return problems
	}
	if err := json.Unmarshal(raw, reflect.New(t).Interface()); err != nil {
		return []string{fmt.Sprintf("%s: must be %s (got %s)", path, describe(t), short(raw))}
	}
	return nil
}

// jsonFields maps the JSON name of each field of a struct to the field.
func jsonFields(t reflect.Type) map[string]reflect.StructField {
	fields := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f
	}
	return fields
}

// unknownField names the field meant when only the case differs, or lists the fields there are.
func unknownField(path, name string, fields map[string]reflect.StructField) string {
	known := slices.Sorted(maps.Keys(fields))
	for _, k := range known {
		if strings.EqualFold(k, name) {
			return fmt.Sprintf("%s: unknown field %q; did you mean %q? (names are case-sensitive)", path, name, k)
		}
	}
	return fmt.Sprintf("%s: unknown field %q; the fields are %s", path, name, strings.Join(known, ", "))
}

// describe says what JSON a Go type takes, for error messages.
func describe(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(describe(t.Elem()), "a "), "an ") + "s"
	case reflect.Map:
		return "an object of " + strings.TrimPrefix(strings.TrimPrefix(describe(t.Elem()), "a "), "an ") + "s"
	case reflect.Struct:
		return "an object"
	}
	return t.String()
}

// short is a value as the stack file gave it, cut for an error message.
func short(raw json.RawMessage) string {
	const limit = 60
	s := string(raw)
	if len(s) > limit {
		return s[:limit] + "..."
	}
	return s
}
