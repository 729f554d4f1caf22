#!/usr/bin/env bash
# make demo: the whole system on embedded defaults. Generates a synthetic
# HQ data set (once), starts a single-node hub cluster and uploads the data
# set (snapshot, staff roster, prize wheels) to it as HQ would, issues
# branch B001's edge credential, starts huiyan-edge with its embedded MQTT
# broker and the PAD page, syncing B001's part of the data from the hub
# (signed, verified against hub.pub), and plays the branch's devices with
# huiyan-devsim. Ctrl-C stops everything.
set -euo pipefail

dir=${1:-.demo}
bin=$(cd "$(dirname "$0")/.." && pwd)/bin
branch=B001
http=127.0.0.1:8080
mqtt=127.0.0.1:1883
hubhttp=127.0.0.1:9000
hubraft=127.0.0.1:9001

for b in huiyan-edge huiyan-devsim huiyan-hub; do
	[ -x "$bin/$b" ] || { echo "demo: $bin/$b missing: run make build" >&2; exit 1; }
done
for addr in "$http" "$mqtt" "$hubhttp" "$hubraft"; do
	if (exec 3<>"/dev/tcp/${addr%:*}/${addr#*:}") 2>/dev/null; then
		echo "demo: $addr is already in use (another demo or a Mosquitto service?): stop it first" >&2
		exit 1
	fi
done

mkdir -p "$dir"
if [ ! -s "$dir/hq/tags.csv" ] || [ ! -s "$dir/hq/prizes.csv" ]; then
	echo "== generating a synthetic HQ data set (20,000 customers, 3 branches)"
	"$bin/huiyan-devsim" gen -customers 20000 -branches 3 -seed 1 -out "$dir/hq"
fi
pids=()
cleanup() {
	trap - INT TERM EXIT
	echo
	echo "== stopping"
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

# wait_for URL PID LOG NAME [JQ-ish grep]: until URL answers (and matches).
wait_for() {
	for _ in $(seq 300); do
		if out=$(curl -fsS "$1" 2>/dev/null) && { [ -z "${5:-}" ] || grep -q "$5" <<<"$out"; }; then return 0; fi
		if ! kill -0 "$2" 2>/dev/null; then echo "demo: $4 exited:" >&2; tail -5 "$3" >&2; exit 1; fi
		sleep 0.1
	done
	echo "demo: $4 not ready after 30s (log: $3)" >&2
	exit 1
}

echo "== starting huiyan-hub, a single-node cluster (log: $dir/hub.log)"
"$bin/huiyan-hub" -data "$dir/hub" -http "$hubhttp" -raft "$hubraft" >"$dir/hub.log" 2>&1 &
pids+=($!)
wait_for "http://$hubhttp/healthz" "${pids[-1]}" "$dir/hub.log" huiyan-hub '"status":"ok"'

echo "== HQ uploads tonight's snapshot, the staff roster and the prize wheels to the hub"
"$bin/huiyan-hub" import -hub "http://$hubhttp" -data "$dir/hub" "$dir/hq/tags.csv" "$dir/hq/staff.csv" "$dir/hq/prizes.csv"
cred=$("$bin/huiyan-hub" credential -hub "http://$hubhttp" -data "$dir/hub" "$branch" | tail -n 1)

echo "== starting huiyan-edge for $branch, syncing from the hub (log: $dir/edge.log)"
"$bin/huiyan-edge" -data "$dir/edge" -branch "$branch" -http "$http" -mqtt-listen "$mqtt" \
	-hub "http://$hubhttp" -hub-key "$dir/hub/hub.pub" -hub-token "$cred" >"$dir/edge.log" 2>&1 &
pids+=($!)
wait_for "http://$http/healthz" "${pids[-1]}" "$dir/edge.log" huiyan-edge '"snapshot_version":[1-9]'

echo "== simulated devices: 4 super-counters, an e-code display, a prize wheel (log: $dir/devsim.log)"
"$bin/huiyan-devsim" run -data "$dir/hq" -branch "$branch" -broker "tcp://$mqtt" -edge "http://$http" -rate 0.3 -duration 8h -followup 40s >"$dir/devsim.log" 2>&1 &
pids+=($!)

cat <<MSG

  PAD app:   http://$http/
  Log in as lobby-$branch (also wealth-$branch, account-$branch, supervisor-$branch), PIN 246810.
  Edge:      http://$http/healthz     http://$http/metrics
  E-code:    http://$http/ecode/ecode-01   (the branch e-code display, a new code every minute)
  HQ:        http://$hubhttp/   dashboard; admin token in $dir/hub/admin.token

  Arrivals are flowing; Ctrl-C stops the demo.
MSG
wait -n "${pids[@]}"
