// Package firmware is the contract that branch-device firmware obeys
// (DESIGN.md, "MQTT contract"): the topic tree, the payload wire types and
// their validation, the JSON Schemas and AsyncAPI document, the identity-token
// scheme with test vectors, and the shared corpus of valid and malformed
// payload fixtures other packages test against.
package firmware
