package firmware

import (
	"fmt"
	"strings"

	"huiyan"
)

// Fixture is one message a device may publish, with the verdict of this
// package: the shared corpus of valid and malformed payloads that the
// firmware, edge and simulator tests all run (STYLE.md, "Tables and shared
// fixtures").
type Fixture struct {
	Name    string // "<code or valid>/<what>", unique
	Topic   string // the topic it is published on
	Payload []byte
	// Code is the reject code the message earns: for an arrival topic
	// Decode's, for a status topic ParseStatus's, EBadTopic when the topic
	// does not parse. "" means valid.
	Code string
}

// FixtureBranch is the branch of every fixture's topic but one.
const FixtureBranch = "B001"

// Synthetic identifiers the fixtures' tokens are made from, under DemoKey.
// They are obviously fake: ID numbers of region 110101 with sequence 999,
// bank cards of zeros, phone numbers of zeros.
var fixtureIdents = map[string]struct {
	kind  huiyan.IdentKind
	value string
}{
	"{ID}":    {huiyan.IdentIDCard, "110101199003079999"},
	"{ID2}":   {huiyan.IdentIDCard, "11010119600103999X"},
	"{BANK}":  {huiyan.IdentBankCard, "6222 0200 0000 0000 018"},
	"{BANK2}": {huiyan.IdentBankCard, "6217-0000-0000-0000"},
	"{MB}":    {huiyan.IdentMBank, "MB0000000001"},
	"{MB2}":   {huiyan.IdentMBank, "mb-demo-0002"},
	"{PH}":    {huiyan.IdentPhone, "+86 199 0000 0001"},
	"{PH2}":   {huiyan.IdentPhone, "0086 170 0000 0002"},
}

