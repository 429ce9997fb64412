// MAC address text, shared by the config check and the VRRP core (use_vmac).

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

/**
 * A configured MAC (`use_vmac … 02:11:22:33:44:55`), lower case; keepalived appends the VRID to a
 * 5-octet one. Undefined when it is not a MAC.
 */
export function configuredMac(text: string, vrid: number): string | undefined {
  const parts = text.toLowerCase().split(':');
  if (!parts.every((p) => /^[0-9a-f]{1,2}$/.test(p))) return undefined;
  if (parts.length === 5) parts.push(hex2(vrid));
  if (parts.length !== 6) return undefined;
  return parts.map((p) => p.padStart(2, '0')).join(':');
}
