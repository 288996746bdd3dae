import { Option, type Command } from 'commander';
import { logDirtyMs, positiveInt } from '../options.ts';
import type { XenRestoreFlags, XenSaveFlags, XenTrackOptions } from './xen.ts';
import { EXIT, ExitError } from '../exit-codes.ts';

const examples = (...lines: string[]): string => `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
const out = (text: string): void => void process.stdout.write(text);
const json = (value: unknown): void => out(`${JSON.stringify(value, null, 2)}\n`);
const DOM0 = 'Runs in a Xen 4.17 dom0 as root; elsewhere it exits 2 naming the missing library or device.';
const LOG_DIRTY_MS = 1000;
/** Wall time, and this process's CPU time: on a busy host the two tell apart waiting and working. */
const seconds = (r: { ms: { total: number }; cpuMs: { user: number; system: number } }): string =>
  `${(r.ms.total / 1000).toFixed(2)} s (CPU ${((r.cpuMs.user + r.cpuMs.system) / 1000).toFixed(2)} s)`;

/** Declares the `xen` commands, and `trace record`, on the program (owned by the xen work; kept apart from cli.ts). */
/**
 * How the `xl` stream passes between xl and leanckpt (see StreamTransport in backends/xen/save.ts); the
 * default is the faster of the two in the lab for each command.
 */
const streamOption = (fallback: 'file' | 'fifo'): Option =>
  new Option(
    '--stream <via>',
    'how the xl stream passes: "file", a temporary file beside the image (needs the stream\'s size in ' +
      'free space meanwhile), or "fifo", a named pipe (nothing on disk)',
  )
    .choices(['file', 'fifo'])
    .default(fallback);

export function registerXenCommands(program: Command): void {
  const xen = program
    .command('xen')
    .description(
      'Track, checkpoint and restore real Xen domains from dom0: leanckpt serves the guest disks itself\n' +
        '(a userspace blkif backend) and follows guest memory writes with log-dirty. See docs/xen.md.',
    );

  xen
    .command('create')
    .summary("create a guest on leanckpt's disk backend and track it")
    .description(
      "Create a guest paused (`xl create -p`), attach leanckpt's disk backend to it, unpause it and\n" +
        'track it: in the foreground until the domain is gone, or with --daemon in a background process\n' +
        `whose control socket \`xen save\` and \`xen status\` talk to. ${DOM0}`,
    )
    .argument('<xl.cfg>', 'the guest config (without the disks leanckpt serves)')
    .option(
      '--disk <vdev=file>',
      'a raw disk image served as vdev, e.g. xvda=/srv/guest.img (repeatable)',
      collect,
      [],
    )
    .option('--daemon', 'track in a background process and return')
    .option('--log-dirty-ms <ms>', 'log-dirty epoch length (0: off)', logDirtyMs, LOG_DIRTY_MS)
    .option('--record <trace>', "record the domain's whole event stream (each save adds a checkpoint)")
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      examples(
        'leanckpt xen create guest.cfg --disk xvda=/srv/guest.img --daemon',
        'leanckpt xen create guest.cfg --disk xvda=root.img --disk xvdb=data.img --log-dirty-ms 500',
      ),
    )
    .action(
      async (
        cfg: string,
        opts: { disk: string[]; daemon?: boolean; logDirtyMs: number; record?: string; json?: boolean },
      ) => {
        const { xenCreate } = await import('./xen.ts');
        const r = await xenCreate(cfg, opts, (domid, socket) => {
          if (!opts.json)
            out(`domain ${domid} running on leanckpt's disk backend; control socket ${socket}\n`);
        });
        if (opts.json) json(r);
        else if (r.mode === 'daemon')
          out(`domain ${r.domid} tracked by process ${r.pid}; socket ${r.socket}, log ${r.log}\n`);
        else out(`domain ${r.domid}: tracking ended (${r.ended})\n`);
      },
    );

  xen
    .command('track')
    .summary('serve and track an existing domain')
    .description(
      'Serve and track an existing domain that has no disk backend yet (what `xen create --daemon` and\n' +
        `\`xen restore\` run in the background). ${DOM0}`,
    )
    .argument('[domain]', 'domain id or name')
    .option('--disk <vdev=file>', 'a raw disk image served as vdev (repeatable)', collect, [])
    .option('--log-dirty-ms <ms>', 'log-dirty epoch length (0: off)', logDirtyMs, LOG_DIRTY_MS)
    .option('--unpause', 'unpause the domain once the backend is attached')
    .option('--record <trace>', "record the domain's whole event stream (each save adds a checkpoint)")
    // `xen restore` starts its tracking process ahead and tells it the domain and options later.
    .addOption(new Option('--await-assignment').hideHelp())
    .addHelpText('after', examples('leanckpt xen track 7 --disk xvda=/srv/guest.img --unpause'))
    .action(async (domain: string | undefined, opts: XenTrackOptions & { awaitAssignment?: boolean }) => {
      const { xenTrack, xenTrackAssigned } = await import('./xen.ts');
      if (opts.awaitAssignment) {
        const r = await xenTrackAssigned();
        if (r) out(`domain ${r.domid}: tracking ended (${r.mode === 'foreground' ? r.ended : 'daemon'})\n`);
        return;
      }
      if (domain === undefined) throw new ExitError('give the domain to track (id or name)', EXIT.usage);
      const r = await xenTrack(domain, opts);
      out(`domain ${r.domid}: tracking ended (${r.mode === 'foreground' ? r.ended : 'daemon'})\n`);
    });

  xen
    .command('save')
    .summary('checkpoint a tracked domain into a leanckpt Xen image')
    .description(
      'Checkpoint a tracked domain into a leanckpt Xen image: run `xl save`, serve the disk until the\n' +
        'domain has suspended, then quiesce the backend and freeze the disks, and leave out every page the\n' +
        'disk holds (checked byte for byte) and every zero page.\n' +
        `Stops the domain afterwards, as \`xl save\` does, unless --keep-running. ${DOM0}`,
    )
    .argument('<domain>', 'domain id or name')
    .argument('<image>', 'the image to write (atomically)')
    .option(
      '--keep-running',
      'keep the domain running (the disks are copied beside the image, reflinked where possible; ' +
        'refused at once, exit 5, if there is no room for the copies)',
    )
    .addOption(streamOption('file'))
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      examples(
        'leanckpt xen save guest1 /srv/ckpt/guest1.lckx',
        'leanckpt xen save 7 g.lckx --keep-running --json',
      ),
    )
    .action(async (domain: string, image: string, opts: XenSaveFlags & { json?: boolean }) => {
      const { xenSave } = await import('./xen.ts');
      const r = await xenSave(domain, image, opts);
      if (opts.json) return json(r);
      out(
        `saved domain ${r.domid} to ${r.image}: ${r.imageBytes} bytes vs ${r.streamBytes} for xl save ` +
          `(${(r.reduction * 100).toFixed(1)}% smaller); pages kept ${r.pages.kept}, left out ` +
          `${r.pages.mapped} on disk + ${r.pages.zero} zero; ${seconds(r)}\n`,
      );
    });

  xen
    .command('restore')
    .summary('verify an image against its disks and restore it with xl')
    .description(
      'Restore a leanckpt Xen image into a domain `xl restore -p` builds and leaves paused. By default\n' +
        '(--fill direct) xl reads only the pages the image holds, and allocates the ones it left out;\n' +
        'leanckpt then zeroes those that were zero and reads the others from the disks straight into the\n' +
        'paused domain, checking each by its hash where it lies in guest memory. --fill stream instead\n' +
        'rebuilds the original `xl save` stream byte for byte and checks its hash. Either way every image\n' +
        "checksum and each disk's whole content are checked (see --disk-check), a changed disk is refused\n" +
        'naming page and sector, and the domain is destroyed, never run, if any check fails. xl reads\n' +
        'the stream as it is produced (--stream fifo) or once it is complete (--stream file). Then attach\n' +
        'the disk backend for the new domain in a background tracking process, and unpause it.\n' +
        `${DOM0}`,
    )
    .argument('<image>', 'a leanckpt Xen image')
    .option(
      '--disk <vdev=file>',
      'use this file for vdev instead of the one recorded in the image (repeatable)',
      collect,
      [],
    )
    .option(
      '--log-dirty-ms <ms>',
      'log-dirty epoch length of the new tracking (0: off)',
      logDirtyMs,
      LOG_DIRTY_MS,
    )
    .addOption(streamOption('fifo'))
    .addOption(
      new Option(
        '--fill <how>',
        'how the pages the image left out come back: "direct", written into the paused domain after xl ' +
          'has read the rest, or "stream", inside the rebuilt original stream',
      )
        .choices(['direct', 'stream'])
        .default('direct'),
    )
    .addOption(
      new Option(
        '--disk-check <how>',
        'how each disk is proven to hold the whole content it was saved with: "identity" reads only the ' +
          'disks whose file changed since the save (device, inode, size, times; the kernel stamps every ' +
          'write), "content" reads and hashes every disk. --fill stream always reads',
      )
        .choices(['identity', 'content'])
        .default('identity'),
    )
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      examples(
        'leanckpt xen restore /srv/ckpt/guest1.lckx',
        'leanckpt xen restore g.lckx --fill stream --stream file',
        'leanckpt xen restore g.lckx --disk-check content',
        'leanckpt xen restore g.lckx --disk xvda=/srv/copy.img --json',
      ),
    )
    .action(async (image: string, opts: XenRestoreFlags & { json?: boolean }) => {
      const { xenRestore } = await import('./xen.ts');
      const r = await xenRestore(image, opts);
      if (opts.json) return json(r);
      const a = r.adoption;
      out(
        `restored ${r.image} as domain ${r.domid} (${r.name}): ${r.pagesMapped} pages read from disk, ` +
          `${seconds(r)}\n` +
          `  disks proven: ${r.disks.map((d) => `${d.vdev} by ${d.provenBy === 'identity' ? 'file identity' : 'content hash'}`).join(', ')}\n` +
          (a
            ? a.error
              ? `  the new tracking did not take them over (${a.error}): the next save starts from an empty map\n`
              : `  the new tracking took over ${a.adopted} of them as mapped` +
                (a.rejected ? ` (${a.rejected} no longer held what they claim)` : '') +
                '\n'
            : ''),
      );
    });

  xen
    .command('status')
    .summary("what a tracked domain's tracking sees (log-dirty, map, disk I/O)")
    .description(
      'How leanckpt tracks a domain: log-dirty (active, or unavailable and why), mapped pages, disk\n' +
        `backend state and I/O counts. ${DOM0}`,
    )
    .argument('<domain>', 'domain id or name')
    .option('--json', 'print the status as JSON')
    .addHelpText('after', examples('leanckpt xen status guest1', 'leanckpt xen status 7 --json'))
    .action(async (domain: string, opts: { json?: boolean }) => {
      const { xenStatus, printStatus } = await import('./xen.ts');
      const r = await xenStatus(domain);
      if (opts.json) json(r);
      else out(printStatus(r));
    });

  xen
    .command('rebuild')
    .summary('rebuild the original xl save stream from an image, byte for byte')
    .description(
      'Write the `xl save` stream a Xen image stands for, byte for byte, after verifying the image\n' +
        'against its disks (for `verify-stream-v2`, or to compare with a plain `xl save`). Any machine.',
    )
    .argument('<image>', 'a leanckpt Xen image')
    .argument('<out>', 'the stream file to write')
    .option(
      '--disk <vdev=file>',
      'use this file for vdev instead of the recorded one (repeatable)',
      collect,
      [],
    )
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      examples('leanckpt xen rebuild guest.lckx guest.xl && verify-stream-v2 -f xl -i guest.xl'),
    )
    .action(async (image: string, dest: string, opts: { disk: string[]; json?: boolean }) => {
      const { xenRebuild } = await import('./xen.ts');
      const r = await xenRebuild(image, dest, opts.disk);
      if (opts.json) json(r);
      else out(`${r.out}: ${r.bytes} bytes, stream hash ${r.streamHash}, ${(r.ms / 1000).toFixed(2)} s\n`);
    });

  xen
    .command('oracle')
    .summary("exhaustive matching of an image's pages against its disks: capture ratio")
    .description(
      'Every page of a save stream (an `xl save` file, or the stream a Xen image rebuilds) whose bytes\n' +
        'equal some 4 KiB disk range, by exhaustive matching: what a perfect tracker could leave out.\n' +
        "For an image, also its capture ratio (its pages on disk / the oracle's). Any machine.",
    )
    .argument('<source>', 'an `xl save` file or a leanckpt Xen image')
    .option(
      '--disk <vdev=file>',
      'a disk to match against (repeatable; images default to theirs)',
      collect,
      [],
    )
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      examples('leanckpt xen oracle guest.lckx --json', 'leanckpt xen oracle plain.xl --disk xvda=guest.img'),
    )
    .action(async (source: string, opts: { disk: string[]; json?: boolean }) => {
      const { xenOracle } = await import('./xen.ts');
      const r = await xenOracle(source, opts.disk);
      if (opts.json) return json(r);
      out(
        `${r.source}: ${r.pages} pages, ${r.zeroPages} zero, ${r.matchedPages} equal to disk ranges ` +
          `(${r.matchedOrdinary} ordinary)` +
          (r.capture !== undefined
            ? `; image leaves out ${r.pagesMapped}: capture ${r.capture.toFixed(3)}`
            : '') +
          '\n',
      );
    });

  const trace = program.commands.find((c) => c.name() === 'trace');
  if (!trace) throw new Error('the trace command must be declared before the xen commands');
  trace
    .command('record')
    .summary("record a Xen domain's real event stream as a trace")
    .description(
      'Record the real event stream of a domain tracked by leanckpt (disk requests and log-dirty epochs)\n' +
        `as a trace (format v1), for the simulator and the experiments. ${DOM0}`,
    )
    .requiredOption('--xen <domain>', 'domain id or name (tracked: started with `leanckpt xen create`)')
    .requiredOption('-o, --out <trace>', 'the trace to write (binary if it ends in .lctrace)')
    .option('--seconds <n>', 'how long to record', positiveInt('--seconds'), 60)
    .option('--json', 'print the result as JSON')
    .addHelpText('after', examples('leanckpt trace record --xen guest1 -o guest1.lctrace --seconds 120'))
    .action(async (opts: { xen: string; out: string; seconds: number; json?: boolean }) => {
      const { traceRecordXen } = await import('./xen.ts');
      const r = await traceRecordXen(opts.xen, opts.out, opts.seconds);
      if (opts.json) json(r);
      else out(`${r.path}: ${r.events} events, ${r.bytes} bytes (${r.format})\n`);
    });
}
