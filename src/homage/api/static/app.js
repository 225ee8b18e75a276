// homage's page: plain JavaScript over the REST API (/docs lists it). No build step.
"use strict";

const $ = (id) => document.getElementById(id);
const PAGE = 25;
let catalogOffset = 0;
let compareB = null; // {file} or {id, label} for the B side of a comparison

function clock(seconds) {
  const m = Math.floor(seconds / 60);
  return `${m}:${(seconds - 60 * m).toFixed(1).padStart(4, "0")}`;
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

// A request with upload progress; resolves with the JSON body, rejects with a sentence.
function send(method, url, body, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    const token = $("token").value || localStorage.getItem("homage-token");
    if (token) xhr.setRequestHeader("X-Homage-Token", token);
    if (onProgress) xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new Error(readable(data, xhr.status)));
    };
    xhr.onerror = () => reject(new Error("The server could not be reached. Is `homage serve` still running?"));
    xhr.send(body);
  });
}

function readable(data, status) {
  const detail = data && data.detail;
  if (typeof detail === "string") return sentence(detail);
  if (Array.isArray(detail) && detail.length) return sentence(detail.map((d) => d.msg).join("; "));
  return `The server answered with an error (${status}).`;
}

function sentence(text) {
  text = text.trim();
  return text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? "" : ".");
}

function progress(element, text) {
  element.textContent = text;
  element.hidden = !text;
}

// POST a form with the upload's progress in ``element``, then ``working`` until the answer, which goes to ``show``.
async function upload(url, form, element, working, show) {
  progress(element, "Uploading…");
  try {
    show(await send("POST", url, form, (f) => progress(element, f < 1 ? `Uploading… ${Math.round(100 * f)} %` : working)));
  } catch (error) {
    showError(error.message);
  } finally {
    progress(element, "");
  }
}

// ---- tabs --------------------------------------------------------------------------------------
function showTab(name) {
  for (const tab of document.querySelectorAll(".tab")) tab.setAttribute("aria-selected", String(tab.dataset.tab === name));
  for (const panel of document.querySelectorAll(".panel")) panel.hidden = panel.id !== name;
  showError("");
  if (name === "catalog") loadCatalog();
  if (name === "groups") loadGroups();
}
for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => showTab(tab.dataset.tab));

// ---- drop zones ----------------------------------------------------------------------------------
function dropZone(label, input, onFile) {
  const name = label.querySelector(".name");
  const take = (file) => { if (file) { name.textContent = file.name; onFile(file); } };
  input.addEventListener("change", () => take(input.files[0]));
  label.addEventListener("dragover", (e) => { e.preventDefault(); label.classList.add("over"); });
  label.addEventListener("dragleave", () => label.classList.remove("over"));
  label.addEventListener("drop", (e) => { e.preventDefault(); label.classList.remove("over"); take(e.dataTransfer.files[0]); });
}

let fileA = null;
let fileQ = null;
dropZone($("drop-a"), $("file-a"), (f) => { fileA = f; readyCompare(); });
dropZone($("drop-b"), $("file-b"), (f) => { compareB = { file: f }; readyCompare(); });
dropZone($("drop-q"), $("file-q"), (f) => { fileQ = f; $("run-search").disabled = false; });
function readyCompare() { $("run-compare").disabled = !(fileA && compareB); }

// ---- compare -------------------------------------------------------------------------------------
async function runCompare() {
  showError("");
  $("compare-result").hidden = true;
  const form = new FormData();
  form.append("a", fileA);
  if (compareB.file) form.append("b", compareB.file);
  else form.append("b_id", compareB.id);
  await upload("/api/compare", form, $("compare-progress"), "Listening to both and aligning them…", showComparison);
}
$("run-compare").addEventListener("click", runCompare);

function showComparison(result) {
  const words = { version: "are versions of one work", maybe: "may be versions of one work — listen to the passages below",
                  unrelated: "do not look like versions of one work" };
  const verdict = $("verdict");
  verdict.className = `verdict ${result.verdict}`;
  verdict.textContent = `A and B ${words[result.verdict]} (probability ${(100 * result.probability).toFixed(0)} %).`;
  $("summary").textContent = `${result.summary}.`;
  $("label-a").textContent = result.a;
  $("label-b").textContent = result.b;
  $("player-a").src = URL.createObjectURL(fileA);
  $("player-b").src = compareB.file ? URL.createObjectURL(compareB.file) : `/api/recordings/${compareB.id}/audio`;
  const body = $("segments").querySelector("tbody");
  body.replaceChildren();
  result.alignment.segments.forEach((g, n) => {
    const row = body.insertRow();
    row.className = "segment";
    row.tabIndex = 0;
    row.dataset.aStart = g.a_start;
    row.dataset.bStart = g.b_start;
    for (const text of [n + 1, clock(g.a_start), clock(g.a_end), clock(g.b_start), clock(g.b_end), g.strength.toFixed(0)])
      row.insertCell().textContent = text;
    const play = () => playSegment(g);
    row.addEventListener("click", play);
    row.addEventListener("keydown", (e) => (e.key === "Enter" || e.key === " ") && play());
  });
  if (!result.alignment.segments.length) body.insertRow().insertCell().textContent = "No passage matches.";
  showSharedLines(result);
  $("alignment").src = result.alignment_image;
  $("compare-result").hidden = false;
}

