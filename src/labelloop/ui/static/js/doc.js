// The annotation being edited: a list of regions with undo, selection and suggestion marks.

const LIMIT = 200;

export class Doc extends EventTarget {
  /**
   * @param {object} schema  the project's LabelSchema JSON
   * @param {Array} regions  initial value
   * @param {Iterable<string>} suggested  ids of regions pre-filled from a suggestion
   */
  constructor(schema, regions = [], suggested = []) {
    super();
    this.schema = schema;
    this.controls = new Map((schema.controls || []).map((c) => [c.name, c]));
    this.regions = structuredClone(regions);
    this.suggested = new Set(suggested);
    this.selected = null;
    this.lastByControl = new Map();
    this.undoStack = [];
    this.dirty = false;
    this.version = 0;
  }

  control(name) { return this.controls.get(name); }
  get(id) { return this.regions.find((r) => r.id === id) || null; }
  ofControl(name) { return this.regions.filter((r) => r.control === name); }
  value() { return structuredClone(this.regions); }

  /** Record an undo step (call once before a continuous drag). */
  checkpoint() {
    this.undoStack.push(JSON.stringify([this.regions, [...this.suggested]]));
    if (this.undoStack.length > LIMIT) this.undoStack.shift();
  }

  _changed(kind = "change") {
    this.dirty = true;
    this.version += 1;
    this.dispatchEvent(new CustomEvent("change", { detail: kind }));
  }

  add(region, { record = true } = {}) {
    if (record) this.checkpoint();
    this.regions.push(region);
    this.select(region.id, { silent: true });
    this._changed();
    return region;
  }

  update(id, patch, { record = true } = {}) {
    const r = this.get(id);
    if (!r) return null;
    if (record) this.checkpoint();
    Object.assign(r, patch);
    this._changed();
    return r;
  }

  /** Remove a region and every relation / link that points at it. */
  remove(id, { record = true } = {}) {
    if (!this.get(id)) return;
    if (record) this.checkpoint();
    const gone = new Set([id]);
    this.regions = this.regions.filter((r) => !gone.has(r.id) && !gone.has(r.from_id) && !gone.has(r.to_id));
    this.suggested.delete(id);
    if (this.selected === id) this.selected = null;
    this._changed();
  }

  /** Replace the whole value (server copy, review start). */
  reset(regions, suggested = []) {
    this.regions = structuredClone(regions);
    this.suggested = new Set(suggested);
    this.selected = null;
    this.undoStack = [];
    this.dirty = false;
    this.version += 1;
    this.dispatchEvent(new CustomEvent("change", { detail: "reset" }));
  }

  undo() {
    const prev = this.undoStack.pop();
    if (!prev) return false;
    const [regions, suggested] = JSON.parse(prev);
    this.regions = regions;
    this.suggested = new Set(suggested);
    if (this.selected && !this.get(this.selected)) this.selected = null;
    this._changed("undo");
    return true;
  }

  select(id, { silent = false } = {}) {
    this.selected = id;
    const r = id ? this.get(id) : null;
    if (r) this.lastByControl.set(r.control, id);
    if (!silent) this.dispatchEvent(new CustomEvent("select", { detail: id }));
  }

  /** Accept suggested regions (the selected one, or all): they become the annotator's own. */
  acceptSuggestion(id = null) {
    const ids = id ? [id] : [...this.suggested];
    if (!ids.length) return 0;
    this.checkpoint();
    for (const x of ids) this.suggested.delete(x);
    this._changed("accept");
    return ids.length;
  }

  /** Reject suggested regions (the selected one, or all): they are removed. */
  rejectSuggestion(id = null) {
    const ids = id ? [id] : [...this.suggested];
    if (!ids.length) return 0;
    this.checkpoint();
    for (const x of ids) {
      this.suggested.delete(x);
      this.regions = this.regions.filter((r) => r.id !== x && r.from_id !== x && r.to_id !== x);
    }
    if (this.selected && !this.get(this.selected)) this.selected = null;
    this._changed("reject");
    return ids.length;
  }
}
