// Package huiyan holds the domain of Huiyan (慧眼迎客), the branch-edge
// customer-recognition system: customers and their tags, identity tokens,
// arrivals from branch devices, visits, suggested actions and the masked
// profile shown on the staff tablets (营销PAD).
//
// The package uses the standard library only and knows nothing of MQTT,
// websockets, bbolt or raft: the adapters in edge/, hub/, pad-api/ and
// firmware-contracts/ convert their wire and storage types to and from these
// types at their boundary. See DESIGN.md, "Data model".
package huiyan
