/** A save stream that is not what Xen 4.17 writes or accepts: an image-format error naming the layer and offset. */
import { ImageFormatError } from '../../../core/errors.ts';

export class StreamFormatError extends ImageFormatError {}
