#!/usr/bin/env bash
# Runs wxqr's tests against real services, starting what is missing:
#   - Redis: uses the one at WXQR_TEST_REDIS_URL (default redis://127.0.0.1:6379);
#     if none answers there, starts redis-server on that port (installing it
#     with apt-get when running as root) and leaves it running for later runs.
#   - MinIO: starts a throwaway server on a free loopback port, with fresh
#     credentials and a temporary data directory, both gone when the script
#     exits. The pinned MinIO is built once into .cache/bin (several minutes
#     the first time). To use another S3-compatible server instead, set
#     WXQR_TEST_S3_ENDPOINT, WXQR_TEST_S3_ACCESS_KEY and WXQR_TEST_S3_SECRET_KEY.
#   - A Redis Sentinel set: a master, one replica and three sentinels on free
#     loopback ports, in a temporary directory, all gone when the script
#     exits; its addresses go to WXQR_TEST_SENTINEL_ADDRS and
#     WXQR_TEST_SENTINEL_MASTER (set both to use another set instead).
#   - A Redis Cluster of three masters (no replicas) on free loopback ports, in
#     a temporary directory, gone when the script exits; its nodes go to
#     WXQR_TEST_CLUSTER_ADDRS (set it to use another cluster instead).
#   - Chromium, for the browser tests (skip with WXQR_TEST_BROWSER=0).
#   - openssl, the reference for the tests of WeChat's push encryption.
#   - For the print sheets' tests: poppler-utils (pdftoppm, pdftotext, pdfinfo),
#     librsvg2-bin (rsvg-convert) and a font with Chinese (fonts-droid-fallback).
#   - For the chaos test, which runs and kills its own MinIO and redis-server:
#     exports the MinIO binary's path as WXQR_TEST_MINIO_BIN.
# Then it runs go vet and go test -race, and exits with their status.
#
# Usage: ./scripts/test.sh [go test flags] [packages]
#   ./scripts/test.sh                          # every package
#   ./scripts/test.sh -run TestPut ./storage/  # packages as ./dir or ./dir/...
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD

readonly minio_module=github.com/minio/minio
readonly minio_version=v0.0.0-20260212201848-7aac2a2c5b7c
readonly cache_bin=$repo/.cache/bin

log() { printf 'test.sh: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# wait_for SECONDS COMMAND...: runs COMMAND until it succeeds or time is up.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.2
	done
}

rand_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

apt_updated=
# apt_install PACKAGE...: installs Debian packages; fails unless root with apt-get.
apt_install() {
	is_root && command -v apt-get >/dev/null || return 1
	if [ -z "$apt_updated" ]; then
		log "running apt-get update"
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || return 1
		apt_updated=1
	fi
	log "installing $* (apt-get)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# ensure_cc: go test -race needs cgo, and so a C compiler.
ensure_cc() {
	if command -v gcc >/dev/null || command -v cc >/dev/null; then
		return
	fi
	apt_install gcc libc6-dev ||
		die "go test -race needs a C compiler: install gcc (as root, this script does it)"
}

# redis_answers HOST PORT: something at HOST:PORT replies to a Redis PING
# (an error reply, e.g. NOAUTH, counts: that is a Redis too).
redis_answers() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	timeout 3 bash -c '
		exec 3<>"/dev/tcp/$0/$1" || exit 1
		printf "PING\r\n" >&3
		IFS= read -r reply <&3 || exit 1
		[[ $reply == [+-]* ]]' "$1" "$2" 2>/dev/null
}

