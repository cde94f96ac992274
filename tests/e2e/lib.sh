# shellcheck shell=bash
# Sourced by tests/e2e/run.sh. Two network namespaces joined by one veth pair (one L2
# segment, no router, IPv6 off), real Debian servers with their own config files in a
# temp dir, and an EXIT trap that ends every process in the two namespaces and removes
# both namespaces and the temp dir, on success and on failure alike.
#
#   server  : $NS_SRV, iface $IF_SRV (sse2e-srv), 198.18.0.10/15
#   attacker: $NS_ATK, iface $IF_ATK (sse2e-atk), 198.19.0.66/15 (+ 198.19.0.100/15, admin)
#
# No packet leaves these two namespaces; no system config or service is touched.

SRV_IP=198.18.0.10
ATK_IP=198.19.0.66
ADMIN_IP=198.19.0.100
NS_SRV="sse2e-srv-$$"
NS_ATK="sse2e-atk-$$"
IF_SRV=sse2e-srv
IF_ATK=sse2e-atk
E2E_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$E2E_LIB_DIR/../.." && pwd)"
FX_LIB="$REPO_ROOT/fixtures/lib"
# shellcheck source=../../fixtures/lib/sshd.sh
source "$FX_LIB/sshd.sh"
PY=(/usr/bin/python3 -P) # -P: fixtures/lib/operator.py must not shadow stdlib "operator"
PG_BIN=/usr/lib/postgresql/15/bin
PHP_FPM=/usr/sbin/php-fpm8.2
E2E_TMP=""
TCPDUMP_PID=""

log() { printf '[e2e %s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
    printf 'e2e: FAILED: %s\n' "$*" >&2
    exit 1
}

