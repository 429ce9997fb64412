/**
 * VRRP packet model: plain data types and constants shared by the codec
 * (`codec.ts`), the checksum helpers (`checksum.ts`) and their users.
 *
 * Nothing here does I/O. Wire layouts (docs/vrrp.md §1):
 *
 * ```
 * VRRPv2 (IPv4 only), 8 + 4·n + 8 bytes:
 *   ver=2|type=1  vrid  priority  count | authType  adverInt(s)  checksum | n × IPv4 | authData(8)
 * VRRPv3 (IPv4 or IPv6), 8 + n·(4|16) bytes:
 *   ver=3|type=1  vrid  priority  count | rsvd(4b) maxAdverInt(12b, cs)  checksum | n × IPvX
 * ```
 */

/** IP protocol number / IPv6 next header of VRRP. */
export const IPPROTO_VRRP = 112;
/** IP protocol number of IPsec AH (keepalived's VRRPv2 `auth_type AH`). */
export const IPPROTO_AH = 51;
/** Default VRRP multicast groups (keepalived `vrrp_mcast_group4` / `vrrp_mcast_group6`). */
export const VRRP_MCAST_GROUP4 = '224.0.0.18';
export const VRRP_MCAST_GROUP6 = 'ff02::12';
/** TTL / hop limit VRRP adverts are sent with and must arrive with on multicast. */
export const VRRP_TTL = 255;
/** TOS / traffic class keepalived sends (IPTOS_PREC_INTERNETCONTROL, DSCP CS6). */
export const VRRP_TOS = 0xc0;
/** Fixed VRRP header length (both versions). */
export const VRRP_HEADER_LEN = 8;
/** Length of the VRRPv2 authentication data trailer. */
export const VRRP_AUTH_LEN = 8;
/** The only VRRP packet type. */
export const VRRP_TYPE_ADVERTISEMENT = 1;
/** The largest VRRPv3 Max Adver Int (12 bits, centiseconds). */
export const VRRP_V3_MAX_INTERVAL_CS = 0x0fff;

export type VrrpVersion = 2 | 3;
import type { IpFamily } from '../vocab/ip.js';
export type { IpFamily };

/** VRRPv2 Auth Type: 0 none, 1 simple password (PASS), 2 IPsec AH. */
export type VrrpAuthType = 0 | 1 | 2;
export const VRRP_AUTH_NONE = 0;
export const VRRP_AUTH_PASS = 1;
export const VRRP_AUTH_AH = 2;

interface VrrpAdvertCommon {
  /** Always 1 (ADVERTISEMENT); kept so the object mirrors the wire header. */
  type: 1;
  /** Virtual Router ID, 0..255 on the wire (1..255 valid per RFC; config enforces that). */
  vrid: number;
  /** 0..255; 0 = the master is leaving, 255 = address owner. */
  priority: number;
  /**
   * Virtual addresses in canonical text form: dotted quad for IPv4, RFC 5952 for
   * IPv6 (lower case, longest zero run compressed, `::ffff:a.b.c.d` for mapped).
   * The count byte on the wire is `addresses.length` (0..255).
   */
  addresses: string[];
  /**
   * The checksum field as found on the wire. Always set by `decodeAdvert`;
   * ignored by `encodeAdvert`, which computes it.
   */
  checksum?: number;
}

/** A VRRPv2 advertisement (RFC 3768). IPv4 only. */
export interface VrrpV2Advert extends VrrpAdvertCommon {
  version: 2;
  family: 4;
  /** Adver Int, whole seconds, 0..255 on the wire (keepalived sends 1..255). */
  advertIntervalS: number;
  advertIntervalCs?: undefined;
  /** Defaults to 0 (none) when encoding. */
  authType?: VrrpAuthType;
  /**
   * The 8 authentication-data bytes. For PASS this is the password truncated to
   * 8 bytes and NUL-padded (see `passwordAuthData`). Defaults to 8 zero bytes
   * when encoding; `decodeAdvert` always returns the bytes as received.
   */
  authData?: Buffer;
}