ensure_redis() {
	export WXQR_TEST_REDIS_URL=${WXQR_TEST_REDIS_URL:-redis://127.0.0.1:6379}
	local hostport=${WXQR_TEST_REDIS_URL#*://}
	hostport=${hostport##*@}
	hostport=${hostport%%/*}
	hostport=${hostport%%\?*}
	local host=${hostport%:*} port=6379
	[[ $hostport == *:* ]] && port=${hostport##*:}

	if redis_answers "$host" "$port"; then
		log "Redis: using $host:$port"
		return
	fi
	case $host in
	127.0.0.1 | localhost) ;;
	*) die "Redis at $host:$port does not answer (WXQR_TEST_REDIS_URL=$WXQR_TEST_REDIS_URL), and only a local one can be started" ;;
	esac
	if ! command -v redis-server >/dev/null; then
		apt_install redis-server ||
			die "no Redis at $host:$port and redis-server is not installed: install it (as root, this script does it) or set WXQR_TEST_REDIS_URL"
		# The package may have started one already.
		redis_answers "$host" "$port" && return
	fi
	log "Redis: starting redis-server on 127.0.0.1:$port (no persistence; left running for later runs)"
	redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
		--dir "${TMPDIR:-/tmp}" --daemonize yes >/dev/null
	wait_for 10 redis_answers "$host" "$port" || die "redis-server on 127.0.0.1:$port did not start"
}

# ensure_chromium: the browser tests drive Chromium (chromedp).
ensure_chromium() {
	if [ "${WXQR_TEST_BROWSER:-}" = 0 ]; then
		log "Chromium: not needed (WXQR_TEST_BROWSER=0)"
		return
	fi
	local b
	for b in chromium chromium-browser google-chrome google-chrome-stable; do
		if command -v "$b" >/dev/null; then
			log "Chromium: using $(command -v "$b")"
			return
		fi
	done
	apt_install chromium ||
		log "Chromium: not found and not installed (needs root and apt-get); browser tests will not run"
}

# ensure_openssl: the tests of WeChat's push encryption compare with openssl,
# which a minimal Debian does not have.
ensure_openssl() {
	command -v openssl >/dev/null && return
	apt_install openssl ||
		log "openssl: not found and not installed (needs root and apt-get); the tests that compare with it will skip (fail under CI=true)"
}

# ensure_print_tools: the print sheets' tests render the PDFs and SVGs they
# make and read their text back, and print Chinese with a system font.
ensure_print_tools() {
	local missing=()
	command -v pdftoppm >/dev/null && command -v pdftotext >/dev/null && command -v pdfinfo >/dev/null ||
		missing+=(poppler-utils)
	command -v rsvg-convert >/dev/null || missing+=(librsvg2-bin)
	[ -f /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf ] || missing+=(fonts-droid-fallback)
	[ ${#missing[@]} -eq 0 ] && return
	apt_install "${missing[@]}" ||
		log "${missing[*]}: not found and not installed (needs root and apt-get); the print sheets' tests that need them will skip (fail under CI=true)"
}

# has_pinned_minio FILE: FILE is a MinIO built from the pinned version.
has_pinned_minio() {
	[ -x "$1" ] && go version -m "$1" 2>/dev/null |
		awk -v m="$minio_module" -v v="$minio_version" '$1 == "mod" && $2 == m && $3 == v { ok = 1 } END { exit !ok }'
}

ensure_minio_binary() {
	minio_bin=$cache_bin/minio
	has_pinned_minio "$minio_bin" && return
	mkdir -p "$cache_bin"
	# A go install of the same version elsewhere saves the long build.
	local gobin
	gobin=$(go env GOBIN)
	[ -n "$gobin" ] || gobin=$(go env GOPATH | cut -d: -f1)/bin
	if has_pinned_minio "$gobin/minio"; then
		log "MinIO: copying $gobin/minio ($minio_version) into $cache_bin"
		cp "$gobin/minio" "$minio_bin.tmp" && mv "$minio_bin.tmp" "$minio_bin"
		return
	fi
	log "MinIO: building $minio_module@$minio_version into $cache_bin (first run only: several minutes)"
	GOBIN=$cache_bin go install "$minio_module@$minio_version"
	has_pinned_minio "$minio_bin" || die "MinIO build did not produce $minio_bin"
}

# free_port: prints a loopback port that nothing listens on (yet).
free_port() {
	local port
	for _ in $(seq 200); do
		port=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return
		fi
	done
	return 1
}

# minio_live PORT: MinIO at PORT says it is healthy.
minio_live() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	timeout 2 bash -c '
		exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
		printf "GET /minio/health/live HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3
		IFS= read -r status <&3 || exit 1
		[[ $status == "HTTP/1."?" 200"* ]]' "$1" 2>/dev/null
}

minio_pid=
run_dir=
stop_minio() {
	if [ -n "$minio_pid" ]; then
		kill "$minio_pid" 2>/dev/null || true
		wait "$minio_pid" 2>/dev/null || true
		minio_pid=
	fi
}
cleanup() {
	stop_minio
	stop_sentinel_set
	stop_cluster
	if [ -n "$run_dir" ]; then rm -rf "$run_dir"; fi
}

start_minio() {
	if [ -n "${WXQR_TEST_S3_ENDPOINT:-}" ] && [ -n "${WXQR_TEST_S3_ACCESS_KEY:-}" ] && [ -n "${WXQR_TEST_S3_SECRET_KEY:-}" ]; then
		log "S3: using $WXQR_TEST_S3_ENDPOINT (WXQR_TEST_S3_ENDPOINT is set)"
		return
	fi
	ensure_minio_binary
	# The chaos test runs a MinIO of its own, to kill and restart it.
	export WXQR_TEST_MINIO_BIN=$minio_bin
	run_dir=$(mktemp -d "${TMPDIR:-/tmp}/wxqr-test.XXXXXX")
	local user password port attempt deadline
	user=wxqr$(rand_hex 8)
	password=$(rand_hex 24)
	# Another process may take the port between free_port and MinIO's
	# listen: then try another one.
	for attempt in 1 2 3; do
		port=$(free_port) || die "no free loopback port for MinIO"
		log "MinIO: starting on 127.0.0.1:$port (data in $run_dir, removed on exit)"
		MINIO_ROOT_USER=$user MINIO_ROOT_PASSWORD=$password MINIO_BROWSER=off MINIO_UPDATE=off \
			"$minio_bin" server --quiet --address "127.0.0.1:$port" "$run_dir/data" >"$run_dir/minio.log" 2>&1 &
		minio_pid=$!
		deadline=$((SECONDS + 60))
		until minio_live "$port"; do
			# Stop waiting when MinIO has exited (e.g. the port was taken).
			if ! kill -0 "$minio_pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
				break
			fi
			sleep 0.2
		done
		minio_live "$port" && break
		log "MinIO did not start (attempt $attempt); its log:"
		tail -n 20 "$run_dir/minio.log" >&2 || true
		stop_minio
		[ "$attempt" -lt 3 ] || die "MinIO did not start"
	done
	export WXQR_TEST_S3_ENDPOINT=http://127.0.0.1:$port
	export WXQR_TEST_S3_ACCESS_KEY=$user
	export WXQR_TEST_S3_SECRET_KEY=$password
}

sentinel_pids=()
sentinel_dir=
stop_sentinel_set() {
	local pid
	for pid in "${sentinel_pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	sentinel_pids=()
	if [ -n "$sentinel_dir" ]; then rm -rf "$sentinel_dir"; fi
	sentinel_dir=
}

# sentinel_ready PORT MASTER: the sentinel at PORT watches MASTER, knows a
# replica of it and the two other sentinels, so a failover can happen.
sentinel_ready() {
	local info
	info=$(redis-cli -p "$1" --raw SENTINEL MASTER "$2" 2>/dev/null) || return 1
	awk '{ f[NR] = $0 } END {
		for (i = 1; i < NR; i += 2) v[f[i]] = f[i + 1]
		exit !(v["num-slaves"] >= 1 && v["num-other-sentinels"] >= 2 && v["flags"] == "master")
	}' <<<"$info"
}

# start_sentinel_set: a Redis master, one replica and three sentinels on free
# loopback ports, for the failover tests, which may change which server is
# master (the tests ask the sentinels). Everything stops with the script.
start_sentinel_set() {
	if [ -n "${WXQR_TEST_SENTINEL_ADDRS:-}" ] && [ -n "${WXQR_TEST_SENTINEL_MASTER:-}" ]; then
		log "Sentinel: using $WXQR_TEST_SENTINEL_ADDRS (WXQR_TEST_SENTINEL_ADDRS is set)"
		return
	fi
	command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
		apt_install redis-server redis-tools ||
		die "the failover tests need redis-server and redis-cli: install them (as root, this script does it)"
	sentinel_dir=$(mktemp -d "${TMPDIR:-/tmp}/wxqr-sentinel.XXXXXX")
	local master=wxqrtest master_port replica_port port addrs=() i
	master_port=$(free_port) || die "no free loopback port for Redis"
	replica_port=$(free_port) || die "no free loopback port for Redis"
	log "Sentinel: master on 127.0.0.1:$master_port, replica on 127.0.0.1:$replica_port (in $sentinel_dir, removed on exit)"
	for port in "$master_port" "$replica_port"; do
		mkdir "$sentinel_dir/$port"
		local replicaof=()
		[ "$port" = "$replica_port" ] && replicaof=(--replicaof 127.0.0.1 "$master_port")
		redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
			--dir "$sentinel_dir/$port" "${replicaof[@]}" >"$sentinel_dir/$port.log" 2>&1 &
		sentinel_pids+=($!)
	done
	for i in 1 2 3; do
		port=$(free_port) || die "no free loopback port for a sentinel"
		# A sentinel rewrites its configuration file, so each has its own.
		cat >"$sentinel_dir/sentinel-$port.conf" <<-EOF
			bind 127.0.0.1
			port $port
			dir $sentinel_dir
			sentinel monitor $master 127.0.0.1 $master_port 2
			sentinel down-after-milliseconds $master 2000
			sentinel failover-timeout $master 10000
		EOF
		redis-server "$sentinel_dir/sentinel-$port.conf" --sentinel >"$sentinel_dir/sentinel-$port.log" 2>&1 &
		sentinel_pids+=($!)
		addrs+=("127.0.0.1:$port")
	done
	for port in "${addrs[@]#127.0.0.1:}"; do
		wait_for 60 sentinel_ready "$port" "$master" || {
			tail -n 20 "$sentinel_dir"/*.log >&2 || true
			die "the sentinel on 127.0.0.1:$port did not get ready"
		}
	done
	WXQR_TEST_SENTINEL_ADDRS=$(IFS=,; echo "${addrs[*]}")
	export WXQR_TEST_SENTINEL_ADDRS WXQR_TEST_SENTINEL_MASTER=$master
	log "Sentinel: $WXQR_TEST_SENTINEL_ADDRS watch $master"
}

cluster_pids=()
cluster_dir=
stop_cluster() {
	local pid
	for pid in "${cluster_pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	cluster_pids=()
	if [ -n "$cluster_dir" ]; then rm -rf "$cluster_dir"; fi
	cluster_dir=
}

# cluster_node_up PID PORT: the node answers, or its process PID has exited
# (then waiting longer is pointless).
cluster_node_up() {
	redis_answers 127.0.0.1 "$2" || ! kill -0 "$1" 2>/dev/null
}

# cluster_ready PORT: the cluster node at PORT sees every slot served.
cluster_ready() {
	redis-cli -p "$1" CLUSTER INFO 2>/dev/null | grep -q '^cluster_state:ok'
}

# start_cluster: a Redis Cluster of three masters without replicas on free
# loopback ports, for the tests that run wxqr on a cluster. Each node keeps
# its cluster configuration file in its own directory. Everything stops
# with the script.
start_cluster() {
	if [ -n "${WXQR_TEST_CLUSTER_ADDRS:-}" ]; then
		log "Cluster: using $WXQR_TEST_CLUSTER_ADDRS (WXQR_TEST_CLUSTER_ADDRS is set)"
		return
	fi
	command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
		apt_install redis-server redis-tools ||
		die "the cluster tests need redis-server and redis-cli: install them (as root, this script does it)"
	cluster_dir=$(mktemp -d "${TMPDIR:-/tmp}/wxqr-cluster.XXXXXX")
	local port addrs=() i attempt pid
	for i in 1 2 3; do
		# Another process may take the port between free_port and the
		# node's listen: then try another one.
		for attempt in 1 2 3; do
			port=$(free_port) || die "no free loopback port for a cluster node"
			mkdir -p "$cluster_dir/$port"
			redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
				--dir "$cluster_dir/$port" --cluster-enabled yes \
				--cluster-config-file "$cluster_dir/$port/nodes.conf" \
				>"$cluster_dir/$port.log" 2>&1 &
			pid=$!
			# Only this node writes its nodes.conf: a Redis that answers
			# on the port without one is someone else's.
			if wait_for 10 cluster_node_up "$pid" "$port" && kill -0 "$pid" 2>/dev/null &&
				[ -s "$cluster_dir/$port/nodes.conf" ] && redis_answers 127.0.0.1 "$port"; then
				cluster_pids+=("$pid")
				addrs+=("127.0.0.1:$port")
				break
			fi
			log "Cluster: the node on 127.0.0.1:$port did not start (attempt $attempt); its log:"
			tail -n 5 "$cluster_dir/$port.log" >&2 || true
			kill "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
			[ "$attempt" -lt 3 ] || die "a cluster node did not start"
		done
	done
	log "Cluster: three masters on ${addrs[*]} (in $cluster_dir, removed on exit)"
	redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes >"$cluster_dir/create.log" 2>&1 || {
		cat "$cluster_dir/create.log" >&2
		die "redis-cli --cluster create failed"
	}
	for port in "${addrs[@]#127.0.0.1:}"; do
		wait_for 30 cluster_ready "$port" || {
			tail -n 20 "$cluster_dir"/*.log >&2 || true
			die "the cluster node on 127.0.0.1:$port does not see every slot served"
		}
	done
	WXQR_TEST_CLUSTER_ADDRS=$(IFS=,; echo "${addrs[*]}")
	export WXQR_TEST_CLUSTER_ADDRS
}

command -v go >/dev/null || die "Go is not installed (https://go.dev/doc/install)"

# Package arguments are the ones written as ./dir, ../dir or module paths;
# everything else goes to go test as it is.
packages=()
for arg in "$@"; do
	case $arg in
	. | ./* | ../* | github.com/wxqr/wxqr*) packages+=("$arg") ;;
	esac
done
test_args=("$@")
if [ ${#packages[@]} -eq 0 ]; then
	packages=(./...)
	test_args+=(./...)
fi

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ensure_cc
ensure_redis
ensure_chromium
ensure_openssl
ensure_print_tools
start_minio
start_sentinel_set
start_cluster

log "go vet ${packages[*]}"
go vet "${packages[@]}"
# The end-to-end package runs real workers for several minutes under the
# race detector on small machines: more than go test's default 10 minutes
# must not turn slowness into a failure (flags given later still win).
log "go test -race -count=1 -timeout 30m ${test_args[*]}"
go test -race -count=1 -timeout 30m "${test_args[@]}"
