// Text offsets. The server counts Python str offsets (code points); the DOM counts UTF-16
// code units. An emoji is one code point but two UTF-16 units.

export class TextIndex {
  /** @param {string} text */
  constructor(text) {
    this.text = text;
    this.starts = []; // UTF-16 offset of each code point, plus the end
    let i = 0;
    for (const ch of text) {
      this.starts.push(i);
      i += ch.length;
    }
    this.starts.push(i);
  }

  /** Number of code points. */
  get length() { return this.starts.length - 1; }

  /** Code-point offset -> UTF-16 offset. */
  toUtf16(cp) {
    return this.starts[Math.max(0, Math.min(cp, this.length))];
  }

  /** UTF-16 offset -> code-point offset (an offset inside a surrogate pair rounds down). */
  toCodePoint(u16) {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= u16) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  /** The text between two code-point offsets. */
  slice(start, end) {
    return this.text.slice(this.toUtf16(start), this.toUtf16(end));
  }
}
