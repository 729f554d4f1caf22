package firmware_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"huiyan"
	firmware "huiyan/firmware-contracts"
)

var (
	schemasOnce sync.Once
	schemas     map[string]*jsonschema.Schema
	schemasErr  error
)

// mustSchema returns the embedded schema with the file name, compiled with
// format assertion on, as DESIGN's validators must run it.
func mustSchema(tb testing.TB, name string) *jsonschema.Schema {
	tb.Helper()
	schemasOnce.Do(func() {
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		files, err := fs.Glob(firmware.Schemas, "schema/*.json")
		if err != nil || len(files) == 0 {
			schemasErr = err
			return
		}
		for _, f := range files {
			b, err := firmware.Schemas.ReadFile(f)
			if err != nil {
				schemasErr = err
				return
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				schemasErr = err
				return
			}
			if err := c.AddResource(firmware.SchemaBaseURL+path.Base(f), doc); err != nil {
				schemasErr = err
				return
			}
		}
		schemas = map[string]*jsonschema.Schema{}
		for _, f := range files {
			sch, err := c.Compile(firmware.SchemaBaseURL + path.Base(f))
			if err != nil {
				schemasErr = err
				return
			}
			schemas[path.Base(f)] = sch
		}
	})
	if schemasErr != nil {
		tb.Fatalf("compile schemas: %v", schemasErr)
	}
	sch := schemas[name]
	if sch == nil {
		tb.Fatalf("no schema %s", name)
	}
	return sch
}

// schemaValid reports whether the JSON document b is valid under the schema.
func schemaValid(tb testing.TB, name string, b []byte) (bool, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return false, err
	}
	err = mustSchema(tb, name).Validate(doc)
	return err == nil, err
}

func validate(tb testing.TB, name string, b []byte) {
	tb.Helper()
	if ok, err := schemaValid(tb, name, b); !ok {
		tb.Fatalf("%s refuses %s: %v", name, b, err)
	}
}

// outsideSchema are the codes of rules JSON Schema cannot express: the
// byte size, the topic, duplicate keys (the instance is already parsed).
var outsideSchema = []string{firmware.ETooLarge, firmware.ETopicMismatch, firmware.EDuplicateKey, firmware.EBadTopic}

// TestSchemaAgreement checks that the JSON Schemas and Decode/ParseStatus
// give the same verdict on every fixture. Fixtures that only break a rule
// outside JSON Schema (outsideSchema, and invalid UTF-8, which a JSON parser
// replaces before a validator sees it) must be valid under the schema, which
// shows that they test that rule alone.
func TestSchemaAgreement(t *testing.T) {
	for _, f := range firmware.Fixtures() {
		t.Run(f.Name, func(t *testing.T) {
			schema, doc := "arrival.schema.json", f.Payload
			if strings.Contains(f.Topic, "/device/") {
				schema = "status.schema.json"
				doc, _ = json.Marshal(string(f.Payload)) // plain text, validated as a string
			}
			ok, err := schemaValid(t, schema, doc)
			outside := slices.Contains(outsideSchema, f.Code) || f.Code == firmware.EBadJSON && !utf8.Valid(f.Payload)
			switch {
			case outside && !ok:
				t.Fatalf("%s refuses it (%v), but the fixture should break only a rule outside JSON Schema (%s)", schema, err, f.Code)
			case !outside && ok != (f.Code == ""):
				t.Fatalf("%s says valid=%v (%v), Decode says code=%q", schema, ok, err, f.Code)
			}
		})
	}
}

func TestSchemaBuiltPayloads(t *testing.T) {
	for _, f := range firmware.Fixtures() {
		if f.Code != "" || !strings.Contains(f.Topic, "/arrival/") {
			continue
		}
		tp, _ := firmware.ParseTopic(f.Topic)
		a, err := firmware.Decode(tp, f.Payload)
		if err != nil {
			t.Fatal(err)
		}
		validate(t, "arrival.schema.json", firmware.EncodeArrival(a))
	}
}

