package pad_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"huiyan"
	pad "huiyan/pad-api"
)

func loadAsyncAPI(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(pad.AsyncAPI, &doc); err != nil {
		t.Fatalf("asyncapi.yaml: %v", err)
	}
	return doc
}

// at walks a decoded YAML document along a path of keys.
func at(t *testing.T, doc any, path ...string) any {
	t.Helper()
	v := doc
	for i, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("asyncapi.yaml: %s is not an object", strings.Join(path[:i], "."))
		}
		if v, ok = m[k]; !ok {
			t.Fatalf("asyncapi.yaml: no %s", strings.Join(path[:i+1], "."))
		}
	}
	return v
}

// schemaTypes maps the schemas of asyncapi.yaml to the Go wire types.
var schemaTypes = map[string]any{
	"HelloMsg": pad.HelloMsg{}, "ArrivalMsg": pad.ArrivalMsg{}, "VisitMsg": pad.VisitMsg{},
	"DeviceMsg": pad.DeviceMsg{}, "ErrorMsg": pad.ErrorMsg{}, "StateMsg": pad.StateMsg{}, "PongMsg": pad.PongMsg{},
	"ResumeMsg": pad.ResumeMsg{}, "ClaimMsg": pad.ClaimMsg{}, "ReleaseMsg": pad.ReleaseMsg{},
	"OutcomeMsg": pad.OutcomeMsg{}, "PingMsg": pad.PingMsg{},
	"Staff": pad.Staff{}, "Touchpoint": pad.Touchpoint{}, "Visit": pad.Visit{}, "Tag": pad.Tag{},
	"Maturity": pad.Maturity{}, "Profile": pad.Profile{}, "Action": pad.Action{}, "Card": pad.Card{},
	"Device": pad.Device{}, "LoginRequest": pad.LoginRequest{}, "SessionInfo": pad.SessionInfo{}, "HTTPError": pad.HTTPError{},
	"StaffList": pad.StaffList{},
}

