package main

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokend/tokend/adapters/natsjs"
)

// connectNATS connects to the cluster of --nats-url or, when there is none,
// starts the embedded JetStream server on <data-dir>/jetstream and connects
// to it; url is what it connected to. closeNATS drains the connection, waits for the drain to finish,
// then shuts the embedded server down, so that nothing in flight is cut.
//
// subjectCache is natsjs.EmbeddedConfig.SubjectCache: on for tokend
// rebuild, off for tokend serve.
func connectNATS(cfg config, name string, subjectCache bool, logger *slog.Logger) (url string, nc *nats.Conn, js jetstream.JetStream, closeNATS func(), err error) {
	url, shutdown := cfg.NATSURL, func() {}
	if url == "" {
		emb, err := natsjs.StartEmbedded(natsjs.EmbeddedConfig{
			Listen:       cfg.NATSListen,
			StoreDir:     filepath.Join(cfg.DataDir, "jetstream"),
			Sync:         cfg.Sync,
			Logger:       logger,
			SubjectCache: subjectCache,
		})
		if err != nil {
			return "", nil, nil, nil, fmt.Errorf("embedded JetStream: %w", err)
		}
		url, shutdown = emb.ClientURL(), emb.Shutdown
	}
	nc, js, err = natsjs.Connect(url, name, logger)
	if err != nil {
		shutdown()
		return "", nil, nil, nil, err
	}
	return url, nc, js, func() {
		if err := nc.Drain(); err == nil {
			for deadline := time.Now().Add(10 * time.Second); !nc.IsClosed() && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
		}
		nc.Close()
		shutdown()
	}, nil
}
