// Package hub is the sync contract between the hub and the edges: the HQ
// snapshot file format, manifests, signing, and the Client the edge uses.
//
// It imports only the root package huiyan and the standard library, so that
// the edge binary can link it without the hub's raft store (STYLE.md,
// "Layout"). The snapshot and staff readers here are shared by the hub's
// importer and by `huiyan-edge import`, which provisions an edge offline:
// both read HQ's files with the same rules (DESIGN.md, "Hub contract" and
// "PAD login").
package hub