// Fixtures returns the corpus, a new slice on every call. Every reject code
// that a device message can earn has at least one fixture, except
// EUnknownKey, which depends on the edge's configuration: the fixture
// "valid/unknown-key-id" names key id k9, so Decode accepts it and an edge
// configured with k1 refuses it with EUnknownKey. Fixtures whose Code is
// ETooLarge, ETopicMismatch, EDuplicateKey or EBadTopic, and the one with
// invalid UTF-8, are otherwise valid under schema/arrival.schema.json: they
// test the rules JSON Schema cannot express.
func Fixtures() []Fixture {
	r := fixtureReplacer()
	var fs []Fixture
	add := func(code, name, topic, payload string) {
		if code == "" {
			name = "valid/" + name
		} else {
			name = code + "/" + name
		}
		fs = append(fs, Fixture{Name: name, Topic: topic, Payload: []byte(r.Replace(payload)), Code: code})
	}
	counter, ecode, wheel := arrivalTopic("counter", "sc-01"), arrivalTopic("ecode", "ec-01"), arrivalTopic("wheel", "wh-01")

	// Valid arrivals.
	add("", "counter-idcard", counter, `{"v":1,"id":"sc-01-000123","ts":"2026-11-23T09:30:01.250+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}],"attrs":{"counter_no":"3","business":"card_replace"}}`)
	add("", "counter-idcard-x-check", counter, `{"v":1,"id":"sc-01-000124","ts":"2026-11-23T09:31:00+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID2}"}]}`)
	add("", "counter-bankcard", counter, `{"v":1,"id":"sc-01-000125","ts":"2026-11-23T09:32:10.5+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"bankcard","key":"k1","token":"{BANK}"}],"attrs":{"counter_no":"1","business":"deposit"}}`)
	add("", "counter-phone", counter, `{"v":1,"id":"sc-01-000126","ts":"2026-11-23T01:32:10Z","device":"sc-01","channel":"counter","idents":[{"kind":"phone","key":"k1","token":"{PH}"}]}`)
	add("", "counter-idcard-bankcard-phone", counter, `{"v":1,"id":"sc-01-000127","ts":"2026-11-23T09:33:00.000+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"},{"kind":"bankcard","key":"k1","token":"{BANK2}"},{"kind":"phone","key":"k1","token":"{PH2}"}],"attrs":{}}`)
	add("", "counter-pretty-printed-any-order", counter, "{\n  \"idents\": [ { \"token\": \"{BANK}\", \"key\": \"k1\", \"kind\": \"bankcard\" } ],\n  \"channel\": \"counter\",\n  \"device\": \"sc-01\",\n  \"ts\": \"2026-11-23T09:34:00.123456789-05:30\",\n  \"id\": \"sc-01:2026-11-23:0007\",\n  \"v\": 1\n}\n")
	add("", "counter-chinese-attr", counter, `{"v":1,"id":"sc-01-000128","ts":"2026-11-23T09:35:00+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}],"attrs":{"business":"补换卡","queue.ticket":"A-017","note":"柜台 3 & 4"}}`)
	add("", "counter-branch-with-hyphen", "huiyan/v1/0571-0001/arrival/counter/sc_02", `{"v":1,"id":"1","ts":"2026-11-23T09:36:00+08:00","device":"sc_02","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}]}`)
	add("", "unknown-key-id", counter, `{"v":1,"id":"sc-01-000129","ts":"2026-11-23T09:37:00+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k9","token":"{ID}"}]}`)
	// E-code scans carry the scanned text as it was: a branch or staff
	// e-code (HY1…, edge/ecode/README.md; these are from its test
	// vectors), alone or at the end of a URL, or a static printed code.
	// Whether the code is fresh, authentic and of this branch is the
	// edge's verdict (it needs the branch key and the clock), not Decode's.
	add("", "ecode-mbank-idcard", ecode, `{"v":1,"id":"ec-01-000001","ts":"2026-11-23T09:40:00.001+08:00","device":"ec-01","channel":"ecode","idents":[{"kind":"mbank","key":"k1","token":"{MB}"},{"kind":"idcard","key":"k1","token":"{ID}"}],"code":"https://mbank.example.invalid/ecode?c=HY1.b.B001.ecode-01.60.29923290.Npv7WcP66x-Y2bJgwTQScw"}`)
	add("", "ecode-staff-code", ecode, `{"v":1,"id":"ec-01-000002","ts":"2026-11-23T09:41:00+08:00","device":"ec-01","channel":"ecode","idents":[{"kind":"mbank","key":"k1","token":"{MB2}"}],"code":"HY1.s.B001.lobby-B001.60.29923290._ZM6Ek7OkCeBwy7dGmiRBw","attrs":{"app_version":"9.1.0"}}`)
	add("", "ecode-static-printed-code", ecode, `{"v":1,"id":"ec-01-000010","ts":"2026-11-23T09:42:00+08:00","device":"ec-01","channel":"ecode","idents":[{"kind":"mbank","key":"k1","token":"{MB}"}],"code":"https://ecode.example.invalid/b/B001?src=lobby&v=2"}`)
	add("", "ecode-max", ecode, maxECode())
	add("", "wheel-mbank", wheel, `{"v":1,"id":"wh-01-000001","ts":"2026-11-23T10:00:00+08:00","device":"wh-01","channel":"wheel","idents":[{"kind":"mbank","key":"k1","token":"{MB}"}],"spin":"spin-20261123-0001"}`)
	add("", "wheel-mbank-phone", wheel, `{"v":1,"id":"wh-01-000002","ts":"2026-11-23T10:01:00+08:00","device":"wh-01","channel":"wheel","idents":[{"kind":"phone","key":"k1","token":"{PH}"},{"kind":"mbank","key":"k1","token":"{MB2}"}],"spin":"a.b:c_d-e"}`)
	add("", "max-id-and-device", arrivalTopic("counter", strings.Repeat("d", 64)), `{"v":1,"id":"`+strings.Repeat("i", 128)+`","ts":"2000-01-01T00:00:00Z","device":"`+strings.Repeat("d", 64)+`","channel":"counter","idents":[{"kind":"idcard","key":"`+strings.Repeat("k", 16)+`","token":"{ID}"}]}`)

	// Size and syntax.
	add(ETooLarge, "attrs-in-characters-but-not-in-bytes", counter, tooLargeAttrs())
	add(ETooLarge, "white-space-padding", counter, `{"v":1,"id":"sc-01-000200","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}]}`+strings.Repeat(" ", MaxPayload))
	add(EBadJSON, "empty", counter, ``)
	add(EBadJSON, "not-json", counter, `online`)
	add(EBadJSON, "truncated", counter, `{"v":1,"id":"sc-01-000201","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}`)
	add(EBadJSON, "two-objects", counter, `{"v":1,"id":"sc-01-000202","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}]}{"v":1}`)
	add(EBadJSON, "array", counter, `[{"v":1,"id":"sc-01-000203","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}]}]`)
	add(EBadJSON, "null", counter, `null`)
	add(EBadJSON, "invalid-utf8", counter, `{"v":1,"id":"sc-01-000204","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}],"attrs":{"business":"`+"\xff\xfe"+`"}}`)
	add(EDuplicateKey, "id-twice", counter, `{"v":1,"id":"sc-01-000205","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}],"id":"sc-01-000206"}`)
	add(EDuplicateKey, "attr-twice", counter, `{"v":1,"id":"sc-01-000207","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}],"attrs":{"counter_no":"3","counter_no":"4"}}`)
	add(EDuplicateKey, "token-twice-in-ident", counter, `{"v":1,"id":"sc-01-000208","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}","token":"{ID2}"}]}`)
	add(EUnknownField, "top-level-name", counter, `{"v":1,"id":"sc-01-000209","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}],"name":"林*华"}`)
	add(EUnknownField, "misspelt-ident", counter, `{"v":1,"id":"sc-01-000210","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","ident":[{"kind":"idcard","key":"k1","token":"{ID}"}]}`)
	add(EUnknownField, "raw-value-in-ident", counter, `{"v":1,"id":"sc-01-000211","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}","value":"110101199003079999"}]}`)

	// Envelope fields.
	add(EBadVersion, "missing", counter, `{"id":"sc-01-000212","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}]}`)
	add(EBadVersion, "two", counter, `{"v":2,"id":"sc-01-000213","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}]}`)
	add(EBadVersion, "string", counter, `{"v":"1","id":"sc-01-000214","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}]}`)
	add(EBadID, "missing", counter, `{"v":1,"ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}]}`)
	add(EBadID, "empty", counter, `{"v":1,"id":"","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}]}`)
	add(EBadID, "space", counter, `{"v":1,"id":"sc-01 000215","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}]}`)
	add(EBadID, "too-long", counter, `{"v":1,"id":"`+strings.Repeat("i", 129)+`","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}]}`)
	add(EBadID, "number", counter, `{"v":1,"id":215,"ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}]}`)
	add(EBadTimestamp, "missing", counter, `{"v":1,"id":"sc-01-000216","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}]}`)
	add(EBadTimestamp, "no-offset", counter, `{"v":1,"id":"sc-01-000217","ts":"2026-11-23T10:15:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}]}`)
	add(EBadTimestamp, "unknown-offset", counter, `{"v":1,"id":"sc-01-000218","ts":"2026-11-23T09:30:01-00:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}]}`)
	add(EBadTimestamp, "february-30", counter, `{"v":1,"id":"sc-01-000219","ts":"2026-02-30T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}]}`)
	add(EBadTimestamp, "space-separator", counter, `{"v":1,"id":"sc-01-000220","ts":"2026-11-23 09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}]}`)
	add(EBadTimestamp, "leap-second", counter, `{"v":1,"id":"sc-01-000221","ts":"2026-12-31T23:59:60Z","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}]}`)
	add(EBadTimestamp, "unix-seconds", counter, `{"v":1,"id":"sc-01-000222","ts":1795145401,"device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}]}`)
	add(EBadTimestamp, "no-seconds", counter, `{"v":1,"id":"sc-01-000223","ts":"2026-11-23T09:30+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}]}`)
	add(EBadDevice, "missing", counter, `{"v":1,"id":"sc-01-000224","ts":"2026-11-23T09:30:01+08:00","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}]}`)
	add(EBadDevice, "wildcard", counter, `{"v":1,"id":"sc-01-000225","ts":"2026-11-23T09:30:01+08:00","device":"sc-#","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}]}`)
	add(ETopicMismatch, "device", counter, `{"v":1,"id":"sc-02-000001","ts":"2026-11-23T09:30:01+08:00","device":"sc-02","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}]}`)
	add(ETopicMismatch, "channel", counter, `{"v":1,"id":"sc-01-000226","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"ecode","idents":[{"kind":"mbank","key":"k1","token":"{MB}"}],"code":"STAFF:lobby-B001"}`)
	add(EBadChannel, "unknown", counter, `{"v":1,"id":"sc-01-000227","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"kiosk","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}]}`)
	add(EBadChannel, "upper-case", counter, `{"v":1,"id":"sc-01-000228","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"COUNTER","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}]}`)

	// Idents.
	add(EBadIdents, "missing", counter, `{"v":1,"id":"sc-01-000229","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter"}`)
	add(EBadIdents, "empty", counter, `{"v":1,"id":"sc-01-000230","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[]}`)
	add(EBadIdents, "object", counter, `{"v":1,"id":"sc-01-000231","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":{"kind":"idcard","key":"k1","token":"{ID}"}}`)
	add(EBadIdents, "nine", counter, nineIdents())
	add(EBadIdents, "element-not-object", counter, `{"v":1,"id":"sc-01-000232","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":["{ID}"]}`)
	add(EBadIdents, "same-ident-twice", counter, `{"v":1,"id":"sc-01-000233","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"},{"kind":"idcard","key":"k1","token":"{ID}"}]}`)
	add(EBadIdents, "ecode-without-mbank", ecode, `{"v":1,"id":"ec-01-000003","ts":"2026-11-23T09:30:01+08:00","device":"ec-01","channel":"ecode","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}],"code":"STAFF:lobby-B001"}`)
	add(EBadIdents, "wheel-without-mbank", wheel, `{"v":1,"id":"wh-01-000003","ts":"2026-11-23T09:30:01+08:00","device":"wh-01","channel":"wheel","idents":[{"kind":"phone","key":"k1","token":"{PH}"}],"spin":"spin-3"}`)
	add(EBadKind, "passport", counter, `{"v":1,"id":"sc-01-000234","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"passport","key":"k1","token":"{ID}"}]}`)
	add(EBadKind, "missing", counter, `{"v":1,"id":"sc-01-000235","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"key":"k1","token":"{ID}"}]}`)
	add(EBadKind, "upper-case", counter, `{"v":1,"id":"sc-01-000236","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"IDCARD","key":"k1","token":"{ID}"}]}`)
	add(EBadKey, "empty", counter, `{"v":1,"id":"sc-01-000237","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"","token":"{ID}"}]}`)
	add(EBadKey, "too-long", counter, `{"v":1,"id":"sc-01-000238","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"`+strings.Repeat("k", 17)+`","token":"{ID}"}]}`)
	add(EBadKey, "number", counter, `{"v":1,"id":"sc-01-000239","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":1,"token":"{ID}"}]}`)
	add(EBadToken, "raw-id-number", counter, `{"v":1,"id":"sc-01-000240","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"110101199003079999"}]}`)
	add(EBadToken, "upper-case-hex", counter, `{"v":1,"id":"sc-01-000241","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"`+strings.ToUpper(r.Replace("{ID}"))+`"}]}`)
	add(EBadToken, "63-characters", counter, `{"v":1,"id":"sc-01-000242","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"`+r.Replace("{ID}")[1:]+`"}]}`)
	add(EBadToken, "missing", counter, `{"v":1,"id":"sc-01-000243","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1"}]}`)

	// Attrs.
	add(EBadAttrs, "array", counter, `{"v":1,"id":"sc-01-000244","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}],"attrs":["counter_no","3"]}`)
	add(EBadAttrs, "null", counter, `{"v":1,"id":"sc-01-000245","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}],"attrs":null}`)
	add(EBadAttrs, "number-value", counter, `{"v":1,"id":"sc-01-000246","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}],"attrs":{"counter_no":3}}`)
	add(EBadAttrs, "33-entries", counter, manyAttrs(MaxAttrs+1))
	add(EBadAttrs, "key-with-space", counter, `{"v":1,"id":"sc-01-000247","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}],"attrs":{"counter no":"3"}}`)
	add(EBadAttrs, "value-too-long", counter, `{"v":1,"id":"sc-01-000248","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}],"attrs":{"note":"`+strings.Repeat("长", MaxAttrValueLen+1)+`"}}`)
	add(EBadAttrs, "control-character", counter, `{"v":1,"id":"sc-01-000249","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}],"attrs":{"note":"line 1\nline 2"}}`)

	// Channel-specific fields.
	add(EBadCode, "missing", ecode, `{"v":1,"id":"ec-01-000004","ts":"2026-11-23T09:30:01+08:00","device":"ec-01","channel":"ecode","idents":[{"kind":"mbank","key":"k1","token":"{MB}"}]}`)
	add(EBadCode, "empty", ecode, `{"v":1,"id":"ec-01-000005","ts":"2026-11-23T09:30:01+08:00","device":"ec-01","channel":"ecode","idents":[{"kind":"mbank","key":"k1","token":"{MB}"}],"code":""}`)
	add(EBadCode, "too-long", ecode, `{"v":1,"id":"ec-01-000006","ts":"2026-11-23T09:30:01+08:00","device":"ec-01","channel":"ecode","idents":[{"kind":"mbank","key":"k1","token":"{MB}"}],"code":"`+strings.Repeat("c", MaxCodeLen+1)+`"}`)
	add(EBadCode, "null", ecode, `{"v":1,"id":"ec-01-000007","ts":"2026-11-23T09:30:01+08:00","device":"ec-01","channel":"ecode","idents":[{"kind":"mbank","key":"k1","token":"{MB}"}],"code":null}`)
	add(EBadSpin, "missing", wheel, `{"v":1,"id":"wh-01-000004","ts":"2026-11-23T09:30:01+08:00","device":"wh-01","channel":"wheel","idents":[{"kind":"mbank","key":"k1","token":"{MB}"}]}`)
	add(EBadSpin, "space", wheel, `{"v":1,"id":"wh-01-000005","ts":"2026-11-23T09:30:01+08:00","device":"wh-01","channel":"wheel","idents":[{"kind":"mbank","key":"k1","token":"{MB}"}],"spin":"spin 5"}`)
	add(EBadSpin, "too-long", wheel, `{"v":1,"id":"wh-01-000006","ts":"2026-11-23T09:30:01+08:00","device":"wh-01","channel":"wheel","idents":[{"kind":"mbank","key":"k1","token":"{MB}"}],"spin":"`+strings.Repeat("s", MaxSpinLen+1)+`"}`)
	add(EBadField, "counter-with-code", counter, `{"v":1,"id":"sc-01-000250","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}],"code":"STAFF:lobby-B001"}`)
	add(EBadField, "counter-with-empty-spin", counter, `{"v":1,"id":"sc-01-000251","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}],"spin":""}`)
	add(EBadField, "ecode-with-spin", ecode, `{"v":1,"id":"ec-01-000008","ts":"2026-11-23T09:30:01+08:00","device":"ec-01","channel":"ecode","idents":[{"kind":"mbank","key":"k1","token":"{MB}"}],"code":"STAFF:lobby-B001","spin":"spin-8"}`)
	add(EBadField, "wheel-with-code", wheel, `{"v":1,"id":"wh-01-000007","ts":"2026-11-23T09:30:01+08:00","device":"wh-01","channel":"wheel","idents":[{"kind":"mbank","key":"k1","token":"{MB}"}],"spin":"spin-7","code":"STAFF:lobby-B001"}`)

	// Topics: a device can publish on these, and the edge's arrival filter
	// matches them, but they are not arrival topics of the contract.
	add(EBadTopic, "unknown-channel", arrivalTopic("kiosk", "sc-01"), `{"v":1,"id":"sc-01-000252","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}]}`)
	add(EBadTopic, "device-with-space", arrivalTopic("counter", "sc 01"), `{"v":1,"id":"sc-01-000253","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}]}`)

	// Device status (plain text, retained).
	status := "huiyan/v1/" + FixtureBranch + "/device/sc-01/status"
	add("", "status-online", status, StatusOnline)
	add("", "status-offline", status, StatusOffline)
	add(EBadStatus, "json-string", status, `"online"`)
	add(EBadStatus, "upper-case", status, `ONLINE`)
	add(EBadStatus, "trailing-newline", status, "offline\n")
	return fs
}

