import type { TestProject } from 'vitest/node';
import { startMoto } from '../../tools/local/moto.js';

declare module 'vitest' {
  export interface ProvidedContext {
    motoEndpoint: string;
  }
}

/** One moto_server for the whole run; tests use unique resource names, so they never collide. */
export default async function setup(project: TestProject) {
  const moto = await startMoto();
  project.provide('motoEndpoint', moto.endpoint);
  return () => moto.stop();
}
