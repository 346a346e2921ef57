// The recipient portal's player: a running clock in the watermark, full screen that keeps the
// watermark (the element going full screen is the frame around video and watermark), and a poll
// of the share's status that stops and removes the player the moment the share ends.
const screen = document.getElementById("portal-screen");
const player = document.getElementById("portal-player");
const clock = document.getElementById("watermark-time");
const ended = document.getElementById("portal-ended");
const POLL_MS = 2000;
const FINAL = new Set([401, 403, 404, 410]);

function tick() {
  if (clock) clock.textContent = new Date().toLocaleString("en-GB");
}

function stop(reason) {
  if (player) {
    player.pause();
    player.removeAttribute("src");
    player.load();
    player.remove();
  }
  if (screen) screen.remove();
  if (document.fullscreenElement) document.exitFullscreen();
  ended.textContent = reason || "This share has ended.";
  ended.hidden = false;
  clearInterval(polling);
}

async function check() {
  let answer;
  try {
    answer = await fetch(screen.dataset.status, { cache: "no-store", credentials: "same-origin" });
  } catch {
    return; // the network, not the share: ask again next time
  }
  if (FINAL.has(answer.status)) {
    const body = await answer.json().catch(() => ({}));
    stop(body.error);
  }
}

let polling;
if (screen) {
  tick();
  setInterval(tick, 1000);
  polling = setInterval(check, POLL_MS);
  player.addEventListener("error", check);
  document.getElementById("portal-fullscreen").addEventListener("click", () => screen.requestFullscreen());
}
