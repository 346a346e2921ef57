// The geometry of a redaction plan, shared by the editor and checked against the renderer's rule
// (tests/browser/test_redaction_editor.py): which box a region covers at a time, keyframes set by
// corrections, keyframes returned by the tracker. Boxes are [x, y, w, h] in fractions of the frame.

export const EDGE_S = 0.05; // a keyframe at the edge of a span covers this long beyond itself (media/facetracks.py)
export const MAX_GAP_S = 1.0; // keyframes further apart than this do not cover the time between them
export const MIN_SIZE = 0.01; // the smallest box side the editor makes

/** The box a region covers at `t`, or null: the rule of box_at in media/facetracks.py, which renders use. */
export function boxAt(keyframes, t, maxGap = MAX_GAP_S) {
  if (!keyframes.length) return null;
  const first = keyframes[0];
  const last = keyframes[keyframes.length - 1];
  if (t <= first.t) return first.t - t <= EDGE_S ? first.box : null;
  if (t >= last.t) return t - last.t <= EDGE_S ? last.box : null;
  let i = 0;
  while (keyframes[i + 1].t < t) i += 1;
  const [a, b] = [keyframes[i], keyframes[i + 1]];
  if (b.t - a.t > maxGap) {
    if (t - a.t <= EDGE_S) return a.box;
    if (b.t - t <= EDGE_S) return b.box;
    return null;
  }
  const share = b.t === a.t ? 0 : (t - a.t) / (b.t - a.t);
  return a.box.map((value, k) => value + (b.box[k] - value) * share);
}

export function clamp(value, low, high) {
  return Math.min(Math.max(value, low), high);
}

/** A box kept inside the frame and at least MIN_SIZE wide and high. */
export function fit([x, y, w, h]) {
  const width = clamp(w, MIN_SIZE, 1);
  const height = clamp(h, MIN_SIZE, 1);
  return [clamp(x, 0, 1 - width), clamp(y, 0, 1 - height), width, height].map((v) => Math.round(v * 1e5) / 1e5);
}

/** Replace the keyframe within half a frame of `t`, or add one there, keeping them sorted. */
export function setKeyframe(region, t, box, fps) {
  const half = 0.5 / fps;
  const kept = region.keyframes.filter((k) => Math.abs(k.t - t) > half);
  kept.push({ t: Math.round(t * 1e4) / 1e4, box: fit(box) });
  kept.sort((a, b) => a.t - b.t);
  region.keyframes = kept;
}

/** Keyframes a tracker returned, in place of the region's own over the span they cover. */
export function mergeFollowed(region, followed) {
  if (!followed.length) return;
  const [from, to] = [followed[0].t, followed[followed.length - 1].t];
  const outside = region.keyframes.filter((k) => k.t < from - 1e-6 || k.t > to + 1e-6);
  region.keyframes = [...outside, ...followed.map((k) => ({ t: k.t, box: fit(k.box) }))]
    .sort((a, b) => a.t - b.t);
}

/** The first and last keyframe's times. */
export function span(r) {
  const times = r.keyframes.map((k) => k.t);
  return times.length ? [Math.min(...times), Math.max(...times)] : [0, 0];
}

/** The first free id for a drawn region: m1, m2, ... */
export function nextManualId(regions) {
  const taken = new Set(regions.map((r) => r.id));
  let n = 1;
  while (taken.has(`m${n}`)) n += 1;
  return `m${n}`;
}
