// Package pad is the PAD contract (DESIGN.md, "PAD contract" and "PAD
// login"): the websocket message types, the /pad/ws and /pad/login handlers
// and the web app the edge serves to the staff tablets (营销PAD).
//
// The edge implements Backend, creates a Server with NewServer, mounts
// Server.Handler and hands every committed feed event to Server.Publish.
// messages.go holds the wire types and the converters from the domain;
// asyncapi.yaml (embedded as AsyncAPI, served at /pad/asyncapi.yaml)
// documents the same contract for the people who build PAD clients.
//
// The web app (web/, embedded, no build step, nothing loaded from outside
// the edge) is plain JavaScript modules: i18n.js holds the words (Chinese
// first, English switch; the language is the only thing it keeps in the
// browser's storage), feed.js the PAD's state built from the messages
// (cards keyed by visit id, resume by seq, filters), app.js the login, the
// connection (reconnect with backoff, resume, stale banner) and the cards,
// report.js the supervisor's branch report (GET /pad/report, answered by a
// Backend that is also a Reporter, for the supervisor role only).
// Customer data lives only in the page's memory and the cards' text: never
// in a URL, an element attribute, storage or the console. Every answer
// carries Cache-Control: no-store.
//
// Each websocket has one reader goroutine (the HTTP handler's: it answers
// the PAD and is the only one that calls the Backend for it) and one writer
// goroutine (STYLE.md habit 12). Publish never blocks: a PAD whose bounded
// send queue is full is dropped and resumes by seq.
package pad
