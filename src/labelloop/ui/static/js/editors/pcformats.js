// Point-cloud readers for the browser: PCD (ascii, binary, binary_compressed), PLY (ascii and
// binary), LAS and KITTI .bin, each into float32 x y z triples. The server's
// /api/media/{sha}/points (when it offers one) is preferred: it also covers LAZ.
import { mediaBytes } from "../api.js";

const dec = new TextDecoder("latin1");

/** Read header lines up to and including the one for which stop(line) is true. */
function headerLines(bytes, stop) {
  const lines = [];
  let pos = 0;
  while (pos < bytes.length) {
    let end = bytes.indexOf(10, pos);
    if (end < 0) end = bytes.length;
    const line = dec.decode(bytes.subarray(pos, end)).trim();
    pos = end + 1;
    lines.push(line);
    if (stop(line)) return { lines, pos };
    if (lines.length > 10000) break;
  }
  throw new Error("no end of header found");
}

function reader(dv, type, size, little) {
  // PCD types: F (float), I (signed), U (unsigned)
  if (type === "F") return size === 8 ? (o) => dv.getFloat64(o, little) : (o) => dv.getFloat32(o, little);
  if (type === "I") return size === 1 ? (o) => dv.getInt8(o) : size === 2 ? (o) => dv.getInt16(o, little) : (o) => dv.getInt32(o, little);
  return size === 1 ? (o) => dv.getUint8(o) : size === 2 ? (o) => dv.getUint16(o, little) : (o) => dv.getUint32(o, little);
}

/** LZF decompression (the codec of PCD binary_compressed). */
export function lzf(input, outLength) {
  const out = new Uint8Array(outLength);
  let ip = 0;
  let op = 0;
  while (ip < input.length) {
    let ctrl = input[ip++];
    if (ctrl < 32) {
      ctrl += 1;
      if (op + ctrl > outLength || ip + ctrl > input.length) throw new Error("corrupt LZF data");
      out.set(input.subarray(ip, ip + ctrl), op);
      ip += ctrl;
      op += ctrl;
    } else {
      let len = ctrl >> 5;
      let ref = op - ((ctrl & 0x1f) << 8) - 1;
      if (len === 7) len += input[ip++];
      ref -= input[ip++];
      len += 2;
      if (ref < 0 || op + len > outLength) throw new Error("corrupt LZF data");
      for (let k = 0; k < len; k++) out[op++] = out[ref++];
    }
  }
  return out;
}

/**
 * Parse a PCD file into float32 xyz triples.
 * @param {ArrayBuffer} buf
 * @returns {Float32Array}
 */
