package firmware_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"

	"huiyan"
	firmware "huiyan/firmware-contracts"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json from vectorInputs")

// vectorKeys are the keys of the vectors: the demo key, a 32-byte key and a
// key longer than SHA-256's block, which HMAC hashes first (RFC 2104) and
// which C implementations get wrong most often.
var vectorKeys = map[string][]byte{
	"k1": firmware.DemoKey,
	"k2": func() []byte {
		k := make([]byte, 32)
		for i := range k {
			k[i] = byte(i)
		}
		return k
	}(),
	"k3": bytes.Repeat([]byte{0xaa}, 131),
}

// vectorInputs only feed -update: the committed testdata/vectors.json is
// the source of truth. The identifiers are obviously fake: ID numbers of
// region 110101 with sequence 99x, bank cards of zeros, phone numbers of
// zeros or the fictional 555-01xx range.
var vectorInputs = []struct {
	kind  huiyan.IdentKind
	keyID string
	input string
}{
	{huiyan.IdentIDCard, "k1", "110101199003079999"},
	{huiyan.IdentIDCard, "k1", "11010119600103999x"},
	{huiyan.IdentIDCard, "k1", " 110101 19600111 999X "},
	{huiyan.IdentIDCard, "k1", "110101200002299995"},
	{huiyan.IdentIDCard, "k1", "110101190001019991\t"},
	{huiyan.IdentIDCard, "k2", "110101198001019998"},
	{huiyan.IdentIDCard, "k3", "110101197312319993"},
	{huiyan.IdentBankCard, "k1", "6222020000000000018"},
	{huiyan.IdentBankCard, "k1", "6222 0200 0000 0000 018"},
	{huiyan.IdentBankCard, "k1", "6217-0000-0000-0000"},
	{huiyan.IdentBankCard, "k1", "621700000000"},
	{huiyan.IdentBankCard, "k2", " 6222\t0000 0000 0000 000 "},
	{huiyan.IdentPhone, "k1", "19900000001"},
	{huiyan.IdentPhone, "k1", "+86 199 0000 0001"},
	{huiyan.IdentPhone, "k1", "0086-199-0000-0001"},
	{huiyan.IdentPhone, "k1", "8619900000001"},
	{huiyan.IdentPhone, "k1", "(+86) 170 0000 0002"},
	{huiyan.IdentPhone, "k1", "+852 9000 0000"},
	{huiyan.IdentPhone, "k2", "+1 (202) 555-0100"},
	{huiyan.IdentMBank, "k1", "MB0000000001"},
	{huiyan.IdentMBank, "k1", "  mb-demo-0002\t"},
	{huiyan.IdentMBank, "k1", "User.Name@Example"},
	{huiyan.IdentMBank, "k3", "MB0000000001"},
	// Refused inputs.
	{huiyan.IdentIDCard, "", "110101199003079998"},
	{huiyan.IdentIDCard, "", "11010119900307999"},
	{huiyan.IdentIDCard, "", "110101-19900307-9999"},
	{huiyan.IdentIDCard, "", "11010119900307999Y"},
	{huiyan.IdentBankCard, "", "62220200000"},
	{huiyan.IdentBankCard, "", "6222 0200 0000 000A"},
	{huiyan.IdentBankCard, "", "62220200000000000000"},
	{huiyan.IdentPhone, "", "010-12345678"},
	{huiyan.IdentPhone, "", "199000000012"},
	{huiyan.IdentPhone, "", "+1234567"},
	{huiyan.IdentPhone, "", "+86 199 0000 000A"},
	{huiyan.IdentMBank, "", "   "},
	{huiyan.IdentMBank, "", "mb demo"},
	{huiyan.IdentMBank, "", "用户0001"},
	{huiyan.IdentMBank, "", strings.Repeat("m", 65)},
	{"passport", "", "E00000000"},
}

