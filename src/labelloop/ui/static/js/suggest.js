// Several backends may suggest for one item (a classifier and a face detector, say). Pre-fill
// each control from the most confident suggestion that covers it, keeping region ids unique.

/**
 * @param {Array<{id, backend, score, value}>} suggestions
 * @returns {{regions: object[], scoreOf: Map<string, number>, used: object[]}}
 */
export function mergeSuggestions(suggestions) {
  const sorted = [...suggestions].sort((a, b) => (b.score ?? 0) - (a.score ?? 0));
  const taken = new Set();
  const ids = new Set();
  const regions = [];
  const scoreOf = new Map();
  const used = [];
  for (const s of sorted) {
    const fresh = [...new Set((s.value || []).map((r) => r.control))].filter((c) => !taken.has(c));
    if (!fresh.length) continue;
    const mine = s.value.filter((r) => fresh.includes(r.control));
    const rename = new Map();
    for (const r of mine) {
      let id = r.id;
      while (ids.has(id)) id = `${id}_${s.id}`;
      ids.add(id);
      rename.set(r.id, id);
    }
    for (const r of mine) {
      const copy = { ...r, id: rename.get(r.id) };
      if ("from_id" in r) copy.from_id = rename.get(r.from_id) ?? r.from_id;
      if ("to_id" in r) copy.to_id = rename.get(r.to_id) ?? r.to_id;
      regions.push(copy);
      scoreOf.set(copy.id, s.score ?? 0);
    }
    fresh.forEach((c) => taken.add(c));
    used.push(s);
  }
  // a relation or link whose end came from nowhere cannot stand
  const present = new Set(regions.map((r) => r.id));
  const kept = regions.filter((r) => !("from_id" in r) || (present.has(r.from_id) && present.has(r.to_id)));
  return { regions: kept, scoreOf, used };
}
