/**
 * The state words every layer shares: a VRRP instance's (and sync group's) state, and the
 * states a notify (script, FIFO line, mail) reports. Pure vocabulary, no logic.
 */

export const VRRP_STATES = ['INIT', 'BACKUP', 'MASTER', 'FAULT', 'STOP'] as const;
/** INIT = constructed, not started. STOP = shut down (terminal). The rest are keepalived's. */
export type VrrpState = (typeof VRRP_STATES)[number];

/**
 * What a notify reports, in keepalived's words. DELETED: an instance removed by a reload that
 * configures `notify_deleted` (else it gets STOP). MASTER_PRIORITY / BACKUP_PRIORITY: the
 * effective priority changed (FIFO lines only, never a script).
 */
export const NOTIFY_STATES = ['MASTER', 'BACKUP', 'FAULT', 'STOP', 'DELETED', 'MASTER_RX_LOWER_PRI', 'MASTER_PRIORITY', 'BACKUP_PRIORITY'] as const;
export type NotifyState = (typeof NOTIFY_STATES)[number];

/** The notify states a script runs for. */
export type NotifyScriptState = Exclude<NotifyState, 'MASTER_PRIORITY' | 'BACKUP_PRIORITY'>;
