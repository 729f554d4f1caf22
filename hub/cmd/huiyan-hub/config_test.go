package main

import (
	"testing"
)

// TestDefaultConfig: the demo defaults (DESIGN.md, "Commands": no flags
// runs a single-node demo cluster on 127.0.0.1:9000) are valid.
func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.HTTP != "127.0.0.1:9000" || !c.Bootstrap {
		t.Fatalf("defaults %+v", c)
	}
}
