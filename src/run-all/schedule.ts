// Runs groups of migrations: one group after the other, the migrations of a group at once; after a
// group in which one failed, nothing else starts (the others of that group finish: they share no
// host with it, and stopping them half-way would only start their rollbacks).

export interface GroupResult { readonly name: string; readonly code: number }
export interface Scheduled { readonly results: readonly GroupResult[]; readonly notStarted: readonly string[] }

export async function runGroups(groups: readonly (readonly string[])[], start: (name: string) => Promise<number>): Promise<Scheduled> {
  const results: GroupResult[] = [];
  for (let g = 0; g < groups.length; g++) {
    const codes = await Promise.all(groups[g]!.map(async (name) => ({ name, code: await start(name) })));
    results.push(...codes);
    if (codes.some((c) => c.code !== 0)) return { results, notStarted: groups.slice(g + 1).flat() };
  }
  return { results, notStarted: [] };
}
