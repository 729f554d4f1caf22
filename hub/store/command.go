package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"huiyan"
)

// Raft log entries of the hub are commands: a two-byte header (the format
// version and the command type), the length of a JSON header as a uvarint,
// the JSON header itself, and an optional blob (an import batch's gzipped
// records, a staff roster). The blob stays binary so that the bulk of an
// import does not pay base64 in the log; every small command is readable
// JSON. A node that finds a version or type it does not know refuses the
// command with an application error rather than guessing (DESIGN.md in
// this folder, "Commands").
const commandVersion = 1

// commandType names what a command does. Values are part of the log format:
// never renumber, only add.
type commandType uint8

const (
	cmdSetMember      commandType = 1  // a node's raft and HTTP address
	cmdRemoveMember   commandType = 2  // forget a node
	cmdSetKey         commandType = 3  // the cluster's signing key
	cmdImportStart    commandType = 4  // open an import: reserve the next version
	cmdImportBatch    commandType = 5  // upsert a batch of customers (blob: gzipped JSON lines)
	cmdImportDelete   commandType = 6  // customers absent from the snapshot
	cmdImportStaff    commandType = 7  // the staff roster (blob: gzipped JSON)
	cmdImportFinish   commandType = 8  // commit, refuse or abort the open import (blob: a new tag dictionary)
	cmdSetCredential  commandType = 9  // issue or rotate a branch's edge credential (hash only)
	cmdReportApplied  commandType = 10 // a branch reports the version it holds
	cmdRecordEvents   commandType = 11 // upstream event ids only (the first format; still applied, no longer proposed)
	cmdImportProgress commandType = 12 // rows read so far while nothing is replicated (a refused import)
	cmdEvents         commandType = 13 // a batch of upstream visit events, whole (events.go)
	cmdEdgeStatus     commandType = 14 // an edge's heartbeat (events.go)
	cmdPurgeEvents    commandType = 15 // retention: forget visits and event ids before a day (events.go)
	cmdImportPrizes   commandType = 16 // the prize wheel tables that come with the snapshot (blob: gzipped JSON, prizes.go)
)

var commandNames = map[commandType]string{
	cmdSetMember:      "set_member",
	cmdRemoveMember:   "remove_member",
	cmdSetKey:         "set_key",
	cmdImportStart:    "import_start",
	cmdImportBatch:    "import_batch",
	cmdImportDelete:   "import_delete",
	cmdImportStaff:    "import_staff",
	cmdImportFinish:   "import_finish",
	cmdSetCredential:  "set_credential",
	cmdReportApplied:  "report_applied",
	cmdRecordEvents:   "record_events",
	cmdImportProgress: "import_progress",
	cmdEvents:         "events",
	cmdEdgeStatus:     "edge_status",
	cmdPurgeEvents:    "purge_events",
	cmdImportPrizes:   "import_prizes",
}

// String returns the command's name, as metrics and logs show it.
func (t commandType) String() string {
	if n, ok := commandNames[t]; ok {
		return n
	}
	return fmt.Sprintf("unknown(%d)", uint8(t))
}

// command is a decoded log entry.
type command struct {
	Type   commandType
	Header []byte // JSON
	Blob   []byte
}

// encodeCommand builds a log entry.
func encodeCommand(t commandType, hdr any, blob []byte) ([]byte, error) {
	h, err := json.Marshal(hdr)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", t, err)
	}
	b := make([]byte, 2, 2+binary.MaxVarintLen64+len(h)+len(blob))
	b[0], b[1] = commandVersion, byte(t)
	b = binary.AppendUvarint(b, uint64(len(h)))
	b = append(b, h...)
	return append(b, blob...), nil
}

// decodeCommand splits a log entry. The slices alias b.
func decodeCommand(b []byte) (command, error) {
	if len(b) < 3 {
		return command{}, huiyan.Errorf(huiyan.EInvalid, "command of %d bytes is too short", len(b))
	}
	if b[0] != commandVersion {
		return command{}, huiyan.Errorf(huiyan.EInvalid, "command format version %d, this node knows %d", b[0], commandVersion)
	}
	t := commandType(b[1])
	if _, ok := commandNames[t]; !ok {
		return command{}, huiyan.Errorf(huiyan.EInvalid, "unknown command type %d", b[1])
	}
	n, w := binary.Uvarint(b[2:])
	if w <= 0 || n > uint64(len(b)-2-w) {
		return command{}, huiyan.Errorf(huiyan.EInvalid, "%s: bad header length", t)
	}
	start := 2 + w
	return command{Type: t, Header: b[start : start+int(n)], Blob: b[start+int(n):]}, nil
}

