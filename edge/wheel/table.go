package wheel

import (
	"io"

	"huiyan/hub/prizes"
)

// The prize table lives in package hub/prizes, which both the hub (it
// checks the prizes.csv HQ uploads and ships each branch its slice) and
// this package use; the names below keep this package's API for its
// callers.

// PrizeTable is one branch's prize wheel (prizes.PrizeTable).
type PrizeTable = prizes.PrizeTable

// Entry is one row of a branch's prize table (prizes.Entry).
type Entry = prizes.Entry

// ParseError is a refused prizes.csv (prizes.ParseError), each bad line a
// *prizes.LineError.
type ParseError = prizes.ParseError

// Unlimited is the inventory of an entry that never runs out.
const Unlimited = prizes.Unlimited

// Limits of a prize table file (prizes.MaxTableBytes and the rest).
const (
	MaxTableBytes      = prizes.MaxTableBytes
	MaxEntries         = prizes.MaxEntries
	MaxSpinsPerDay     = prizes.MaxSpinsPerDay
	MaxWeightScale     = prizes.MaxWeightScale
	DefaultWeightScale = prizes.DefaultWeightScale
	DefaultSpinsPerDay = prizes.DefaultSpinsPerDay
)

// Header is the exact header line of the prize rows of prizes.csv.
const Header = prizes.Header

// Setting names of prizes.csv (the rows before the header).
const (
	SettingCampaign    = prizes.SettingCampaign
	SettingStarts      = prizes.SettingStarts
	SettingEnds        = prizes.SettingEnds
	SettingSpinsPerDay = prizes.SettingSpinsPerDay
	SettingUnknown     = prizes.SettingUnknown
	SettingWeightScale = prizes.SettingWeightScale
)

// Parse reads a prizes.csv and returns its tables by branch (prizes.Parse).
func Parse(r io.Reader) (map[string]*PrizeTable, error) { return prizes.Parse(r) }

// Load reads the prize tables of path and returns the one of branch
// (prizes.Load), or an error wrapping ErrNoTable.
func Load(path, branch string) (*PrizeTable, error) { return prizes.Load(path, branch) }
