/** migen lab: everything in one import (`import { createLab, checks, startWriter } from '../lab/index.js'`). */
export * from './lab.js';
export * from './clients.js';
export * from './dns.js';
export * from './leftovers.js';
export * as checks from './checks.js';
export * from './container.js';
export * from './net.js';
export * from './dhcp.js';
