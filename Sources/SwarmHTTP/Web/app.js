"use strict";
// The swarmfs page: polls /status.json, lists each torrent with its files, and plays media
// files in one <video> element. No external assets, no build step.
const playable = /\.(mp4|m4v|webm|ogv|mkv|mov|mp3|m4a|ogg|oga|opus|flac|wav|aac)$/i;
const media = /\.(mp4|m4v|mkv|webm|avi|mov|ts|m2ts|mpg|mpeg|ogv|wmv|flv|mp3|flac|ogg|oga|opus|m4a|aac|wav|wma)$/i;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value; else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function size(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes, unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return (unit === 0 ? value : value.toFixed(1)) + " " + units[unit];
}

function fileURL(infoHash, path) {
  return "/t/" + infoHash + "/" + path.split("/").map(encodeURIComponent).join("/");
}

function play(url, title) {
  const box = document.getElementById("player-box");
  const player = document.getElementById("player");
  box.hidden = false;
  document.getElementById("now-playing").textContent = title;
  player.src = url;
  player.play().catch(() => {});
}

function render(torrents) {
  const main = document.getElementById("torrents");
  main.replaceChildren();
  if (torrents.length === 0) main.append(el("p", {}, "No torrents yet."));
  for (const t of torrents) {
    const done = t.totalLength > 0 ? t.verifiedBytes / t.totalLength : 1;
    // Set through the CSSOM: the page's Content-Security-Policy refuses inline style attributes.
    const fill = el("div", {});
    fill.style.width = (done * 100).toFixed(1) + "%";
    const bar = el("div", { class: "bar" }, fill);
    const figures = el("div", { class: "figures" },
      el("span", {}, (done * 100).toFixed(1) + "% of " + size(t.totalLength)),
      el("span", {}, "↓ " + size(t.downloadRate || 0) + "/s"),
      el("span", {}, "↑ " + size(t.uploadRate || 0) + "/s"),
      el("span", { class: "peers" }, (t.peers || 0) + " peers"),
      el("a", { href: "/t/" + t.infoHash + ".m3u" }, "M3U"));
    const rows = el("table", {});
    for (const f of t.files || []) {
      const url = fileURL(t.infoHash, f.path);
      const pct = f.length > 0 ? (100 * f.verifiedBytes / f.length).toFixed(1) : "100.0";
      const actions = el("td", { class: "num" });
      if (playable.test(f.path)) {
        const button = el("button", { class: "play", "data-url": url }, "▶ play");
        button.addEventListener("click", () => play(url, f.path));
        actions.append(button);
      } else if (media.test(f.path)) {
        actions.append("(use M3U)");
      }
      rows.append(el("tr", { class: "file" },
        el("td", {}, el("a", { href: url }, f.path)),
        el("td", { class: "num" }, size(f.length)),
        el("td", { class: "num" }, pct + "%"),
        actions));
    }
    main.append(el("section", { class: "torrent", "data-infohash": t.infoHash },
      el("h2", {}, t.name), bar, figures, rows));
  }
}

async function poll() {
  const state = document.getElementById("state");
  try {
    const response = await fetch("/status.json", { cache: "no-store" });
    const doc = await response.json();
    const torrents = doc.torrents || [];
    // Re-render everything each time: lists are small, and the player lives outside the list.
    render(torrents);
    state.textContent = "updated " + new Date().toLocaleTimeString();
  } catch (error) {
    state.textContent = "cannot reach swarmfs: " + error;
  }
}

poll();
setInterval(poll, 2000);
