// Package ecode issues and verifies the rotating e-codes of a branch: the
// branch e-code (网点e码) its displays show and the staff marketing code
// (营销e码) each staff member's PAD shows. A code is short-lived and signed
// with the branch's e-code key: a code photographed in the branch and
// scanned from home later is refused, and so is one made up (README.md
// describes the format and the verification step by step, for the
// mobile-banking backend; testdata/vectors.json has test vectors).
//
// The package is pure logic (Parse, Sign, Issuer.Verify, with the clock
// passed in) and an http.Handler for the display page and the PAD's
// "my code" endpoint. The edge's Node calls Verify for every e-code scan
// (edge/DESIGN.md, "E-codes").
package ecode
