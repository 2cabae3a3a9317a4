// i2v web page: submit a photo, follow the job over Server-Sent Events, play the video.
// Plain JavaScript with no build step. Events are read with fetch() rather than
// EventSource because EventSource cannot send the Authorization header.
"use strict";

const TEXTS = {
  en: {
    tagline: "Turn a photo into a short video.",
    token_label: "API token", token_save: "Save",
    token_hint: "This server needs its API token (I2V_API_TOKEN).",
    drop: "Drop a photo here or tap to choose one",
    prompt: "What should happen (optional)", resolution: "Resolution", default: "Default",
    duration: "Length, seconds", make: "Make a video", job: "Job", cancel: "Cancel",
    download: "Download the video", recent: "Recent jobs", none: "No jobs yet.",
    queued: "Waiting in the queue", queued_at: "Place in the queue: {n}",
    running: "Working", succeeded: "Done", failed: "Failed", canceled: "Canceled",
    loading_model: "Loading the model", preprocessing: "Preparing the photo",
    generating: "Generating frames", decoding: "Decoding frames", encoding: "Writing the video",
    eta: "About {t} left", wait: "Starts in about {t}", no_workers: "No worker is running right now.",
    no_model_worker: "No running worker makes this model; the job starts when one does.",
    cancel_requested: "Stopping…", sending: "Sending…", offline: "Connection lost, retrying…",
    seconds: "{n} s", minutes: "{n} min", starts_now: "Starts now",
    retry: "Try again", network: "The server cannot be reached. Check the connection and try again.",
    pick_again: "Choose the photo again, then press “Make a video”.",
  },
  ru: {
    tagline: "Превратите фото в короткое видео.",
    token_label: "Токен API", token_save: "Сохранить",
    token_hint: "Этому серверу нужен токен API (I2V_API_TOKEN).",
    drop: "Перетащите фото сюда или нажмите, чтобы выбрать",
    prompt: "Что должно происходить (необязательно)", resolution: "Разрешение",
    default: "По умолчанию", duration: "Длина, секунд", make: "Сделать видео", job: "Задача",
    cancel: "Отменить", download: "Скачать видео", recent: "Недавние задачи", none: "Задач пока нет.",
    queued: "В очереди", queued_at: "Место в очереди: {n}",
    running: "В работе", succeeded: "Готово", failed: "Не получилось", canceled: "Отменено",
    loading_model: "Загрузка модели", preprocessing: "Подготовка фото",
    generating: "Создание кадров", decoding: "Декодирование кадров", encoding: "Запись видео",
    eta: "Осталось около {t}", wait: "Начнётся примерно через {t}",
    no_workers: "Сейчас не запущен ни один исполнитель.",
    no_model_worker: "Ни один запущенный исполнитель не делает эту модель; задача начнётся, когда такой появится.",
    cancel_requested: "Останавливаем…", sending: "Отправка…",
    offline: "Связь потеряна, переподключаемся…", seconds: "{n} с", minutes: "{n} мин",
    starts_now: "Начнётся сейчас", retry: "Попробовать ещё раз",
    network: "Сервер недоступен. Проверьте соединение и попробуйте ещё раз.",
    pick_again: "Выберите фото ещё раз и нажмите «Сделать видео».",
  },
};

const $ = (id) => document.getElementById(id);
const state = { lang: "en", token: localStorage.getItem("i2v.token") || "", jobId: null, job: null, stream: null, lastForm: null };
// Languages whose speakers get the Russian page (as the bot does).
const RUSSIAN_READERS = ["ru", "be", "uk", "kk", "ky", "uz", "tg"];

function t(key, vars) {
  let text = (TEXTS[state.lang] && TEXTS[state.lang][key]) || TEXTS.en[key] || key;
  for (const [name, value] of Object.entries(vars || {})) text = text.replace(`{${name}}`, value);
  return text;
}

// An estimate said as a person would: "45 s", "3 min"; never "0 s".
function duration(seconds) {
  const s = Math.max(5, Math.ceil(seconds / 5) * 5);
  return s < 60 ? t("seconds", { n: s }) : t("minutes", { n: Math.round(s / 60) });
}

function setLanguage(lang) {
  state.lang = TEXTS[lang] ? lang : "en";
  localStorage.setItem("i2v.lang", state.lang);
  document.documentElement.lang = state.lang;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const b of document.querySelectorAll("[data-lang]")) b.setAttribute("aria-pressed", String(b.dataset.lang === state.lang));
  if (state.job) show(state.job);
}