/** A VRRPv3 advertisement (RFC 5798 / RFC 9568). IPv4 or IPv6. */
export interface VrrpV3Advert extends VrrpAdvertCommon {
  version: 3;
  family: IpFamily;
  /** Max Adver Int, centiseconds, 0..4095 on the wire (keepalived sends 1..4095). */
  advertIntervalCs: number;
  advertIntervalS?: undefined;
  authType?: undefined;
  authData?: undefined;
}

/**
 * A decoded or to-be-encoded VRRP advertisement. Plain data: safe to compare with
 * `toEqual`, to log, and to build by hand.
 */
export type VrrpAdvert = VrrpV2Advert | VrrpV3Advert;

/** The advertisement interval of either version, in centiseconds. */
export function advertIntervalCs(advert: VrrpAdvert): number {
  return advert.version === 2 ? advert.advertIntervalS * 100 : advert.advertIntervalCs;
}

/** Length on the wire of a VRRP message with `count` addresses. */
export function vrrpMessageLength(version: VrrpVersion, family: IpFamily, count: number): number {
  return VRRP_HEADER_LEN + count * (family === 4 ? 4 : 16) + (version === 2 ? VRRP_AUTH_LEN : 0);
}

/**
 * keepalived's PASS authentication data: the password's bytes (UTF-8 for a
 * string) truncated to 8 and padded with NULs to 8.
 */
export function passwordAuthData(password: string | Uint8Array): Buffer {
  const bytes = typeof password === 'string' ? Buffer.from(password, 'utf8') : Buffer.from(password);
  const out = Buffer.alloc(VRRP_AUTH_LEN);
  bytes.copy(out, 0, 0, Math.min(bytes.length, VRRP_AUTH_LEN));
  return out;
}

/**
 * Why a received packet was not accepted. The daemon counts drops by reason.
 *
 * | reason | meaning | keepalived counter / result |
 * |---|---|---|
 * | `truncated` | too short to hold the IP header or the 8-byte VRRP header | packet_len_err, KO |
 * | `family` | address family mismatch: context vs instance, VRRPv2 over IPv6, bad IP version nibble, bad context address | KO |
 * | `vrid` | VRID is not this instance's (demultiplexing miss, "not ours") | ignored (logged only with log_unknown_vrids) |
 * | `auth-type` | AH presence mismatch, auth type not 0/1/2, or auth type ≠ local | invalid_authtype / authtype_mismatch, KO |
 * | `length` | length ≠ 8 + (v2: 8) + count·addrlen (also IPv4 tot_len mismatch) | packet_len_err, KO |
 * | `ttl` | TTL/hop limit ≠ 255 on multicast, or outside a unicast peer's min/max | ip_ttl_err, KO |
 * | `version` | version not 2/3, or ≠ the instance's | vers_err, KO |
 * | `auth` | PASS data mismatch, or AH (not implemented) | auth_failure, KO |
 * | `interval` | VRRPv2 Adver Int ≠ local | DROP |
 * | `type` | type ≠ 1 | invalid_type_rcvd, KO |
 * | `checksum` | checksum does not verify | chk_err, KO |
 * | `destination` | multicast advert on a unicast instance or vice versa | addr_list_err, KO |
 * | `owner` | `owner_ignore_adverts` and we are the address owner | DROP |
 * | `addresses` | address list ≠ local VIPs and the policy says drop | addr_list_err, KO (≤2.3.2 / RFC) |
 * | `source` | unicast source is not a configured peer | KO |
 * | `ip-header` | malformed IP header: IHL, header checksum, fragment, tot_len < IHL | (kernel drops these) |
 * | `protocol` | IP protocol / next header is neither VRRP (112) nor AH (51) | (not delivered by the socket) |
 * | `internal` | a bug in the codec (caught instead of thrown); never expected | — |
 */
