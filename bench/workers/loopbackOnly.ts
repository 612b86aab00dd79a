/**
 * Preload (`node --import`) that pins every listening TCP server of the
 * process to 127.0.0.1. Portkey's gateway binds all interfaces and has no
 * host option; benchmark traffic must stay on loopback.
 */
import net from 'node:net';

const LOOPBACK = '127.0.0.1';
// Untyped on purpose: listen's overloads cannot be forwarded through one signature.
const listen = net.Server.prototype.listen as (this: net.Server, ...args: unknown[]) => net.Server;

net.Server.prototype.listen = function pinnedListen(this: net.Server, ...args: unknown[]) {
  const [first] = args;
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    // listen(port[, host][, backlog][, callback]): put loopback in the host position.
    const rest = typeof args[1] === 'string' ? args.slice(2) : args.slice(1);
    return listen.call(this, Number(first), LOOPBACK, ...rest);
  }
  if (first !== null && typeof first === 'object' && !('fd' in first) && !('path' in first)) {
    return listen.call(this, { ...(first as net.ListenOptions), host: LOOPBACK }, ...args.slice(1));
  }
  return listen.apply(this, args);
} as typeof net.Server.prototype.listen;
