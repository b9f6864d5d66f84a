// Public API of coordconv-rl for TypeScript/JavaScript users.
export { BACKEND_CHOICES, type BackendChoice, type BackendInfo, decideBackend, initBackend } from './backend.js';
