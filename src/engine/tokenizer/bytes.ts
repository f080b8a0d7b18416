// Bytes <-> JS strings for the byte-level tokenizers (bpe, gpt2).
//
// JS strings are UTF-16 and may hold lone surrogates, which UTF-8 cannot express. So that
// decode(encode(x)) === x holds for *every* JS string, text is turned into bytes with the
// generalised UTF-8 known as WTF-8: well-formed text gives exactly its UTF-8 bytes, and a lone
// surrogate U+D800..U+DFFF becomes the 3-byte sequence UTF-8 would use for that code point.
// (A lone surrogate also takes 3 bytes in TextEncoder, which writes U+FFFD instead, so byte
// offsets agree with js-tiktoken's encoder on any input.)

/** The bytes of a text plus, for every byte, the UTF-16 range of the character it belongs to. */
export interface ByteMap {
  readonly bytes: Uint8Array; // (B)
  /** charStart[b]: index in the string where the character holding byte b starts. (B) */
  readonly charStart: Int32Array;
  /** charEnd[b]: index just after that character (start + 1, or + 2 for a surrogate pair). (B) */
  readonly charEnd: Int32Array;
}

/** Number of WTF-8 bytes of `text` (same as UTF-8 for well-formed text). */
function byteLength(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) length += 1;
    else if (unit < 0x800) length += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      length += 4;
      i++;
    } else length += 3;
  }
  return length;
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

/**
 * Walks the characters of `text`, writing each one's bytes to `out` and calling `onChar` with
 * the character's UTF-16 range and its byte range. Returns the number of bytes written.
 */
function writeBytes(
  text: string,
  out: Uint8Array,
  onChar?: (charStart: number, charEnd: number, byteStart: number, byteEnd: number) => void,
): number {
  let b = 0;
  for (let i = 0; i < text.length; i++) {
    const start = i;
    const byteStart = b;
    let cp = text.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      cp = 0x10000 + ((cp - 0xd800) << 10) + (text.charCodeAt(i + 1) - 0xdc00);
      i++;
    }
    if (cp < 0x80) {
      out[b++] = cp;
    } else if (cp < 0x800) {
      out[b++] = 0xc0 | (cp >> 6);
      out[b++] = 0x80 | (cp & 0x3f);
    } else if (cp < 0x10000) {
      // Lone surrogates land here too: that is the WTF-8 rule.
      out[b++] = 0xe0 | (cp >> 12);
      out[b++] = 0x80 | ((cp >> 6) & 0x3f);
      out[b++] = 0x80 | (cp & 0x3f);
    } else {
      out[b++] = 0xf0 | (cp >> 18);
      out[b++] = 0x80 | ((cp >> 12) & 0x3f);
      out[b++] = 0x80 | ((cp >> 6) & 0x3f);
      out[b++] = 0x80 | (cp & 0x3f);
    }
    onChar?.(start, i + 1, byteStart, b);
  }
  return b;
}

/** The WTF-8 bytes of `text` (its UTF-8 bytes when the text is well-formed). */
export function textToBytes(text: string): Uint8Array {
  const bytes = new Uint8Array(byteLength(text));
  writeBytes(text, bytes);
  return bytes;
}

/** The bytes of `text` with each byte's character range, for turning byte spans into offsets. */
export function textToByteMap(text: string): ByteMap {
  const bytes = new Uint8Array(byteLength(text));
  const charStart = new Int32Array(bytes.length);
  const charEnd = new Int32Array(bytes.length);
  writeBytes(text, bytes, (start, end, byteStart, byteEnd) => {
    charStart.fill(start, byteStart, byteEnd);
    charEnd.fill(end, byteStart, byteEnd);
  });
  return { bytes, charStart, charEnd };
}

/**
 * The string offsets of the token that holds bytes [byteStart, byteEnd) of the text.
 * Rule: a token spans every character its bytes touch. A token holding only part of a multi-byte
 * character therefore still spans that whole character, and two neighbouring tokens that split
 * one character both span it (they overlap by that character). Starts and ends stay monotone
 * and consecutive tokens leave no gap, so the tokens always cover the whole input.
 */
export function charSpan(map: ByteMap, byteStart: number, byteEnd: number): { start: number; end: number } {
  if (byteEnd <= byteStart) {
    // An empty token (not produced by our tokenizers) sits at the character boundary it precedes.
    const at = byteStart < map.bytes.length ? (map.charStart[byteStart] ?? 0) : charLength(map);
    return { start: at, end: at };
  }
  return { start: map.charStart[byteStart] ?? 0, end: map.charEnd[byteEnd - 1] ?? 0 };
}

function charLength(map: ByteMap): number {
  const last = map.bytes.length - 1;
  return last >= 0 ? (map.charEnd[last] ?? 0) : 0;
}

/**
 * The character starting at bytes[i]: `length` bytes forming code point `cp`, or length 0 when the
 * bytes there are not a complete character; `bad` is then the length of the maximal ill-formed
 * subpart (the lead byte plus the continuation bytes that were still acceptable), at least 1.
 */
function sequenceAt(bytes: Uint8Array, i: number): { length: number; cp: number; bad: number } {
  const lead = bytes[i] ?? 0;
  if (lead < 0x80) return { length: 1, cp: lead, bad: 0 };
  let need: number;
  let cp: number;
  // The second byte's allowed range excludes overlong forms and code points above U+10FFFF.
  // Unlike strict UTF-8, 0xED may be followed by 0xA0..0xBF: the WTF-8 form of a lone surrogate.
  let lo = 0x80;
  let hi = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    need = 1;
    cp = lead & 0x1f;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    need = 2;
    cp = lead & 0x0f;
    if (lead === 0xe0) lo = 0xa0;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    need = 3;
    cp = lead & 0x07;
    if (lead === 0xf0) lo = 0x90;
    if (lead === 0xf4) hi = 0x8f;
  } else {
    return { length: 0, cp: 0, bad: 1 };
  }
  for (let k = 1; k <= need; k++) {
    const cont = bytes[i + k];
    if (cont === undefined || cont < lo || cont > hi) return { length: 0, cp: 0, bad: k };
    cp = (cp << 6) | (cont & 0x3f);
    lo = 0x80;
    hi = 0xbf;
  }
  return { length: need + 1, cp, bad: 0 };
}

/**
 * Bytes to text, the inverse of `textToBytes`. Each maximal ill-formed subpart is written by
 * `invalid`: U+FFFD by default, which is what TextDecoder does for UTF-8.
 */
export function bytesToText(
  bytes: Uint8Array,
  invalid: (subpart: Uint8Array) => string = () => '\ufffd',
): string {
  const parts: string[] = [];
  let units: number[] = [];
  const flush = (): void => {
    if (units.length > 0) parts.push(String.fromCharCode(...units));
    units = [];
  };
  for (let i = 0; i < bytes.length; ) {
    const { length, cp, bad } = sequenceAt(bytes, i);
    if (length === 0) {
      flush();
      parts.push(invalid(bytes.subarray(i, i + bad)));
      i += bad;
      continue;
    }
    if (cp >= 0x10000) units.push(0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff));
    else units.push(cp);
    if (units.length >= 4096) flush();
    i += length;
  }
  flush();
  return parts.join('');
}

/**
 * How a vocabulary entry is shown: its bytes as text, with every byte that is not part of a whole
 * character written as `<0xNN>` (a token may hold half of a multi-byte character).
 */
export function bytesForDisplay(bytes: Uint8Array): string {
  return bytesToText(bytes, (subpart) =>
    Array.from(subpart, (byte) => `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`).join(''),
  );
}
