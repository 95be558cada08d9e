// Package clustertest holds the fault tests of tokend on a three-node
// JetStream cluster: nats-server (built from the version go.mod requires)
// started three times from deploy/cluster/n{1,2,3}.conf with the ports
// moved, and two `tokend serve --replicas 3` replicas, all as real
// subprocesses, so that SIGKILL and SIGSTOP are real.
//
// The tests are behind the build tag "cluster", so `make test` does not run
// them; `make test-cluster` does:
//
//	go test -tags cluster -count=1 -v -timeout 12m ./deploy/clustertest
//
// docs/reliability.md reports a run.
package clustertest