func arrivalTopic(ch, device string) string {
	return "huiyan/v1/" + FixtureBranch + "/arrival/" + ch + "/" + device
}

// fixtureReplacer replaces the placeholders of fixtureIdents by tokens.
func fixtureReplacer() *strings.Replacer {
	var pairs []string
	for ph, id := range fixtureIdents {
		t, err := Token(DemoKey, id.kind, id.value)
		if err != nil {
			panic(fmt.Sprintf("firmware: fixture %s: %v", ph, err))
		}
		pairs = append(pairs, ph, t)
	}
	return strings.NewReplacer(pairs...)
}

func mbankToken(i int) string {
	t, err := Token(DemoKey, huiyan.IdentMBank, fmt.Sprintf("MB%010d", 100+i))
	if err != nil {
		panic(fmt.Sprintf("firmware: fixture mbank %d: %v", i, err))
	}
	return t
}

// maxECode is a valid ecode arrival at every count limit: 8 idents, 32
// attrs with the longest keys and values, the longest code.
func maxECode() string {
	var b strings.Builder
	b.WriteString(`{"v":1,"id":"ec-01-000009","ts":"2026-11-23T09:45:00+08:00","device":"ec-01","channel":"ecode","idents":[`)
	for i := range MaxIdents {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"kind":"mbank","key":"k1","token":"%s"}`, mbankToken(i))
	}
	b.WriteString(`],"attrs":{`)
	for i := range MaxAttrs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"%s%02d":"%s"`, strings.Repeat("k", MaxAttrKeyLen-2), i, strings.Repeat("v", MaxAttrValueLen))
	}
	fmt.Fprintf(&b, `},"code":"%s"}`, strings.Repeat("c", MaxCodeLen))
	return b.String()
}

// tooLargeAttrs is valid but for its size: 32 values of 200 characters of
// three bytes each are within the character limits and over 16 KiB.
func tooLargeAttrs() string {
	var b strings.Builder
	b.WriteString(`{"v":1,"id":"sc-01-000254","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}],"attrs":{`)
	for i := range MaxAttrs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"note%02d":"%s"`, i, strings.Repeat("长", 200))
	}
	b.WriteString(`}}`)
	return b.String()
}

func nineIdents() string {
	var b strings.Builder
	b.WriteString(`{"v":1,"id":"sc-01-000255","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[`)
	for i := range MaxIdents + 1 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"kind":"mbank","key":"k1","token":"%s"}`, mbankToken(i))
	}
	b.WriteString(`]}`)
	return b.String()
}

func manyAttrs(n int) string {
	var b strings.Builder
	b.WriteString(`{"v":1,"id":"sc-01-000256","ts":"2026-11-23T09:30:01+08:00","device":"sc-01","channel":"counter","idents":[{"kind":"idcard","key":"k1","token":"{ID}"}],"attrs":{`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"a%d":"%d"`, i, i)
	}
	b.WriteString(`}}`)
	return b.String()
}