func jsonFields(v any) []string {
	var out []string
	rt := reflect.TypeOf(v)
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

func TestAsyncAPI(t *testing.T) {
	doc := loadAsyncAPI(t)
	if v := at(t, doc, "asyncapi"); v != "3.0.0" {
		t.Errorf("asyncapi=%v, want 3.0.0", v)
	}
	if v := at(t, doc, "channels", "pad", "address"); v != "/pad/ws" {
		t.Errorf("channel address=%v, want /pad/ws", v)
	}

	t.Run("Messages", func(t *testing.T) {
		types := append(slices.Clone(pad.ServerTypes), pad.ClientTypes...)
		for _, typ := range types {
			if name := at(t, doc, "components", "messages", typ, "name"); name != typ {
				t.Errorf("message %s: name=%v", typ, name)
			}
			at(t, doc, "channels", "pad", "messages", typ)
			ref, _ := at(t, doc, "components", "messages", typ, "payload", "$ref").(string)
			schema := strings.TrimPrefix(ref, "#/components/schemas/")
			if c := at(t, doc, "components", "schemas", schema, "properties", "type", "const"); c != typ {
				t.Errorf("message %s: payload %s has type const %v", typ, schema, c)
			}
		}
		msgs := at(t, doc, "components", "messages").(map[string]any)
		if len(msgs) != len(types) {
			t.Errorf("asyncapi.yaml has %d messages, messages.go %d", len(msgs), len(types))
		}
	})

	t.Run("SchemasMatchGo", func(t *testing.T) {
		schemas := at(t, doc, "components", "schemas").(map[string]any)
		for name, v := range schemaTypes {
			props := at(t, schemas, name, "properties").(map[string]any)
			var keys []string
			for k := range props {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if want := jsonFields(v); !slices.Equal(keys, want) {
				t.Errorf("schema %s properties %v, Go %T fields %v", name, keys, v, want)
			}
		}
	})

	t.Run("Enums", func(t *testing.T) {
		for _, tt := range []struct {
			path []string
			want []string
		}{
			{[]string{"Role", "enum"}, strs(huiyan.Roles)},
			{[]string{"Channel", "enum"}, strs(huiyan.Channels)},
			{[]string{"OutcomeMsg", "properties", "result", "enum"}, strs(huiyan.Outcomes)},
			{[]string{"Profile", "properties", "tier", "enum"}, append([]string{""}, strs(huiyan.Tiers)...)},
			{[]string{"Profile", "properties", "mbank_status", "enum"}, append([]string{""}, strs(huiyan.MBankStatuses)...)},
			{[]string{"Profile", "properties", "lifecycle", "enum"}, append([]string{""}, strs(huiyan.Lifecycles)...)},
		} {
			var got []string
			for _, x := range at(t, doc, append([]string{"components", "schemas"}, tt.path...)...).([]any) {
				got = append(got, x.(string))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s=%v, want %v", strings.Join(tt.path, "."), got, tt.want)
			}
		}
	})

	t.Run("ValidatesMessages", func(t *testing.T) {
		compiler := jsonschema.NewCompiler()
		js, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		res, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
		if err != nil {
			t.Fatal(err)
		}
		const url = "mem://pad/asyncapi.json"
		if err := compiler.AddResource(url, res); err != nil {
			t.Fatal(err)
		}
		e := arrivalEvent("v-1", "account-1", lobbyOnly)
		e.Seq = 5
		arrival, _ := pad.EventFor(e, "account-1")
		e.Kind = huiyan.FeedVisit
		visit, _ := pad.EventFor(e, "lobby-1")
		device, _ := pad.EventFor(deviceEvent("sc-01", huiyan.DeviceOnline, everyone), "")
		staff := huiyan.Staff{ID: "lobby-1", Role: huiyan.RoleLobby}
		state := pad.StateFor(5, []huiyan.Card{{Visit: e.Visit, Profile: nil, Audience: lobbyOnly}},
			[]huiyan.DeviceState{{Device: "sc-01", Status: huiyan.DeviceOffline}}, &staff)
		for schema, msg := range map[string]any{
			"HelloMsg":   pad.HelloMsg{Type: pad.TypeHello, Seq: 1, Staff: pad.Staff{ID: "a", Name: "王*", Role: huiyan.RoleLobby}, Branch: "0101", ServerTime: pad.FormatTime(e.Visit.OpenedAt)},
			"ArrivalMsg": arrival, "VisitMsg": visit, "DeviceMsg": device, "StateMsg": state,
			"ErrorMsg":   pad.ErrorMsg{Type: pad.TypeError, Code: huiyan.EConflict, Message: "x", Request: pad.TypeClaim, Visit: "v-1"},
			"PongMsg":    pad.PongMsg{Type: pad.TypePong},
			"ResumeMsg":  pad.ResumeMsg{Type: pad.TypeResume, AfterSeq: 3},
			"ClaimMsg":   pad.ClaimMsg{Type: pad.TypeClaim, Visit: "v-1"},
			"ReleaseMsg": pad.ReleaseMsg{Type: pad.TypeRelease, Visit: "v-1"},
			"OutcomeMsg": pad.OutcomeMsg{Type: pad.TypeOutcome, Visit: "v-1", Result: huiyan.OutcomeFollowUp},
			"PingMsg":    pad.PingMsg{Type: pad.TypePing},
			"SessionInfo": pad.SessionInfo{Staff: pad.Staff{ID: "a", Name: "王*", Role: huiyan.RoleLobby}, Branch: "0101",
				ExpiresAt: pad.FormatTime(e.Visit.OpenedAt)},
			"HTTPError": pad.HTTPError{Code: pad.ERateLimited, Message: "x", RetryAfterS: 60},
			"StaffList": pad.StaffList{Staff: []pad.Staff{{ID: "lobby-1", Name: "王*", Role: huiyan.RoleLobby}}},
		} {
			sch, err := compiler.Compile(url + "#/components/schemas/" + schema)
			if err != nil {
				t.Fatalf("compile %s: %v", schema, err)
			}
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(marshal(t, msg)))
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(inst); err != nil {
				t.Errorf("%s does not validate: %v\n%s", schema, err, marshal(t, msg))
			}
		}
		// And the schemas do refuse what is not in the contract.
		sch, _ := compiler.Compile(url + "#/components/schemas/ArrivalMsg")
		bad, _ := jsonschema.UnmarshalJSON(strings.NewReader(strings.Replace(string(marshal(t, arrival)), `"opt_out"`, `"manager":"account-1","opt_out"`, 1)))
		if sch.Validate(bad) == nil {
			t.Error("an arrival with a manager field validates")
		}
	})
}

func strs[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}
