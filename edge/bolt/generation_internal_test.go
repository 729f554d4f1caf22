package bolt

import "testing"

// TestLearnGeneration checks how the cached span of the active generation
// changes with what a read transaction found in its state: it widens for
// the same generation, moves to a newer one, and ignores an older one.
func TestLearnGeneration(t *testing.T) {
	g1, g2 := newGenNames(1), newGenNames(2)
	span := func(n *genNames, lo, hi uint64) *genSpan { return &genSpan{names: n, lo: lo, hi: hi} }
	for _, tc := range []struct {
		name  string
		start *genSpan
		names *genNames
		id    uint64
		want  genSpan
	}{
		{"First", nil, g1, 7, genSpan{g1, 7, 7}},
		{"FirstNone", nil, nil, 3, genSpan{nil, 3, 3}},
		{"WidenUp", span(g1, 5, 9), g1, 12, genSpan{g1, 5, 12}},
		{"WidenDown", span(g1, 5, 9), g1, 2, genSpan{g1, 2, 9}},
		{"Inside", span(g1, 5, 9), g1, 6, genSpan{g1, 5, 9}},
		{"SameNumberOtherNames", span(g1, 5, 9), newGenNames(1), 10, genSpan{g1, 5, 10}},
		{"Newer", span(g1, 5, 9), g2, 10, genSpan{g2, 10, 10}},
		{"FirstSnapshot", span(nil, 1, 4), g1, 6, genSpan{g1, 6, 6}},
		{"OlderIgnored", span(g2, 10, 12), g1, 8, genSpan{g2, 10, 12}},
		{"OlderNoneIgnored", span(g1, 10, 12), nil, 8, genSpan{g1, 10, 12}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := &DB{}
			if tc.start != nil {
				db.span.Store(tc.start)
			}
			db.learnGeneration(tc.names, tc.id)
			got := db.span.Load()
			if got == nil || !sameGeneration(got.names, tc.want.names) || got.lo != tc.want.lo || got.hi != tc.want.hi {
				t.Errorf("span=%+v, want %+v", got, tc.want)
			}
		})
	}
}