export type DropReason =
  | 'truncated'
  | 'family'
  | 'vrid'
  | 'auth-type'
  | 'length'
  | 'ttl'
  | 'version'
  | 'auth'
  | 'interval'
  | 'type'
  | 'checksum'
  | 'destination'
  | 'owner'
  | 'addresses'
  | 'source'
  | 'ip-header'
  | 'protocol'
  | 'internal';

export const DROP_REASONS: readonly DropReason[] = [
  'truncated',
  'family',
  'vrid',
  'auth-type',
  'length',
  'ttl',
  'version',
  'auth',
  'interval',
  'type',
  'checksum',
  'destination',
  'owner',
  'addresses',
  'source',
  'ip-header',
  'protocol',
  'internal',
];

/**
 * How keepalived classifies the outcome: `ko` = an invalid packet, counted as an
 * error (rate-limited log); `drop` = silently not relevant (v2 interval mismatch,
 * owner ignoring adverts); `other` = another router's VRID.
 */
export type DropKind = 'ko' | 'drop' | 'other';

export function dropKind(reason: DropReason): DropKind {
  switch (reason) {
    case 'vrid':
      return 'other';
    case 'interval':
    case 'owner':
      return 'drop';
    default:
      return 'ko';
  }
}

/** A failed decode/validation. `detail` is a human-readable log line fragment. */
export interface DropResult {
  ok: false;
  reason: DropReason;
  detail: string;
}

/**
 * Receive-side facts about a packet that the socket layer knows and the VRRP
 * payload does not contain.
 */
export interface RxContext {
  /** IP source address of the packet (text). */
  src: string;
  /** IP destination address of the packet (text): the multicast group or our unicast address. */
  dst: string;
  /** Family of the socket the packet came in on. */
  family: IpFamily;
  /** Received TTL / hop limit, if the socket layer reported it (IP_RECVTTL / IPV6_HOPLIMIT). */
  ttl?: number;
  /**
   * IP protocol of the packet (IPv4). 112 (default) or 51 when the packet carries an
   * IPsec AH header, in which case the buffer starts with the 24-byte AH header.
   */
  ipProtocol?: number;
  /**
   * IPv4 header length, used only for keepalived's Ethernet-padding tolerance
   * (docs/vrrp.md §4 step 2). Default 20.
   */
  ipHeaderLength?: number;
  /**
   * keepalived `v3_checksum_as_v2` (VRRPv3 over IPv4 only). When false (default) the
   * checksum must include the IPv4 pseudo-header with the packet's real destination.
   * When true, keepalived does not verify IPv4 v3 checksums at all; this codec
   * instead accepts any of the forms a real sender produces (message-only,
   * pseudo-header with the real destination, pseudo-header with the multicast group)
   * and still rejects corrupted packets. For `validateAdvert` the instance
   * expectation takes precedence.
   */
  v3ChecksumAsV2?: boolean;
}

/** A unicast peer of an instance (keepalived `unicast_peer { addr [min_ttl N] [max_ttl N] }`). */
export interface UnicastPeer {
  address: string;
  minTtl?: number;
  maxTtl?: number;
}

/**
 * keepalived `old_unicast_checksum` handling for VRRPv3/IPv4 unicast:
 * - `detect` (default): verify with the real destination; if that fails, retry with
 *   the multicast group and, if that matches, accept and report
 *   `old-unicast-checksum` so the daemon switches its sender to the old algorithm
 *   and passes `use` from then on;
 * - `never`: only the real destination;
 * - `use`: configured (or detected): the pseudo-header uses the multicast group.
 */
export type OldUnicastChecksum = 'detect' | 'never' | 'use';

/**
 * What to do when the advertised address list differs from the local VIPs:
 * - `accept` (default): keepalived ≥2.3.3 — log and count (`address-mismatch` note), process the advert;
 * - `drop`: keepalived ≤2.3.2 — KO with reason `addresses`;
 * - `rfc`: RFC 3768 §7.1 — drop unless the sender's priority is 255.
 */
