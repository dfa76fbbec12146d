// The session view's transcript: journal entries, replayed and then live, grouped into one cell
// per execution (its input, who ran it, its output, how it ended) between lifecycle lines.
// Entries carry a sequence number; one already shown (at or below the last seen) is skipped,
// so a reconnection that resumes from the last seen entry never shows anything twice.

import {
  deathText,
  element,
  formatDuration,
  plain,
  renderBundle,
  renderTraceback,
  renderUnknown,
} from './render.js';

/** How much stdout/stderr text one cell shows before it says what it left out. */
const shownTextLimit = 2 * 1024 * 1024;

export class Transcript {
  /**
   * @param {HTMLOListElement} list where the entries go
   * @param {(executionId: string, client: string) => boolean} isMine whether this tab ran an execution
   */
  constructor(list, isMine) {
    this.list = list;
    this.isMine = isMine;
    this.clear();
  }

  /** Forgets everything shown (a new session, or a replay from the start). */
  clear() {
    this.list.replaceChildren();
    this.cells = new Map();
    this.lastSeq = -1;
  }

  /** Marks an execution as this tab's (its id may come back after its input entry did). */
  markMine(id) {
    this.cells.get(String(id))?.node.classList.add('mine');
  }

  /** Shows one entry; returns false for one already shown. */
  apply(entry) {
    if (typeof entry.seq === 'number') {
      if (entry.seq <= this.lastSeq) return false;
      this.lastSeq = entry.seq;
    }
    switch (entry.type) {
      case 'input':
        this.inputCell(entry);
        break;
      case 'started':
        this.started(entry);
        break;
      case 'stdout':
      case 'stderr':
        this.stream(entry);
        break;
      case 'display':
        this.outputOf(entry).append(wrap('display', renderBundle(entry.bundle)));
        break;
      case 'result':
        this.result(entry);
        break;
      case 'error':
        this.outputOf(entry).append(renderTraceback(entry));
        break;
      case 'input_request':
        this.outputOf(entry).append(
          element('p', 'notice', `asked for input${entry.prompt ? ` (${entry.prompt})` : ''}: the console cannot answer, so input() gets end of file`),
        );
        break;
      case 'notice':
        this.notice(entry);
        break;
      case 'finished':
        this.finished(entry);
        break;
      case 'kernel_started':
        this.lifecycle(entry, 'started', kernelStartedText(entry));
        break;
      case 'kernel_died':
        this.lifecycle(entry, 'died', `kernel died: ${deathText(entry.death)}`);
        break;
      case 'kernel_stopped':
        this.lifecycle(entry, 'stopped', `kernel stopped: ${entry.description ?? entry.reason ?? 'by pyrun'}`);
        break;
      case 'interrupt':
        this.lifecycle(entry, 'interrupt', `${entry.client || 'a client'} interrupted the running code`);
        break;
      case 'reset':
        this.lifecycle(entry, 'reset', `session reset${entry.client ? ` by ${entry.client}` : ''}: earlier state is gone`);
        break;
      case 'gap':
        this.line('gap', gapText(entry));
        break;
      default:
        this.unknown(entry);
    }
    return true;
  }

  inputCell(entry) {
    const cell = this.cellFor(entry.id, true);
    cell.code.textContent = entry.code ?? '';
    cell.who.textContent = entry.client ? `ran by ${entry.client}` : 'ran by an unnamed client';
    if (this.isMine(String(entry.id), entry.client ?? '')) cell.node.classList.add('mine');
    cell.when.textContent = timeOf(entry.time);
    cell.node.dataset.input = 'true';
  }

  started(entry) {
    const cell = this.cellFor(entry.id);
    cell.prompt.textContent = `In [${entry.executionCount ?? ' '}]`;
    cell.node.classList.add('running');
  }

  stream(entry) {
    const cell = this.cellFor(entry.id);
    const data = plain(entry.data);
    if (cell.shownText >= shownTextLimit) {
      cell.hiddenText += data.length;
      cell.hiddenNote.textContent = `… ${cell.hiddenText.toLocaleString()} more characters of output not shown here`;
      cell.hiddenNote.hidden = false;
      return;
    }
    cell.shownText += data.length;
    const last = cell.output.lastElementChild;
    if (last && last.dataset.stream === entry.type) {
      last.firstChild.appendData(data);
    } else {
      const pre = element('pre', `output-${entry.type}`);
      pre.dataset.stream = entry.type;
      pre.append(document.createTextNode(data));
      cell.output.append(pre);
    }
  }

