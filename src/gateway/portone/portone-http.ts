import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import fetch, { type RequestInit } from 'node-fetch';

/** Connect timeouts need a socket-level timer: the request's deadline covers the whole exchange. */
export function agentWithConnectTimeout(baseUrl: string, connectTimeoutMs: number): http.Agent {
  const Base = baseUrl.startsWith('https:') ? https.Agent : http.Agent;
  const agent = new Base({ keepAlive: true, maxSockets: 50 });
  const create = (agent as unknown as { createConnection: (...args: unknown[]) => Socket }).createConnection.bind(agent);
  (agent as unknown as { createConnection: (...args: unknown[]) => Socket }).createConnection = (...args: unknown[]) => {
    const socket = create(...args);
    const timer = setTimeout(() => {
      socket.destroy(Object.assign(new Error(`connect timeout after ${connectTimeoutMs} ms`), { code: 'ECONNTIMEOUT' }));
    }, connectTimeoutMs);
    timer.unref();
    socket.once('connect', () => clearTimeout(timer));
    socket.once('close', () => clearTimeout(timer));
    return socket;
  };
  return agent;
}

/** Errors that mean the request never left this machine, so PortOne cannot have acted on it. */
export const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNTIMEOUT']);

/** The request's deadline passed: it may have reached PortOne (a cancel may have been applied). */
export class PortOneDeadlineExceeded extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(deadlineMs: number) {
    super(`no complete answer from PortOne within ${deadlineMs} ms`);
    this.name = 'PortOneDeadlineExceeded';
  }
}

/**
 * One PortOne request, from waiting for a pooled socket to the body's last byte, within `deadlineMs`.
 * node-fetch's own `timeout` runs twice (once to the headers, again while the body is read), so a request
 * could last twice as long as configured, and a refund attempt's lease (sized from this deadline) would not
 * cover it. One timer over the whole exchange makes the deadline what it says.
 */
export async function fetchTextWithin(url: string, init: Omit<RequestInit, 'signal' | 'timeout'>, deadlineMs: number): Promise<{ status: number; text: string }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), deadlineMs);
  try {
    const response = await fetch(url, { ...init, signal: controller.signal as NonNullable<RequestInit['signal']> });
    return { status: response.status, text: await response.text() };
  } catch (error) {
    if (controller.signal.aborted) throw new PortOneDeadlineExceeded(deadlineMs);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
