#!/usr/bin/env bash
# A throwaway S3 server for tests, CI and the bench: a single-node Ceph cluster (one monitor,
# one OSD keeping objects in memory, no authentication between daemons, pools of size 1) and a
# RADOS Gateway on 127.0.0.1, with one S3 user whose keys are fixed test values.
#
#   scripts/s3-test-server.sh start   # starts it (or finds it running); prints the settings
#   scripts/s3-test-server.sh env     # the settings as `export` lines, for eval
#   scripts/s3-test-server.sh stop    # stops every daemon and deletes the folder
#
# Everything lives in one folder (S3_TEST_DIR, default $TMPDIR/trickle-s3-$UID); nothing is
# installed or written elsewhere. Needs Debian's radosgw ceph-mon ceph-osd (scripts/ci-apt.sh).
#
# A second server runs beside the first on other ports: S3_TEST_PORT (the gateway, default
# 7480) and S3_TEST_MON_PORT (the monitor, default 6789). Its folder then defaults to
# $TMPDIR/trickle-s3-$UID-$S3_TEST_PORT, so that starting or stopping it never touches the
# first; give the same variables to `stop`.
set -euo pipefail

PORT="${S3_TEST_PORT:-7480}"
MON_PORT="${S3_TEST_MON_PORT:-6789}"
if [ "$PORT" = 7480 ]; then
  DIR="${S3_TEST_DIR:-${TMPDIR:-/tmp}/trickle-s3-$(id -u)}"
else
  DIR="${S3_TEST_DIR:-${TMPDIR:-/tmp}/trickle-s3-$(id -u)-$PORT}"
fi
# The OSD keeps objects in RAM, allocated as they arrive; this is only the ceiling.
MEMORY="${S3_TEST_MEMORY:-6442450944}"
ACCESS_KEY="trickle-test-access-key"
SECRET_KEY="trickle-test-secret-key"
BUCKET="${S3_TEST_BUCKET:-trickle-test}"
CONF="$DIR/ceph.conf"

print_env() {
  cat <<EOF
export TEST_S3_ENDPOINT=http://127.0.0.1:$PORT
export TEST_S3_BUCKET=$BUCKET
export TEST_S3_ACCESS_KEY_ID=$ACCESS_KEY
export TEST_S3_SECRET_ACCESS_KEY=$SECRET_KEY
EOF
}

gateway_up() {
  # Any HTTP answer from the gateway will do (bash's /dev/tcp: no curl needed).
  timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && head -c 8 <&3 | grep -q HTTP" 2>/dev/null
}

