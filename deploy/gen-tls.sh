#!/usr/bin/env bash
# gen-tls.sh: the TLS material of a hub cluster (hub/store/DESIGN.md,
# "Transport security"), made with openssl (Debian's openssl package):
#
#   ca.crt           the cluster CA certificate: every node's cluster_tls.ca
#   ca.key           the CA's private key (0600): keep it off the nodes, offline
#   NODE.crt, .key   one certificate per node (server and client auth, SANs
#                    as given) and its key (0600): cluster_tls.cert and .key
#   cluster.secret   32 random bytes, base64 (0600): every node's cluster_secret
#
# Usage: deploy/gen-tls.sh [-o DIR] [-days N] NODE=HOST[,HOST...] ...
#
#   deploy/gen-tls.sh -o /etc/huiyan/tls \
#       hub1=10.20.0.11,hub1.hq.bank.example \
#       hub2=10.20.0.12,hub2.hq.bank.example \
#       hub3=10.20.0.13,hub3.hq.bank.example
#
# A HOST is an IP address or a DNS name. Give every name or address the
# other nodes dial: the host of raft_advertise and of http_advertise
# (followers forward writes to the leader's HTTP address and check its
# name). Run it again with a new NODE to add a node: an existing CA and
# cluster secret in DIR are kept, an existing node certificate is replaced.
# The CA is for the hub cluster only: any certificate it signs can join
# the cluster's raft.
set -euo pipefail

out=tls
days=825
usage() {
	sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	-o) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
	-days) [ $# -ge 2 ] || usage; days=$2; shift 2 ;;
	-h | -help | --help) usage ;;
	--) shift; break ;;
	-*) echo "gen-tls.sh: unknown flag $1" >&2; usage ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || usage
command -v openssl >/dev/null || { echo "gen-tls.sh: openssl not found (apt-get install openssl)" >&2; exit 1; }
[[ $days =~ ^[0-9]+$ ]] || { echo "gen-tls.sh: -days $days is not a number" >&2; exit 2; }

# Check every argument before writing anything.
for spec in "$@"; do
	node=${spec%%=*}
	hosts=${spec#*=}
	if [ "$node" = "$spec" ] || [ -z "$hosts" ] || ! [[ $node =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]]; then
		echo "gen-tls.sh: $spec is not NODE=HOST[,HOST...] (NODE: letters, digits, . _ -)" >&2
		exit 2
	fi
	IFS=, read -ra hs <<<"$hosts"
	for h in "${hs[@]}"; do
		if ! [[ $h =~ ^[A-Za-z0-9:.-]+$ ]]; then
			echo "gen-tls.sh: $node: $h is not an IP address or a DNS name" >&2
			exit 2
		fi
	done
done

umask 077
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ -s "$out/ca.crt" ] && [ -s "$out/ca.key" ]; then
	echo "== keeping the cluster CA in $out/ca.crt"
else
	echo "== making the cluster CA: $out/ca.crt (its key $out/ca.key: keep it offline)"
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$out/ca.key" -out "$out/ca.crt" -days 3650 -sha256 \
		-subj "/O=Huiyan/CN=Huiyan hub cluster CA" \
		-addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-addext "subjectKeyIdentifier=hash" 2>/dev/null
	chmod 644 "$out/ca.crt"
fi

if [ -s "$out/cluster.secret" ]; then
	echo "== keeping the cluster secret in $out/cluster.secret"
else
	echo "== making the cluster secret: $out/cluster.secret"
	openssl rand -base64 32 >"$out/cluster.secret"
fi

for spec in "$@"; do
	node=${spec%%=*}
	IFS=, read -ra hs <<<"${spec#*=}"
	san=""
	for h in "${hs[@]}"; do
		if [[ $h =~ ^[0-9.]+$ ]] || [[ $h == *:* ]]; then
			san+="${san:+,}IP:$h"
		else
			san+="${san:+,}DNS:$h"
		fi
	done
	cat >"$tmp/$node.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$san
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$out/$node.key" -out "$tmp/$node.csr" -subj "/O=Huiyan/CN=$node" 2>/dev/null
	openssl x509 -req -in "$tmp/$node.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" \
		-set_serial "0x$(openssl rand -hex 16)" -days "$days" -sha256 \
		-extfile "$tmp/$node.ext" -out "$out/$node.crt" 2>/dev/null
	chmod 644 "$out/$node.crt"
	openssl verify -CAfile "$out/ca.crt" -purpose sslserver "$out/$node.crt" >/dev/null
	openssl verify -CAfile "$out/ca.crt" -purpose sslclient "$out/$node.crt" >/dev/null
	echo "== $node: $out/$node.crt, $out/$node.key ($san, $days days)"
done

cat <<EOF

Copy to each node NODE: ca.crt, NODE.crt, NODE.key, cluster.secret (not ca.key),
readable only by the user huiyan-hub runs as, and set in its hub.yaml:

  cluster_tls:
    ca: /etc/huiyan/tls/ca.crt
    cert: /etc/huiyan/tls/NODE.crt
    key: /etc/huiyan/tls/NODE.key
  cluster_secret: /etc/huiyan/tls/cluster.secret
EOF
