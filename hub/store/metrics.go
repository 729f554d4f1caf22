package store

import (
	"encoding/base64"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"huiyan"
)

// Metrics are the store's counters, named huiyan_hub_* (STYLE.md, habit
// 8). RegisterMetrics adds them and the gauges read from raft.
type Metrics struct {
	applied       *prometheus.CounterVec   // commands applied, by type and result
	applySeconds  *prometheus.HistogramVec // time to apply, by type
	leaderChanges prometheus.Counter
	imports       *prometheus.CounterVec // imports finished, by outcome
	importRows    prometheus.Counter     // rows read by imports this node drove
}

func newMetrics() *Metrics {
	return &Metrics{
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "huiyan_hub_fsm_commands_total",
			Help: "Raft commands applied to this node's state, by type and result (ok or the error code).",
		}, []string{"type", "result"}),
		applySeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "huiyan_hub_fsm_apply_seconds",
			Help:    "Time to apply one raft command to this node's state.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"type"}),
		leaderChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "huiyan_hub_raft_leadership_changes_total",
			Help: "Times this node became or stopped being the leader.",
		}),
		imports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "huiyan_hub_imports_total",
			Help: "Imports this node finished as leader, by outcome (committed, refused, failed).",
		}, []string{"outcome"}),
		importRows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "huiyan_hub_import_rows_total",
			Help: "Snapshot rows read by imports this node drove.",
		}),
	}
}

func (m *Metrics) observeApply(t commandType, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = huiyan.ErrorCode(err)
	}
	m.applied.WithLabelValues(t.String(), result).Inc()
	m.applySeconds.WithLabelValues(t.String()).Observe(d.Seconds())
}

// RegisterMetrics registers the store's metrics with reg.
func (s *Store) RegisterMetrics(reg prometheus.Registerer) error {
	m := s.metrics
	gauge := func(name, help string, fn func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn)
	}
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	for _, c := range []prometheus.Collector{
		m.applied, m.applySeconds, m.leaderChanges, m.imports, m.importRows,
		gauge("huiyan_hub_raft_leader", "1 if this node is the leader.", func() float64 { return b2f(s.IsLeader()) }),
		gauge("huiyan_hub_raft_has_leader", "1 if this node knows a leader.", func() float64 {
			id, _ := s.Leader()
			return b2f(id != "")
		}),
		gauge("huiyan_hub_raft_applied_index", "Index of the last raft log entry applied on this node.", func() float64 { return float64(s.AppliedIndex()) }),
		gauge("huiyan_hub_raft_last_index", "Index of the last raft log entry on this node.", func() float64 { return float64(s.raft.LastIndex()) }),
		gauge("huiyan_hub_raft_members", "Members in the raft configuration.", func() float64 {
			ms, _ := s.Members()
			return float64(len(ms))
		}),
		gauge("huiyan_hub_snapshot_version", "Newest committed snapshot version.", func() float64 { return float64(s.LatestVersion()) }),
		gauge("huiyan_hub_state_broken", "1 if this node stopped applying after a failed state write.", func() float64 { return b2f(s.Broken() != nil) }),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func encodeSecret(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
