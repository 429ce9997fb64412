import { describe, expect, it } from 'vitest';
import { locateYamlPath } from './yaml-locate.js';

const doc = `# header
global:
  router_id: lvs1
instances:
  VI_1:
    interface: eth0
    virtual_router_id: 51
    virtual_ipaddress:
      - 10.0.0.1/24
      - 10.0.0.2/24
  VI_2:
    virtual_router_id: 52
virtual_servers:
  - address: 10.0.0.1
    port: 80
    real_servers:
      - address: 10.0.1.1
        checks:
          - type: TCP_CHECK
          - type: HTTP_GET
            url: [{ path: / }]
  - address: 10.0.0.2
    real_servers: []
`;

describe('locateYamlPath', () => {
  it.each([
    [['global', 'router_id'], 3, 3],
    [['instances', 'VI_1', 'virtual_router_id'], 7, 5],
    [['instances', 'VI_1', 'virtual_ipaddress', 1], 10, 9],
    [['instances', 'VI_2', 'virtual_router_id'], 12, 5],
    [['virtual_servers', 0, 'port'], 15, 5],
    [['virtual_servers', 0, 'address'], 14, 5],
    [['virtual_servers', 1, 'address'], 22, 5],
    [['virtual_servers', 1, 'real_servers'], 23, 5],
    [['virtual_servers', 0, 'real_servers', 0, 'checks', 1, 'url'], 21, 13],
    [['virtual_servers', 0, 'real_servers', 0, 'checks', 1, 'url', 0, 'path'], 21, 13],
    [['virtual_servers', 0, 'real_servers', 0, 'checks', 0, 'type'], 19, 13],
    [['instances', 'VI_9'], 4, 1],
  ] as const)('%j is at %d:%d', (path, line, col) => {
    expect(locateYamlPath(doc, path)).toEqual({ line, col });
  });
});