# Ends our processes (by pid, only those inside our two namespaces), then deletes the
# namespaces and the temp dir. Installed as the EXIT trap by e2e_setup.
e2e_cleanup() {
    local rc=$?
    set +e
    if [ -n "$TCPDUMP_PID" ] && kill -0 "$TCPDUMP_PID" 2>/dev/null; then
        kill -TERM "$TCPDUMP_PID"
        wait "$TCPDUMP_PID" 2>/dev/null
    fi
    local ns p
    for ns in "$NS_SRV" "$NS_ATK"; do
        if [ -e "/run/netns/$ns" ]; then
            for p in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$p" 2>/dev/null; done
            for _ in $(seq 20); do
                [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break
                sleep 0.1
            done
            for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
            ip netns del "$ns"
        fi
    done
    if [ -n "$E2E_TMP" ] && [ -d "$E2E_TMP" ]; then
        rm -rf "$E2E_TMP"
    fi
    exit "$rc"
}

e2e_setup() {
    trap e2e_cleanup EXIT
    trap 'exit 130' INT TERM HUP
    # not /tmp: some hosts mount it noexec or private; postgres and www-data must read it
    E2E_TMP="$(mktemp -d /var/tmp/sse2e-tmp.XXXXXX)"
    chmod 755 "$E2E_TMP"
    ip netns add "$NS_SRV"
    ip netns add "$NS_ATK"
    ip link add "$IF_SRV" netns "$NS_SRV" address 02:00:c6:12:00:0a type veth \
        peer name "$IF_ATK" netns "$NS_ATK" address 02:00:c6:13:00:42
    local ns
    for ns in "$NS_SRV" "$NS_ATK"; do
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
        ip -n "$ns" link set lo up
    done
    ip -n "$NS_SRV" addr add "$SRV_IP/15" dev "$IF_SRV"
    ip -n "$NS_ATK" addr add "$ATK_IP/15" dev "$IF_ATK"
    ip -n "$NS_ATK" addr add "$ADMIN_IP/15" dev "$IF_ATK"
    # wire-sized segments and real checksums, as in the fixtures
    ip netns exec "$NS_SRV" ethtool -K "$IF_SRV" tx off tso off gso off gro off >/dev/null 2>&1 || true
    ip netns exec "$NS_ATK" ethtool -K "$IF_ATK" tx off tso off gso off gro off >/dev/null 2>&1 || true
    ip -n "$NS_SRV" link set "$IF_SRV" up
    ip -n "$NS_ATK" link set "$IF_ATK" up
    # both ends up (the servers' own checks below then prove the path end to end)
    local ns_if
    for ns_if in "$NS_SRV:$IF_SRV" "$NS_ATK:$IF_ATK"; do
        for _ in $(seq 50); do
            ip -n "${ns_if%%:*}" link show dev "${ns_if#*:}" | grep -q LOWER_UP && continue 2
            sleep 0.1
        done
        die "veth ${ns_if#*:} in ${ns_if%%:*} did not come up"
    done
}

in_srv() { ip netns exec "$NS_SRV" "$@"; }
in_atk() { ip netns exec "$NS_ATK" "$@"; }
# as USER (postgres, www-data) in the server namespace, without a login session. Its
# working directory is the temp dir: the checkout may be private (0700) to USER.
in_srv_as() {
    local user="$1"
    shift
    ip netns exec "$NS_SRV" setpriv --reuid="$user" --regid="$user" --init-groups \
        env -i -C "$E2E_TMP" PATH=/usr/local/bin:/usr/bin:/bin HOME="$E2E_TMP" LANG=C.UTF-8 "$@"
}

# wait_listen NS PORT WHAT LOGFILE: until something listens on tcp PORT in NS
wait_listen() {
    local ns="$1" port="$2" what="$3" logf="${4:-}"
    for _ in $(seq 150); do
        ip netns exec "$ns" ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && return 0
        sleep 0.1
    done
    [ -n "$logf" ] && [ -f "$logf" ] && sed 's/^/  | /' "$logf" >&2
    die "$what did not start: nothing listens on port $port after 15 s${logf:+ (log: $logf)}"
}

# alive PID WHAT LOGFILE: the background server is still running
alive() {
    local pid="$1" what="$2" logf="${3:-}"
    if ! kill -0 "$pid" 2>/dev/null; then
        [ -n "$logf" ] && [ -f "$logf" ] && sed 's/^/  | /' "$logf" >&2
        die "$what exited right after start${logf:+ (log: $logf)}"
    fi
}

# ---------------------------------------------------------------- servers

# nginx on 198.18.0.10:80 in front of php-fpm (pool as www-data, unix socket), with the
# deliberately vulnerable page /shell.php: <?php system($_GET['c']); ?>
start_nginx_php() {
    local t="$E2E_TMP/web"
    mkdir -p "$t/www" "$t/nginx-tmp" "$t/run"
    chmod 755 "$t" "$t/www" "$t/run"
    printf '%s\n' "<?php system(\$_GET['c']); ?>" >"$t/www/shell.php"
    printf '%s\n' '<html><body>status page</body></html>' >"$t/www/index.html"
    chmod 644 "$t/www/shell.php" "$t/www/index.html"

    cat >"$t/php.ini" <<EOF
; minimal php.ini for the e2e test: nothing disabled, errors to the log
display_errors = Off
log_errors = On
error_log = $t/php-errors.log
disable_functions =
EOF
    cat >"$t/php-fpm.conf" <<EOF
[global]
pid = $t/run/php-fpm.pid
error_log = $t/php-fpm.log
daemonize = no

[www]
user = www-data
group = www-data
listen = $t/run/php-fpm.sock
listen.mode = 0666
pm = static
pm.max_children = 2
catch_workers_output = yes
env[PATH] = /usr/local/bin:/usr/bin:/bin
EOF
    cat >"$t/fastcgi_params" <<'EOF'
fastcgi_param  QUERY_STRING       $query_string;
fastcgi_param  REQUEST_METHOD     $request_method;
fastcgi_param  CONTENT_TYPE       $content_type;
fastcgi_param  CONTENT_LENGTH     $content_length;
fastcgi_param  SCRIPT_NAME        $fastcgi_script_name;
fastcgi_param  SCRIPT_FILENAME    $document_root$fastcgi_script_name;
fastcgi_param  REQUEST_URI        $request_uri;
fastcgi_param  DOCUMENT_URI       $document_uri;
fastcgi_param  DOCUMENT_ROOT      $document_root;
fastcgi_param  SERVER_PROTOCOL    $server_protocol;
fastcgi_param  GATEWAY_INTERFACE  CGI/1.1;
fastcgi_param  SERVER_SOFTWARE    nginx;
fastcgi_param  REMOTE_ADDR        $remote_addr;
fastcgi_param  REMOTE_PORT        $remote_port;
fastcgi_param  SERVER_ADDR        $server_addr;
fastcgi_param  SERVER_PORT        $server_port;
fastcgi_param  SERVER_NAME        $server_name;
EOF
    cat >"$t/nginx.conf" <<EOF
user www-data;
worker_processes 1;
daemon off;
pid $t/run/nginx.pid;
error_log $t/nginx-error.log info;
events { worker_connections 64; }
http {
    access_log $t/nginx-access.log;
    client_body_temp_path $t/nginx-tmp/body;
    proxy_temp_path $t/nginx-tmp/proxy;
    fastcgi_temp_path $t/nginx-tmp/fastcgi;
    uwsgi_temp_path $t/nginx-tmp/uwsgi;
    scgi_temp_path $t/nginx-tmp/scgi;
    server {
        listen $SRV_IP:80;
        server_name web01;
        root $t/www;
        index index.html;
        location ~ \.php\$ {
            include $t/fastcgi_params;
            fastcgi_pass unix:$t/run/php-fpm.sock;
            fastcgi_read_timeout 120s;
        }
    }
}
EOF
    in_srv "$PHP_FPM" --fpm-config "$t/php-fpm.conf" -c "$t/php.ini" --nodaemonize \
        >"$t/php-fpm.out" 2>&1 &
    local fpm=$!
    for _ in $(seq 100); do
        [ -S "$t/run/php-fpm.sock" ] && break
        kill -0 "$fpm" 2>/dev/null || break
        sleep 0.1
    done
    [ -S "$t/run/php-fpm.sock" ] || {
        cat "$t/php-fpm.out" "$t/php-fpm.log" 2>/dev/null | sed 's/^/  | /' >&2
        die "php-fpm did not start (no socket $t/run/php-fpm.sock)"
    }
    in_srv nginx -p "$t" -c "$t/nginx.conf" -e "$t/nginx-error.log" >"$t/nginx.out" 2>&1 &
    local ngx=$!
    wait_listen "$NS_SRV" 80 nginx "$t/nginx-error.log"
    alive "$ngx" nginx "$t/nginx-error.log"
    # the page works end to end (before the sensor and the capture start)
    local got
    got="$(in_atk curl -sS -m 10 -G --data-urlencode 'c=id' "http://$SRV_IP/shell.php" 2>&1)" ||
        die "nginx+php-fpm: GET /shell.php?c=id failed: $got (logs in $t)"
    case "$got" in
    *"uid=33(www-data)"*) log "nginx+php-fpm up: /shell.php?c=id -> $got" ;;
    *) die "nginx+php-fpm: /shell.php?c=id answered '$got', not uid=33(www-data)" ;;
    esac
    WEB_DIR="$t"
}

