// Package http is the hub's HTTP API (DESIGN.md, "Hub contract"): /v1 on
// net/http, /healthz and /metrics. Import it as hubhttp.
//
// Auth: /v1/cluster, /v1/keys, /healthz and /metrics are open and reveal
// no secret. Admin endpoints (imports, credentials, branches, versions,
// join) need Authorization: Bearer {admin token}; an edge's credential
// there is 403. Branch endpoints need that branch's edge credential (or
// the admin token); another branch's credential is 403. A missing or
// unknown credential is 401. Every refusal is logged (never the
// credential) and counted in huiyan_hub_auth_failures_total.
//
// Writes run on the raft leader. A follower proxies them to the leader's
// HTTP address, streaming, with the principal it authenticated in signed
// headers (see forward): clients need only one member's address.
package http
