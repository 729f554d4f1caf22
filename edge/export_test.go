package edge

// OutboxFor is outboxFor, for the external tests of the outbox rules on a
// real store (edge/bolt imports edge, so they cannot be internal tests).
var OutboxFor = outboxFor

// FeedGap is feedGap: the seqs every start skips.
const FeedGap = feedGap
