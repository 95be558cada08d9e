#!/usr/bin/env bash
# deploy/local-cluster.sh up [nats]|down|status
#
# A three-node JetStream cluster and two tokend replicas, all on loopback:
#
#   nats n1  client 127.0.0.1:34222  routes :36222  monitoring http://127.0.0.1:38222
#   nats n2  client 127.0.0.1:34223  routes :36223  monitoring http://127.0.0.1:38223
#   nats n3  client 127.0.0.1:34224  routes :36224  monitoring http://127.0.0.1:38224
#   tokend r1  http://127.0.0.1:38080   data $DIR/tokend/r1
#   tokend r2  http://127.0.0.1:38081   data $DIR/tokend/r2
#
# up      builds nats-server at the version go.mod requires (from the Go module
#         proxy, inside this module), tokend and the clusterctl helper; starts
#         whatever is not running; the streams are created with --replicas 3.
#         `up nats` starts the three NATS nodes only (to restore a backup
#         before tokend creates empty streams: docs/operations.md).
# down    stops everything this script started (pid files), tokend first; safe
#         to run twice.
# status  each process, the streams' leaders and replicas, each replica's /readyz.
#
# Everything lives in $TOKEND_CLUSTER_DIR (default deploy/.cluster): bin/,
# nats/n{1,2,3} (JetStream stores), tokend/r{1,2} (read models), log/, pid/,
# and admin.license (mode 0600), the license of the account "default", drawn
# on the first `up` and given to both replicas as TOKEND_ADMIN_LICENSE:
#
#   export TOKEND_URL=http://127.0.0.1:38080 TOKEND_LICENSE=$(cat deploy/.cluster/admin.license)
#   go run ./cmd/tokenctl tokens list
#
# LOCAL_CLUSTER_BUILD=0 skips the build when $DIR/bin has the binaries.
# Wipe the cluster with `deploy/local-cluster.sh down && rm -rf deploy/.cluster`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${TOKEND_CLUSTER_DIR:-$ROOT/deploy/.cluster}
BIN=$DIR/bin
GO=${GO:-go}
NATS_URLS=nats://127.0.0.1:34222,nats://127.0.0.1:34223,nats://127.0.0.1:34224
NODES=(n1 n2 n3)
REPLICAS=(r1 r2)
declare -A HTTP=([r1]=127.0.0.1:38080 [r2]=127.0.0.1:38081)
declare -A MONITOR=([n1]=127.0.0.1:38222 [n2]=127.0.0.1:38223 [n3]=127.0.0.1:38224)
declare -A PORTS=([n1]="34222 36222 38222" [n2]="34223 36223 38223" [n3]="34224 36224 38224" [r1]=38080 [r2]=38081)

say() { printf '%s\n' "$*"; }

# alive NAME: the process of NAME's pid file runs, and is the binary we started
# (a stale pid file whose pid was reused by something else does not count).
alive() {
	local pidfile=$DIR/pid/$1.pid pid
	[[ -s $pidfile ]] || return 1
	pid=$(<"$pidfile")
	kill -0 "$pid" 2>/dev/null || return 1
	[[ $(ps -o args= -p "$pid" 2>/dev/null) == "$BIN/"* ]]
}

# ports_free NAME: none of NAME's ports is taken by another process, so that
# nothing of ours talks to someone else's server by mistake.
ports_free() {
	local port
	for port in ${PORTS[$1]}; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			say "cannot start $1: 127.0.0.1:$port is taken by another process (see: ss -ltnp | grep :$port)" >&2
			return 1
		fi
	done
}

# wait_ready NAME URL: until URL/readyz answers 200, while NAME runs.
wait_ready() {
	local name=$1 url=$2
	for _ in $(seq 180); do
		if ! alive "$name"; then
			say "$name exited; the end of its log:" >&2
			tail -n 20 "$DIR/log/tokend-$name.log" >&2
			return 1
		fi
		"$BIN/clusterctl" wait-ready "$url" 1s 2>/dev/null && return 0
	done
	say "$name not ready after 3 minutes; the end of its log:" >&2
	tail -n 20 "$DIR/log/tokend-$name.log" >&2
	return 1
}

build() {
	mkdir -p "$BIN"
	if [[ ${LOCAL_CLUSTER_BUILD:-1} == 0 && -x $BIN/nats-server && -x $BIN/tokend && -x $BIN/clusterctl ]]; then
		say "using the binaries already in $BIN (LOCAL_CLUSTER_BUILD=0)"
		return
	fi
	say "building nats-server ($(cd "$ROOT" && $GO list -m -f '{{.Version}}' github.com/nats-io/nats-server/v2)), tokend and clusterctl into $BIN"
	(
		cd "$ROOT"
		# Inside this module, so the version go.mod requires is the one built.
		$GO build -o "$BIN/nats-server" github.com/nats-io/nats-server/v2
		$GO build -o "$BIN/tokend" ./cmd/tokend
		$GO build -o "$BIN/clusterctl" ./deploy/clusterctl
	)
}

