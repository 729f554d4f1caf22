// Package pad is the PAD contract (DESIGN.md, "PAD contract" and "PAD
// login"): the websocket message types, the /pad/ws and /pad/login handlers
// and the web app the edge serves to the staff tablets (营销PAD).
package pad