export type AddressMismatchPolicy = 'accept' | 'drop' | 'rfc';

/** What a VRRP instance expects of the adverts it accepts (see `validateAdvert`). */
export interface InstanceExpectations {
  vrid: number;
  version: VrrpVersion;
  family: IpFamily;
  /** Local advert interval in centiseconds (v2: a multiple of 100). */
  advertIntervalCs: number;
  /** VRRPv2 authentication type; default 0 (none). */
  authType?: VrrpAuthType;
  /** PASS password (truncated to 8 bytes and NUL-padded, as keepalived does). */
  authPassword?: string | Uint8Array;
  /** Local VIPs (text, any valid form) in configuration order. */
  addresses: readonly string[];
  addressMismatch?: AddressMismatchPolicy;
  /**
   * keepalived `skip_check_adv_addr`: skip the address-list check when the advert
   * comes from the same master as the last accepted one (`lastMasterAddress`).
   */
  skipCheckAdvAddr?: boolean;
  /** Source address of the last accepted advert's sender, if any. */
  lastMasterAddress?: string;
  /** Non-empty = a unicast instance (no TTL 255 check; multicast adverts rejected). */
  unicastPeers?: readonly UnicastPeer[];
  /** keepalived `check_unicast_src` / global `vrrp_check_unicast_src`. */
  checkUnicastSrc?: boolean;
  /** keepalived `owner_ignore_adverts` (default off; on in strict mode). */
  ownerIgnoreAdverts?: boolean;
  /** Local base priority (only used for the owner check: 255 = address owner). */
  basePriority?: number;
  /** See `RxContext.v3ChecksumAsV2`. */
  v3ChecksumAsV2?: boolean;
  oldUnicastChecksum?: OldUnicastChecksum;
  /** Multicast group used for the old unicast checksum; default 224.0.0.18 / ff02::12. */
  mcastGroup?: string;
}

/** Non-fatal observations about an accepted advert, for logging and counters. */
export type ValidateNoteKind =
  /** The address list differs from the local VIPs (keepalived counts `addr_list_err`). */
  | 'address-mismatch'
  /** VRRPv3: the advertised interval differs from the local one (a Backup adopts it). */
  | 'interval-mismatch'
  /** VRRPv3/IPv4 unicast: the checksum matched only with dst = multicast group (keepalived ≤1.3.6 peer). */
  | 'old-unicast-checksum'
  /** Priority 0: the master is leaving (keepalived counts `pri_zero_rcvd`). */
  | 'priority-zero';

export interface ValidateNote {
  kind: ValidateNoteKind;
  detail: string;
}

/** Which checksum form matched on receive (VRRPv3 over IPv4 has several). */
export type ChecksumForm =
  /** v2: message only. */
  | 'v2'
  /** v3/IPv4 with the IPv4 pseudo-header using the packet's destination (keepalived default). */
  | 'v3-ipv4-pseudo'
  /** v3/IPv4 with the IPv4 pseudo-header using the multicast group (old unicast checksum). */
  | 'v3-ipv4-pseudo-mcast'
  /** v3/IPv4 message only (RFC 9568, `v3_checksum_as_v2`, Cisco, Juniper). */
  | 'v3-ipv4-message'
  /** v3/IPv6 with the IPv6 pseudo-header. */
  | 'v3-ipv6';

export interface DecodeOk {
  ok: true;
  advert: VrrpAdvert;
  /** The checksum form that verified. */
  checksumForm: ChecksumForm;
  /** Trailing bytes tolerated as Ethernet padding (docs/vrrp.md §4 step 2); usually 0. */
  padding: number;
}

export type DecodeResult = DecodeOk | DropResult;

export interface ValidateOk extends DecodeOk {
  notes: ValidateNote[];
}

export type ValidateResult = ValidateOk | DropResult;
