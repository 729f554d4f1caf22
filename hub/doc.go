// Package hub is the sync contract between the hub and the edges: the HQ
// snapshot file format, manifests, signing, and the Client the edge uses.
//
// It imports only the root package huiyan and the standard library, so that
// the edge binary can link it without the hub's raft store (STYLE.md,
// "Layout"). The snapshot and staff readers here are shared by the hub's
// importer and by `huiyan-edge import`, which provisions an edge offline:
// both read HQ's files with the same rules (DESIGN.md, "Hub contract" and
// "PAD login"). The hub's importer also reads HQ's tag dictionary
// (ReadTagDict, checked against a TagHistory) and has the snapshot reader
// spill its duplicate checks to disk (SnapshotOptions.SpillDir), so that
// its memory does not grow with the file.
//
// # Sync
//
// DESIGN.md, "Hub contract", snapshot integrity. The hub side, per branch
// and version:
//
//	cur := hub.PlanBranch(customersSortedByID, branch)
//	recs := hub.FullRecords(dict, hub.BranchStaff(roster, branch), cur)
//	// or, from a retained version's digests (same branch, sorted by id):
//	recs := hub.DeltaRecords(dictIfChanged, staffIfChanged, oldDigests, cur)
//	// once HQ sent prize tables (full), or the branch's changed (delta):
//	recs = hub.WithPrizes(&hub.Prizes{Branch: …, Table: canonical, Fingerprint: …}, recs)
//	chunks, err := hub.BuildChunks(recs, hub.DefaultChunkBytes)
//	env, err := hub.Sign(priv, "", hub.Manifest{Branch: …, Version: …, Chunks: refs, …})
//
// and it serves env as JSON at GET /v1/branches/{branch}/manifest?have=N
// (204 when N is the newest version) and each chunk with ServeChunk at
// GET /v1/branches/{branch}/chunks/{sha256}.
//
// The edge side:
//
//	raw, err := client.Manifest(ctx, branch, have)   // ErrNotNewer: nothing to do
//	m, err := hub.Verify(raw, pinned, branch, have, time.Now())
//	sc := hub.NewStreamChecker(m, haveDictVersion)
//	for _, ref := range m.Chunks {
//		data, err := client.Chunk(ctx, branch, ref.SHA256, ref.Size, dir)
//		recs, err := hub.ReadChunk(data, ref.SHA256, ref.Size)
//		err = sc.Check(ref, recs)
//	}
//	err = sc.Done()
//	// apply every record atomically, then
//	err = client.ReportApplied(ctx, branch, hub.AppliedReport{Version: m.Version, …})
//
// Every refusal is a sentinel error (ErrBadSignature, ErrUnknownKey,
// ErrWrongBranch, ErrRollback, ErrExpired, ErrBaseMismatch, ErrMalformed,
// ErrChunkHash, ErrChunkSize) checked with errors.Is, and Reason turns it
// into a metric label. Verification happens before parsing: the signature
// before the manifest JSON, the length and hash before the gzip stream.
//
// The wire formats: the Envelope and the Manifest (manifest.go), the chunk
// (chunk.go: gzip'd JSON Lines of records, see Record and recordWire), the
// keys (keys.go: KeyID, PEM files, KeysResponse), the upstream events and
// the applied report (events.go), the error body (ErrorResponse), the
// branch's prize wheel table (prizes.go: Prizes; the table itself is
// package hub/prizes, which this package does not import).
package hub
