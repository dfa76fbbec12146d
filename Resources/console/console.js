// The console page: the session list, one session's transcript (its journal replayed, then
// live), the code box, interrupt and reset. It speaks the serve protocol over one WebSocket;
// docs/console-protocol.md says which messages it sends and reads.

import { Connection } from './connection.js';
import { Transcript } from './transcript.js';
import { element, formatBytes } from './render.js';

const listRefreshMs = 2000;
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
  runButton: document.getElementById('run-button'),
  sessionTable: document.getElementById('session-table'),
  openSessionForm: document.getElementById('open-session-form'),
  openSessionName: document.getElementById('open-session-name'),
};

// The name an MCP server's sessions are served under (`pyrun mcp --http`); no `pyrun serve`
// server can have it (their names have no spaces), so it tells the two kinds apart.
const mcpServerName = 'pyrun mcp';

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

const state = {
  tab: tabLabel(),
  connection: null,
  connected: false, // while false, what the page shows of the server may be stale
  listed: false, // a `sessions` answer came on this connection (after its `welcome`)
  server: null, // the `welcome`
  sessions: [],
  listTimer: null,
  // The session shown: { name, transcript, tag, journal, requestedFrom, fresh, live, note }
  open: null,
  // Requests waiting for their answer, by tag: { kind: 'run' | 'interrupt' | 'reset', code? }
  pending: new Map(),
  mine: new Set(),
  resetArmedUntil: 0,
};

function setHeader(text, kind) {
  page.connection.textContent = text;
  page.connection.dataset.state = kind;
}

// MARK: the connection

function start() {
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  state.connection = new Connection(`${scheme}//${window.location.host}/api/socket`, {
    onOpen: connected,
    onMessage: receive,
    onClose: disconnected,
  });
  state.connection.connect();
}

function connected() {
  state.connected = true;
  state.listed = false;
  showConnected();
  setHeader('connected', 'ok');
  refreshSessions();
  if (state.open) observe(state.open);
}

async function disconnected(why, retryMs, everOpened) {
  window.clearTimeout(state.listTimer);
  state.connected = false;
  state.pending.clear();
  showConnected();
  if (state.open) {
    state.open.tag = null;
    state.open.live = false;
    setNote(state.open, 'disconnected');
  }
  if (!everOpened && (await refusedForToken())) {
    state.connection.stop();
    setHeader('Not authorized: open the link that `pyrun serve` printed (it carries ?token=…).', 'unauthorized');
    return;
  }
  setHeader(`disconnected (${why}); reconnecting in ${(retryMs / 1000).toFixed(1)} s`, 'unreachable');
}

// A refused WebSocket upgrade reaches the page as code 1006 with no status: ask over HTTP whether
// the token is the reason.
async function refusedForToken() {
  try {
    const response = await fetch('/api/status', { credentials: 'same-origin', cache: 'no-store' });
    return response.status === 401 || response.status === 403;
  } catch {
    return false;
  }
}

function receive(message) {
  const open = state.open;
  if (open && message.tag !== undefined && message.tag === open.tag) return observation(open, message);
  const pending = message.tag === undefined ? undefined : state.pending.get(message.tag);
  switch (message.type) {
    case 'welcome':
      state.server = message;
      setHeader(`connected to ${message.name} (pid ${message.pid})`, 'ok');
      return;
    case 'sessions':
      state.sessions = Array.isArray(message.sessions) ? message.sessions : [];
      state.listed = true;
      renderSessions();
      showSessionState();
      return;
    case 'accepted':
      if (pending?.kind === 'run') {
        state.mine.add(message.id);
        state.open?.transcript.markMine(message.id);
        if (page.codeBox.value === pending.code) page.codeBox.value = '';
      }
      return;
    case 'event':
      // The run's own `finished` (it was sent with stream: false); the journal shows everything.
      if (message.event?.type === 'finished') state.pending.delete(message.tag);
      return;
    case 'ok':
      if (pending) {
        state.pending.delete(message.tag);
        page.codeMessage.textContent = pending.kind === 'reset' ? 'reset: a fresh interpreter' : 'interrupt sent';
      }
      return;
    case 'error':
      if (pending) state.pending.delete(message.tag);
      page.codeMessage.textContent = `${pending?.kind ?? 'request'} failed: ${message.message ?? message.code}`;
      return;
    default:
      // Answers to an observation this page has left (cancelled), and types it does not know.
      return;
  }
}

