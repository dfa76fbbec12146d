// Turns the values a journal entry carries (MIME bundles, tracebacks, deaths) into DOM nodes.
// Everything from the kernel is data: it reaches the page through textContent, element
// properties and a sandboxed iframe's srcdoc, never through innerHTML.

/** Creates an element with a class and, optionally, its text. */
export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

// Terminal colour codes that a traceback or a program's output may carry; shown as plain text.
const ansiEscape = /\u001b\[[0-9;?]*[A-Za-z]/g;

/** Text as it should read on the page: colour codes removed. */
export function plain(text) {
  return String(text ?? '').replace(ansiEscape, '');
}

/** Bytes for people: 1536 → "1.5 KiB". */
export function formatBytes(bytes) {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes)) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Milliseconds for people: 12 ms, 3.4 s, 2 min 5 s. */
export function formatDuration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60000);
  return `${minutes} min ${Math.round((ms - minutes * 60000) / 1000)} s`;
}

const base64Text = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

// The representation shown for a bundle, most specific first. Markdown and LaTeX are shown as
// their source text: rendering them would need a library the page does not ship.
const preferredTypes = [
  'text/html',
  'image/svg+xml',
  'image/png',
  'image/jpeg',
  'image/gif',
  'application/json',
  'text/markdown',
  'text/latex',
  'text/plain',
];

/** Prelude helpers report progress with this type: {"op": "...", ...}. */
const statusType = 'application/vnd.pyrun.status+json';

/** The MIME type of a bundle that the page shows; a prelude status wins over its own plain text. */
export function chosenType(bundle) {
  if (!bundle || typeof bundle !== 'object') return null;
  if (statusType in bundle) return statusType;
  for (const type of preferredTypes) {
    if (type in bundle) return type;
  }
  return Object.keys(bundle).sort()[0] ?? null;
}

/** One node that shows a MIME bundle (a display or a result). */
export function renderBundle(bundle) {
  const type = chosenType(bundle);
  const value = type ? bundle[type] : null;
  switch (type) {
    case 'text/html':
      return sandboxedHTML(textOf(value));
    case 'image/svg+xml':
      // As an <img>, an SVG is a picture only: its scripts never run.
      return image(`data:image/svg+xml;charset=utf-8,${encodeURIComponent(textOf(value))}`, type, bundle);
    case 'image/png':
    case 'image/jpeg':
    case 'image/gif': {
      const data = textOf(value);
      if (!base64Text.test(data)) return element('pre', 'output-text', `[${type} that is not base64]`);
      return image(`data:${type};base64,${data.replace(/\s+/g, '')}`, type, bundle);
    }
    case 'application/json':
      return element('pre', 'output-json', JSON.stringify(value, null, 2));
    case statusType:
      return statusLine(value, bundle['text/plain']);
    case null:
      return element('pre', 'output-text', '[an empty display]');
    default:
      return element('pre', 'output-text', plain(textOf(value)));
  }
}

function textOf(value) {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((line) => typeof line === 'string')) return value.join('');
  return JSON.stringify(value);
}

// An image that does not decode (a broken PNG, say) would leave blank space: it is replaced by a
// line that says what it was.
function image(source, type, bundle) {
  const picture = element('img', 'output-image');
  picture.alt = typeof bundle['text/plain'] === 'string' ? bundle['text/plain'] : 'image output';
  picture.addEventListener('error', () => {
    picture.replaceWith(element('p', 'output-text output-broken-image', `[${type} that could not be shown]`));
  }, { once: true });
  picture.src = source;
  return picture;
}

/**
 * An HTML display in an iframe whose sandbox grants nothing: no scripts, no same origin, no
 * forms, no popups. Its content cannot reach the console, its cookie or its API.
 */
function sandboxedHTML(html) {
  const frame = element('iframe', 'output-html');
  frame.setAttribute('sandbox', '');
  frame.setAttribute('referrerpolicy', 'no-referrer');
  frame.title = 'HTML output (sandboxed)';
  frame.srcdoc = html;
  return frame;
}

// A prelude helper's report: its operation, then its own sentence (or its fields, without one).
function statusLine(value, text) {
  const line = element('p', 'output-status');
  const op = value && typeof value === 'object' && typeof value.op === 'string' ? value.op : 'status';
  line.append(element('span', 'status-op', op));
  line.append(element('span', 'status-detail', typeof text === 'string' ? plain(text) : JSON.stringify(value)));
  return line;
}

/** A traceback as the runner sent it (its lines end with "ename: evalue"). */
export function renderTraceback(error) {
  const lines = Array.isArray(error?.traceback) ? error.traceback.map(plain) : [];
  const summary = `${error?.ename ?? 'Error'}: ${error?.evalue ?? ''}`;
  const text = lines.length > 0 ? lines.join('\n') : summary;
  return element('pre', 'traceback', text);
}

/** One line for a kernel's death: its own description, else what the fields say. */
export function deathText(death) {
  if (!death || typeof death !== 'object') return 'the kernel died';
  if (typeof death.description === 'string' && death.description) return death.description;
  const how = death.signal !== undefined ? `signal ${death.signal}` : `exit code ${death.exitCode}`;
  return `the kernel (pid ${death.pid}) ended: ${death.cause ?? 'unknown cause'}, ${how}`;
}

/** A JSON value of a kind the page does not know, shown as it came (folded). */
export function renderUnknown(entry) {
  const details = element('details', 'unknown-entry');
  details.append(element('summary', null, `${entry?.type ?? 'entry'} (not known to this page)`));
  details.append(element('pre', 'output-json', JSON.stringify(entry, null, 2)));
  return details;
}
