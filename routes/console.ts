import path from 'node:path';
import { fastifyStatic } from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';
import { PROJECT_ROOT } from '../src/lib/projectRoot.ts';

/** The console's static files: HTML, CSS and JavaScript as written, no build step. */
export const CONSOLE_DIR = path.join(PROJECT_ROOT, 'public', 'console');

/** `GET /console` (the browser console) and `GET /` (which sends a visitor there). */
export const consoleRoutes: FastifyPluginAsync = async (app) => {
  await app.register(fastifyStatic, {
    root: CONSOLE_DIR,
    prefix: '/console/',
    // The page is served at `/console` itself (trailing slashes are ignored app-wide), and names its assets absolutely.
    index: false,
    // The page talks to this same server; nothing else is loaded.
    setHeaders: (res) => {
      res.header('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'");
      res.header('x-content-type-options', 'nosniff');
    },
  });
  app.get('/console', async (_request, reply) => reply.sendFile('index.html'));
  app.get('/', async (_request, reply) => reply.redirect('/console'));
};
