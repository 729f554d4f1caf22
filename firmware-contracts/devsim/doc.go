// Package devsim is Huiyan's device simulator and load generator, the engine
// of huiyan-devsim (DESIGN.md, "Commands").
//
// Gen makes a realistic synthetic HQ data set: tags.csv, the nightly tag
// snapshot in the "HQ snapshot CSV header" format, and staff.csv, the staff
// roster of "PAD login". The same GenConfig gives byte-identical files on
// any machine and any day: every customer and every branch has its own
// random stream derived from the seed, rows are generated in parallel and
// written in order, and maturities count from a fixed reference date
// (GenConfig.Ref, default DefaultRef) rather than from today.
//
// Nothing in a data set is real or reversible to a person: names are
// synthetic and written only masked (huiyan.MaskName), identity numbers,
// cards and phones are synthetic (see Idents) and written only as tokens
// under the public demo key (firmware.DemoKey, key id k1), customer ids are
// a keyed permutation of the row index. A simulator reads the tokens of a
// customer from tags.csv; with the seed it can also rebuild the raw
// identifiers with CustomerIdents and tokenise them as firmware would.
package devsim
