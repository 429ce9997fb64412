/**
 * What a VRRP instance sets up beyond its VIPs, as keepalived 2.2.7 does:
 *
 * - `use_vmac`: the macvlan is made before the sockets open (they bind to it) and stays, in every
 *   state, until stop (keepalived makes it on a BACKUP too);
 * - `promote_secondaries`: the interface's promote_secondaries sysctl is set at start (so removing
 *   a VIP does not take the other addresses of its subnet with it) and put back at stop;
 *
 * Each piece is undone at stop. Failures after start are logged, never thrown: the VIPs and the
 * adverts matter more than an extra route.
 */
import type { Config } from '../../config/schema.js';
import { SysctlSaver } from '../../net/sysctl.js';
import { VmacManager } from '../../net/vmac.js';
import type { Logger } from '../../sys/logger.js';
import type { ResolvedInstance } from '../../vrrp/params.js';
import { errMsg } from './effects.js';
import type { ExtrasPort } from './types.js';

export interface ExtrasDeps {
  log: Logger;
  vmacs?: VmacManager;
}

export class InstanceExtras implements ExtrasPort {
  private readonly log: Logger;
  private readonly vmacs: VmacManager;
  private readonly sysctls = new SysctlSaver();

  constructor(d: ExtrasDeps) {
    this.log = d.log;
    this.vmacs = d.vmacs ?? new VmacManager();
  }

  async prepare(config: Config, resolved: readonly ResolvedInstance[], _initial: boolean): Promise<void> {
    for (const r of resolved) {
      const inst = config.instances[r.name];
      if (inst?.promote_secondaries && inst.interface !== undefined) {
        this.sysctls.set(4, inst.interface, 'promote_secondaries', '1');
        this.log.info({ instance: r.name, interface: inst.interface }, `${r.name}: promote_secondaries set on ${inst.interface}`);
      }
      if (!r.vmac) continue;
      await this.vmacs.ensure(r.vmac);
      this.log.info({ instance: r.name, vrid: r.wire.vrid, vmac: r.vmac.name, mac: r.vmac.mac, base: r.vmac.base, xmit_base: r.vmac.xmitBase }, `${r.name}: VMAC interface ${r.vmac.name} ready`);
    }
  }

  async master(_r: ResolvedInstance, _config: Config): Promise<void> {}

  async leave(_r: ResolvedInstance, _config: Config): Promise<void> {}

  async close(): Promise<void> {
    const failed = this.sysctls.restore();
    if (failed.length) this.log.warn({ errors: failed }, 'interface settings could not all be put back');
    const names = this.vmacs.names;
    try {
      const errors = await this.vmacs.removeAll();
      if (errors.length) this.log.warn({ errors }, 'VMAC interfaces could not all be removed');
      else if (names.length) this.log.info({ vmacs: names }, 'VMAC interfaces removed');
    } catch (err) {
      this.log.warn({ err: errMsg(err) }, 'VMAC interfaces could not all be removed');
    }
  }
}
