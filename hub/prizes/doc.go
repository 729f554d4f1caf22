// Package prizes is the prize wheel's table (网点智惠转盘): prizes.csv as HQ
// approves it for every branch, the per-branch PrizeTable the wheel draws
// from, its canonical form and its fingerprint.
//
// It is a package of its own, under hub/ and importing neither the hub nor
// the edge (only the root and firmware-contracts, for the prize codes and
// names the wheel's result payload carries), because both ends need it:
// the hub checks the file HQ uploads with an import (multipart part
// "prizes") and ships each branch its slice; the edge's wheel (edge/wheel)
// runs it. hub/funnel is the precedent for a sub-package both use.
//
// # prizes.csv
//
// HQ approves a prize table per branch and ships it as a CSV file (UTF-8,
// a byte order mark is allowed; lines starting with # are comments). The
// settings come first, one per line, as "name,value" (for every branch of
// the file) or "name,value,branch" (for that branch, over the former); then
// the header line, exactly
//
//	branch,prize_code,name_zh,name_en,weight,inventory,starts,ends
//
// and a row per prize:
//
//	# Branch prize wheel, winter campaign
//	campaign,2026-winter
//	starts,2026-11-01
//	ends,2026-12-31
//	spins_per_day,1
//	spins_per_day,2,B002
//	unknown_customers,deny
//	weight_scale,1000000
//	branch,prize_code,name_zh,name_en,weight,inventory,starts,ends
//	B001,cash-8,8元红包,8 yuan red packet,100000,200,,
//	B001,cup,保温杯,Thermos cup,20000,50,2026-11-15,
//	B001,,谢谢参与,Thanks for playing,rest,unlimited,,
//	B002,cash-8,8元红包,8 yuan red packet,150000,300,,
//	B002,,谢谢参与,Thanks for playing,rest,,,
//
// Settings:
//   - campaign (required): the campaign id, [0-9A-Za-z._:-]{1,64}. What
//     was awarded is counted per campaign and prize: a new file of the same
//     campaign keeps the counts (raising an inventory tops the stock up), a
//     new campaign starts from nothing.
//   - starts, ends (required): the campaign's window. A date (YYYY-MM-DD)
//     is a whole day in China Standard Time, so "ends,2026-12-31" runs to
//     the last moment of that day; an RFC 3339 time with an offset is that
//     instant (the end excluded).
//   - spins_per_day: spins per customer per day (CST), 1 to 1000; default 1.
//   - unknown_customers: allow or deny (default) spins by people the bank
//     does not know (a new face with only a token).
//   - weight_scale: what the weights are out of; default 1,000,000 (per
//     million), at most 10^9.
//
// Rows: prize_code is [0-9A-Za-z._:-]{1,64}, unique in the branch, or
// empty for the branch's one no-prize row (谢谢参与); name_zh (required) and
// name_en are what the wheel shows, at most 64 characters. weight is a whole
// number: the prize's probability is exactly weight/weight_scale. The
// no-prize row's weight is "rest" (the scale minus the prizes' weights) or
// that number written out; the weights must add up to the scale exactly.
// inventory is how many of the prize the branch has for the campaign in all,
// or "unlimited" (the no-prize row's is always unlimited and may be left
// empty). starts and ends, optional, bound when the prize can be won inside
// the campaign, in the same forms as the settings.
//
// Parse is strict: any bad line refuses the whole file, with a
// *ParseError listing every bad line (a *LineError each, with the fields
// of the hub's line errors for HQ's snapshot). A wheel never runs half of
// an approved table.
//
// A file with the header and no rows is valid and holds no table: that is
// how HQ withdraws every branch's wheel through the hub (an empty file,
// without the header, is refused as a mistake).
//
// # Canonical form and fingerprint
//
// Format writes a table back as a prizes.csv of that one branch, every
// setting with the branch and every time as RFC 3339 in CST: the
// canonical form (Canonical), the same bytes for the same table whatever
// the file it came from looked like. Fingerprint is the first 16 hex
// characters of its SHA-256. The wheel's audit log names the table of
// every spin by it, and the hub ships each branch its table in this form,
// so that the edge, the hub and an auditor compute the same fingerprint
// from the same text (ParseCanonical refuses a text that is not canonical).
package prizes
