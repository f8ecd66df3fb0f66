import { inject } from 'vitest';
import { localAwsEnv } from '../../tools/local/moto.js';

// Every test file talks to the run's moto_server through the SDK's own settings.
Object.assign(process.env, localAwsEnv(inject('motoEndpoint')));
// The SDK's Node 20 notice (README, Quick start) once per test process and child is only noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
