package edge

import (
	"errors"
	"time"

	"huiyan"
	"huiyan/edge/ecode"
)

// E-code scans (edge/DESIGN.md, "E-codes"): the code a customer scanned
// says whether they stood in front of one of the branch's displays or a
// staff member's PAD, and whom the conversion credits.

// Unverified is the verdict label of scans taken while no e-code issuer is
// configured (Config.ECode nil): counted as present, as before codes
// rotated.
const Unverified ecode.Verdict = "unverified"

// scan is what an e-code scan proved.
type scan struct {
	present bool          // the scan counts: it may convert and credit
	verdict ecode.Verdict // ecode's verdict, or Unverified
	code    ecode.Code    // the code as parsed (zero for text that is not one)
	staff   string        // the staff member a present staff code credits

	// Set by convert for the metrics, once the change is committed.
	converted huiyan.Conversion // a conversion this scan made
	credited  string            // the staff member this scan credited, now or by re-attribution
	creditFor huiyan.Conversion // … for this conversion
}

// verifyScan judges an e-code scan's code inside the arrival's
// transaction: a staff code's subject must be on this branch's roster.
func (n *Node) verifyScan(tx Tx, text string, now time.Time) (scan, error) {
	if n.cfg.ECode == nil {
		return scan{present: true, verdict: Unverified}, nil
	}
	var lookupErr error
	r := n.cfg.ECode.Verify(text, now, func(id string) bool {
		st, err := tx.Staff(id)
		if err != nil {
			if !errors.Is(err, ErrNotFound) {
				lookupErr = err
			}
			return false
		}
		return st.Branch == n.cfg.Branch
	})
	if lookupErr != nil {
		return scan{}, lookupErr
	}
	return scan{present: r.Verdict.Present(), verdict: r.Verdict, code: r.Code, staff: r.Staff()}, nil
}

// convert applies a present scan of a known customer to their visit, by
// the attribution rule (edge/DESIGN.md, "E-codes"): the first present scan
// converts a customer who needs activation or has no mobile banking, and
// credits the staff member whose code it was (none for the branch code); a
// staff code scanned after the branch code converted the visit takes the
// credit (staff code beats branch code); once a staff member has it, it
// stays (first touch among staff codes).
func (sc *scan) convert(v *huiyan.Visit, now time.Time) {
	switch {
	case v.Converted == huiyan.ConversionNone:
		conv := huiyan.ConversionFor(v.MBankAtOpen)
		if conv == huiyan.ConversionNone {
			return
		}
		v.Converted, v.ConvertedAt, v.AttributedTo = conv, now, sc.staff
		sc.converted = conv
	case v.AttributedTo == "" && sc.staff != "":
		v.AttributedTo = sc.staff
	default:
		return
	}
	if sc.staff != "" {
		sc.credited, sc.creditFor = sc.staff, v.Converted
	}
}

// PresentScan reports whether the visit has an e-code scan that proved
// presence: what a prize-wheel spin needs. A refused scan (a photographed
// or forged code) never counts.
func PresentScan(v *huiyan.Visit) bool {
	for _, tp := range v.Touchpoints {
		if tp.Channel == huiyan.ChannelECode && tp.Refused == "" {
			return true
		}
	}
	return false
}