// The lines both recordings sing, each clickable like a passage.
function showSharedLines(result) {
  $("words-summary").textContent = result.words_similarity === null
    ? "No lyric evidence: one of them is instrumental, or was not transcribed."
    : `Similarity of their words: ${result.words_similarity.toFixed(2)}. Click a line to hear it in both.`;
  const body = $("shared-lines").querySelector("tbody");
  body.replaceChildren();
  result.shared_lines.forEach((line) => {
    const row = body.insertRow();
    row.className = "segment";
    row.tabIndex = 0;
    for (const text of [`${clock(line.a_start)}–${clock(line.a_end)}`, `${clock(line.b_start)}–${clock(line.b_end)}`, line.text])
      row.insertCell().textContent = text;
    const play = () => playSegment(line);
    row.addEventListener("click", play);
    row.addEventListener("keydown", (e) => (e.key === "Enter" || e.key === " ") && play());
  });
  if (result.words_similarity !== null && !result.shared_lines.length) body.insertRow().insertCell().textContent = "No line in common.";
}

function seek(player, seconds) {
  const go = () => { player.currentTime = seconds; };
  if (player.readyState >= 1) go();
  else player.addEventListener("loadedmetadata", go, { once: true });
}

// Both players move to the passage; A plays (press B's play to hear the other version from there).
function playSegment(g) {
  const a = $("player-a");
  const b = $("player-b");
  b.pause();
  seek(a, g.a_start);
  seek(b, g.b_start);
  a.play().catch(() => {}); // a browser may refuse to play before a user gesture: the positions are set anyway
}

// ---- search --------------------------------------------------------------------------------------
async function runSearch() {
  showError("");
  const form = new FormData();
  form.append("file", fileQ);
  form.append("k", "20");
  await upload("/api/query", form, $("search-progress"), "Searching the catalog and aligning the best candidates…", showMatches);
}
$("run-search").addEventListener("click", runSearch);

function showMatches(result) {
  const table = $("matches");
  const body = table.querySelector("tbody");
  body.replaceChildren();
  for (const m of result.results) {
    const row = body.insertRow();
    row.insertCell().textContent = m.rank;
    row.insertCell().textContent = m.title ? `${m.artist ? m.artist + " – " : ""}${m.title}` : m.path.split("/").pop();
    const verdict = row.insertCell();
    verdict.textContent = m.verdict ? `${m.verdict} (${(100 * m.probability).toFixed(0)} %)` : "–";
    verdict.className = m.verdict || "";
    row.insertCell().textContent = m.similarity.toFixed(3);
    row.insertCell().textContent = m.verdict ? `${m.transposition_semitones >= 0 ? "+" : ""}${m.transposition_semitones} st, ×${m.tempo_ratio.toFixed(2)}` : "";
    const open = document.createElement("button");
    open.textContent = "compare";
    open.addEventListener("click", () => {
      fileA = fileQ;
      compareB = { id: m.id };
      $("drop-a").querySelector(".name").textContent = fileQ.name;
      $("drop-b").querySelector(".name").textContent = row.cells[1].textContent;
      readyCompare();
      showTab("compare");
      runCompare();
    });
    row.insertCell().append(open);
  }
  if (!result.results.length) body.insertRow().insertCell().textContent = "The catalog is empty.";
  table.hidden = false;
}

// ---- catalog -------------------------------------------------------------------------------------
async function loadCatalog() {
  const q = encodeURIComponent($("filter").value.trim());
  try {
    const [health, page] = await Promise.all([
      send("GET", "/api/health"), send("GET", `/api/recordings?offset=${catalogOffset}&limit=${PAGE}&q=${q}`)]);
    $("catalog-info").textContent = `${health.recordings} recordings${health.read_only ? " (read-only)" : ""}.`;
    const body = $("recordings").querySelector("tbody");
    body.replaceChildren();
    for (const r of page.recordings) {
      const row = body.insertRow();
      row.insertCell().textContent = r.label;
      row.insertCell().textContent = r.duration ? clock(r.duration) : "";
      row.insertCell().textContent = r.added_at.slice(0, 10);
      const remove = document.createElement("button");
      remove.textContent = "remove";
      remove.addEventListener("click", () => removeRecording(r));
      row.insertCell().append(remove);
    }
    if (!page.recordings.length) body.insertRow().insertCell().textContent = "No recording matches.";
    const last = Math.min(page.total, catalogOffset + PAGE);
    $("page").textContent = page.total ? `${catalogOffset + 1}–${last} of ${page.total}` : "";
    $("prev").disabled = catalogOffset === 0;
    $("next").disabled = last >= page.total;
  } catch (error) {
    showError(error.message);
  }
}