port_taken() {
  timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# The folder was made for another gateway port (S3_TEST_DIR shared by mistake): that server's
# daemons must not be stopped or its folder deleted.
foreign_folder() {
  [ -f "$CONF" ] && ! grep -q "endpoint=127.0.0.1:$PORT\$" "$CONF"
}

stop() {
  for pidfile in "$DIR"/run/*.pid; do
    [ -e "$pidfile" ] || continue
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  # Give them a moment to go, then make sure.
  for _ in $(seq 1 20); do
    alive=0
    for pidfile in "$DIR"/run/*.pid; do
      [ -e "$pidfile" ] || continue
      pid="$(cat "$pidfile" 2>/dev/null || true)"
      [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && alive=1
    done
    [ "$alive" = 0 ] && break
    sleep 0.25
  done
  for pidfile in "$DIR"/run/*.pid; do
    [ -e "$pidfile" ] || continue
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  done
  # SIGKILL lands asynchronously: wait (bounded) until each is gone or only a zombie whose
  # parent has not reaped it yet.
  for _ in $(seq 1 40); do
    alive=0
    for pidfile in "$DIR"/run/*.pid; do
      [ -e "$pidfile" ] || continue
      pid="$(cat "$pidfile" 2>/dev/null || true)"
      if [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] && ! awk '{ exit ($3 == "Z") ? 0 : 1 }' "/proc/$pid/stat" 2>/dev/null; then alive=1; fi
    done
    [ "$alive" = 0 ] && break
    sleep 0.25
  done
  rm -rf "$DIR"
}

wait_for() {
  local what="$1" tries="$2"
  shift 2
  for _ in $(seq 1 "$tries"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "s3-test-server: $what did not come up; logs in $DIR/log" >&2
  tail -n 20 "$DIR"/log/*.log >&2 || true
  return 1
}

# Right after it starts, the monitor may still turn commands away: try a few times.
mon_command() {
  for _ in $(seq 1 20); do
    if ceph -c "$CONF" --connect-timeout 5 "$@" >/dev/null 2>>"$DIR/log/commands.log"; then return 0; fi
    sleep 0.5
  done
  echo "s3-test-server: ceph $* failed; see $DIR/log/commands.log" >&2
  return 1
}

start() {
  if [ -f "$DIR/ready" ] && gateway_up; then
    print_env
    return 0
  fi
  if foreign_folder; then
    echo "s3-test-server: $DIR belongs to a server on another port; set S3_TEST_DIR to a folder of its own" >&2
    return 1
  fi
  # A half-started or dead cluster: start over.
  stop
  for port in "$PORT" "$MON_PORT"; do
    if port_taken "$port"; then
      echo "s3-test-server: port $port is taken; choose free ones with S3_TEST_PORT and S3_TEST_MON_PORT" >&2
      return 1
    fi
  done
  mkdir -p "$DIR"/{run,log,mon,osd0,rgw}
  local fsid
  fsid="$(cat /proc/sys/kernel/random/uuid)"
  cat >"$CONF" <<EOF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$MON_PORT
mon initial members = a
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = false
ms bind msgr2 = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
osd objectstore = memstore
osd crush update on start = false
osd class update on start = false
memstore device bytes = $MEMORY
run dir = $DIR/run
pid file = $DIR/run/\$name.pid
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
chdir = $DIR
keyring = $DIR/keyring
[mon.a]
mon data = $DIR/mon
[osd.0]
osd data = $DIR/osd0
osd journal size = 0
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw data = $DIR/rgw
rgw dns name = localhost
rgw enable usage log = false
rgw thread pool size = 128
# Deleted objects' data is freed within seconds (the default waits two hours), so that the
# in-memory OSD does not fill up under benchmarks that write and delete gigabytes.
rgw gc obj min wait = 0
rgw gc processor period = 5
rgw gc processor max time = 5
EOF
  ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  # v1 spelled out: `--add` takes any port but 6789 for a msgr2 address, which this monitor
  # (ms bind msgr2 = false) never binds, and nothing could reach it.
  monmaptool --create --addv a "[v1:127.0.0.1:$MON_PORT]" --fsid "$fsid" "$DIR/monmap" >/dev/null
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring"
  ceph-mon -c "$CONF" -i a
  wait_for "the monitor" 40 ceph -c "$CONF" --connect-timeout 2 mon stat

  local uuid
  uuid="$(cat /proc/sys/kernel/random/uuid)"
  mon_command osd new "$uuid" 0
  mon_command osd crush add osd.0 1 root=default host=localhost
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$uuid" 2>>"$DIR/log/osd-mkfs.log"
  ceph-osd -c "$CONF" -i 0 2>>"$DIR/log/osd-start.log"
  wait_for "the OSD" 60 sh -c "ceph -c '$CONF' osd stat | grep -q '1 up'"

  radosgw -c "$CONF" -n client.rgw 2>>"$DIR/log/rgw-start.log"
  wait_for "the RADOS Gateway" 120 gateway_up
  radosgw-admin -c "$CONF" user create --uid=trickle-test --display-name="Trickle tests" \
    --access-key="$ACCESS_KEY" --secret="$SECRET_KEY" >/dev/null
  touch "$DIR/ready"
  print_env
}

case "${1:-}" in
  start) start ;;
  stop)
    if foreign_folder; then
      echo "s3-test-server: $DIR belongs to a server on another port; give the same S3_TEST_PORT (and S3_TEST_DIR) as at start" >&2
      exit 1
    fi
    stop
    ;;
  env) print_env ;;
  *)
    echo "usage: $0 start|stop|env" >&2
    exit 2
    ;;
esac