func TestVectors(t *testing.T) {
	if *update {
		writeVectors(t)
	}
	b, err := os.ReadFile(firmware.VectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Vectors []firmware.Vector }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", firmware.VectorsFile, err)
	}
	vs := f.Vectors
	if !*update && !reflect.DeepEqual(vs, firmware.Vectors()) {
		t.Errorf("Vectors() differs from %s", firmware.VectorsFile)
	}
	valid := 0
	for i, v := range vs {
		if v.Error != "" {
			if _, err := firmware.Normalize(v.Kind, v.Input); err == nil || err.Error() != v.Error {
				t.Errorf("vector %d: Normalize(%s, %q) error = %v, want %q", i, v.Kind, v.Input, err, v.Error)
			}
			if tok, err := firmware.Token(firmware.DemoKey, v.Kind, v.Input); err == nil {
				t.Errorf("vector %d: Token(%s, %q) = %s, want an error", i, v.Kind, v.Input, tok)
			}
			continue
		}
		valid++
		key, err := hex.DecodeString(v.KeyHex)
		if err != nil {
			t.Fatalf("vector %d: key_hex: %v", i, err)
		}
		if v.KeyID == firmware.DemoKeyID && !bytes.Equal(key, firmware.DemoKey) {
			t.Errorf("vector %d: key %s is not DemoKey", i, v.KeyID)
		}
		n, err := firmware.Normalize(v.Kind, v.Input)
		if err != nil || n != v.Normalised {
			t.Errorf("vector %d: Normalize(%s, %q) = %q, %v, want %q", i, v.Kind, v.Input, n, err, v.Normalised)
		}
		tok, err := firmware.Token(key, v.Kind, v.Input)
		if err != nil || tok != v.Token {
			t.Errorf("vector %d: Token(%s, %s, %q) = %q, %v, want %q", i, v.KeyID, v.Kind, v.Input, tok, err, v.Token)
		}
		// The scheme itself, computed apart from Token.
		m := hmac.New(sha256.New, key)
		m.Write([]byte(string(v.Kind) + ":" + v.Normalised))
		if want := hex.EncodeToString(m.Sum(nil)); v.Token != want {
			t.Errorf("vector %d: token %s is not hex(HMAC-SHA256(key, kind:normalised)) = %s", i, v.Token, want)
		}
		if !firmware.ValidToken(v.Token) {
			t.Errorf("vector %d: token %q has not the token shape", i, v.Token)
		}
	}
	if valid < 20 || len(vs)-valid < 10 {
		t.Errorf("%d valid and %d refused vectors, want at least 20 and 10", valid, len(vs)-valid)
	}
}

// writeVectors rewrites testdata/vectors.json from vectorInputs with Token.
func writeVectors(t *testing.T) {
	type file struct {
		Comment []string          `json:"comment"`
		Vectors []firmware.Vector `json:"vectors"`
	}
	f := file{Comment: []string{
		"Identity-token test vectors of Huiyan (DESIGN.md, \"Identity token\"); see README.md next to this file.",
		"token = lower-case hex(HMAC-SHA256(key, kind + \":\" + normalised)); key = bytes of key_hex.",
		"A vector with \"error\" is an input a device must refuse; the text is what the Go reference says.",
		"All identifiers are synthetic.",
	}}
	for _, in := range vectorInputs {
		v := firmware.Vector{Kind: in.kind, Input: in.input}
		n, err := firmware.Normalize(in.kind, in.input)
		if err != nil {
			v.Error = err.Error()
			f.Vectors = append(f.Vectors, v)
			continue
		}
		key := vectorKeys[in.keyID]
		tok, err := firmware.Token(key, in.kind, in.input)
		if err != nil {
			t.Fatal(err)
		}
		v.KeyID, v.KeyHex, v.Normalised, v.Token = in.keyID, hex.EncodeToString(key), n, tok
		f.Vectors = append(f.Vectors, v)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(firmware.VectorsFile, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", firmware.VectorsFile)
}
