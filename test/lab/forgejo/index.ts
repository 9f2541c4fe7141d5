/** migen lab: the example's Forgejo (container, clients, checks) in one import. */
export * from './fleet.js';
export * from './clients.js';
export * as forgejoChecks from './checks.js';
