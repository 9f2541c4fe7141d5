// Sync: copy passes while the service runs, until a final pass would be short; then both hosts
// flush their page cache so that no writeback queues inside the window.
import { dnsWait } from '../dns.js';
import { handoffSteps, secondaryDns } from '../handoffs.js';
import { measureScript, passScript } from '../rsync.js';
import { pgSync } from '../pg/index.js';
import { on, stepsOf } from '../step.js';
import type { Ctx, Step } from '../types.js';

const { command, converge } = stepsOf('sync');

export function sync(c: Ctx, hot: boolean): Step[] {
  const steps: Step[] = hot ? pgSync(c) : [];
  const copy = c.state.length > 0;
  if (c.strategy !== 'cold' && c.sync.mode !== 'relay' && copy) {
    steps.push(converge('sync-live', `copy the state to ${c.to.name} while ${c.unit} runs, until a final pass would move less than ${c.sync.thresholdBytes} bytes`, {
      run: passScript(c, ['--info=progress2'], true),
      measure: measureScript(c),
      acceptExit: [24], thresholdBytes: c.sync.thresholdBytes, maxPasses: c.sync.maxPasses, bandwidthBytesPerSecond: c.sync.bandwidthBytesPerSecond,
    }, { hostToHost: true, progress: true }));
  }
  // The live passes (and the backup) leave up to gigabytes of dirty page cache that the kernel
  // writes back some 30 s later: inside the window, where the final pass, the service's fsyncs at
  // start and every command would queue behind it. Both hosts flush before the stop instead.
  if (copy && c.strategy !== 'cold') {
    for (const h of [c.to.name, c.from.name]) steps.push(command(`flush-${h}`, `${h} writes its dirty page cache to disk before the stop (sync)`, on(h, 'sync'), { concurrent: 'flush' }));
  }
  // Last before the stop: what people do first, the lowered TTL in effect, the clients' fallback DNS answering.
  return [...steps, ...handoffSteps(c, 'before-stop', 'sync'), ...dnsWait(c), ...secondaryDns(c)];
}