async function removeRecording(r) {
  if (!confirm(`Remove “${r.label}” from the catalog?`)) return;
  try {
    await send("DELETE", `/api/recordings/${r.id}`);
    loadCatalog();
  } catch (error) {
    showError(error.message);
  }
}

async function addFiles(files) {
  showError("");
  const failed = [];
  for (const [n, file] of Array.from(files).entries()) {
    const form = new FormData();
    form.append("file", file);
    const head = `${n + 1} of ${files.length}: ${file.name}`;
    try {
      await send("POST", "/api/recordings", form, (f) =>
        progress($("add-progress"), f < 1 ? `${head} — uploading ${Math.round(100 * f)} %` : `${head} — embedding…`));
    } catch (error) {
      failed.push(error.message);
    }
  }
  progress($("add-progress"), "");
  if (failed.length) showError(failed.join(" "));
  loadCatalog();
}

$("add-files").addEventListener("change", (e) => addFiles(e.target.files));
$("filter").addEventListener("input", () => { catalogOffset = 0; loadCatalog(); });
$("prev").addEventListener("click", () => { catalogOffset = Math.max(0, catalogOffset - PAGE); loadCatalog(); });
$("next").addEventListener("click", () => { catalogOffset += PAGE; loadCatalog(); });
$("token").value = localStorage.getItem("homage-token") || "";
$("token").addEventListener("change", () => localStorage.setItem("homage-token", $("token").value));

// ---- jobs: a scan of several files, the grouping of the catalog ------------------------------------
async function follow(job, element, verb) {
  for (;;) {
    const status = await send("GET", job.status);
    if (status.state === "done") return status.result;
    if (status.state === "failed") throw new Error(sentence(status.error));
    progress(element, status.total ? `${verb}… ${status.done} of ${status.total}` : `${verb}…`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function scanFiles(files) {
  showError("");
  const form = new FormData();
  for (const file of files) form.append("files", file);
  try {
    const job = await send("POST", "/api/jobs/scan", form, (f) => progress($("scan-progress"), `Uploading… ${Math.round(100 * f)} %`));
    const result = await follow(job, $("scan-progress"), "Scanning");
    const table = $("flags");
    const body = table.querySelector("tbody");
    body.replaceChildren();
    for (const f of result.flagged) {
      const row = body.insertRow();
      row.insertCell().textContent = f.path;
      row.insertCell().textContent = f.recording.label;
      const verdict = row.insertCell();
      verdict.textContent = `${f.verdict} (${(100 * f.probability).toFixed(0)} %)`;
      verdict.className = f.verdict;
      row.insertCell().textContent = f.alignment.segments.map((g) => `${clock(g.a_start)}–${clock(g.a_end)} = ${clock(g.b_start)}–${clock(g.b_end)}`).join("; ");
    }
    if (!result.flagged.length) body.insertRow().insertCell().textContent = "None of these files looks like a version of a catalogued recording.";
    table.hidden = false;
    if (result.failed.length) showError(result.failed.map((x) => sentence(`${x.path}: ${x.reason}`)).join(" "));
  } catch (error) {
    showError(error.message);
  } finally {
    progress($("scan-progress"), "");
  }
}
$("scan-files").addEventListener("change", (e) => e.target.files.length && scanFiles(e.target.files));

async function loadGroups() {
  try {
    const data = await send("GET", "/api/groups");
    $("groups-info").textContent = data.grouped
      ? `${data.groups.length} groups of two or more recordings (${data.grouped} recordings grouped).`
      : "The catalog has not been grouped yet.";
    const list = $("group-list");
    list.replaceChildren();
    for (const g of data.groups) {
      const box = document.createElement("details");
      box.className = "group";
      const title = document.createElement("summary");
      title.textContent = `${g.size} recordings: ${g.recordings[0].label}`;
      const items = document.createElement("ul");
      for (const r of g.recordings) {
        const item = document.createElement("li");
        item.textContent = `${r.label}${r.strongest_link ? ` — strongest link ${(100 * r.probability).toFixed(0)} %` : ""}`;
        items.append(item);
      }
      box.append(title, items);
      list.append(box);
    }
  } catch (error) {
    showError(error.message);
  }
}

$("run-groups").addEventListener("click", async () => {
  showError("");
  $("run-groups").disabled = true;
  try {
    const form = new FormData();
    const job = await send("POST", "/api/jobs/groups", form);
    const result = await follow(job, $("groups-progress"), "Grouping");
    progress($("groups-progress"), `Done: ${result.grouped} recordings placed, ${result.aligned_pairs} pairs aligned.`);
    loadGroups();
  } catch (error) {
    showError(error.message);
    progress($("groups-progress"), "");
  } finally {
    $("run-groups").disabled = false;
  }
});
