package bolt

import (
	"reflect"
	"testing"
	"time"

	"huiyan"
)

// The V1 layouts of visits, feed events and cards, as released before a
// touchpoint had Refused: frozen here so that the decoders are checked
// against the bytes an older edge wrote.

func appendVisitBodyV1(b []byte, v *huiyan.Visit) []byte {
	b = appendString(b, v.ID)
	b = appendString(b, v.Branch)
	b = appendString(b, v.CustomerID)
	b = appendTime(b, v.OpenedAt)
	b = appendTime(b, v.LastSeenAt)
	b = appendTime(b, v.ClosedAt)
	b = appendEnum(b, channelEnum, string(v.Channel))
	b = appendUvarint(b, uint64(len(v.Touchpoints)))
	for _, tp := range v.Touchpoints {
		b = appendString(b, tp.EventID)
		b = appendEnum(b, channelEnum, string(tp.Channel))
		b = appendString(b, tp.Device)
		b = appendTime(b, tp.At)
	}
	b = appendString(b, v.ClaimedBy)
	b = appendTime(b, v.ClaimedAt)
	b = appendEnum(b, outcomeEnum, string(v.Outcome))
	b = appendString(b, v.OutcomeBy)
	b = appendTime(b, v.OutcomeAt)
	b = appendEnum(b, mbankEnum, string(v.MBankAtOpen))
	b = appendEnum(b, conversionEnum, string(v.Converted))
	b = appendTime(b, v.ConvertedAt)
	return appendString(b, v.AttributedTo)
}

func appendOptVisitV1(b []byte, v *huiyan.Visit) []byte {
	if v == nil {
		return append(b, 0)
	}
	return appendVisitBodyV1(append(b, 1), v)
}

// refusedVisit is fullVisit with a refused e-code scan.
func refusedVisit() *huiyan.Visit {
	v := fullVisit()
	v.Touchpoints = append(v.Touchpoints, huiyan.Touchpoint{EventID: "ec-01-10", Channel: huiyan.ChannelECode,
		Device: "ec-01", At: t0.Add(6 * time.Minute), Refused: "expired"})
	return v
}

// TestRefusedRoundTrip: a touchpoint's Refused survives the visit, feed
// and card records.
func TestRefusedRoundTrip(t *testing.T) {
	want := refusedVisit()
	normalize(&want)
	check := func(name string, got *huiyan.Visit, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		normalize(&got)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: got %+v, want %+v", name, got.Touchpoints, want.Touchpoints)
		}
	}
	v, _, err := decodeVisit(appendVisit(nil, refusedVisit(), "C1"))
	check("visit", v, err)
	e, err := decodeFeed(appendFeed(nil, &huiyan.FeedEvent{Seq: 4, Kind: huiyan.FeedVisit, At: t0, Visit: refusedVisit()}))
	if err == nil {
		v = e.Visit
	}
	check("feed", v, err)
	c, err := decodeCard(appendCard(nil, &huiyan.Card{Visit: refusedVisit(), Profile: fullProfile()}))
	if err == nil {
		v = c.Visit
	}
	check("card", v, err)
}

// TestDecodeV1: records written before Refused existed still decode, with
// every touchpoint counting (Refused empty).
func TestDecodeV1(t *testing.T) {
	want := fullVisit() // no touchpoint refused: what a V1 record can say
	normalize(&want)
	for _, tc := range []struct {
		name string
		dec  func() (*huiyan.Visit, error)
	}{
		{"Visit", func() (*huiyan.Visit, error) {
			b := appendString([]byte{visitV1}, "C1")
			v, subject, err := decodeVisit(appendVisitBodyV1(b, fullVisit()))
			if err == nil && subject != "C1" {
				t.Errorf("subject %q, want C1", subject)
			}
			return v, err
		}},
		{"Feed", func() (*huiyan.Visit, error) {
			b := []byte{feedV1}
			b = appendUvarint(b, 7)
			b = appendTime(b, t0)
			b = appendEnum(b, feedKindEnum, string(huiyan.FeedVisit))
			b = appendAudience(b, huiyan.Audience{Roles: []huiyan.Role{huiyan.RoleLobby}})
			b = appendOptVisitV1(b, fullVisit())
			b = appendOptProfile(b, nil)
			b = appendActions(b, nil)
			b = appendString(b, "")
			b = appendEnum(b, deviceEnum, "")
			e, err := decodeFeed(b)
			if err != nil {
				return nil, err
			}
			if seq, _, err := feedHeader(b); err != nil || seq != 7 {
				t.Errorf("feedHeader: seq %d, %v; want 7", seq, err)
			}
			return e.Visit, nil
		}},
		{"Card", func() (*huiyan.Visit, error) {
			b := appendOptVisitV1([]byte{cardV1}, fullVisit())
			b = appendOptProfile(b, fullProfile())
			b = appendActions(b, fullActions())
			b = appendAudience(b, huiyan.Audience{Roles: []huiyan.Role{huiyan.RoleLobby}})
			c, err := decodeCard(b)
			if err != nil {
				return nil, err
			}
			return c.Visit, nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.dec()
			if err != nil {
				t.Fatal(err)
			}
			normalize(&got)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		})
	}
}
