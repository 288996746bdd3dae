/** What the user sees, and the exit code, for each kind of error a command can throw. */
import { describe, expect, it } from 'vitest';
import { EXIT, ExitError, exitCodeOf } from '../../bin/exit-codes.ts';
import { EnvironmentError, RestoreError, withContext } from '../../core/errors.ts';

/** A failed system call as Node reports one. */
const enospc = (): Error =>
  Object.assign(new Error("ENOSPC: no space left on device, copyfile '/a' -> '/b'"), {
    code: 'ENOSPC',
    syscall: 'copyfile',
  });

describe('exitCodeOf', () => {
  it('a refused system call is exit 5 with its message and what leanckpt was doing, no stack', () => {
    const wrapped = withContext('cannot copy disk xvda', enospc());
    expect(wrapped).toBeInstanceOf(EnvironmentError);
    expect(exitCodeOf(wrapped)).toEqual({
      code: EXIT.system,
      message: "cannot copy disk xvda: ENOSPC: no space left on device, copyfile '/a' -> '/b'",
    });
    // Uncaught, it is still the system's refusal, not a bug.
    expect(exitCodeOf(enospc())).toEqual({ code: EXIT.system, message: enospc().message });
  });
  it('withContext leaves errors that are not system calls as they are', () => {
    const bug = new TypeError('x is undefined');
    expect(withContext('doing', bug)).toBe(bug);
  });
  it('a bug is exit 3 with its stack; refusals and user errors keep their codes', () => {
    const bug = exitCodeOf(new TypeError('x is undefined'));
    expect(bug.code).toBe(EXIT.internal);
    expect(bug.message).toMatch(/^internal error .*\nTypeError: x is undefined\n\s+at /);
    expect(exitCodeOf(new RestoreError('page 3 (disk 1, sector 8): mismatch')).code).toBe(
      EXIT.verificationFailed,
    );
    expect(exitCodeOf(new ExitError('no such domain', EXIT.usage))).toEqual({
      code: EXIT.usage,
      message: 'no such domain',
    });
  });
});
