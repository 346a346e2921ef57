// The case page: place the timeline's bars and ticks, size each thumbnail to one frame of its
// strip, and offer "Watch together" for 2–4 ticked recordings that overlap in time (the page's
// content security policy forbids style attributes, so sizes travel in data-* attributes and
// are applied here).

function place() {
  for (const tick of document.querySelectorAll(".tl-tick")) {
    tick.style.left = `${tick.dataset.left}%`;
  }
  for (const bar of document.querySelectorAll(".tl-bar")) {
    bar.style.left = `${bar.dataset.left}%`;
    bar.style.width = `${bar.dataset.width}%`;
  }
}

// A thumbnail box with the frame's own shape shows exactly the strip's first frame (the
// stylesheet covers the box and pins the strip to its left edge).
function frameThumbnails() {
  for (const img of document.querySelectorAll("img.thumb[data-aspect]")) {
    img.style.width = `${img.offsetHeight * Number(img.dataset.aspect)}px`;
  }
}

function picked() {
  return [...document.querySelectorAll("input.pick:checked")].map((box) => ({
    id: box.value,
    start: Date.parse(box.dataset.start),
    end: Date.parse(box.dataset.end),
  }));
}

// Recordings overlap when one moment lies inside all of them.
function overlap(items) {
  const latestStart = Math.max(...items.map((i) => i.start));
  const earliestEnd = Math.min(...items.map((i) => i.end));
  return latestStart <= earliestEnd;
}

function offerWatch() {
  const bar = document.getElementById("watch-bar");
  if (!bar) return;
  const link = document.getElementById("watch-together");
  const hint = document.getElementById("watch-hint");
  const [min, max] = [Number(bar.dataset.min), Number(bar.dataset.max)];
  const items = picked();
  const ids = new Set(items.map((i) => i.id));
  for (const el of document.querySelectorAll(".tl-bar")) {
    el.classList.toggle("picked", ids.has(el.dataset.item));
  }
  let why = "";
  if (items.length < min || items.length > max) {
    why = `Tick ${min} to ${max} recordings that overlap in time to watch them together.`;
  } else if (!overlap(items)) {
    why = "These recordings do not overlap in time: pick ones recorded at the same moment.";
  }
  link.hidden = why !== "";
  hint.textContent = why;
  const query = new URLSearchParams(items.map((i) => ["items", i.id]));
  link.href = `/watch?${query}`;
}

place();
frameThumbnails();
offerWatch();
document.addEventListener("change", (event) => {
  if (event.target.matches("input.pick")) offerWatch();
});
