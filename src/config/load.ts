// One entry point for every config file, used by check, run and reload alike: detects YAML or
// keepalived.conf, reads it, applies the keyword ledger, the schema and the cross-field rules,
// and returns the model plus located diagnostics. Never throws on bad input.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { extname } from 'node:path';
import type { Diagnostic } from './diagnostics.js';
import { hostIssues, realHost, type HostProbe } from './host-checks.js';
import { MAX_REPORTED_DIAGNOSTICS, omittedMessage, type Unsupported } from './keepalived/context.js';
import { importKeepalivedText } from './keepalived/import.js';
import { importLdirectordText, LDIRECTORD_LINE } from './ldirectord/import.js';
import type { Config } from './schema.js';
import { loadYamlText } from './yaml-load.js';

export type ConfigFormat = 'yaml' | 'keepalived' | 'ldirectord';

export interface LoadedConfig {
  format: ConfigFormat;
  config?: Config; // present when there is no error
  diagnostics: Diagnostic[];
  /** keepalived.conf: the keywords not acted on, refused or unknown, each located. */
  unsupported: Unsupported[];
  /** keyword lines read (keepalived.conf), and how many were only partly acted on. */
  counts: { keywords: number; partial: number };
  files: string[];
  /** The file could not be read at all: an I/O failure (exit 3), not a config error. */
  unreadable?: true;
}

export interface LoadOptions {
  configId?: string;
  format?: ConfigFormat;
  /** Also check the config against this host (interfaces, scripts): `vipkeeper check` does. */
  host?: HostProbe | true;
}

/** keepalived's default config-id: the host name up to the first dot (G11). */
export function defaultConfigId(): string {
  return hostname().split('.')[0] ?? '';
}

export function detectFormat(path: string, text: string): ConfigFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.yaml' || ext === '.yml' || ext === '.json') return 'yaml';
  // line by line up to the first keyword: splitting a 300,000-line file whole cost 0.1 s and 20 MB
  for (let pos = 0; pos <= text.length; ) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    const line = text.slice(pos, end).trim();
    pos = end + 1;
    if (!line || line.startsWith('#') || line.startsWith('!') || line === '---') continue;
    // ldirectord.cf: `key=value` lines (neither YAML's `key:` nor keepalived's `keyword value`)
    if (LDIRECTORD_LINE.test(line)) return 'ldirectord';
    // YAML starts with `key:`; keepalived.conf never has a colon right after its first word.
    return /^[A-Za-z_][\w-]*\s*:(\s|$)/.test(line) || line.startsWith('{') ? 'yaml' : 'keepalived';
  }
  return 'keepalived';
}

/** Reads a text file, or says in one located line why it cannot be a config. */
export function readConfigText(path: string): { text: string } | { diagnostic: Diagnostic; unreadable?: true } {
  const loc = { file: path, line: 1, col: 1 };
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'it is a directory' : err.code === 'EACCES' ? 'permission denied' : err.message;
    return { diagnostic: { severity: 'error', loc, message: `cannot read the config: ${why}` }, unreadable: true };
  }
  const text = buf.toString('utf8');
  if (buf.subarray(0, 8192).includes(0) || text.includes('\uFFFD')) {
    return { diagnostic: { severity: 'error', loc, message: 'this is a binary file, not a config; give a keepalived.conf or a vipkeeper YAML file' } };
  }
  return { text };
}

export function loadConfigFile(path: string, opts: LoadOptions = {}): LoadedConfig {
  const read = readConfigText(path);
  if ('diagnostic' in read) {
    return {
      format: opts.format ?? 'yaml',
      diagnostics: [read.diagnostic],
      unsupported: [],
      counts: { keywords: 0, partial: 0 },
      files: [path],
      ...(read.unreadable ? { unreadable: true as const } : {}),
    };
  }
  return loadConfigText(read.text, path, opts);
}

export function loadConfigText(text: string, path: string, opts: LoadOptions = {}): LoadedConfig {
  const format = opts.format ?? detectFormat(path, text);
  const host = opts.host === true ? realHost() : opts.host;
  const check = host ? (c: Config) => hostIssues(c, host) : undefined;
  if (format === 'yaml') {
    const r = loadYamlText(text, path, check ? { check } : {});
    return { format, ...(r.config ? { config: r.config } : {}), diagnostics: capDiagnostics(r.diagnostics, path), unsupported: [], counts: { keywords: 0, partial: r.partial }, files: [path] };
  }
  if (format === 'ldirectord') {
    const r = importLdirectordText(text, path);
    const diagnostics = check && r.config ? [...r.diagnostics, ...hostIssues(r.config, host!).map((i) => ({ severity: i.severity, loc: { file: path, line: 1, col: 1 }, message: i.message }))] : r.diagnostics;
    const ok = r.config && !diagnostics.some((d) => d.severity === 'error');
    return { format, ...(ok ? { config: r.config } : {}), diagnostics, unsupported: [], counts: { keywords: r.counts.directives, partial: r.counts.partial }, files: [path] };
  }
  const r = importKeepalivedText(text, path, { configId: opts.configId ?? defaultConfigId(), ...(check ? { check } : {}) });
  return { format, ...(r.config ? { config: r.config } : {}), diagnostics: r.diagnostics, unsupported: r.unsupported, counts: r.counts, files: r.files };
}

/** The first MAX_REPORTED_DIAGNOSTICS diagnostics, and one line counting the rest (an error if any of them is). */
export function capDiagnostics(ds: Diagnostic[], file: string): Diagnostic[] {
  if (ds.length <= MAX_REPORTED_DIAGNOSTICS) return ds;
  const rest = ds.slice(MAX_REPORTED_DIAGNOSTICS);
  const errors = rest.filter((d) => d.severity === 'error').length;
  const summary: Diagnostic = { severity: errors ? 'error' : 'warning', loc: { file, line: 1, col: 1 }, message: omittedMessage(rest.length - errors, errors) };
  return [...ds.slice(0, MAX_REPORTED_DIAGNOSTICS), summary];
}
