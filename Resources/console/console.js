// The console page: the session list, one session's transcript (replayed, then live over a
// WebSocket), and the code box, interrupt and reset buttons. The messages it reads and sends
// are described in docs/console-protocol.md.

import { Transcript } from './transcript.js';
import { element, formatBytes } from './render.js';

const listRefreshMs = 2000;
const reconnectDelaysMs = [250, 500, 1000, 2000, 4000, 8000];
const resetConfirmMs = 4000;

const page = {
  connection: document.getElementById('connection'),
  sessionRows: document.getElementById('session-rows'),
  sessionsMessage: document.getElementById('sessions-message'),
  sessionView: document.getElementById('session-view'),
  noSession: document.getElementById('no-session'),
  sessionTitle: document.getElementById('session-title'),
  sessionState: document.getElementById('session-state'),
  transcript: document.getElementById('transcript'),
  codeForm: document.getElementById('code-form'),
  codeBox: document.getElementById('code-box'),
  codeMessage: document.getElementById('code-message'),
  interruptButton: document.getElementById('interrupt-button'),
  resetButton: document.getElementById('reset-button'),
};

/** Errors from the console's HTTP API, with the status and the server's message. */
class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// The server put the token from `?token=…` into an HttpOnly cookie when it served this page; the
// address bar (history, bookmarks, a screen share) should not keep it.
function dropTokenFromAddress() {
  const url = new URL(window.location.href);
  if (!url.searchParams.has('token')) return;
  url.searchParams.delete('token');
  window.history.replaceState(window.history.state, '', `${url.pathname}${url.search}${url.hash}`);
}

// A label for this tab, kept across reloads of the tab, so the transcript can say which tab ran what.
function tabLabel() {
  const key = 'pyrun-console-tab';
  let label = window.sessionStorage.getItem(key);
  if (!label) {
    const bytes = new Uint8Array(3);
    window.crypto.getRandomValues(bytes);
    label = `tab-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
    window.sessionStorage.setItem(key, label);
  }
  return label;
}

async function api(path, { method = 'GET', body } = {}) {
  const response = await fetch(path, {
    method,
    credentials: 'same-origin',
    cache: 'no-store',
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let reply = null;
  try {
    reply = await response.json();
  } catch {
    reply = null;
  }
  if (!response.ok) {
    const message = reply?.message ?? `${response.status} ${response.statusText}`.trim();
    throw new ApiError(response.status, message);
  }
  return reply;
}

function sessionPath(name, suffix = '') {
  return `/api/sessions/${encodeURIComponent(name)}${suffix}`;
}

const state = {
  tab: tabLabel(),
  unauthorized: false,
  sessions: [],
  open: null, // { name, socket, transcript, attempts, timer, live, closedOnPurpose }
  mine: new Set(),
  resetArmedUntil: 0,
};

function showUnauthorized() {
  state.unauthorized = true;
  page.connection.textContent = 'Not authorized: open the link that `pyrun serve` printed (it carries ?token=…).';
  page.connection.dataset.state = 'unauthorized';
}

// MARK: the session list

async function refreshSessions() {
  if (state.unauthorized) return;
  try {
    const reply = await api('/api/sessions');
    state.sessions = Array.isArray(reply?.sessions) ? reply.sessions : [];
    page.sessionsMessage.hidden = true;
    if (page.connection.dataset.state !== 'ok') {
      page.connection.textContent = 'server reachable';
      page.connection.dataset.state = 'ok';
    }
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return showUnauthorized();
    page.connection.textContent = `cannot reach the server: ${error.message}`;
    page.connection.dataset.state = 'unreachable';
  }
  renderSessions();
  showSessionState();
  window.setTimeout(refreshSessions, listRefreshMs);
}

function renderSessions() {
  const rows = state.sessions.map((session) => {
    const row = element('tr');
    row.dataset.session = String(session.name ?? '');
    if (state.open && state.open.name === session.name) row.classList.add('selected');
    const link = element('a', null, session.name);
    link.href = `#/sessions/${encodeURIComponent(session.name)}`;
    const name = element('td', 'name');
    name.append(link);
    row.append(
      name,
      element('td', `status status-${session.status}`, session.status ?? ''),
      element('td', 'pid', session.pid ?? '—'),
      element('td', 'memory', formatBytes(session.memoryBytes) || '—'),
      element('td', 'clients', session.clients ?? 0),
    );
    return row;
  });
  page.sessionRows.replaceChildren(...rows);
  if (rows.length === 0 && !state.unauthorized) {
    page.sessionsMessage.textContent = 'No sessions yet: run code with `pyrun exec --session NAME` or `pyrun attach NAME`.';
    page.sessionsMessage.hidden = false;
  }
}

// MARK: one session, replayed then live

function openSession(name) {
  closeSession();
  const open = {
    name,
    socket: null,
    // Its own executions: the ids its POSTs got back, and (after a reload) its label in the journal.
    transcript: new Transcript(page.transcript, (id, client) => state.mine.has(id) || client === `console:${state.tab}`),
    attempts: 0,
    timer: null,
    live: false,
    closedOnPurpose: false,
    connection: 'connecting',
  };
  state.open = open;
  page.sessionTitle.textContent = name;
  page.sessionView.hidden = false;
  page.noSession.hidden = true;
  page.codeMessage.textContent = '';
  renderSessions();
  connect(open);
}

function closeSession() {
  const open = state.open;
  if (!open) return;
  open.closedOnPurpose = true;
  window.clearTimeout(open.timer);
  open.socket?.close(1000, 'the page closed the session view');
  state.open = null;
  page.transcript.replaceChildren();
  page.sessionView.hidden = true;
  page.noSession.hidden = false;
}

