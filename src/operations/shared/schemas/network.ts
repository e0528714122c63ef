/**
 * The Engine's network object (GET /networks, GET /networks/{id}): the
 * documented fields of the Engine API's `Network` / `NetworkInspect`. Open
 * objects (z.object): newer Engines add fields. Maps the Engine may leave
 * empty are nullable: 20.10 and 28.x send `null` for an empty IPAM.Options,
 * 28.x for an empty IPAM.Config.
 */
import * as z from 'zod';
import { stringMap } from './common.js';


export const ipamConfig = z
  .object({
    Subnet: z.string().optional().describe('Subnet in CIDR notation'),
    IPRange: z.string().optional().describe('Sub-range container addresses are allocated from (CIDR)'),
    Gateway: z.string().optional().describe('Gateway address'),
    AuxiliaryAddresses: stringMap.nullable().optional().describe('Addresses the IPAM driver does not hand out: {name: address}'),
  })
  .describe('One address pool');

export const ipam = z
  .object({
    Driver: z.string().describe('IPAM driver, e.g. "default"'),
    Config: z.array(ipamConfig).nullable().describe('Address pools (null or empty when none was configured)'),
    Options: stringMap.nullable().describe('IPAM driver options (null when none)'),
  })
  .describe("The network's IP address management");

/** A container's endpoint on a network, as inspect lists it. */
export const endpointResource = z.object({
  Name: z.string().describe('Container name'),
  EndpointID: z.string().describe('Endpoint id'),
  MacAddress: z.string().describe('MAC address (may be empty)'),
  IPv4Address: z.string().describe('IPv4 address with prefix length, e.g. "172.17.0.2/16" (may be empty)'),
  IPv6Address: z.string().describe('IPv6 address with prefix length (may be empty)'),
});

export const peerInfo = z.object({
  Name: z.string().describe('Id of the peer node in the swarm'),
  IP: z.string().describe('Its IP address'),
});

const serviceInfo = z.object({
  VIP: z.string().optional().describe('Virtual IP of the service'),
  Ports: z.array(z.string()).nullable().optional().describe('Published ports'),
  LocalLBIndex: z.number().int().optional().describe('Local load-balancer index'),
  Tasks: z
    .array(
      z.object({
        Name: z.string().optional(),
        EndpointID: z.string().optional(),
        EndpointIP: z.string().optional(),
        Info: stringMap.nullable().optional(),
      }),
    )
    .nullable()
    .optional()
    .describe("The service's tasks on this network"),
});

const subnetStatus = z.object({
  IPsInUse: z.number().int().min(0).describe('Addresses in use or reserved'),
  DynamicIPsAvailable: z.number().int().min(0).describe('Addresses left for dynamic allocation'),
});

export const network = z.object({
  Name: z.string().describe('Network name'),
  Id: z.string().describe('Network id'),
  Created: z.string().describe('Creation time, RFC 3339 with nanoseconds'),
  Scope: z.string().describe('"local" (this machine), "swarm" or "global"'),
  Driver: z.string().describe('Network driver, e.g. "bridge", "overlay", "null"'),
  EnableIPv4: z.boolean().optional().describe('API 1.47+: IPv4 is enabled'),
  EnableIPv6: z.boolean().describe('IPv6 is enabled'),
  IPAM: ipam,
  Internal: z.boolean().describe('No route to the outside world'),
  Attachable: z.boolean().describe('Swarm networks: standalone containers may attach'),
  Ingress: z.boolean().describe("The swarm's routing-mesh network"),
  ConfigFrom: z.object({ Network: z.string().describe('Name of the config-only network (empty when none)') }).describe('The config-only network this one takes its configuration from'),
  ConfigOnly: z.boolean().describe('A config-only network (a placeholder configuration; containers cannot use it)'),
  Containers: z
    .record(z.string(), endpointResource)
    .nullable()
    .optional()
    .describe('Attached containers by container id (only inspect fills it; the list form leaves it empty or out)'),
  Options: stringMap.nullable().describe('Driver options the network was created with'),
  Labels: stringMap.nullable().describe('Labels'),
  Peers: z.array(peerInfo).nullable().optional().describe('Overlay networks only: the peer nodes'),
  Services: z.record(z.string(), serviceInfo).nullable().optional().describe('Swarm networks inspected with verbose: services by name'),
  Status: z
    .object({
      IPAM: z
        .object({ Subnets: z.record(z.string(), subnetStatus).nullable().optional().describe('Address use by subnet') })
        .optional()
        .describe('Address allocation'),
    })
    .optional()
    .describe('API 1.52+ (inspect): runtime state, e.g. how many addresses are in use'),
});
export type Network = z.output<typeof network>;
