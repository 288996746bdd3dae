/**
 * Lets the test worker's event loop turn between tests.
 *
 * vitest runs a file's tests back to back without returning to the event loop, and the worker's reports
 * to the runner time out after 60 s. A file whose synchronous tests add up past that on a loaded machine
 * fails the run with every test green. One macrotask after each test lets the worker read the replies.
 */
import { afterEach } from 'vitest';

afterEach(() => new Promise<void>((resolve) => setTimeout(resolve, 0)));
