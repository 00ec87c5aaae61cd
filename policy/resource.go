package policy

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Resource is one resource of a stack's graph, as the program registered it.
type Resource struct {
	Type   string
	Name   string
	URN    string
	ID     string
	Inputs resource.PropertyMap
	// Outputs are the inputs plus what the provider computed (arn, id, dnsName...).
	Outputs resource.PropertyMap
	Protect bool
}

// Get follows a dotted path ("healthCheck.path", "ingress.0.fromPort") through a property map,
// looking through secrets. It returns a null value when any step is missing.
func Get(pm resource.PropertyMap, path string) resource.PropertyValue {
	v := resource.NewObjectProperty(pm)
	for _, step := range strings.Split(path, ".") {
		for v.IsSecret() {
			v = v.SecretValue().Element
		}
		switch {
		case v.IsObject():
			v = v.ObjectValue()[resource.PropertyKey(step)]
		case v.IsArray():
			i, err := strconv.Atoi(step)
			if err != nil || i < 0 || i >= len(v.ArrayValue()) {
				return resource.NewNullProperty()
			}
			v = v.ArrayValue()[i]
		default:
			return resource.NewNullProperty()
		}
	}
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	return v
}

// Str, Num, Bool and Strs read a path as a Go value; a missing or differently typed value reads as zero.
func (r *Resource) Str(path string) string {
	if v := Get(r.Inputs, path); v.IsString() {
		return v.StringValue()
	}
	return ""
}

// Out reads a string output, such as the ARN or id the mocks computed.
func (r *Resource) Out(path string) string {
	if v := Get(r.Outputs, path); v.IsString() {
		return v.StringValue()
	}
	return ""
}

// OutStrs reads a list of strings from the outputs.
func (r *Resource) OutStrs(path string) []string {
	return strs(Get(r.Outputs, path))
}

func (r *Resource) Num(path string) float64 {
	if v := Get(r.Inputs, path); v.IsNumber() {
		return v.NumberValue()
	}
	return 0
}

func (r *Resource) Bool(path string) bool {
	v := Get(r.Inputs, path)
	return v.IsBool() && v.BoolValue()
}

func (r *Resource) Has(path string) bool {
	return !Get(r.Inputs, path).IsNull()
}

func (r *Resource) Len(path string) int {
	if v := Get(r.Inputs, path); v.IsArray() {
		return len(v.ArrayValue())
	}
	return 0
}

func (r *Resource) Strs(path string) []string {
	return strs(Get(r.Inputs, path))
}

func strs(v resource.PropertyValue) []string {
	var out []string
	if v.IsArray() {
		for _, e := range v.ArrayValue() {
			for e.IsSecret() {
				e = e.SecretValue().Element
			}
			if e.IsString() {
				out = append(out, e.StringValue())
			}
		}
	}
	return out
}

// JSON decodes a string input that holds JSON (container definitions, IAM policies).
func (r *Resource) JSON(path string, into any) error {
	s := r.Str(path)
	if s == "" {
		return fmt.Errorf("%s %s: no %s", r.Type, r.Name, path)
	}
	return json.Unmarshal([]byte(s), into)
}