export function parsePcd(buf) {
  const bytes = new Uint8Array(buf);
  const { lines, pos } = headerLines(bytes, (l) => /^DATA\s/i.test(l));
  const header = {};
  for (const line of lines) {
    if (!line || line.startsWith("#")) continue;
    const [key, ...rest] = line.split(/\s+/);
    header[key.toUpperCase()] = rest;
  }
  const fields = header.FIELDS || [];
  const sizes = (header.SIZE || []).map(Number);
  const types = header.TYPE || [];
  const counts = (header.COUNT || fields.map(() => "1")).map(Number);
  const n = Number((header.POINTS || [0])[0]) || Number((header.WIDTH || [0])[0]) * Number((header.HEIGHT || [1])[0]);
  const mode = (header.DATA || ["ascii"])[0].toLowerCase();
  const ix = ["x", "y", "z"].map((f) => fields.indexOf(f));
  if (ix.some((i) => i < 0)) throw new Error("PCD without x y z fields");
  const out = new Float32Array(n * 3);
  if (mode === "ascii") {
    const col = [];
    let c = 0;
    for (let f = 0; f < fields.length; f++) { col.push(c); c += counts[f]; }
    let k = 0;
    for (const line of dec.decode(bytes.subarray(pos)).split("\n")) {
      if (k >= n) break;
      const t = line.trim();
      if (!t) continue;
      const v = t.split(/\s+/);
      for (let a = 0; a < 3; a++) out[3 * k + a] = parseFloat(v[col[ix[a]]]);
      k++;
    }
    return out.subarray(0, 3 * k);
  }
  const get = ix.map((f) => [f, sizes[f]]);
  if (mode === "binary") {
    const offs = [];
    let rec = 0;
    for (let f = 0; f < fields.length; f++) { offs.push(rec); rec += sizes[f] * counts[f]; }
    const dv = new DataView(buf, pos);
    const read = get.map(([f, size]) => reader(dv, types[f], size, true));
    const m = Math.min(n, Math.floor(dv.byteLength / rec));
    for (let k = 0; k < m; k++) for (let a = 0; a < 3; a++) out[3 * k + a] = read[a](k * rec + offs[ix[a]]);
    return out.subarray(0, 3 * m);
  }
  if (mode === "binary_compressed") {
    const head = new DataView(buf, pos, 8);
    const packed = head.getUint32(0, true);
    const size = head.getUint32(4, true);
    const raw = lzf(new Uint8Array(buf, pos + 8, packed), size);
    // column-major: all values of the first field, then of the second, ...
    const starts = [];
    let at = 0;
    for (let f = 0; f < fields.length; f++) { starts.push(at); at += n * sizes[f] * counts[f]; }
    const dv = new DataView(raw.buffer);
    const read = get.map(([f, s]) => reader(dv, types[f], s, true));
    for (let k = 0; k < n; k++) for (let a = 0; a < 3; a++) out[3 * k + a] = read[a](starts[ix[a]] + k * sizes[ix[a]] * counts[ix[a]]);
    return out;
  }
  throw new Error(`PCD DATA ${mode} is not supported`);
}

const PLY_TYPES = {
  char: ["I", 1], int8: ["I", 1], uchar: ["U", 1], uint8: ["U", 1], short: ["I", 2], int16: ["I", 2],
  ushort: ["U", 2], uint16: ["U", 2], int: ["I", 4], int32: ["I", 4], uint: ["U", 4], uint32: ["U", 4],
  float: ["F", 4], float32: ["F", 4], double: ["F", 8], float64: ["F", 8],
};

/** Parse the vertex x y z of a PLY file (ascii, binary little or big endian; vertices first). */
export function parsePly(buf) {
  const bytes = new Uint8Array(buf);
  const { lines, pos } = headerLines(bytes, (l) => l === "end_header");
  let format = null;
  const elements = [];
  for (const line of lines) {
    const p = line.split(/\s+/);
    if (p[0] === "format") format = p[1];
    else if (p[0] === "element") elements.push({ name: p[1], count: Number(p[2]), props: [] });
    else if (p[0] === "property" && elements.length) {
      if (p[1] === "list") {
        if (elements.at(-1).name === "vertex") throw new Error("PLY list property in vertices");
        continue; // faces and the like come after the vertices and are not read
      }
      if (!PLY_TYPES[p[1]]) throw new Error(`PLY property type ${p[1]} is unknown`);
      elements.at(-1).props.push({ name: p[2], type: PLY_TYPES[p[1]] });
    }
  }
  const vertex = elements[0];
  if (!vertex || vertex.name !== "vertex") throw new Error("PLY without a leading vertex element");
  const names = vertex.props.map((q) => q.name);
  const ix = ["x", "y", "z"].map((f) => names.indexOf(f));
  if (ix.some((i) => i < 0)) throw new Error("PLY vertices without x y z");
  const n = vertex.count;
  const out = new Float32Array(n * 3);
  if (format === "ascii") {
    let k = 0;
    for (const line of dec.decode(bytes.subarray(pos)).split("\n")) {
      if (k >= n) break;
      const t = line.trim();
      if (!t) continue;
      const v = t.split(/\s+/);
      for (let a = 0; a < 3; a++) out[3 * k + a] = parseFloat(v[ix[a]]);
      k++;
    }
    return out.subarray(0, 3 * k);
  }
  const little = format === "binary_little_endian";
  if (!little && format !== "binary_big_endian") throw new Error(`PLY format ${format} is not supported`);
  const offs = [];
  let rec = 0;
  for (const q of vertex.props) { offs.push(rec); rec += q.type[1]; }
  const dv = new DataView(buf, pos);
  const read = ix.map((i) => reader(dv, vertex.props[i].type[0], vertex.props[i].type[1], little));
  const m = Math.min(n, Math.floor(dv.byteLength / rec));
  for (let k = 0; k < m; k++) for (let a = 0; a < 3; a++) out[3 * k + a] = read[a](k * rec + offs[ix[a]]);
  return out.subarray(0, 3 * m);
}

