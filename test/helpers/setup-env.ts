import { inject } from 'vitest';
import { localAwsEnv } from '../../tools/local/moto.js';

// Every test file talks to the run's moto_server through the SDK's own settings.
Object.assign(process.env, localAwsEnv(inject('motoEndpoint')));
