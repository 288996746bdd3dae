/** libc's free, for the malloc'ed results libxenstore hands back. */
import { cfunc, library, type Ptr } from './load.ts';

let freeFn: ((p: Ptr) => void) | undefined;

export function cfree(p: Ptr): void {
  freeFn ??= cfunc<(p: Ptr) => void>(library('libc.so.6', 'libc6'), 'void free(void *p)');
  freeFn(p);
}
