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
//
// Upstream from the edges (issue 6): POST /v1/branches/{branch}/events
// (hub.EventBatch → hub.EventAck, answered only once the batch is
// committed through raft; see handleEvents) and POST
// /v1/branches/{branch}/status (hub.EdgeStatus → 204), both with that
// branch's credential. GET /v1/branches (admin) shows each branch's edge
// state, last seen, outbox backlog and devices. GET /v1/reports/funnel
// (admin) answers the funnel as JSON or CSV from the answering node's own
// state; its parameters are documented on handleFunnel, its definitions
// in package hub/funnel.
package http