/** Parse an uncompressed LAS file (any point format: X Y Z are the first three int32). */
export function parseLas(buf) {
  const dv = new DataView(buf);
  if (dec.decode(new Uint8Array(buf, 0, 4)) !== "LASF") throw new Error("not a LAS file");
  const dataAt = dv.getUint32(96, true);
  const pointFormat = dv.getUint8(104);
  if (pointFormat & 0x80) throw new Error("LAZ (compressed LAS) needs the server's /points endpoint");
  const rec = dv.getUint16(105, true);
  let n = dv.getUint32(107, true);
  const minor = dv.getUint8(25);
  if (!n && minor >= 4) n = Number(dv.getBigUint64(247, true));
  const scale = [131, 139, 147].map((o) => dv.getFloat64(o, true));
  const offset = [155, 163, 171].map((o) => dv.getFloat64(o, true));
  const m = Math.min(n, Math.floor((buf.byteLength - dataAt) / rec));
  const out = new Float32Array(m * 3);
  for (let k = 0; k < m; k++) {
    const o = dataAt + k * rec;
    for (let a = 0; a < 3; a++) out[3 * k + a] = dv.getInt32(o + 4 * a, true) * scale[a] + offset[a];
  }
  return out;
}

/** KITTI velodyne .bin: float32 x y z intensity. */
export function parseKitti(buf) {
  const all = new Float32Array(buf, 0, Math.floor(buf.byteLength / 16) * 4);
  const out = new Float32Array((all.length / 4) * 3);
  for (let i = 0, j = 0; i < all.length; i += 4, j += 3) { out[j] = all[i]; out[j + 1] = all[i + 1]; out[j + 2] = all[i + 2]; }
  return out;
}

/** Pick the reader from the media type / probed format, or the file's magic bytes. */
export function parsePoints(buf, hint = "") {
  const h = hint.toLowerCase();
  const magic = dec.decode(new Uint8Array(buf, 0, Math.min(4, buf.byteLength)));
  if (h.includes("laz") || h.includes("laszip")) throw new Error("LAZ (compressed LAS) needs the server's /points endpoint");
  if (magic === "LASF") return parseLas(buf);
  if (magic.startsWith("ply")) return parsePly(buf);
  if (h.includes("kitti")) return parseKitti(buf);
  return parsePcd(buf);
}

/**
 * The points of a point-cloud medium: from the server's binary endpoint, else parsed here.
 * @returns {Promise<{points: Float32Array, source: "server"|"file"}>}
 */
export async function loadPoints(media) {
  const res = await fetch(`/api/media/${media.sha256}/points`, { credentials: "same-origin" });
  if (res.ok && (res.headers.get("Content-Type") || "").includes("octet-stream")) {
    return { points: new Float32Array(await res.arrayBuffer()), source: "server" };
  }
  const buf = await mediaBytes(`/api/media/${media.sha256}`);
  return { points: parsePoints(buf, `${media.media_type || ""} ${media.meta?.format || ""}`), source: "file" };
}
