import type { IoEvidence, IoEvidenceCollection } from '../activities/diagnosis/evidence';
import { bytes, millis, percent, rate } from '../activities/diagnosis/units';
import { printable } from './printable';

const cell = (text: string) => text.replace(/\|/g, '\\|');

/** One host's IO evidence as Markdown: the finding, then the tables behind it (iostat, iotop, fd, df). */
export function renderIoEvidence(hostEvidence: IoEvidence, heading = '###'): string {
  const evidence = printable(hostEvidence);
  const out: string[] = [];
  const focus = evidence.focus ? ` (${evidence.focus.kind} ${evidence.focus.value})` : '';
  out.push(`${heading} ${evidence.host}${focus}, ${(evidence.intervalMs / 1000).toFixed(1)} s window`, '');
  out.push(`**${evidence.finding}**`);
  if (evidence.devices.length > 0) {
    out.push(
      '',
      '| device | util | r/s | w/s | read | written | await | queue |',
      '|---|---|---|---|---|---|---|---|',
    );
    for (const d of evidence.devices) {
      out.push(
        `| ${d.name} | ${percent(d.utilisationPercent)} | ${d.readsPerSecond} | ${d.writesPerSecond} | ${rate(d.readBytesPerSecond)} | ${rate(d.writeBytesPerSecond)} | ${d.awaitMs === undefined ? '-' : millis(d.awaitMs)} | ${d.queueSize} |`,
      );
    }
  }
  if (evidence.processes.length > 0) {
    out.push('', '| pid | command | disk read | disk write | waiting on IO |', '|---|---|---|---|---|');
    for (const p of evidence.processes) {
      out.push(
        `| ${p.pid} | ${cell(p.kernelThread ? `[${p.comm}]` : p.comm)} | ${rate(p.readBytesPerSecond)} | ${rate(p.writeBytesPerSecond)} | ${p.waitingSamples}/${evidence.stateSamples} samples |`,
      );
    }
  }
  if (evidence.openFiles.length > 0) {
    out.push('', '| pid | fd | file | mode | size | growth | device |', '|---|---|---|---|---|---|---|');
    for (const f of evidence.openFiles) {
      const path = `${f.path}${f.deleted ? ' (deleted)' : ''}`;
      out.push(
        `| ${f.pid} | ${f.fd} | ${cell(path)} | ${f.mode}${f.direct ? ', O_DIRECT' : ''} | ${bytes(f.sizeBytes)} | ${rate(f.growthBytesPerSecond)} | ${f.device ?? '-'} |`,
      );
    }
  }
  if (evidence.filesystems.length > 0) {
    out.push('', '| filesystem | mounted on | used | size | growth |', '|---|---|---|---|---|');
    for (const fs of evidence.filesystems) {
      out.push(
        `| ${cell(fs.source)} | ${cell(fs.mountPoint)} | ${percent(fs.usedPercent)} (${bytes(fs.usedBytes)}) | ${bytes(fs.sizeBytes)} | ${rate(fs.growthBytesPerSecond)} |`,
      );
    }
  }
  if (evidence.growingPaths.length > 0) {
    out.push(
      '',
      `Growing: ${evidence.growingPaths.map((g) => `${g.path} +${rate(g.growthBytesPerSecond)}`).join(', ')}`,
    );
  }
  if (evidence.pressure) {
    const p = evidence.pressure;
    out.push(
      '',
      `IO pressure over the window: some ${percent(p.somePercent)}${p.fullPercent === undefined ? '' : `, full ${percent(p.fullPercent)}`} (kernel avg10 ${p.someAvg10})`,
    );
  }
  for (const missing of evidence.unavailable) out.push('', `Not available: ${missing}`);
  return out.join('\n');
}

/** The report's "IO evidence" section. */
export function renderIoEvidenceSection(evidence: readonly IoEvidenceCollection[]): string {
  const out: string[] = ['## IO evidence'];
  for (const collection of printable(evidence)) {
    const when = collection.when === 'during' ? 'while the faults were in place' : 'after rollback';
    out.push('', `Collected ${when}: ${collection.reason}.`);
    for (const host of collection.hosts) {
      out.push(
        '',
        'error' in host ? `### ${host.host}\n\nnot collected: ${host.error}` : renderIoEvidence(host),
      );
    }
  }
  return out.join('\n');
}