  result(entry) {
    const out = element('div', 'result');
    out.append(element('span', 'out-prompt', `Out[${entry.executionCount ?? ' '}]:`));
    out.append(renderBundle(entry.bundle));
    this.outputOf(entry).append(out);
  }

  notice(entry) {
    const text = entry.description ?? entry.kind ?? 'notice';
    if (entry.id) this.outputOf(entry).append(element('p', 'notice', text));
    else this.line('notice', text);
  }

  finished(entry) {
    const cell = this.cellFor(entry.id);
    cell.node.classList.remove('running');
    const status = entry.status ?? 'ok';
    cell.node.classList.add(`status-${status}`);
    cell.node.dataset.status = status;
    const parts = [statusText(status)];
    if (entry.death) parts.push(deathText(entry.death));
    if (entry.startFailure?.message) parts.push(entry.startFailure.message);
    if (typeof entry.durationMs === 'number') parts.push(formatDuration(entry.durationMs));
    if (entry.droppedBytes) parts.push(`${entry.droppedBytes} bytes of output dropped by the output cap`);
    cell.footer.textContent = parts.join(' · ');
  }

  /** A line between cells about the session itself: its kernel, an interrupt, a reset. */
  lifecycle(entry, event, text) {
    const line = this.line(`lifecycle lifecycle-${event}`, text);
    line.dataset.event = event;
    line.prepend(element('time', 'when', timeOf(entry.time)));
  }

  /** A line from the page itself (not from the journal). */
  note(text) {
    this.line('notice', text);
  }

  unknown(entry) {
    const node = renderUnknown(entry);
    if (typeof entry.id === 'string' && this.cells.has(entry.id)) this.cells.get(entry.id).output.append(node);
    else this.list.append(wrap('entry unknown', node, 'li'));
  }

  line(className, text) {
    const item = element('li', className, text);
    this.list.append(item);
    return item;
  }

  outputOf(entry) {
    return this.cellFor(entry.id).output;
  }

  /** The cell of an execution; made on first sight (its input may have left the journal). */
  cellFor(id, fromInput = false) {
    const key = String(id ?? '');
    let cell = this.cells.get(key);
    if (cell) return cell;
    const node = element('li', 'cell');
    node.dataset.execution = key;
    const header = element('div', 'cell-head');
    const prompt = element('span', 'in-prompt', 'In [ ]');
    const who = element('span', 'who', fromInput ? '' : 'input not kept in the journal');
    const when = element('time', 'when');
    header.append(prompt, who, when);
    const code = element('pre', 'code');
    const output = element('div', 'output');
    const hiddenNote = element('p', 'notice hidden-output');
    hiddenNote.hidden = true;
    const footer = element('div', 'cell-foot');
    node.append(header, code, output, hiddenNote, footer);
    this.list.append(node);
    cell = { node, prompt, who, when, code, output, hiddenNote, footer, shownText: 0, hiddenText: 0 };
    this.cells.set(key, cell);
    return cell;
  }
}

function wrap(className, child, tag = 'div') {
  const box = element(tag, className);
  box.append(child);
  return box;
}

// Entries carry their time as seconds since 1970.
function timeOf(seconds) {
  if (typeof seconds !== 'number') return '';
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? '' : date.toLocaleTimeString();
}

function statusText(status) {
  switch (status) {
    case 'ok': return 'ok';
    case 'error': return 'error';
    case 'cancelled': return 'interrupted';
    case 'timedOut': return 'timed out';
    case 'kernelDied': return 'the kernel died';
    case 'failedToStart': return 'the kernel failed to start';
    default: return String(status);
  }
}

function kernelStartedText(entry) {
  const python = entry.python ? `, Python ${entry.python}` : '';
  if (entry.previousPid) return `kernel restarted: pid ${entry.pid ?? '?'} replaces ${entry.previousPid}${python}`;
  return `kernel started (pid ${entry.pid ?? '?'}${python})`;
}

function gapText(entry) {
  const dropped = typeof entry.dropped === 'number' ? entry.dropped.toLocaleString() : 'some';
  return `… ${dropped} earlier entries are no longer in the journal (it keeps the latest ones only)`;
}
