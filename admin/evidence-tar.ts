/**
 * A minimal POSIX ustar writer for the evidence export: regular files only, names under 100 bytes.
 * `tar xf` (GNU, BSD, busybox) reads it; nothing else is needed to open an export.
 */
const enc = new TextEncoder();

function field(block: Uint8Array, offset: number, length: number, value: string): void {
  const bytes = enc.encode(value);
  if (bytes.length > length) throw new Error(`tar field too long: ${value}`);
  block.set(bytes, offset);
}

const octal = (n: number, width: number) => `${n.toString(8).padStart(width - 1, '0')}\0`;

export function tar(files: Array<{ name: string; data: Uint8Array | string }>, mtime: Date): Uint8Array<ArrayBuffer> {
  const parts: Uint8Array[] = [];
  for (const f of files) {
    const data = typeof f.data === 'string' ? enc.encode(f.data) : f.data;
    const h = new Uint8Array(512);
    field(h, 0, 100, f.name);
    field(h, 100, 8, octal(0o644, 8));
    field(h, 108, 8, octal(0, 8));
    field(h, 116, 8, octal(0, 8));
    field(h, 124, 12, octal(data.length, 12));
    field(h, 136, 12, octal(Math.floor(mtime.getTime() / 1000), 12));
    field(h, 148, 8, '        ');
    field(h, 156, 1, '0');
    field(h, 257, 6, 'ustar\0');
    field(h, 263, 2, '00');
    field(h, 265, 32, 'routero');
    field(h, 297, 32, 'routero');
    const sum = h.reduce((a, b) => a + b, 0);
    field(h, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
    parts.push(h, data, new Uint8Array((512 - (data.length % 512)) % 512));
  }
  parts.push(new Uint8Array(1024));
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
