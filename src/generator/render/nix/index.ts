import type { Inputs } from '../../pipeline.js';
import type { OutFile } from '../../emit/index.js';
import type { Header } from '../index.js';

/** NixOS modules per affected host (issue [2]). */
export function renderHostModules(_inputs: Inputs, _header: Header): OutFile[] {
  return [];
}