# PostgreSQL 15: initdb into the temp dir, run as postgres, listening on 198.18.0.10:5432
# and on a unix socket in the temp dir (psql uses the socket).
start_postgres() {
    local t="$E2E_TMP/pg"
    mkdir -p "$t/data" "$t/sock"
    chown -R postgres:postgres "$t"
    chmod 700 "$t/data"
    chmod 755 "$t" "$t/sock"
    in_srv_as postgres "$PG_BIN/initdb" -D "$t/data" -U postgres --auth=trust -E UTF8 \
        --locale=C -N >"$t/initdb.log" 2>&1 || {
        sed 's/^/  | /' "$t/initdb.log" >&2
        die "postgres: initdb failed"
    }
    in_srv_as postgres "$PG_BIN/postgres" -D "$t/data" -c listen_addresses="$SRV_IP" -c port=5432 \
        -c unix_socket_directories="$t/sock" -c logging_collector=off -c fsync=off \
        -c shared_buffers=16MB >"$t/postgres.log" 2>&1 &
    local pg=$!
    wait_listen "$NS_SRV" 5432 postgres "$t/postgres.log"
    alive "$pg" postgres "$t/postgres.log"
    local got
    for _ in $(seq 50); do
        got="$(in_srv_as postgres psql -h "$t/sock" -U postgres -d postgres -Atc 'select 40+2' 2>&1)" &&
            [ "$got" = 42 ] && break
        sleep 0.2
    done
    [ "$got" = 42 ] || die "postgres: psql over $t/sock failed: $got (log: $t/postgres.log)"
    log "postgres up: psql -h $t/sock -> $got"
    PG_DIR="$t"
}