// decodeHeader unmarshals a command's JSON header into v.
func (c command) decodeHeader(v any) error {
	if err := json.Unmarshal(c.Header, v); err != nil {
		return huiyan.Errorf(huiyan.EInvalid, "%s: bad header: %v", c.Type, err)
	}
	return nil
}

// Command headers. Times come from the leader that proposed the command,
// so that every node stores the same instant.

type memberCmd struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
}

type removeMemberCmd struct {
	ID string `json:"id"`
}

type keyCmd struct {
	KeyID  string `json:"key_id"`
	Public []byte `json:"public"` // 32 bytes
	// Private is the PKCS#8 DER private key when the cluster made the key;
	// empty when every node loads it from -signing-key.
	Private   []byte    `json:"private,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

type importStartCmd struct {
	ID     string    `json:"id"`
	Name   string    `json:"name"`
	Format string    `json:"format"`
	Node   string    `json:"node"`
	At     time.Time `json:"at"`
}

type importBatchCmd struct {
	ID      string `json:"id"`
	Seq     int    `json:"seq"`
	Records int    `json:"records"` // lines in the blob
	Rows    int    `json:"rows"`    // rows read so far
	Errors  int    `json:"errors"`  // bad rows so far
}

type importProgressCmd struct {
	ID     string `json:"id"`
	Rows   int    `json:"rows"`
	Errors int    `json:"errors"`
}

type importDeleteCmd struct {
	ID  string   `json:"id"`
	IDs []string `json:"ids"`
}

type importStaffCmd struct {
	ID    string `json:"id"`
	Count int    `json:"count"`
}

// importPrizesCmd carries HQ's prize tables for the open import: Tables
// branches' tables in the blob (prizes.go), 0 when HQ withdrew them all.
type importPrizesCmd struct {
	ID     string `json:"id"`
	Tables int    `json:"tables"`
}

type importFinishCmd struct {
	ID         string      `json:"id"`
	Outcome    Status      `json:"outcome"` // committed, refused or failed
	At         time.Time   `json:"at"`
	Rows       int         `json:"rows"`
	Errors     int         `json:"errors"`
	LineErrors []LineError `json:"line_errors,omitempty"`
	Message    string      `json:"message,omitempty"`
	// Dict is the version of the tag dictionary in the blob (JSON
	// hub.DictWire), when a committed import brings one: HQ uploaded a
	// new dictionary, or the cluster has stored none yet. 0: no blob.
	Dict     int `json:"dict,omitempty"`
	DictTags int `json:"dict_tags,omitempty"` // tags in the uploaded dictionary, for the record
}

type credentialCmd struct {
	Branch string    `json:"branch"`
	Hash   []byte    `json:"hash"` // SHA-256 of the credential
	Hint   string    `json:"hint"` // the credential's public prefix, for logs
	At     time.Time `json:"at"`
}

type appliedCmd struct {
	Branch  string    `json:"branch"`
	Version uint64    `json:"version"`
	At      time.Time `json:"at"`
}

type eventsCmd struct {
	Branch string    `json:"branch"`
	IDs    []string  `json:"ids"`
	At     time.Time `json:"at"`
}

// eventBatchCmd is one POST of an edge's events, whole (cmdEvents): one
// log entry per batch, so a batch is stored all at once or not at all.
type eventBatchCmd struct {
	Branch string        `json:"branch"`
	Events []eventRecord `json:"events"`
	At     time.Time     `json:"at"` // when the leader received it
}

// eventRecord is an event as the log keeps it: the store's own copy of
// hub.EventWire's fields, so that a change of the wire type never changes
// what an old log entry means.
type eventRecord struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	At          time.Time `json:"at"`
	Visit       string    `json:"visit"`
	Channel     string    `json:"channel,omitempty"`
	Recognised  bool      `json:"recognised,omitempty"`
	MBankAtOpen string    `json:"mbank_at_open,omitempty"`
	Tier        string    `json:"tier,omitempty"`
	Staff       string    `json:"staff,omitempty"`
	Outcome     string    `json:"outcome,omitempty"`
	Conversion  string    `json:"conversion,omitempty"`
}

// statusCmd is an edge's heartbeat, with the leader's receive time.
type statusCmd struct {
	Branch string     `json:"branch"`
	Status EdgeStatus `json:"status"`
}

// purgeCmd forgets the visits that opened before the day Before and the
// event ids older than its first instant (CST), at most Limit of each
// (the leader sends more commands until nothing is left), so that one
// command never holds the FSM for long.
type purgeCmd struct {
	Before string    `json:"before"` // YYYY-MM-DD
	Limit  int       `json:"limit"`
	At     time.Time `json:"at"`
}
