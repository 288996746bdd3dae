// Worker threads do not inherit tsx's loader (an `--import tsx` in execArgv is not applied to them on
// Node 20): register it through tsx's API, then load the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