// MARK: the session list

function refreshSessions() {
  window.clearTimeout(state.listTimer);
  state.connection.request('sessions');
  state.listTimer = window.setTimeout(refreshSessions, listRefreshMs);
}

function statusOf(session) {
  if (!state.connected) return 'unknown';
  if (session.pid === undefined || session.pid === null) return 'no kernel';
  if (!session.busy) return 'idle';
  return session.queued > 0 ? `busy, ${session.queued} waiting` : 'busy';
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
    const status = statusOf(session);
    row.append(
      name,
      element('td', `status status-${status.split(/[ ,]/)[0]}`, status),
      element('td', 'pid', (state.connected && session.pid) || '—'),
      element('td', 'memory', (state.connected && formatBytes(session.memoryBytes)) || '—'),
      element('td', 'clients', state.connected ? session.clients ?? 0 : '—'),
    );
    return row;
  });
  page.sessionRows.replaceChildren(...rows);
  page.sessionTable.classList.toggle('stale', !state.connected);
  page.sessionsMessage.hidden = rows.length > 0 && state.connected;
  if (!state.connected) {
    page.sessionsMessage.textContent = state.server ? 'Not connected: the list is as it was last seen.' : 'Connecting…';
  } else if (!state.listed) {
    // The hint below depends on the server's `welcome`; wait for the list that follows it.
    page.sessionsMessage.hidden = rows.length > 0;
    page.sessionsMessage.textContent = 'Asking for the sessions…';
  } else if (rows.length === 0) {
    page.sessionsMessage.textContent = `No sessions yet: ${howToStartASession()}`;
  }
}

// What makes a session, for the kind of server this console serves.
function howToStartASession() {
  const name = state.server?.name;
  if (name === mcpServerName) {
    return "the agent's sessions appear here once it runs code (its python tool); or open one by name below.";
  }
  const server = !name || name === 'default' ? '' : ` --server ${name}`;
  return `run code with \`pyrun exec${server} --session NAME -c CODE\` in a terminal, or open one by name below.`;
}

// While disconnected nothing can be sent: the buttons say so, and the list and the session's
// state read as unknown rather than as they were.
function showConnected() {
  for (const button of [page.interruptButton, page.resetButton, page.runButton]) {
    button.disabled = !state.connected;
  }
  if (!state.connected) disarmReset();
  renderSessions();
  showSessionState();
}

// MARK: one session, replayed then live

function openSession(name) {
  closeSession();
  const open = {
    name,
    transcript: new Transcript(page.transcript, (id, client) => state.mine.has(id) || client === `console:${state.tab}`),
    tag: null,
    journal: null,
    requestedFrom: null,
    fresh: true,
    live: false,
    note: 'connecting',
  };
  state.open = open;
  page.sessionTitle.textContent = name;
  page.sessionView.hidden = false;
  page.noSession.hidden = true;
  page.codeMessage.textContent = '';
  renderSessions();
  observe(open);
}

function closeSession() {
  const open = state.open;
  if (!open) return;
  if (open.tag) state.connection.request('unobserve', { observeTag: open.tag });
  state.open = null;
  page.transcript.replaceChildren();
  page.sessionView.hidden = true;
  page.noSession.hidden = false;
}

// Asks for the journal: from the first entry on first sight (so a gap marker says how much the
// journal no longer keeps), else from the entry after the last shown, with the journal's id so a
// restarted server replays its new journal from the start.
function observe(open) {
  const fields = { session: open.name, from: 1 };
  open.requestedFrom = null;
  if (open.transcript.lastSeq >= 1) {
    fields.from = open.transcript.lastSeq + 1;
    if (open.journal) fields.journal = open.journal;
    open.requestedFrom = fields.from;
  }
  open.fresh = true;
  open.live = false;
  open.tag = state.connection.request('observe', fields);
  setNote(open, open.tag === null ? 'connecting' : open.requestedFrom ? `resuming from entry ${open.requestedFrom}` : 'replaying the journal');
}

