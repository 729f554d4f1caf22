// Package store is the hub's replicated state: a hashicorp/raft cluster
// whose FSM is a bbolt database on every node (DESIGN.md in this folder).
//
// It keeps what the hub must not lose (DESIGN.md, "Hub contract" and
// "Commands"): the imports of HQ's snapshot with their progress and line
// errors; every branch's customers as versioned rows, from which the full
// data set of any retained version and the delta between two versions are
// read; the staff rosters; the cluster's signing key; the edges'
// credentials (hashed); the version each edge reports holding; the ids of
// upstream events. Writes are typed, versioned commands applied through
// raft on the leader (ErrNotLeader elsewhere); reads are local.
//
// hashicorp/raft must never reach the edge binary: only hub/http and
// cmd/huiyan-hub import this package (STYLE.md, "Layout").
package store
