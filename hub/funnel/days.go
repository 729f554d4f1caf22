package funnel

import (
	"errors"
	"fmt"
	"time"
)

// MaxDays is the longest range a report may cover, in days: a leap year.
// A report reads every visit of its days, so the bound keeps one request
// from reading years of a province.
const MaxDays = 366

// ErrRange is wrapped by Days for a malformed or too long range.
var ErrRange = errors.New("bad report range")

// ParseDay parses a report day (YYYY-MM-DD) as its first instant in loc
// (nil: CST).
func ParseDay(s string, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = CST
	}
	t, err := time.ParseInLocation(DayLayout, s, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("day %q: want YYYY-MM-DD: %w", s, ErrRange)
	}
	return t, nil
}

// Days returns the days from through to (YYYY-MM-DD, inclusive), oldest
// first: what a report over that range reads. It wraps ErrRange when a
// day is malformed, to is before from, or the range is longer than
// MaxDays. Days are calendar days, so the step is a date, not 24 hours.
func Days(from, to string) ([]string, error) {
	f, err := ParseDay(from, time.UTC)
	if err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	t, err := ParseDay(to, time.UTC)
	if err != nil {
		return nil, fmt.Errorf("to: %w", err)
	}
	if t.Before(f) {
		return nil, fmt.Errorf("to %s is before from %s: %w", to, from, ErrRange)
	}
	n := int(t.Sub(f)/(24*time.Hour)) + 1
	if n > MaxDays {
		return nil, fmt.Errorf("%d days from %s to %s, at most %d: %w", n, from, to, MaxDays, ErrRange)
	}
	out := make([]string, 0, n)
	for d := f; !d.After(t); d = d.AddDate(0, 0, 1) {
		out = append(out, d.Format(DayLayout))
	}
	return out, nil
}
