package wheel

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	firmware "huiyan/firmware-contracts"
)

// Metrics are the wheel's Prometheus metrics. A nil *Metrics records
// nothing.
type Metrics struct {
	Spins       *prometheus.CounterVec // huiyan_edge_wheel_spins_total{result}
	Redelivered prometheus.Counter     // huiyan_edge_wheel_redelivered_total
	Stock       *prometheus.GaugeVec   // huiyan_edge_wheel_stock{prize}
	SpinTime    prometheus.Histogram   // huiyan_edge_wheel_spin_seconds

	// Spins finish their bookkeeping in any order after their commits;
	// the stock gauge takes a prize's value only from a spin newer than
	// the one that last set it.
	mu      sync.Mutex
	stockAt map[string]uint64 // prize → seq of the spin that set the gauge
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Spins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "huiyan_edge_wheel_spins_total",
			Help: "Prize-wheel spins recorded, by result: won, or the reason there was no prize (no_prize, inventory_out, prize_closed, limit_reached, unknown_customer, campaign_closed, not_present).",
		}, []string{"result"}),
		Redelivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "huiyan_edge_wheel_redelivered_total",
			Help: "Spins received again (same device and spin) and answered with the recorded result, without a draw.",
		}),
		Stock: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "huiyan_edge_wheel_stock",
			Help: "What is left of each prize of the current prize table that has a limited inventory.",
		}, []string{"prize"}),
		SpinTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "huiyan_edge_wheel_spin_seconds",
			Help:    "Time to decide and record a spin, commit included.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1},
		}),
	}
	m.stockAt = map[string]uint64{}
	m.Spins.WithLabelValues("won")
	for _, r := range firmware.WheelReasons() {
		m.Spins.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.Spins, m.Redelivered, m.Stock, m.SpinTime)
	}
	return m
}

func (m *Metrics) spin(r Result, lt *loadedTable, d time.Duration) {
	if m == nil {
		return
	}
	if r.Duplicate {
		m.Redelivered.Inc()
		return
	}
	m.SpinTime.Observe(d.Seconds())
	if r.Won {
		m.Spins.WithLabelValues("won").Inc()
	} else {
		m.Spins.WithLabelValues(r.Reason).Inc()
	}
	if r.Prize == "" || lt.t == nil {
		return
	}
	if e, ok := lt.t.Entry(r.Prize); ok && e.Inventory != Unlimited {
		m.mu.Lock()
		defer m.mu.Unlock()
		if r.Seq > m.stockAt[r.Prize] {
			m.stockAt[r.Prize] = r.Seq
			m.Stock.WithLabelValues(r.Prize).Set(float64(r.InventoryAfter))
		}
	}
}

// setStock shows a new table's stock: prizes of the old table go away.
func (m *Metrics) setStock(stock []Stock) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Stock.Reset()
	m.stockAt = map[string]uint64{}
	for _, s := range stock {
		if s.Left != Unlimited {
			m.Stock.WithLabelValues(s.Code).Set(float64(s.Left))
		}
	}
}