start_node() {
	local n=$1
	if alive "$n"; then
		say "nats $n already running (pid $(<"$DIR/pid/$n.pid"))"
		return
	fi
	ports_free "$n"
	mkdir -p "$DIR/nats/$n"
	NATS_STORE_DIR=$DIR/nats/$n nohup "$BIN/nats-server" -c "$ROOT/deploy/cluster/$n.conf" \
		>>"$DIR/log/$n.log" 2>&1 </dev/null &
	echo $! >"$DIR/pid/$n.pid"
	say "nats $n started (pid $!, log $DIR/log/$n.log)"
}

# launch_replica NAME: start tokend NAME in the background, its pid in pid/.
launch_replica() {
	local r=$1
	TOKEND_ADMIN_LICENSE=$(<"$DIR/admin.license") nohup "$BIN/tokend" serve \
		--nats-url "$NATS_URLS" --replicas 3 \
		--data-dir "$DIR/tokend/$r" --http "${HTTP[$r]}" \
		>>"$DIR/log/tokend-$r.log" 2>&1 </dev/null &
	echo $! >"$DIR/pid/$r.pid"
}

start_replica() {
	local r=$1 try
	if alive "$r"; then
		say "tokend $r already running (pid $(<"$DIR/pid/$r.pid"))"
		return
	fi
	ports_free "$r"
	mkdir -p "$DIR/tokend/$r"
	# Like systemd's Restart=on-failure: a tokend that gives up while the
	# cluster is still settling (streams just created, leaders being
	# elected) is started again, three times at most.
	for try in 1 2 3; do
		launch_replica "$r"
		say "tokend $r started (pid $(<"$DIR/pid/$r.pid"), http://${HTTP[$r]}, log $DIR/log/tokend-$r.log)"
		wait_ready "$r" "http://${HTTP[$r]}" && return 0
		alive "$r" && return 1 # running but not ready: starting it again would not help
		[[ $try -lt 3 ]] && say "starting tokend $r again in 1 s" && sleep 1
	done
	return 1
}

up() {
	mkdir -p "$DIR/log" "$DIR/pid"
	build
	for n in "${NODES[@]}"; do start_node "$n"; done
	say "waiting for JetStream (meta leader election)"
	"$BIN/clusterctl" wait-js "$NATS_URLS" 60s
	if [[ ${1:-} == nats ]]; then
		say "the three NATS nodes are up (no tokend): $NATS_URLS"
		return
	fi
	if [[ ! -s $DIR/admin.license ]]; then
		(umask 077 && "$BIN/clusterctl" license >"$DIR/admin.license")
		say "drew the admin license into $DIR/admin.license (mode 0600)"
	fi
	# One after the other: the first creates the streams (replicas 3) and the
	# account "default" with the admin license; the second finds them.
	for r in "${REPLICAS[@]}"; do start_replica "$r"; done
	say
	say "ready:"
	say "  export TOKEND_URL=http://${HTTP[r1]} TOKEND_LICENSE=\$(cat $DIR/admin.license)"
	say "  second replica: http://${HTTP[r2]}; NATS: $NATS_URLS"
}

# stop NAME: SIGTERM, up to 30 s for a clean exit, then SIGKILL.
stop() {
	local name=$1 pidfile=$DIR/pid/$1.pid pid
	if ! alive "$name"; then
		rm -f "$pidfile"
		return
	fi
	pid=$(<"$pidfile")
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 300); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		say "$name (pid $pid) still running after 30 s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$pidfile"
	say "stopped $name (pid $pid)"
}

down() {
	# tokend first, so that it does not spend its last seconds reconnecting.
	for r in "${REPLICAS[@]}"; do stop "$r"; done
	for n in n3 n2 n1; do stop "$n"; done
}

status() {
	local name
	for name in "${NODES[@]}" "${REPLICAS[@]}"; do
		if alive "$name"; then
			printf '%-3s running  pid %s\n' "$name" "$(<"$DIR/pid/$name.pid")"
		else
			printf '%-3s stopped\n' "$name"
		fi
	done
	if [[ ! -x $BIN/clusterctl ]]; then
		say "(no $BIN/clusterctl: run up first)"
		return
	fi
	say
	say "streams:"
	"$BIN/clusterctl" streams "$NATS_URLS" || true
	say
	say "monitoring: $(for n in "${NODES[@]}"; do printf 'http://%s/healthz?js-enabled-only=true ' "${MONITOR[$n]}"; done)"
	say
	say "readiness:"
	"$BIN/clusterctl" readyz "http://${HTTP[r1]}" "http://${HTTP[r2]}"
}

case ${1:-} in
up) up "${2:-}" ;;
down) down ;;
status) status ;;
*)
	say "usage: $0 up [nats]|down|status" >&2
	exit 2
	;;
esac