function headers(extra) {
  const h = new Headers(extra || {});
  if (state.token) h.set("Authorization", `Bearer ${state.token}`);
  // Problem details and job errors come back in the page's language.
  h.set("Accept-Language", state.lang);
  return h;
}

async function api(path, options) {
  let response;
  try {
    response = await fetch(path, { ...(options || {}), headers: headers((options || {}).headers) });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new Error(t("network"));  // the browser's own words ("Failed to fetch") help no one
  }
  if (response.status === 401) $("token-box").hidden = false;
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail || detail; } catch (e) { /* not JSON */ }
    throw new Error(detail);
  }
  return response;
}

// The browser cannot put a token on <video src>, so with a token the page asks for a
// short-lived signed link; either way the player streams and seeks with Range requests.
async function mediaUrl(path) {
  if (!state.token) return path;
  return (await (await api(`${path}/link`)).json()).url;
}

// --- following a job -----------------------------------------------------------------

function show(job) {
  const before = state.job && state.job.id === job.id ? state.job.status : null;
  state.job = job;
  $("job").hidden = false;
  $("job-id").textContent = job.id;
  const status = job.status;
  let line = t(status);
  if (status === "queued" && job.queue) line += ". " + t("queued_at", { n: job.queue.position });
  if (status === "running" && job.stage) line = t(job.stage);
  if (job.cancel_requested && !["canceled", "succeeded", "failed"].includes(status)) line = t("cancel_requested");
  $("status").textContent = line;
  $("status").dataset.status = status;
  $("progress").value = status === "succeeded" ? 1 : job.progress;
  let eta = "";
  if (status === "queued" && job.queue) {
    if (!job.queue.live_workers) eta = t("no_workers");
    else if (job.queue.serving_workers === 0) eta = t("no_model_worker");
    else if (job.queue.wait_seconds < 5) eta = t("starts_now");
    else eta = t("wait", { t: duration(job.queue.wait_seconds) });
  }
  if (status === "running" && job.eta_seconds != null) eta = t("eta", { t: duration(job.eta_seconds) });
  $("eta").textContent = eta;
  $("cancel").hidden = !["queued", "running"].includes(status) || job.cancel_requested;
  $("job-error").hidden = !job.error;
  $("job-error").textContent = job.error ? job.error.message : "";
  $("retry").hidden = status !== "failed";
  if (status === "succeeded") showVideo(job);
  else if (before && before !== status && ["failed", "canceled"].includes(status)) loadJobs();
}

async function showVideo(job) {
  const video = $("video");
  if (video.dataset.job === job.id) return;
  video.dataset.job = job.id;
  video.src = await mediaUrl(job.links.video);
  video.hidden = false;
  const link = $("download");
  link.href = `${video.src}${video.src.includes("?") ? "&" : "?"}download=1`;
  link.download = `i2v-${job.id}.mp4`;
  link.hidden = false;
  loadJobs();
}

function follow(jobId) {
  if (state.stream) state.stream.abort();
  state.jobId = jobId;
  $("video").hidden = true;
  $("video").removeAttribute("src");
  delete $("video").dataset.job;
  $("download").hidden = true;
  const controller = new AbortController();
  state.stream = controller;
  readEvents(jobId, controller.signal);
}

// Reads text/event-stream; reconnects with Last-Event-ID until the terminal event.
async function readEvents(jobId, signal) {
  let lastId = null;
  let retry = 2000;
  while (!signal.aborted) {
    try {
      const extra = lastId ? { "Last-Event-ID": lastId } : {};
      const response = await api(`/v1/jobs/${jobId}/events`, { headers: extra, signal });
      if (response.status === 204) return;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = { id: null, name: "message", data: [] };
          for (const line of block.split("\n")) {
            const colon = line.indexOf(":");
            if (colon === 0) continue;
            const field = colon < 0 ? line : line.slice(0, colon);
            const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
            if (field === "id") event.id = val;
            else if (field === "event") event.name = val;
            else if (field === "data") event.data.push(val);
            else if (field === "retry") retry = Number(val) || retry;
          }
          if (event.id !== null) lastId = event.id;
          if (!event.data.length) continue;
          const job = JSON.parse(event.data.join("\n"));
          show(job);
          if (["succeeded", "failed", "canceled"].includes(event.name)) return;
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      $("eta").textContent = t("offline");
    }
    await new Promise((resolve) => setTimeout(resolve, retry));
  }
}

