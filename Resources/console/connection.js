// The page's one WebSocket to the server, speaking the serve protocol (docs/serve-protocol.md):
// requests carry an `op` and a `tag`, and every message that answers a request carries its tag.
// The socket reconnects with back-off when it drops; what to ask again after a reconnection
// (the open session's observation) is the page's business, told through `onOpen`.

const reconnectDelaysMs = [250, 500, 1000, 2000, 4000, 8000];

export class Connection {
  /**
   * @param {string} url the socket's address (ws://host:port/api/socket)
   * @param {{onOpen: () => void, onMessage: (message: object) => void,
   *          onClose: (why: string, retryMs: number, everOpened: boolean) => void}} handlers
   */
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.socket = null;
    this.attempts = 0;
    this.nextTag = 1;
    this.stopped = false;
  }

  /** Opens the socket (again). */
  connect() {
    const socket = new WebSocket(this.url);
    this.socket = socket;
    let opened = false;
    socket.addEventListener('open', () => {
      opened = true;
      this.attempts = 0;
      this.handlers.onOpen();
    });
    socket.addEventListener('message', (event) => this.receive(event.data));
    socket.addEventListener('close', (event) => {
      if (this.socket !== socket || this.stopped) return;
      const delay = reconnectDelaysMs[Math.min(this.attempts, reconnectDelaysMs.length - 1)];
      this.attempts += 1;
      const why = event.reason || (event.code === 1006 ? 'the connection failed or dropped' : `close code ${event.code}`);
      this.handlers.onClose(why, delay, opened);
      window.setTimeout(() => {
        if (this.socket === socket && !this.stopped) this.connect();
      }, delay);
    });
  }

  /** Stops for good (the page learned it may not connect: no token). */
  stop() {
    this.stopped = true;
    this.socket?.close(1000, 'the page stopped');
  }

  get isOpen() {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  /**
   * Sends one request and returns its tag, or null when the socket is not open (the caller
   * asks again after the next `onOpen`).
   */
  request(op, fields = {}, tagPrefix = op) {
    if (!this.isOpen) return null;
    const tag = `${tagPrefix}-${this.nextTag++}`;
    this.socket.send(JSON.stringify({ ...fields, op, tag }));
    return tag;
  }

  receive(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    // One object per message; a server may also batch several in an array.
    for (const item of Array.isArray(message) ? message : [message]) {
      if (item && typeof item === 'object') this.handlers.onMessage(item);
    }
  }
}
