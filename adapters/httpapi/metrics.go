package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tokend/tokend/adapters/commands"
)

// LagFunc reports how far the projector is behind the event stream: in
// sequences, and as the age of the oldest event it has not applied.
// Projector.Lag has this signature.
type LagFunc func() (sequences uint64, age time.Duration)

// Metrics holds the service's Prometheus metrics in a registry of its own
// (never the global one, so two servers in one test process do not clash).
// One Metrics is shared by every intake: the HTTP API observes requests and
// commands, and the NATS command intake calls ObserveCommand. Its methods are
// safe for concurrent use; a nil *Metrics observes nothing.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	commands *prometheus.CounterVec
}

// NewMetrics builds the registry: HTTP requests by route pattern and status
// code with latency histograms, commands by type and outcome, the
// projector's lag in sequences and seconds (read from lag at scrape time;
// nil leaves the two gauges out), and the Go runtime and process collectors.
func NewMetrics(lag LagFunc) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokend_http_requests_total",
			Help: "HTTP requests answered, by route pattern (\"unmatched\" for none) and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tokend_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "code"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokend_commands_total",
			Help: "Commands carried out, by type and outcome (accepted, unchanged, repeated, or the error code).",
		}, []string{"type", "outcome"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.commands,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if lag != nil {
		m.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "tokend_projector_lag_sequences",
				Help: "Events in the stream that the read model has not applied yet.",
			}, func() float64 { n, _ := lag(); return float64(n) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "tokend_projector_lag_seconds",
				Help: "Age of the oldest event the read model has not applied yet (0 when caught up).",
			}, func() float64 { _, d := lag(); return d.Seconds() }),
		)
	}
	return m
}

// Registry returns the registry, for registering more collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveCommand counts one command of type typ with its outcome. Use
// commands.OutcomeLabel to name the outcome the same way from every intake.
func (m *Metrics) ObserveCommand(typ, outcome string) {
	if m == nil {
		return
	}
	m.commands.WithLabelValues(typ, outcome).Inc()
}

// Command outcomes that are not errors, as commands.OutcomeLabel names them
// for every intake.
const (
	OutcomeAccepted  = commands.OutcomeAccepted  // the command emitted its event
	OutcomeUnchanged = commands.OutcomeUnchanged // it asked for the current values: no event
	OutcomeRepeated  = commands.OutcomeRepeated  // a retry of a command already carried out
)

// observeRequest counts one answered request.
func (m *Metrics) observeRequest(route string, code int, d time.Duration) {
	if m == nil {
		return
	}
	c := strconv.Itoa(code)
	m.requests.WithLabelValues(route, c).Inc()
	m.latency.WithLabelValues(route, c).Observe(d.Seconds())
}
