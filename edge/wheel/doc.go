// Package wheel runs a branch's prize wheel (网点智惠转盘): the prize
// table and its odds, the draw, the stock of every prize, the spins each
// customer may make a day, and an append-only, hash-chained audit log of
// every spin that auditors can export and check.
//
// Everything lives in one bbolt file, wheel.db in the edge's data
// directory, apart from the edge's store: the audit must outlive a store
// that is rebuilt from a snapshot, and a spin must not wait for the
// visit's transaction or the other way round.
//
// # prizes.csv
//
// HQ approves a prize table per branch in one prizes.csv for all branches.
// The file, its rules, the canonical form and the fingerprint are package
// hub/prizes (the hub checks the file too, so the table lives where both
// can use it without an import cycle); PrizeTable, Entry, Parse, Load and
// ParseError here are its names, kept for this package's callers. Parse is
// strict: any bad line refuses the whole file, with a *ParseError listing
// every bad line. A wheel never runs half of an approved table.
//
// # Where the table comes from
//
// HQ uploads prizes.csv with an import (`huiyan-hub import -prizes
// prizes.csv …`); the hub checks it, keeps it with the data version and
// ships each branch its own table, in canonical form, inside the signed
// data set (an OpPrizes record; hub/prizes, hub.Prizes). The edge stores it
// with the data set and, at start and after every applied snapshot or
// delta, hands it to the wheel with SetTable (edge.WheelPrizes): no
// restart, and the awarded counts stay with the campaign. The local file
// (wheel_prizes in the edge config, Load) is the fallback for an edge
// without a hub; once HQ has sent tables through the hub, the hub's word
// wins, a branch its file leaves out has no wheel, and the local file is
// ignored with a warning (edge/DESIGN.md, "Prize wheel").
//
// # Rules
//
// Spin checks, in this order, and stops at the first that fails; a spin
// refused by one of the first four makes no draw and does not count
// towards the limit:
//
//  1. campaign_closed: no table, or the time is outside the campaign.
//  2. not_present: the node did not find the customer's presence proven
//     (SpinRequest.Present; an e-code scan found "not present" gets no
//     spin).
//  3. unknown_customer: no customer id and the table denies unknown
//     customers.
//  4. limit_reached: the customer has had spins_per_day spins today (China
//     Standard Time; an unknown customer is counted by a salted hash of
//     their token).
//  5. The spin counts towards the limit, and the draw picks an entry.
//     no_prize when it is the no-prize entry; prize_closed when the prize is
//     outside its own window; inventory_out when the campaign has given all
//     of it away. Otherwise the customer wins it and its stock goes down by
//     one.
//
// A prize that has run out falls back to no prize; the draw is not made
// again among the prizes left. Drawing again would give the prizes left a
// higher probability than the table the auditors approved; falling back
// keeps every prize's configured probability an upper bound on how often it
// is won, and the surplus goes to 谢谢参与.
//
// A spin is identified by its device and spin id (spin ids are unique per
// wheel, like arrival ids): a second Spin with the same pair returns the
// recorded result, with Duplicate set, and draws nothing.
//
// # The draw
//
// The draw takes a uniform number d in [0, weight_scale) from crypto/rand
// by rejection sampling (no modulo bias: 64-bit values from the incomplete
// last run of weight_scale are thrown away and drawn again) and lays the
// rows' weights end to end in the file's row order, the no-prize row where
// it stands: the row whose range holds d is drawn. d is in the audit
// record, so an auditor can redo the mapping with the approved table.
//
// # One transaction
//
// The limit check and count, the draw, the stock check and decrement, the
// audit record and the spin's result are written in one bbolt transaction.
// bbolt runs one writing transaction at a time, and every check reads
// only what its own transaction then writes, so a thousand concurrent
// spins can never hand out a prize twice or let a customer past the limit;
// and since a transaction is on disk whole or not at all, a crash can never
// leave a stock and an audit log that disagree.
//
// # Audit log
//
// Every spin, refused or not, appends a Record with the next seq (1, 2,
// …). Export writes them as CSV with the header
//
//	seq,at,device,spin,event,who,campaign,table,draw,drawn,prize,reason,inventory_after,prev,hash
//
// at is the decision time (milliseconds, +08:00); who is HQ's pseudonymous
// customer id, or "u:" and 32 hex characters of HMAC-SHA256 (key: a random
// salt kept in wheel.db) of an unknown customer's token: nothing else about
// a customer is in the log. table is the first 16 hex characters of the
// SHA-256 of the table in force (PrizeTable.Fingerprint); draw and drawn are
// the uniform number and the row it landed on (empty when there was no
// draw; drawn is empty also for the no-prize row); prize is what was won
// ("" for nothing) and reason why not; inventory_after is the stock of the
// drawn prize after the spin (empty when unlimited or nothing was drawn).
//
// hash is the lower-case hex SHA-256 of the row's first 14 fields (seq to
// prev) joined with "|", and prev is the hash of the record before (64 zeros
// for record 1). No field can contain "|", a comma or a quote, so the rows
// need no CSV quoting and the check takes a line of Python:
//
//	hashlib.sha256("|".join(row[:14]).encode()).hexdigest() == row[14]
//
// Verify does this for a whole export, with the chain and the formats. An
// edited record changes its hash; a removed one breaks the next record's
// prev; a removed tail is caught by comparing the export's last hash with
// Wheel.Head.
//
// # Using it from the node
//
// The node opens the wheel next to its store (Open, with the table the
// data set carries or the one from Load, see above) and calls Spin for
// each wheel arrival: Customer is the recognised customer's id, or ""
// with the arrival's mbank token as Subject; Present
// is edge.PresentScan of the customer's visit; At is the node's clock.
// Result.Payload is what it publishes, QoS 1, on
// huiyan/v1/{branch}/wheel/{device}/result. A redelivered arrival gets
// the recorded result (Spin again, or Lookup), published again.
package wheel
