#!/usr/bin/env bash
# Installs the Debian packages dmm-nf needs; does nothing (and touches no network)
# when they are all present already, so `make run` / `make test` stay fast on a second run.
set -euo pipefail
PACKAGES=(
  python3 python3-venv python3-dev gcc libffi-dev   # the virtualenv and C extensions (libyang cffi)
  libyang2-dev libyang-tools                        # libyang C library for the Python bindings, yanglint
  tshark                                            # second decoder of our Mobility Header packets
  prometheus                                        # real scrape in tests, promtool
  etcd-server                                       # multi-node location-management store
  iproute2 iputils-ping iperf3 procps               # the kernel data plane, the lab and its checks
  curl                                              # the lab's "try this": a metrics URL
  frr                                               # bfdd: the independent BFD peer of the interop test
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]} (run as root, or install them first)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer it up front.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
# Debian starts these services on install; tests and the lab run their own instances.
for svc in prometheus etcd frr; do
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now "$svc" >/dev/null 2>&1 || true; fi
done
