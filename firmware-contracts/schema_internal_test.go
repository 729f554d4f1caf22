package firmware

import (
	"encoding/json"
	"testing"
)

// TestSchemaPatterns keeps the regular expressions of Decode and the
// schemas letter for letter the same.
func TestSchemaPatterns(t *testing.T) {
	read := func(name string) map[string]any {
		b, err := Schemas.ReadFile("schema/" + name)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return m
	}
	get := func(m any, path ...string) any {
		for _, p := range path {
			mm, ok := m.(map[string]any)
			if !ok {
				return nil
			}
			m = mm[p]
		}
		return m
	}
	arrival, wheel := read("arrival.schema.json"), read("wheel-result.schema.json")
	for _, tt := range []struct {
		doc  map[string]any
		path []string
		want string
	}{
		{arrival, []string{"properties", "id", "pattern"}, idPattern},
		{arrival, []string{"properties", "ts", "pattern"}, tsPattern},
		{arrival, []string{"properties", "device", "pattern"}, devicePattern},
		{arrival, []string{"properties", "spin", "pattern"}, spinPattern},
		{arrival, []string{"properties", "code", "pattern"}, textPattern},
		{arrival, []string{"properties", "attrs", "propertyNames", "pattern"}, attrKeyPattern},
		{arrival, []string{"properties", "attrs", "additionalProperties", "pattern"}, textPattern},
		{arrival, []string{"$defs", "ident", "properties", "key", "pattern"}, keyPattern},
		{arrival, []string{"$defs", "ident", "properties", "token", "pattern"}, tokenPattern},
		{wheel, []string{"properties", "id", "pattern"}, idPattern},
		{wheel, []string{"properties", "spin", "pattern"}, spinPattern},
		{wheel, []string{"properties", "prize", "pattern"}, prizePattern},
		{wheel, []string{"properties", "prize_name", "pattern"}, textPattern},
		{wheel, []string{"properties", "prize_name_en", "pattern"}, textPattern},
		{wheel, []string{"properties", "reason", "pattern"}, wheelReasonPattern},
	} {
		if got := get(tt.doc, tt.path...); got != tt.want {
			t.Errorf("%v: schema has %q, Go has %q", tt.path, got, tt.want)
		}
	}
	for _, tt := range []struct {
		path []string
		want float64
	}{
		{[]string{"properties", "idents", "maxItems"}, MaxIdents},
		{[]string{"properties", "attrs", "maxProperties"}, MaxAttrs},
		{[]string{"properties", "attrs", "additionalProperties", "maxLength"}, MaxAttrValueLen},
		{[]string{"properties", "code", "maxLength"}, MaxCodeLen},
	} {
		if got := get(arrival, tt.path...); got != tt.want {
			t.Errorf("%v: schema has %v, Go has %v", tt.path, got, tt.want)
		}
	}
	for _, tt := range []struct {
		path []string
		want float64
	}{
		{[]string{"properties", "prize_name", "maxLength"}, MaxPrizeNameLen},
		{[]string{"properties", "prize_name_en", "maxLength"}, MaxPrizeNameLen},
		{[]string{"properties", "reason", "maxLength"}, MaxWheelReasonLen},
	} {
		if got := get(wheel, tt.path...); got != tt.want {
			t.Errorf("wheel result %v: schema has %v, Go has %v", tt.path, got, tt.want)
		}
	}
}