// --- submitting ------------------------------------------------------------------------

function choose(file) {
  if (!file) return;
  const transfer = new DataTransfer();
  transfer.items.add(file);
  $("photo").files = transfer.files;
  const preview = $("preview");
  preview.src = URL.createObjectURL(file);
  preview.hidden = false;
  $("drop-text").textContent = file.name;
  $("submit").disabled = false;
}

async function submit(event) {
  event.preventDefault();
  const form = new FormData();
  form.append("photo", $("photo").files[0]);
  for (const name of ["prompt", "resolution", "duration"]) {
    const value = $(name).value.trim();
    if (value) form.append(name, value);
  }
  $("submit").disabled = true;
  $("form-error").hidden = true;
  try {
    const key = crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random();
    const response = await api("/v1/jobs", { method: "POST", body: form, headers: { "Idempotency-Key": key } });
    const job = await response.json();
    state.lastForm = form;
    show(job);
    $("job").scrollIntoView({ behavior: "smooth", block: "start" });
    follow(job.id);
    loadJobs();
  } catch (error) {
    $("form-error").textContent = error.message;
    $("form-error").hidden = false;
  } finally {
    $("submit").disabled = !$("photo").files.length;
  }
}

// "Try again" sends the same photo and options as a new job; a job opened from the list
// has no photo on this page, so the form is brought up to choose it again.
async function retry() {
  if (!state.lastForm || !$("photo").files.length) {
    $("job-form").scrollIntoView({ behavior: "smooth", block: "start" });
    $("form-error").textContent = t("pick_again");
    $("form-error").hidden = false;
    return;
  }
  $("job-form").requestSubmit();
}

async function cancel() {
  if (!state.jobId) return;
  try {
    show(await (await api(`/v1/jobs/${state.jobId}`, { method: "DELETE" })).json());
  } catch (error) {
    $("job-error").textContent = error.message;
    $("job-error").hidden = false;
  }
}

// Read the shown job again, so its error sentence follows a change of language.
async function refreshJob() {
  if (!state.jobId) return;
  try { show(await (await api(`/v1/jobs/${state.jobId}`)).json()); } catch (error) { /* next event */ }
}

// --- recent jobs -----------------------------------------------------------------------

async function loadJobs() {
  let jobs;
  try {
    jobs = (await (await api("/v1/jobs?limit=12")).json()).jobs;
  } catch (error) {
    return;
  }
  const list = $("jobs");
  list.replaceChildren();
  if (!jobs.length) {
    const empty = document.createElement("li");
    empty.textContent = t("none");
    list.append(empty);
  }
  for (const job of jobs) {
    const item = document.createElement("li");
    const img = document.createElement("img");
    img.className = "thumb";
    img.alt = "";
    if (job.status === "succeeded") mediaUrl(job.links.thumbnail).then((url) => { img.src = url; }, () => {});
    const caption = document.createElement("div");
    caption.className = "caption";
    caption.textContent = job.spec.prompt || job.spec.image_name;
    caption.title = caption.textContent;
    const status = document.createElement("div");
    status.className = "state";
    status.textContent = t(job.status);
    item.append(img, caption, status);
    item.addEventListener("click", () => { show(job); follow(job.id); });
    list.append(item);
  }
}

function start() {
  const saved = localStorage.getItem("i2v.lang");
  const base = (navigator.language || "en").slice(0, 2).toLowerCase();
  setLanguage(saved || (RUSSIAN_READERS.includes(base) ? "ru" : "en"));
  for (const b of document.querySelectorAll("[data-lang]")) b.addEventListener("click", () => { setLanguage(b.dataset.lang); loadJobs(); refreshJob(); });
  $("token").value = state.token;
  $("token-save").addEventListener("click", () => {
    state.token = $("token").value.trim();
    localStorage.setItem("i2v.token", state.token);
    $("token-box").hidden = true;
    loadJobs();
  });
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); choose(e.dataTransfer.files[0]); });
  $("photo").addEventListener("change", () => choose($("photo").files[0]));
  $("job-form").addEventListener("submit", submit);
  $("cancel").addEventListener("click", cancel);
  $("retry").addEventListener("click", retry);
  loadJobs();
}

document.addEventListener("DOMContentLoaded", start);
