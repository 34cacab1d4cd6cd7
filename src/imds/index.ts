export * from './client.js';
export * from './errors.js';
export * from './notices.js';
export { IMDS_PATHS } from './paths.js';
