export {
  DEFAULT_CONCURRENCY,
  openSession,
  Session,
  type SessionOptions,
  type Target,
} from './session.ts';