function observation(open, message) {
  const stick = nearBottom();
  switch (message.type) {
    case 'gap':
      firstItem(open, message.requestedFrom);
      open.transcript.apply(message);
      break;
    case 'entry':
      if (message.entry && typeof message.entry === 'object') {
        firstItem(open, message.entry.seq);
        open.transcript.apply(message.entry);
      }
      break;
    case 'live':
      firstItem(open, message.nextSeq);
      open.journal = message.journal ?? open.journal;
      open.live = true;
      setNote(open, 'live');
      break;
    case 'observe_end':
      open.tag = null;
      open.live = false;
      if (message.reason === 'fellBehind') {
        // This tab fell behind the kernel's output; the server dropped its backlog. Resume.
        open.transcript.note(`this tab fell behind; resuming from entry ${message.resumeFrom}`);
        open.transcript.lastSeq = Math.min(open.transcript.lastSeq, Number(message.resumeFrom) - 1);
        observe(open);
      } else {
        setNote(open, message.reason === 'closed' ? 'the session was closed (the server is stopping)' : 'not watching');
      }
      break;
    case 'error':
      open.tag = null;
      setNote(open, `cannot watch this session: ${message.message ?? message.code}`);
      break;
    default:
      break;
  }
  if (stick) page.transcript.scrollTop = page.transcript.scrollHeight;
}

// The first thing an observation sends tells whether the server still has the journal this tab
// resumed from: numbers below the one asked for mean a new journal (the server restarted).
function firstItem(open, seq) {
  if (!open.fresh) return;
  open.fresh = false;
  if (open.requestedFrom !== null && typeof seq === 'number' && seq < open.requestedFrom) {
    open.transcript.clear();
    open.transcript.note('the server restarted: this is its new journal, from the start');
  }
}

function setNote(open, text) {
  open.note = text;
  showSessionState();
}

function showSessionState() {
  const open = state.open;
  if (!open) return;
  const session = state.connected ? state.sessions.find((s) => s.name === open.name) : undefined;
  const parts = [open.note];
  if (!state.connected) parts.push('state unknown');
  if (session) {
    parts.push(statusOf(session));
    if (session.pid) parts.push(`pid ${session.pid}`);
    if (typeof session.memoryBytes === 'number') parts.push(formatBytes(session.memoryBytes));
    parts.push(`${session.clients ?? 0} client${session.clients === 1 ? '' : 's'}`);
  }
  page.sessionState.textContent = parts.filter(Boolean).join(' · ');
  page.sessionState.dataset.live = open.live ? 'true' : 'false';
}

function nearBottom() {
  const list = page.transcript;
  return list.scrollHeight - list.scrollTop - list.clientHeight < 40;
}

// MARK: commands

function send(kind, fields, extra = {}) {
  const tag = state.connection.request(kind === 'run' ? 'execute' : kind, fields, kind);
  if (tag === null) {
    page.codeMessage.textContent = `not sent: the server is not connected`;
    return;
  }
  state.pending.set(tag, { kind, ...extra });
}

function run() {
  const open = state.open;
  const code = page.codeBox.value;
  if (!open || code.trim() === '') return;
  page.codeMessage.textContent = '';
  // stream: false: this tab reads the output from the journal, like every other client.
  send('run', { session: open.name, code, client: state.tab, stream: false }, { code });
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
  if (state.open) send('reset', { session: state.open.name, client: state.tab });
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
page.interruptButton.addEventListener('click', () => {
  if (state.open) send('interrupt', { session: state.open.name, client: state.tab });
});
page.resetButton.addEventListener('click', resetClicked);
page.openSessionForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const name = page.openSessionName.value.trim();
  if (name === '') return;
  page.openSessionName.value = '';
  window.location.hash = `#/sessions/${encodeURIComponent(name)}`;
});
window.addEventListener('hashchange', route);

dropTokenFromAddress();
showConnected();
start();
route();
