#!/usr/bin/env bash
# crmsync against a peer doing the same job, in the same run, on the same CRM:
# a BullMQ (npm) producer + worker on Debian's redis-server (no AOF, no RDB:
# BullMQ's jobs are not durable here, crmsync's are, synchronous=FULL).
#
#   bash bench/compare.sh [--leads N] [--latency-ms MS]   (20,000 leads, 0 ms)
#
# The job, both sides: N new leads from 50 concurrent producers, each delivered
# by one POST to tools/reference-crm (its own process), 50 concurrent deliveries
# for BullMQ (worker concurrency 50); crmsync runs the shipped config with only
# the CRM chosen. Each side's time runs from the first add or post until the CRM
# holds all N leads. Prints each side's accept rate, delivered/s, peak RSS
# (BullMQ: worker + redis-server) and the ratios.
set -euo pipefail
leads=20000
latency=0
while [ $# -gt 0 ]; do
  case "$1" in
    --leads) leads="$2"; shift 2 ;;
    --latency-ms) latency="$2"; shift 2 ;;
    *) echo "usage: bench/compare.sh [--leads N] [--latency-ms MS]" >&2; exit 64 ;;
  esac
done
source "$(dirname "$0")/lib/common.sh"
peer="$root/bench/peers/bullmq"
command -v redis-server >/dev/null || apt-get install -y redis-server >/dev/null
command -v npm >/dev/null || apt-get install -y npm >/dev/null
[ -d "$peer/node_modules/ioredis" ] || (cd "$peer" && npm ci --no-audit --no-fund >/dev/null)

# BullMQ
start_crm bullmq --latency-ms "$latency"
redis_port="$(free_port)"
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
  >"$work/redis.log" 2>&1 &
redis_pid=$!
pids+=("$redis_pid")
until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do sleep 0.05; done
node "$peer/worker.js" "$redis_port" "http://127.0.0.1:$crm_port" 50 >"$work/worker.log" 2>&1 &
worker_pid=$!
pids+=("$worker_pid")
until grep -q ready "$work/worker.log"; do sleep 0.05; done
t0="$(now)"
node "$peer/producer.js" "$redis_port" "$leads" 50 bullmq >"$work/producer.out"
wait_leads "$leads"
b_accept="$(awk -F= '/^per_second=/ {print $2}' "$work/producer.out")"
b_e2e="$(python3 -c "print(round($leads / ($drained_at - $t0)))")"
b_rss=$(( $(peak_rss_mb "$worker_pid") + $(peak_rss_mb "$redis_pid") ))
stop_pid "$worker_pid"; stop_pid "$redis_pid"; stop_pid "$crm_pid"

# crmsync
start_crm crmsync --latency-ms "$latency"
start_engine crmsync
t0="$(now)"
node "$peer/post_events.js" "http://127.0.0.1:$engine_port" dev-intake-token "$leads" 50 crmsync \
  >"$work/post.out"
accepted="$(awk -F= '/^accepted=/ {print $2}' "$work/post.out")"
[ "$accepted" = "$leads" ] || { echo "crmsync accepted $accepted of $leads events" >&2; exit 1; }
wait_leads "$leads"
c_accept="$(awk -F= '/^per_second=/ {print $2}' "$work/post.out")"
c_e2e="$(python3 -c "print(round($leads / ($drained_at - $t0)))")"
c_rss="$(peak_rss_mb "$engine_pid")"
c_requests="$(crm_stat apiRequests)"
stop_pid "$engine_pid"; stop_pid "$crm_pid"

printf '%-9s %10s %12s %8s\n' side "accepts/s" "delivered/s" "RSS MB"
printf '%-9s %10s %12s %8s\n' bullmq "$b_accept" "$b_e2e" "$b_rss"
printf '%-9s %10s %12s %8s\n' crmsync "$c_accept" "$c_e2e" "$c_rss"
echo "leads=$leads crm_latency_ms=$latency crmsync_crm_requests=$c_requests"
python3 -c "print(f'delivered ratio crmsync/bullmq = {$c_e2e / $b_e2e:.2f}; RSS ratio = {$c_rss / $b_rss:.2f}')"
