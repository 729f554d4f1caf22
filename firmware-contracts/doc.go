// Package firmware is the contract that branch-device firmware obeys
// (DESIGN.md, "MQTT contract" and "Identity token"), in Go for the edge and
// the device simulator, and as files for firmware teams:
//
//   - topics.go: the topic tree huiyan/v1/{branch}/…, ParseTopic and the
//     builders, the edge's subscription filters and the device ACL rule.
//   - payload.go: the arrival payload v1 (Arrival), Decode, the strict
//     validator that turns it into a huiyan.Arrival, EncodeArrival, PeekID.
//   - reply.go: what the edge sends back (Reject, WheelResult) and the
//     device status payloads.
//   - codes.go: the reject codes, each a stable machine string.
//   - schema/: JSON Schemas (draft 2020-12) of every payload and an
//     AsyncAPI 3.0 document of the whole topic tree, embedded as Schemas.
//   - token.go: the identity-token reference (Token, Normalize) and
//     testdata/vectors.json, the vectors C firmware checks itself against
//     (see testdata/README.md).
//   - fixtures.go: Fixtures, the shared corpus of valid and malformed
//     messages that this package's, the edge's and the simulator's tests
//     run.
//
// Every error is a *huiyan.Error whose Code is one of Codes() and whose
// Message names the field and the rule, never a value from the payload, so
// the edge can publish it on the reject topic as it is.
//
// The package depends on the root package huiyan and the standard library
// only.
package firmware
