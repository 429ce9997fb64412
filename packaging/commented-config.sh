#!/usr/bin/env bash
# Prints the installed /etc/vipkeeper/vipkeeper.yaml: the example (argument 1), every line
# commented out. `vipkeeper check` refuses an empty config, so the unit's ExecStartPre stops
# vipkeeper.service from starting until the file is edited.
set -euo pipefail
cat <<'HEAD'
# /etc/vipkeeper/vipkeeper.yaml: vipkeeper's configuration.
#
# Everything below is the example (/usr/lib/vipkeeper/config/vipkeeper.example.yaml) commented
# out: until you write a config here, `vipkeeper check` calls this file empty and
# vipkeeper.service does not start. Uncomment and edit (interface, VIPs, real servers), or
# convert your keepalived.conf: vipkeeper migrate /etc/keepalived/keepalived.conf -o this file.
# Then: vipkeeper check -f /etc/vipkeeper/vipkeeper.yaml && systemctl enable --now vipkeeper
# See vipkeeper.yaml(5) and vipkeeper(8).
#
HEAD
sed -e 's/^/# /' -e 's/^# $/#/' "$1"
