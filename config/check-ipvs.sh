#!/bin/sh
# vipkeeper's example track script (vrrp_scripts.chk_ipvs in vipkeeper.example.yaml), installed as
# /usr/lib/vipkeeper/check-ipvs.sh: succeeds while this director can forward for the VIP, that is
# while the kernel has IP_VS (the ip_vs module, loaded at boot by /usr/lib/modules-load.d/vipkeeper.conf).
# A director without IP_VS would take the VIP and drop the traffic; with this script it gives up
# priority and the peer keeps the VIP.
[ -r /proc/net/ip_vs ] || { echo "check-ipvs: the kernel has no IP_VS (/proc/net/ip_vs missing)" >&2; exit 1; }
exit 0
