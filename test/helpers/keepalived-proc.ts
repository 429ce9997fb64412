/** Debian's real keepalived as a VRRP peer inside a test namespace: re-exported from `lab/keepalived.ts`. */
export { KeepalivedProc, requireKeepalived, startKeepalived } from '../../lab/keepalived.js';
