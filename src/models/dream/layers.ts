// The --layers and --channels mini-languages of dream: which layers (or channels) the loss
// excites, with what weight and in which octaves.

export type ChannelChoice = 'all' | { pick: 'strong' | 'weak'; count: number };

/**
 * "mixed2=0.2,mixed4:97=2,mixed5" → { mixed2: 0.2, "mixed4:97": 2, mixed5: 1 }: a layer, or
 * one channel of it after a colon, and its weight after "="; a weight left out is 1.
 */
export function parseLayers(spec: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of layerSpecs(spec)) out[l.key] = l.weight;
  if (Object.keys(out).length === 0) throw new Error('give at least one layer, e.g. mixed3=1');
  return out;
}

/** The octave ranges of a --layers spec ("mixed3=1@1-2,mixed5@3": mixed3 in octaves 1 to 2, mixed5 in 3). */
export function parseLayerOctaves(spec: string): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const l of layerSpecs(spec)) if (l.octaves) out[l.key] = l.octaves;
  return out;
}

/** Each part of a --layers spec: layer[:channel][=weight][@octave or @first-last]. */
function layerSpecs(spec: string): { key: string; weight: number; octaves: [number, number] | null }[] {
  return spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((part) => {
      const m = /^([^:=@\s]+)(?::([^=@]*))?(?:=([^@]*))?(?:@(.*))?$/.exec(part);
      if (!m)
        throw new Error(
          `cannot read layer "${part}"; write layer, layer=weight, layer:channel=weight or layer@octaves`,
        );
      const [, name, channel, w, at] = m;
      if (channel !== undefined && !/^\d+$/.test(channel))
        throw new Error(`channel "${channel}" of ${name} is not a whole number (a weight goes after "=")`);
      const weight = w === undefined ? 1 : Number(w);
      if (!Number.isFinite(weight)) throw new Error(`layer weight "${w}" for ${name} is not a number`);
      let octaves: [number, number] | null = null;
      if (at !== undefined) {
        const r = /^(\d+)(?:-(\d+))?$/.exec(at);
        if (!r || Number(r[1]) < 1 || Number(r[2] ?? r[1]) < Number(r[1]))
          throw new Error(`octaves "@${at}" of ${name} must be @N or @FIRST-LAST, counted from 1 (the smallest)`);
        octaves = [Number(r[1]), Number(r[2] ?? r[1])];
      }
      return { key: channel === undefined ? name : `${name}:${channel}`, weight, octaves };
    });
}

/** The loss's layers that take part in octave `octave` (1: the smallest). */
export function layersInOctave(
  layers: Record<string, number>,
  ranges: Record<string, [number, number]>,
  octave: number,
): Record<string, number> {
  return Object.fromEntries(
    Object.entries(layers).filter(([k]) => {
      const r = ranges[k] ?? ranges[splitKey(k)[0]];
      return !r || (r[0] <= octave && octave <= r[1]);
    }),
  );
}

/** "all", "strong", "weak", "strong:8" → a channel choice (4 channels unless given). */
export function parseChannels(spec: string): ChannelChoice {
  if (spec === 'all') return 'all';
  const m = /^(strong|weak)(?::(\d+))?$/.exec(spec);
  if (!m || (m[2] !== undefined && Number(m[2]) < 1))
    throw new Error(`--channels takes all, strong, weak, strong:N or weak:N, got "${spec}"`);
  return { pick: m[1] as 'strong' | 'weak', count: m[2] === undefined ? 4 : Number(m[2]) };
}

/** A loss key "mixed4:97" → ["mixed4", 97]; "mixed4" → ["mixed4", null]. */
export function splitKey(key: string): [string, number | null] {
  const i = key.indexOf(':');
  return i < 0 ? [key, null] : [key.slice(0, i), Number(key.slice(i + 1))];
}
