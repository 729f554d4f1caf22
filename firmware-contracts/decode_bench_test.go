package firmware_test

import (
	"testing"

	firmware "huiyan/firmware-contracts"
)

// BenchmarkDecode is the first step of every arrival on the edge: parse and
// validate the payload a device published (DESIGN.md, "MQTT contract").
// The payloads are the shared fixtures, so the figures follow the contract
// as it changes. docs/BENCHMARKS.md reports ns/op and allocs/op.
//
//	go test -run '^$' -bench Decode -benchmem ./firmware-contracts/
func BenchmarkDecode(b *testing.B) {
	byName := map[string]firmware.Fixture{}
	for _, f := range firmware.Fixtures() {
		byName[f.Name] = f
	}
	for _, tc := range []struct{ name, fixture string }{
		{"Counter", "valid/counter-idcard"},                           // the common case: one ID-card token, two attrs
		{"CounterThreeIdents", "valid/counter-idcard-bankcard-phone"}, // a card reader that sends everything it read
		{"ECode", "valid/ecode-mbank-idcard"},                         // a scan with its code
	} {
		f, ok := byName[tc.fixture]
		if !ok {
			b.Fatalf("no fixture %q", tc.fixture)
		}
		topic, err := firmware.ParseTopic(f.Topic)
		if err != nil {
			b.Fatalf("fixture %s: topic: %v", f.Name, err)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(f.Payload)))
			for b.Loop() {
				a, err := firmware.Decode(topic, f.Payload)
				if err != nil || len(a.Idents) == 0 {
					b.Fatalf("decode %s: %v", f.Name, err)
				}
			}
		})
	}
}
