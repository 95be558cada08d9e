package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/tokend/tokend/docs"
)

// healthz is liveness: the process answers HTTP. It checks nothing else, so
// that an orchestrator never restarts a process that is only waiting for
// NATS or catching up.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readiness is the answer of /readyz.
type readiness struct {
	Status    string         `json:"status"` // "ready" or "unready"
	NATS      string         `json:"nats"`   // "ok", "unreachable" or "unchecked"
	Projector projectorState `json:"projector"`
}

type projectorState struct {
	Status       string  `json:"status"` // "ok" or "behind"
	LagSequences uint64  `json:"lagSequences"`
	LagSeconds   float64 `json:"lagSeconds"`
}

// readyz is readiness (API.md): NATS reachable and the projector caught up
// within ReadyLag (5 s): ready when the oldest event it has not applied is
// at most that old. 200 when ready, else 503 with the same document. Why
// NATS is unreachable goes to the log, not to the answer.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	out := readiness{Status: "ready", NATS: "unchecked", Projector: projectorState{Status: "ok"}}
	if s.cfg.PingNATS != nil {
		out.NATS = "ok"
		if err := s.cfg.PingNATS(); err != nil {
			out.NATS, out.Status = "unreachable", "unready"
			s.log.LogAttrs(r.Context(), slog.LevelWarn, "readyz: NATS unreachable",
				slog.String("requestId", requestIDOf(r)), slog.String("error", err.Error()))
		}
	}
	if s.cfg.Lag != nil {
		n, age := s.cfg.Lag()
		out.Projector.LagSequences, out.Projector.LagSeconds = n, age.Seconds()
		if n > 0 && age > s.cfg.ReadyLag {
			out.Projector.Status, out.Status = "behind", "unready"
		}
	}
	status := http.StatusOK
	if out.Status != "ready" {
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, out)
}

// openAPI serves docs/openapi.yaml, the description of this API.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/yaml") // RFC 9512
	_, _ = w.Write(docs.OpenAPI)
}