func TestAsyncAPI(t *testing.T) {
	b, err := firmware.Schemas.ReadFile("schema/asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		AsyncAPI string `yaml:"asyncapi"`
		Servers  map[string]struct {
			Protocol string `yaml:"protocol"`
			Bindings struct {
				MQTT struct {
					MaximumPacketSize int `yaml:"maximumPacketSize"`
					LastWill          struct {
						Topic   string `yaml:"topic"`
						QoS     int    `yaml:"qos"`
						Message string `yaml:"message"`
						Retain  bool   `yaml:"retain"`
					} `yaml:"lastWill"`
				} `yaml:"mqtt"`
			} `yaml:"bindings"`
		} `yaml:"servers"`
		Channels map[string]struct {
			Address    string         `yaml:"address"`
			Parameters map[string]any `yaml:"parameters"`
			Messages   map[string]struct {
				Ref string `yaml:"$ref"`
			} `yaml:"messages"`
		} `yaml:"channels"`
		Operations map[string]struct {
			Action  string `yaml:"action"`
			Channel struct {
				Ref string `yaml:"$ref"`
			} `yaml:"channel"`
			Bindings struct {
				MQTT struct {
					QoS    int  `yaml:"qos"`
					Retain bool `yaml:"retain"`
				} `yaml:"mqtt"`
			} `yaml:"bindings"`
		} `yaml:"operations"`
		Components struct {
			Messages map[string]struct {
				ContentType string `yaml:"contentType"`
				Payload     struct {
					Schema struct {
						Ref string `yaml:"$ref"`
					} `yaml:"schema"`
				} `yaml:"payload"`
				Examples []struct {
					Payload any `yaml:"payload"`
				} `yaml:"examples"`
			} `yaml:"messages"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("asyncapi.yaml: %v", err)
	}
	if doc.AsyncAPI != "3.0.0" {
		t.Errorf("asyncapi=%q, want 3.0.0", doc.AsyncAPI)
	}

	// Every topic of the contract, as the Go code spells it, is a channel.
	tmpl := func(k firmware.TopicKind, ch huiyan.Channel) string {
		return firmware.Topic{Kind: k, Branch: "{branch}", Channel: ch, Device: "{device}"}.String()
	}
	want := map[string]firmware.TopicKind{
		tmpl(firmware.TopicArrival, "{channel}"): firmware.TopicArrival,
		tmpl(firmware.TopicStatus, ""):           firmware.TopicStatus,
		tmpl(firmware.TopicReject, ""):           firmware.TopicReject,
		tmpl(firmware.TopicWheelResult, ""):      firmware.TopicWheelResult,
	}
	channelOf := map[firmware.TopicKind]string{}
	for name, ch := range doc.Channels {
		k, ok := want[ch.Address]
		if !ok {
			t.Errorf("channel %s: address %q is not a topic of the contract", name, ch.Address)
			continue
		}
		channelOf[k] = name
		for _, p := range regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(ch.Address, -1) {
			if _, ok := ch.Parameters[p[1]]; !ok {
				t.Errorf("channel %s: no parameter %s", name, p[1])
			}
		}
		for m, ref := range ch.Messages {
			if _, ok := doc.Components.Messages[strings.TrimPrefix(ref.Ref, "#/components/messages/")]; !ok {
				t.Errorf("channel %s: message %s: dangling $ref %q", name, m, ref.Ref)
			}
		}
	}
	for addr, k := range want {
		if channelOf[k] == "" {
			t.Errorf("no channel with address %q", addr)
		}
	}

	// QoS 1 everywhere; only the status is retained; devices send arrivals
	// and status and receive the rest.
	for name, op := range doc.Operations {
		ch := strings.TrimPrefix(op.Channel.Ref, "#/channels/")
		if _, ok := doc.Channels[ch]; !ok {
			t.Errorf("operation %s: dangling channel $ref %q", name, op.Channel.Ref)
		}
		wantAction, wantRetain := "receive", false
		switch ch {
		case channelOf[firmware.TopicArrival]:
			wantAction = "send"
		case channelOf[firmware.TopicStatus]:
			wantAction, wantRetain = "send", true
		}
		if op.Action != wantAction || op.Bindings.MQTT.QoS != 1 || op.Bindings.MQTT.Retain != wantRetain {
			t.Errorf("operation %s: action=%s qos=%d retain=%v, want %s, 1, %v", name, op.Action, op.Bindings.MQTT.QoS, op.Bindings.MQTT.Retain, wantAction, wantRetain)
		}
	}
	if len(doc.Operations) != 4 {
		t.Errorf("%d operations, want 4", len(doc.Operations))
	}

	// The Last Will is the retained offline status.
	for name, s := range doc.Servers {
		lw := s.Bindings.MQTT.LastWill
		if s.Protocol != "mqtt" || lw.Topic != tmpl(firmware.TopicStatus, "") || lw.Message != firmware.StatusOffline || !lw.Retain || lw.QoS != 1 {
			t.Errorf("server %s: protocol %s, last will %+v", name, s.Protocol, lw)
		}
		if s.Bindings.MQTT.MaximumPacketSize != 256<<10 {
			t.Errorf("server %s: maximumPacketSize=%d, want 256 KiB", name, s.Bindings.MQTT.MaximumPacketSize)
		}
	}

	// Every message references an embedded schema, and its examples are
	// valid under it.
	for name, m := range doc.Components.Messages {
		ref := strings.TrimPrefix(m.Payload.Schema.Ref, "./")
		if _, err := fs.Stat(firmware.Schemas, "schema/"+ref); err != nil {
			t.Errorf("message %s: schema %q: %v", name, m.Payload.Schema.Ref, err)
			continue
		}
		if len(m.Examples) == 0 {
			t.Errorf("message %s: no example", name)
		}
		for i, ex := range m.Examples {
			j, err := json.Marshal(ex.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := schemaValid(t, ref, j); !ok {
				t.Errorf("message %s: example %d: %v", name, i, err)
			}
		}
	}
}
