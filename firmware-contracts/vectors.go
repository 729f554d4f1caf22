package firmware

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"huiyan"
)

// Vector is one identity-token test vector (DESIGN.md, "Identity token"):
// a raw input as a device reads it and, when Error is empty, its normalised
// form and token under the key; otherwise the input is refused and Error is
// what Normalize says (C firmware only needs to refuse it).
type Vector struct {
	Kind       huiyan.IdentKind `json:"kind"`
	KeyID      string           `json:"key_id,omitempty"`
	KeyHex     string           `json:"key_hex,omitempty"`
	Input      string           `json:"input"`
	Normalised string           `json:"normalised,omitempty"`
	Token      string           `json:"token,omitempty"`
	Error      string           `json:"error,omitempty"`
}

// VectorsFile is the path of the vectors, relative to this package's
// folder; testdata/README.md tells a C team how to check against it.
const VectorsFile = "testdata/vectors.json"

//go:embed testdata/vectors.json
var vectorsJSON []byte

// Vectors returns the token test vectors of testdata/vectors.json, the
// committed reference that Token and every device firmware must reproduce.
func Vectors() []Vector {
	var f struct {
		Vectors []Vector `json:"vectors"`
	}
	if err := json.Unmarshal(vectorsJSON, &f); err != nil {
		panic(fmt.Sprintf("firmware: %s: %v", VectorsFile, err))
	}
	return f.Vectors
}
