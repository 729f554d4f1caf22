package firmware

import "embed"

// Schemas holds the machine-readable contract (DESIGN.md, "MQTT contract"),
// for tools and for the edge's and other packages' tests:
//
//	schema/arrival.schema.json       arrival payload, JSON Schema draft 2020-12
//	schema/reject.schema.json        reject message
//	schema/status.schema.json        device status (plain text, described as a string)
//	schema/wheel-result.schema.json  wheel result
//	schema/asyncapi.yaml             AsyncAPI 3.0: the topic tree, messages, QoS, retain, Last Will
//
// Each schema's $id is https://huiyan.invalid/schema/v1/<file name>; the
// .invalid domain never resolves, so validators must load the files from
// here. Decode is the authority: the schemas state every rule of it that
// JSON Schema can express, and a test keeps the two in agreement over
// Fixtures.
//
//go:embed schema/*.json schema/asyncapi.yaml
var Schemas embed.FS

// SchemaBaseURL is the common prefix of the schemas' $id.
const SchemaBaseURL = "https://huiyan.invalid/schema/v1/"
