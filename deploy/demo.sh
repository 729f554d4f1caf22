#!/usr/bin/env bash
# make demo: the whole system on embedded defaults. Generates a synthetic
# data set (once), imports branch B001 into an edge, starts huiyan-edge with
# its embedded MQTT broker and the PAD page, and plays the branch's devices
# with huiyan-devsim. Ctrl-C stops everything.
set -euo pipefail

dir=${1:-.demo}
bin=$(cd "$(dirname "$0")/.." && pwd)/bin
branch=B001
http=127.0.0.1:8080
mqtt=127.0.0.1:1883

for b in huiyan-edge huiyan-devsim; do
	[ -x "$bin/$b" ] || { echo "demo: $bin/$b missing: run make build" >&2; exit 1; }
done
for addr in "$http" "$mqtt"; do
	if (exec 3<>"/dev/tcp/${addr%:*}/${addr#*:}") 2>/dev/null; then
		echo "demo: $addr is already in use (another demo or a Mosquitto service?): stop it first" >&2
		exit 1
	fi
done

mkdir -p "$dir"
if [ ! -s "$dir/hq/tags.csv" ]; then
	echo "== generating a synthetic HQ data set (20,000 customers, 3 branches)"
	"$bin/huiyan-devsim" gen -customers 20000 -branches 3 -seed 1 -out "$dir/hq"
fi
echo "== importing branch $branch into the edge"
"$bin/huiyan-edge" import -data "$dir/edge" -branch "$branch" "$dir/hq/tags.csv" "$dir/hq/staff.csv"

pids=()
cleanup() {
	trap - INT TERM EXIT
	echo
	echo "== stopping"
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

echo "== starting huiyan-edge (log: $dir/edge.log)"
"$bin/huiyan-edge" -data "$dir/edge" -branch "$branch" -http "$http" -mqtt-listen "$mqtt" >"$dir/edge.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	if curl -fsS "http://$http/healthz" >/dev/null 2>&1; then break; fi
	if ! kill -0 "${pids[0]}" 2>/dev/null; then echo "demo: huiyan-edge exited:" >&2; tail -5 "$dir/edge.log" >&2; exit 1; fi
	sleep 0.1
done

echo "== simulated devices: 4 super-counters, an e-code display, a prize wheel (log: $dir/devsim.log)"
"$bin/huiyan-devsim" run -data "$dir/hq" -branch "$branch" -broker "tcp://$mqtt" -rate 0.3 -duration 8h -followup 40s >"$dir/devsim.log" 2>&1 &
pids+=($!)

cat <<MSG

  PAD app:   http://$http/
  Log in as lobby-$branch (also wealth-$branch, account-$branch, supervisor-$branch), PIN 246810.
  Health:    http://$http/healthz     Metrics: http://$http/metrics

  Arrivals are flowing; Ctrl-C stops the demo.
MSG
wait -n "${pids[@]}"
