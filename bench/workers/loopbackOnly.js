/**
 * Preload (`node --import`) that pins every listening TCP server of the
 * process to 127.0.0.1. Portkey's gateway binds all interfaces and has no
 * host option; benchmark traffic must stay on loopback.
 *
 * Plain JavaScript on purpose: a `.ts` preload would load Node's type stripper
 * (amaro, ~17 MiB of RSS) into Portkey's process, which runs a JS build, and
 * charge it to Portkey's RSS in scenario 7 (the service runs compiled too).
 */
import net from 'node:net';

const LOOPBACK = '127.0.0.1';
const listen = net.Server.prototype.listen;

net.Server.prototype.listen = function pinnedListen(...args) {
  const [first] = args;
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    // listen(port[, host][, backlog][, callback]): put loopback in the host position.
    const rest = typeof args[1] === 'string' ? args.slice(2) : args.slice(1);
    return listen.call(this, Number(first), LOOPBACK, ...rest);
  }
  if (first !== null && typeof first === 'object' && !('fd' in first) && !('path' in first)) {
    return listen.call(this, { ...first, host: LOOPBACK }, ...args.slice(1));
  }
  return listen.apply(this, args);
};
