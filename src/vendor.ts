import { createRequire } from 'node:module';
import type * as YamlNS from 'yaml';

const require = createRequire(import.meta.url);

/**
 * A CommonJS package as packed into one file by scripts/bundle-vendor.mjs (dist/vendor/NAME.cjs,
 * loaded in a few ms instead of file by file), or the package itself where no pack exists (src/
 * run by the tests).
 */
export function vendored<T>(name: string, pkg: string): T {
  try {
    return require(`./vendor/${name}.cjs`) as T;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code !== 'MODULE_NOT_FOUND' || !String(err.message).includes(`vendor/${name}.cjs`)) throw e;
    return require(pkg) as T;
  }
}

export const YAML = vendored<typeof YamlNS>('yaml', 'yaml');