# sshd on 198.18.0.10:22 with its own config, a fresh host key and key auth for root.
start_sshd() {
    local t="$E2E_TMP/ssh"
    mkdir -p "$t"
    chmod 755 "$t"
    sshd_setup "$t" "$SRV_IP" id_admin
    # root's sessions get an empty home: sshd runs in a private mount namespace with
    # $t/root bound over /root, so the host's dotfiles (a .bashrc that runs pyenv, say)
    # neither run nor hang the session; the real /root is not touched
    mkdir -p "$t/root"
    chmod 700 "$t/root"
    in_srv unshare --mount --propagation private /bin/sh -c \
        'mount --bind "$1" /root && exec /usr/sbin/sshd -D -e -f "$2"' _ "$t/root" "$t/sshd_config" \
        >"$t/sshd.log" 2>&1 &
    local sshd=$!
    wait_listen "$NS_SRV" 22 sshd "$t/sshd.log"
    alive "$sshd" sshd "$t/sshd.log"
    SSH_OPTS=(-F /dev/null -i "$t/id_admin" -b "$ADMIN_IP" -o StrictHostKeyChecking=no
        -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes -o ConnectTimeout=10)
    local got
    got="$(in_atk timeout 20 ssh "${SSH_OPTS[@]}" "root@$SRV_IP" 'echo ok' 2>&1)" ||
        die "sshd: key login from $ADMIN_IP failed: $got (log: $t/sshd.log)"
    [ "$got" = ok ] || die "sshd: 'ssh root@$SRV_IP echo ok' answered '$got'"
    log "sshd up: key login from $ADMIN_IP works"
    SSH_DIR="$t"
}

# ---------------------------------------------------------------- capture and sensor

# start_capture FILE: tcpdump on the server veth, snaplen 256
start_capture() {
    local file="$1"
    # started directly (not through a shell function), so $! is tcpdump itself
    ip netns exec "$NS_SRV" tcpdump -Z root -i "$IF_SRV" -s 256 -U -w "$file" not ip6 \
        2>"$E2E_TMP/tcpdump.err" &
    TCPDUMP_PID=$!
    for _ in $(seq 50); do
        grep -q "listening on" "$E2E_TMP/tcpdump.err" 2>/dev/null && return 0
        kill -0 "$TCPDUMP_PID" 2>/dev/null || break
        sleep 0.1
    done
    sed 's/^/  | /' "$E2E_TMP/tcpdump.err" >&2
    die "tcpdump did not start on $IF_SRV"
}

stop_capture() {
    if [ -n "$TCPDUMP_PID" ]; then
        kill -TERM "$TCPDUMP_PID" 2>/dev/null || true
        wait "$TCPDUMP_PID" 2>/dev/null || true
        TCPDUMP_PID=""
        grep -E "captured|dropped" "$E2E_TMP/tcpdump.err" | sed 's/^/  tcpdump: /' >&2 || true
    fi
}

# ---------------------------------------------------------------- process chain

# shell_chain PORT OUT: once a process in the server namespace holds a TCP connection to
# the attacker's PORT, writes the parent chain of every holder (pid, comm, args, one per
# line, the holder first) and a ps --forest of the server namespace's processes to OUT.
# Gives up after 40 s. Meant to run in the background while the session is up.
shell_chain() {
    local port="$1" out="$2" pids="" p
    for _ in $(seq 200); do
        pids="$(in_srv ss -Htnp state established "dst $ATK_IP and dport = :$port" 2>/dev/null |
            grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -un | tr '\n' ' ')" || true
        [ -n "$pids" ] && break
        sleep 0.2
    done
    {
        if [ -z "$pids" ]; then
            echo "no process in $NS_SRV holds a connection to $ATK_IP:$port"
        fi
        for p in $pids; do
            echo "holder $p:"
            local q="$p" netns
            netns="$(readlink "/proc/$p/ns/net" 2>/dev/null)"
            # up to the first process outside the server namespace (this script's side)
            while [ -n "$q" ] && [ "$q" != 0 ] && [ -r "/proc/$q/status" ] &&
                [ "$(readlink "/proc/$q/ns/net" 2>/dev/null)" = "$netns" ]; do
                printf '  %s %s %s\n' "$q" "$(cat "/proc/$q/comm" 2>/dev/null)" \
                    "$(tr '\0' ' ' <"/proc/$q/cmdline" 2>/dev/null | cut -c1-200)"
                q="$(awk '/^PPid:/ {print $2}' "/proc/$q/status" 2>/dev/null)"
            done
        done
        echo
        echo "ps --forest of the processes in $NS_SRV:"
        local all
        all="$(ip netns pids "$NS_SRV" | paste -sd, -)"
        [ -n "$all" ] && ps -o pid,ppid,user,comm,args --forest -p "$all"
    } >"$out.part" 2>&1
    mv "$out.part" "$out"
}
