#!/usr/bin/env bash
# Set up everything labkit needs on a Debian 12 machine, as root.
#
# Idempotent and cheap the second time: Debian packages are installed only when
# one is missing, the Python environment is rebuilt only when requirements.txt
# changes (a stamp file holds its hash), and the OVS daemons are started only
# when they are not running.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

VENV=${LABKIT_VENV:-$here/.venv}
SYS_PY=/usr/bin/python3          # Debian's mininet lives in this interpreter's dist-packages

APT_PACKAGES=(
  mininet openvswitch-switch iproute2 ethtool iputils-ping iputils-tracepath tcpdump iperf3
  nftables bind9 bind9-dnsutils bind9-utils postfix postfix-sqlite dnsmasq-base
  sip-tester swaks dnsperf sqlite3 python3-venv python3-dev gcc make procps udhcpc
  kamailio kamailio-presence-modules kamailio-sqlite-modules
  node-configurable-http-proxy acl
)

say() { printf '[setup] %s\n' "$*"; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
  # Package installs must not start BIND, Postfix or dnsmasq in the root namespace:
  # labkit runs every daemon inside a lab node. policy-rc.d tells invoke-rc.d "no".
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created_policy=1
  fi
  trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ "$created_policy" = 1 ] && rm -f "$policy"
  trap - EXIT
else
  say "Debian packages: all present"
fi

# Python environment: a venv of Debian's python3 (so `import mininet` works), with
# only the mininet package linked in from dist-packages rather than the whole of it.
stamp="$VENV/.labkit-requirements.sha256"
want=$(sha256sum requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "building the Python environment in $VENV"
  [ -x "$VENV/bin/python" ] || "$SYS_PY" -m venv "$VENV"
  site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  ln -sfn /usr/lib/python3/dist-packages/mininet "$site/mininet"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements.txt
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e .
  echo "$want" > "$stamp"
else
  say "Python environment: up to date ($VENV)"
fi
# The "labkit" Jupyter kernel is machine-wide: point it at *this* checkout's environment
# every time (cheap), so nbval and the demo run the code of the clone they are run from.
kernel=/usr/local/share/jupyter/kernels/labkit/kernel.json
if ! grep -q "\"$VENV/bin/python\"" "$kernel" 2>/dev/null; then
  "$VENV/bin/python" -m ipykernel install --name labkit --display-name "Python (labkit)" >/dev/null
fi

# Compiled helpers (the CAS kernel) are built by make; make does nothing when up to date.
if [ -f labkit/cas/Makefile ]; then make -s -C labkit/cas; fi

# Open vSwitch: nothing to start here. A lab node that needs OVS (an 802.1Q trunk, a
# sub-interface) runs its own ovsdb-server and ovs-vswitchd inside its namespace
# (labkit/lab/ovs.py); the machine-wide daemons would put lab ports in the root namespace.
say "ready: activate with 'source $VENV/bin/activate'"
