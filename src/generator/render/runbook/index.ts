import type { Inputs } from '../../pipeline.js';
import type { OutFile } from '../../emit/index.js';
import type { Header } from '../index.js';

/** zx runbooks per migration (issue [3]). */
export function renderRunbooks(_inputs: Inputs, _header: Header): OutFile[] {
  return [];
}
