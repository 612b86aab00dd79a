import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, lazyChild } from '../../src/observability/logger.ts';

/** A service logger at `level` writing into an array of parsed lines. */
function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, logger: createLogger({ level, redact: (v) => v, destination }) };
}

describe('a run logger built on first use (lazyChild)', () => {
  it('writes its bindings with every line, as pino.child does', () => {
    const { lines, logger } = capture('info');
    const log = lazyChild(logger, { run_id: 'run_1', tool: 'bundle' });
    log.info({ replicates: 3 }, 'run started');
    log.warn('slow');
    log.debug('not written');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ run_id: 'run_1', tool: 'bundle', replicates: 3, msg: 'run started', level: 30 });
    expect(lines[1]).toMatchObject({ run_id: 'run_1', msg: 'slow', level: 40 });
  });

  it('keeps the parent level until its own is set, and nests', () => {
    const { lines, logger } = capture('warn');
    const log = lazyChild(logger, { run_id: 'run_2' });
    expect(log.isLevelEnabled('info')).toBe(false);
    expect(log.level).toBe('warn');
    log.info('dropped');
    const inner = lazyChild(log, { tool: 'inner' });
    log.child({ reqId: 'req_1' }).error('request failed');
    inner.error({ code: 'x' }, 'inner failed');
    log.level = 'info';
    log.info('now written');
    expect(logger.level).toBe('warn');
    expect(lines.map((l) => l.msg)).toEqual(['request failed', 'inner failed', 'now written']);
    expect(lines[0]).toMatchObject({ run_id: 'run_2', reqId: 'req_1' });
    expect(lines[1]).toMatchObject({ run_id: 'run_2', tool: 'inner', code: 'x' });
  });

  it('still masks credentials in what it writes', () => {
    const { lines, logger } = capture('info');
    lazyChild(logger, { run_id: 'run_3' }).info({ apiKey: 'sk-secret-value' }, 'call');
    expect(JSON.stringify(lines)).not.toContain('sk-secret-value');
  });
});