function connect(open) {
  const from = open.transcript.lastSeq + 1;
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  const url = `${scheme}//${window.location.host}${sessionPath(open.name, '/observe')}?from=${from}`;
  const socket = new WebSocket(url);
  open.socket = socket;
  open.live = false;
  open.opened = false;
  setConnection(open, from === 0 ? 'replaying the journal…' : `resuming from entry ${from}…`);
  socket.addEventListener('open', () => {
    open.opened = true;
    open.attempts = 0;
  });
  socket.addEventListener('message', (event) => receive(open, event.data));
  socket.addEventListener('close', (event) => closed(open, socket, event));
}

function receive(open, data) {
  if (state.open !== open) return;
  let message;
  try {
    message = JSON.parse(data);
  } catch {
    return setConnection(open, 'the server sent something that is not JSON; ignored');
  }
  const messages = Array.isArray(message) ? message : [message];
  const stick = nearBottom();
  for (const entry of messages) {
    if (entry && typeof entry === 'object') handle(open, entry);
  }
  if (stick) page.transcript.scrollTop = page.transcript.scrollHeight;
}

function handle(open, entry) {
  switch (entry.type) {
    case 'hello':
      open.hello = entry;
      return;
    case 'live':
      open.live = true;
      return setConnection(open, 'live');
    case 'behind':
      // The server dropped this observer because it fell behind; it closes the socket next and
      // the page resumes from the first entry it has not shown.
      return setConnection(open, 'fell behind the kernel; resuming…');
    default:
      open.transcript.apply(entry);
      if (!open.live && open.opened && entry.type !== 'gap') setConnection(open, 'replaying the journal…');
  }
}

async function closed(open, socket, event) {
  if (open.socket !== socket || open.closedOnPurpose || state.open !== open) return;
  if (event.code === 4401) return showUnauthorized();
  if (event.code === 4404) return setConnection(open, 'no such session');
  if (!open.opened) {
    // A refused upgrade reaches the page as code 1006 with no status: ask over HTTP why.
    try {
      await api(sessionPath(open.name));
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return showUnauthorized();
      if (error instanceof ApiError && error.status === 404) return setConnection(open, 'no such session');
    }
  }
  const delay = reconnectDelaysMs[Math.min(open.attempts, reconnectDelaysMs.length - 1)];
  open.attempts += 1;
  const why = event.reason || (event.code === 1006 ? 'the connection failed or dropped' : `close code ${event.code}`);
  setConnection(open, `disconnected (${why}); reconnecting in ${(delay / 1000).toFixed(1)} s`);
  open.timer = window.setTimeout(() => {
    if (state.open === open) connect(open);
  }, delay);
}

function setConnection(open, text) {
  open.connection = text;
  showSessionState();
}

function showSessionState() {
  const open = state.open;
  if (!open) return;
  const session = state.sessions.find((s) => s.name === open.name);
  const parts = [open.connection];
  if (session) {
    parts.push(String(session.status ?? ''));
    if (session.pid) parts.push(`pid ${session.pid}`);
    if (typeof session.memoryBytes === 'number') parts.push(formatBytes(session.memoryBytes));
    parts.push(`${session.clients ?? 0} client${session.clients === 1 ? '' : 's'}`);
  }
  page.sessionState.textContent = parts.filter(Boolean).join(' · ');
  page.sessionState.dataset.connection = open.live ? 'live' : 'not-live';
}

function nearBottom() {
  const list = page.transcript;
  return list.scrollHeight - list.scrollTop - list.clientHeight < 40;
}

// MARK: commands

async function run() {
  const open = state.open;
  const code = page.codeBox.value;
  if (!open || code.trim() === '') return;
  page.codeMessage.textContent = '';
  try {
    const reply = await api(sessionPath(open.name, '/execute'), {
      method: 'POST',
      body: { code, client: state.tab },
    });
    if (typeof reply?.id === 'string') {
      state.mine.add(reply.id);
      open.transcript.markMine(reply.id);
    }
    if (page.codeBox.value === code) page.codeBox.value = '';
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) showUnauthorized();
    page.codeMessage.textContent = `not run: ${error.message}`;
  }
}

async function command(name, done) {
  const open = state.open;
  if (!open) return;
  page.codeMessage.textContent = '';
  try {
    await api(sessionPath(open.name, `/${name}`), { method: 'POST', body: { client: state.tab } });
    page.codeMessage.textContent = done;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) showUnauthorized();
    page.codeMessage.textContent = `${name} failed: ${error.message}`;
  }
}

function resetClicked() {
  // Two clicks, so one stray click does not throw away a session's state.
  if (Date.now() > state.resetArmedUntil) {
    state.resetArmedUntil = Date.now() + resetConfirmMs;
    page.resetButton.textContent = 'Click again to reset';
    page.resetButton.classList.add('armed');
    window.setTimeout(disarmReset, resetConfirmMs);
    return;
  }
  disarmReset();
  command('reset', 'reset asked for');
}

function disarmReset() {
  state.resetArmedUntil = 0;
  page.resetButton.textContent = 'Reset';
  page.resetButton.classList.remove('armed');
}

// MARK: wiring

function route() {
  const match = /^#\/sessions\/(.+)$/.exec(window.location.hash);
  const name = match ? decodeURIComponent(match[1]) : null;
  if (name === null) return closeSession();
  if (state.open?.name !== name) openSession(name);
}

page.codeBox.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && event.shiftKey && !event.isComposing) {
    event.preventDefault();
    run();
  }
});
page.codeForm.addEventListener('submit', (event) => {
  event.preventDefault();
  run();
});
page.interruptButton.addEventListener('click', () => command('interrupt', 'interrupt sent'));
page.resetButton.addEventListener('click', resetClicked);
window.addEventListener('hashchange', route);

dropTokenFromAddress();
route();
refreshSessions();
