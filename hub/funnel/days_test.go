package funnel_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"huiyan/hub/funnel"
)

func TestDays(t *testing.T) {
	tests := []struct {
		name     string
		from, to string
		want     []string // first and last
		n        int
		err      bool
	}{
		{"OK", "2026-11-23", "2026-11-24", []string{"2026-11-23", "2026-11-24"}, 2, false},
		{"OneDay", "2026-11-23", "2026-11-23", []string{"2026-11-23", "2026-11-23"}, 1, false},
		{"MonthEnd", "2024-02-28", "2024-03-01", []string{"2024-02-28", "2024-03-01"}, 3, false},
		{"LeapYear", "2024-01-01", "2024-12-31", []string{"2024-01-01", "2024-12-31"}, 366, false},
		{"ErrTooLong", "2025-01-01", "2026-01-02", nil, 0, true},
		{"ErrBackwards", "2026-11-24", "2026-11-23", nil, 0, true},
		{"ErrFormat", "2026-1-2", "2026-11-23", nil, 0, true},
		{"ErrEmpty", "", "2026-11-23", nil, 0, true},
		{"ErrNotADate", "2026-02-30", "2026-03-01", nil, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			days, err := funnel.Days(tt.from, tt.to)
			if tt.err {
				if !errors.Is(err, funnel.ErrRange) {
					t.Fatalf("err=%v, want ErrRange", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(days) != tt.n || !reflect.DeepEqual([]string{days[0], days[len(days)-1]}, tt.want) {
				t.Fatalf("%d days %v…%v, want %d %v", len(days), days[0], days[len(days)-1], tt.n, tt.want)
			}
		})
	}
}

func TestParseDay(t *testing.T) {
	d, err := funnel.ParseDay("2026-11-24", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Midnight in Beijing is 16:00 UTC the day before.
	if want := time.Date(2026, 11, 23, 16, 0, 0, 0, time.UTC); !d.Equal(want) {
		t.Fatalf("day starts %v, want %v", d.UTC(), want)
	}
	if funnel.Day(d, nil) != "2026-11-24" || funnel.Day(d.Add(-time.Nanosecond), nil) != "2026-11-23" {
		t.Fatal("Day and ParseDay disagree at midnight")
	}
}
