package edge

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"huiyan"
)

// Metrics are the edge's Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	Arrivals     *prometheus.CounterVec // huiyan_edge_arrivals_total{channel}
	Recognised   *prometheus.CounterVec // huiyan_edge_recognised_total{result}
	Rejected     *prometheus.CounterVec // huiyan_edge_rejected_total{code}
	ArrivalToPAD prometheus.Histogram   // huiyan_edge_arrival_to_pad_seconds
	VisitsOpened prometheus.Counter
	VisitsClosed prometheus.Counter
	Syncs        *prometheus.CounterVec // huiyan_edge_sync_total{result}
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Arrivals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "huiyan_edge_arrivals_total", Help: "Arrivals recorded, by channel.",
		}, []string{"channel"}),
		Recognised: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "huiyan_edge_recognised_total", Help: "Arrivals by recognition result: known customer or new face.",
		}, []string{"result"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "huiyan_edge_rejected_total", Help: "MQTT messages refused, by reject code.",
		}, []string{"code"}),
		ArrivalToPAD: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "huiyan_edge_arrival_to_pad_seconds",
			Help:    "Time from receiving an arrival to handing its feed event to the PAD connections, commit included.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1},
		}),
		VisitsOpened: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "huiyan_edge_visits_opened_total", Help: "Visits opened.",
		}),
		VisitsClosed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "huiyan_edge_visits_closed_total", Help: "Visits closed at the end of their window.",
		}),
		Syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "huiyan_edge_sync_total",
			Help: "Hub sync attempts by result: applied, current, or the reason a manifest or chunk was refused (bad_signature, rollback, expired, chunk_hash …).",
		}, []string{"result"}),
	}
	for _, c := range huiyan.Channels {
		m.Arrivals.WithLabelValues(string(c))
	}
	m.Recognised.WithLabelValues("known")
	m.Recognised.WithLabelValues("new_face")
	if reg != nil {
		reg.MustRegister(m.Arrivals, m.Recognised, m.Rejected, m.ArrivalToPAD, m.VisitsOpened, m.VisitsClosed, m.Syncs)
	}
	return m
}

func (m *Metrics) arrival(ch huiyan.Channel, recognised, opened bool, d time.Duration) {
	if m == nil {
		return
	}
	m.Arrivals.WithLabelValues(string(ch)).Inc()
	if recognised {
		m.Recognised.WithLabelValues("known").Inc()
	} else {
		m.Recognised.WithLabelValues("new_face").Inc()
	}
	if opened {
		m.VisitsOpened.Inc()
	}
	m.ArrivalToPAD.Observe(d.Seconds())
}

// Reject counts a refused message.
func (m *Metrics) Reject(code string) {
	if m != nil {
		m.Rejected.WithLabelValues(code).Inc()
	}
}

func (m *Metrics) closed(n int) {
	if m != nil && n > 0 {
		m.VisitsClosed.Add(float64(n))
	}
}

func (m *Metrics) sync(result string) {
	if m != nil {
		m.Syncs.WithLabelValues(result).Inc()
	}
}
