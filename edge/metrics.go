package edge

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"huiyan"
	"huiyan/edge/ecode"
)

// Metrics are the edge's Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	Arrivals     *prometheus.CounterVec // huiyan_edge_arrivals_total{channel}
	Recognised   *prometheus.CounterVec // huiyan_edge_recognised_total{result}
	Rejected     *prometheus.CounterVec // huiyan_edge_rejected_total{code}
	ArrivalToPAD prometheus.Histogram   // huiyan_edge_arrival_to_pad_seconds
	// ArrivalCommit is the time until the arrival is durable (its device
	// may be acknowledged): the fsync the PADs no longer wait for.
	ArrivalCommit prometheus.Histogram // huiyan_edge_arrival_commit_seconds
	// Retractions counts arrivals shown to the PADs that then failed to
	// commit (edge/DESIGN.md, "The PAD sees an arrival before its fsync").
	Retractions  prometheus.Counter // huiyan_edge_pad_retractions_total
	VisitsOpened prometheus.Counter
	VisitsClosed prometheus.Counter
	Syncs        *prometheus.CounterVec // huiyan_edge_sync_total{result}
	// E-codes (edge/DESIGN.md, "E-codes").
	ECodeScans   *prometheus.CounterVec // huiyan_edge_ecode_scans_total{verdict}
	Conversions  *prometheus.CounterVec // huiyan_edge_conversions_total{conversion}
	StaffCredits *prometheus.CounterVec // huiyan_edge_staff_conversions_total{staff,conversion}
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
			Help:    "Time from receiving an arrival to handing its feed event to the PAD connections (before the commit's fsync, unless no PAD server is attached).",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1},
		}),
		ArrivalCommit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "huiyan_edge_arrival_commit_seconds",
			Help:    "Time from receiving an arrival to its commit (fsync included): when the device may be acknowledged.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1},
		}),
		Retractions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "huiyan_edge_pad_retractions_total",
			Help: "Arrivals the PADs were shown before the commit whose commit then failed: the PADs were made to resync.",
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
	m.ECodeScans = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "huiyan_edge_ecode_scans_total",
		Help: "E-code scans by verdict: ok and legacy count as presence; expired, forged, wrong_branch and unknown_subject are recorded but never convert; unverified without an e-code key.",
	}, []string{"verdict"})
	m.Conversions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "huiyan_edge_conversions_total", Help: "Mobile-banking conversions detected, once per visit: activated (促活) or new_user (拉新).",
	}, []string{"conversion"})
	m.StaffCredits = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "huiyan_edge_staff_conversions_total",
		Help: "Conversions credited to a staff member by their marketing code (营销e码), when credited (at the conversion, or by a later scan of their code after the branch code converted); the branch's own are conversions_total minus these.",
	}, []string{"staff", "conversion"})
	for _, c := range huiyan.Channels {
		m.Arrivals.WithLabelValues(string(c))
	}
	for _, v := range ecode.Verdicts {
		m.ECodeScans.WithLabelValues(string(v))
	}
	m.ECodeScans.WithLabelValues(string(Unverified))
	m.Conversions.WithLabelValues(string(huiyan.ConversionActivated))
	m.Conversions.WithLabelValues(string(huiyan.ConversionNewUser))
	m.Recognised.WithLabelValues("known")
	m.Recognised.WithLabelValues("new_face")
	if reg != nil {
		reg.MustRegister(m.Arrivals, m.Recognised, m.Rejected, m.ArrivalToPAD, m.ArrivalCommit, m.Retractions, m.VisitsOpened, m.VisitsClosed, m.Syncs,
			m.ECodeScans, m.Conversions, m.StaffCredits)
	}
	return m
}

// arrival counts a committed arrival: toPAD is the time until the PADs had
// it, toCommit until it was durable.
func (m *Metrics) arrival(ch huiyan.Channel, recognised, opened bool, toPAD, toCommit time.Duration) {
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
	m.ArrivalToPAD.Observe(toPAD.Seconds())
	m.ArrivalCommit.Observe(toCommit.Seconds())
}

func (m *Metrics) retracted() {
	if m != nil {
		m.Retractions.Inc()
	}
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

// scan counts a committed e-code scan: its verdict, the conversion it made
// and the staff member it credited.
func (m *Metrics) scan(sc scan) {
	if m == nil {
		return
	}
	m.ECodeScans.WithLabelValues(string(sc.verdict)).Inc()
	if sc.converted != huiyan.ConversionNone {
		m.Conversions.WithLabelValues(string(sc.converted)).Inc()
	}
	if sc.credited != "" {
		m.StaffCredits.WithLabelValues(sc.credited, string(sc.creditFor)).Inc()
	}
}
