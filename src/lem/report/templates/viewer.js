
"use strict";
(function () {
  // One rounding rule (lem.numfmt): half away from zero on the shortest decimal form.
  function fmtFixed(x, places, signed) {
    if (x === null || x === undefined || Number.isNaN(x)) return "—";
    if (!Number.isFinite(x)) return x > 0 ? (signed ? "+∞" : "∞") : "-∞";
    let s = String(Math.abs(x)), exp = 0;
    const e = s.indexOf("e");
    if (e >= 0) { exp = Number(s.slice(e + 1)); s = s.slice(0, e); }
    const dot = s.indexOf(".");
    let digits = dot < 0 ? s : s.slice(0, dot) + s.slice(dot + 1);
    let point = (dot < 0 ? s.length : dot) + exp;
    if (point < 0) { digits = "0".repeat(-point) + digits; point = 0; }
    const keep = point + places;
    if (digits.length < keep) digits += "0".repeat(keep - digits.length);
    const head = digits.slice(0, keep).split("").map(Number);
    if (digits.length > keep && digits[keep] >= "5") {
      let k = head.length - 1;
      while (k >= 0 && head[k] === 9) { head[k] = 0; k--; }
      if (k >= 0) head[k] += 1; else head.unshift(1);
    }
    const cut = head.length - places;
    let ip = head.slice(0, cut).join("").replace(/^0+(?=\d)/, "") || "0";
    let out = ip + (places ? "." + head.slice(cut).join("") : "");
    if (x < 0 && /[1-9]/.test(out)) out = "-" + out;
    if (signed && out[0] !== "-") out = "+" + out;
    return out;
  }
  function fmt(x) { return fmtFixed(x, 2, false); }
  function signed(x) { return fmtFixed(x, 2, true); }
  function fmtSignal(v) { return Number.isInteger(v) ? String(v) : fmt(v); }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function cmpStr(a, b) { return a < b ? -1 : a > b ? 1 : 0; }

  async function decode(node) {
    const bin = atob(node.textContent.trim());
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return JSON.parse(await new Response(stream).text());
  }

  function compileRules(rules) {
    return rules.map((r) => ({ k: r.k, re: new RegExp(r.source, r.flags), start: r.start,
      shift: r.shift }));
  }
  // Every match of the scorer's patterns in text: flat [start, end, signal, ...] in UTF-16
  // units; computed only for the responses being shown.
  function spansOf(rules, text) {
    const out = [];
    for (const r of rules) {
      if (r.start) {
        const m = r.re.exec(text);
        if (m) out.push(0, m[0].length, r.k);
        continue;
      }
      let off = 0;
      if (r.shift && text.length) off = text.codePointAt(0) > 0xffff ? 2 : 1;
      const subject = off ? text.slice(off) : text;
      for (const m of subject.matchAll(r.re)) {
        out.push(m.index + off, m.index + off + m[0].length, r.k);
      }
    }
    return out;
  }

  function start(D) {
    const NC = D.conditions.length;
    const BASE = D.baseline;
    const HL = D.highlight;
    const RULES = compileRules(D.rules);
    const hidden = new Set();
    const state = { domain: "", model: "", query: "", sort: "id", reg: false, regX: -5,
      pageSize: 50, page: 0 };
    window.lemViewer = { spans: (t) => spansOf(RULES, t), format: fmtFixed };

    const probes = D.probes.map((p, i) => ({ p: p, i: i,
      key: (p.id + "\n" + p.prompt).toLowerCase() }));

    function visibleRows(p) {
      if (state.model === "") return p.rows;
      const m = Number(state.model);
      return p.rows.filter((r) => r.m === m);
    }
    function extremes(rows) {
      let lo = null, hi = null;
      for (const r of rows) for (const c of r.c) {
        if (!c || c.delta === null || c.delta === undefined) continue;
        lo = lo === null ? c.delta : Math.min(lo, c.delta);
        hi = hi === null ? c.delta : Math.max(hi, c.delta);
      }
      return [lo, hi];
    }

    function selection() {
      const terms = state.query.toLowerCase().split(/\s+/).filter(Boolean);
      const out = [];
      for (const e of probes) {
        if (state.domain !== "" && e.p.category !== state.domain) continue;
        if (terms.some((t) => e.key.indexOf(t) < 0)) continue;
        const rows = visibleRows(e.p);
        if (!rows.length) continue;
        const ex = extremes(rows);
        if (state.reg && !(ex[0] !== null && ex[0] < state.regX)) continue;
        out.push({ e: e, rows: rows, lo: ex[0], hi: ex[1] });
      }
      const nullsLast = (a, b, f) => (a === null) - (b === null) || (a === null ? 0 : f(a, b));
      const by = {
        id: (a, b) => a.e.i - b.e.i,
        domain: (a, b) => cmpStr(a.e.p.category, b.e.p.category) || a.e.i - b.e.i,
        regression: (a, b) => nullsLast(a.lo, b.lo, (x, y) => x - y) || a.e.i - b.e.i,
        rescue: (a, b) => nullsLast(a.hi, b.hi, (x, y) => y - x) || a.e.i - b.e.i,
      }[state.sort];
      out.sort(by);
      return out;
    }

    // Pages of about pageSize model rows; a probe with more rows than fit continues on
    // the next page, so a page never holds more than pageSize rows.
    function paginate(items) {
      const pages = [];
      let cur = [], rows = 0;
      for (const it of items) {
        for (let k = 0; k < it.rows.length;) {
          const take = Math.min(it.rows.length - k, state.pageSize - rows);
          cur.push({ e: it.e, rows: it.rows.slice(k, k + take), more: k > 0 });
          k += take;
          rows += take;
          if (rows >= state.pageSize) { pages.push(cur); cur = []; rows = 0; }
        }
      }
      if (cur.length) pages.push(cur);
      return pages;
    }

    function highlighted(text) {
      const frag = document.createDocumentFragment();
      const flat = RULES.length ? spansOf(RULES, text) : [];
      const spans = [];
      for (let k = 0; k + 2 < flat.length; k += 3) {
        if (!hidden.has(flat[k + 2]) && flat[k + 1] > flat[k]) {
          spans.push([flat[k], flat[k + 1], flat[k + 2]]);
        }
      }
      if (!spans.length) { frag.append(text); return frag; }
      const cuts = new Set([0, text.length]);
      for (const s of spans) { cuts.add(s[0]); cuts.add(s[1]); }
      const xs = Array.from(cuts).sort((a, b) => a - b);
      spans.sort((a, b) => a[0] - b[0]);
      let first = 0;
      for (let j = 0; j + 1 < xs.length; j++) {
        const a = xs[j], b = xs[j + 1];
        const seg = text.slice(a, b);
        while (first < spans.length && spans[first][1] <= a) first++;
        const on = [];
        for (let q = first; q < spans.length && spans[q][0] <= a; q++) {
          const s = spans[q];
          if (b <= s[1] && on.indexOf(s[2]) < 0) on.push(s[2]);
        }
        if (!on.length) { frag.append(seg); continue; }
        on.sort((x, y) => x - y);
        const m = el("mark", "s" + on[0] + (on.length > 1 ? " multi" : ""), seg);
        const names = on.map((k) => HL[k]);
        m.dataset.signals = names.join(" ");
        m.title = names.join(", ");
        frag.append(m);
      }
      return frag;
    }

    function baselineSignals(row) {
      const cell = row.c[BASE];
      if (!cell) return null;
      const ok = cell.samples.filter((s) => s.s !== null);
      if (!ok.length) return null;
      return D.signals.map((_, k) => {
        const vals = ok.map((s) => s.g[k]).filter((v) => v !== null);
        return vals.length ? vals.reduce((x, y) => x + y, 0) / vals.length : null;
      });
    }

    function signalList(sample, base) {
      const box = el("div", "sig");
      D.signals.forEach((name, k) => {
        const v = sample.g[k];
        if (v === null) return;
        const item = el("span", v === 0 ? "z" : "");
        item.dataset.signal = name;
        const n = el("span", "nm");
        const h = HL.indexOf(name);
        if (h >= 0) n.append(el("span", "sw s" + h));
        n.append(name);
        const vc = el("span", "v", fmtSignal(v));
        if (base && base[k] !== null && v !== base[k]) {
          vc.append(el("span", v > base[k] ? "up" : "down", v > base[k] ? "▲" : "▼"));
          vc.title = "baseline " + fmtSignal(base[k]);
        }
        item.append(n, vc);
        box.append(item);
      });
      return box.childNodes.length ? box : null;
    }

    function renderCell(cell, ci, base) {
      const art = el("article", "cell");
      art.dataset.condition = D.conditions[ci];
      const head = el("div", "cell-head");
      head.append(el("span", "cond", D.conditions[ci]));
      art.append(head);
      if (!cell) {
        art.classList.add("missing");
        head.append(el("span", "score", "no response"));
        return art;
      }
      if (cell.score === null) art.classList.add("failed");
      const sc = el("span", "score", cell.score === null ? "failed" : fmt(cell.score));
      sc.title = "score";
      head.append(sc);
      if (ci === BASE) {
        if (!/^baseline(:|$)/.test(D.conditions[ci])) {
          head.append(el("span", "delta base", "reference"));
        }
      } else if (cell.delta !== null) {
        const d = el("span", "delta " + (cell.delta < 0 ? "neg" : cell.delta > 0 ? "pos" : ""),
          "Δ " + signed(cell.delta));
        d.title = "score minus this model's baseline score";
        head.append(d);
      } else head.append(el("span", "delta base", "Δ n/a"));
      for (const s of cell.samples) {
        if (D.multiSample) {
          art.append(el("div", "sample-head",
            "sample " + s.n + " · " + (s.s === null ? "failed" : fmt(s.s))));
        }
        if (s.s === null) art.append(el("div", "error", "error: " + (s.e || "no score")));
        const pre = el("pre", "resp");
        pre.append(s.s !== null && s.t ? highlighted(s.t) : s.t);
        art.append(pre);
        const t = s.s === null ? null : signalList(s, ci === BASE ? null : base);
        if (t) art.append(t);
      }
      return art;
    }

    function renderProbe(item, continued) {
      const p = item.e.p;
      const sec = el("section", "probe");
      sec.dataset.probeId = p.id;
      sec.dataset.category = p.category;
      const h = el("h2");
      h.append(el("span", "pid", p.id), el("span", "cat", p.category));
      if (continued) h.append(el("span", "cont", "(continued)"));
      sec.append(h, el("p", "prompt", p.prompt));
      for (const row of item.rows) {
        const div = el("div", "model-row");
        div.dataset.model = D.models[row.m];
        div.append(el("div", "model-name", D.models[row.m]));
        const cells = el("div", "cells");
        cells.style.gridTemplateColumns = "repeat(" + NC + ", minmax(13em, 1fr))";
        const base = baselineSignals(row);
        for (let ci = 0; ci < NC; ci++) cells.append(renderCell(row.c[ci], ci, base));
        div.append(cells);
        sec.append(div);
      }
      return sec;
    }

    function pager(node, nPages, nProbes, nRows) {
      node.replaceChildren();
      const prev = el("button", "", "‹ prev");
      prev.disabled = state.page <= 0;
      prev.addEventListener("click", () => go(state.page - 1));
      const next = el("button", "", "next ›");
      next.disabled = state.page >= nPages - 1;
      next.addEventListener("click", () => go(state.page + 1));
      const info = el("span", "page-info",
        "page " + (nPages ? state.page + 1 : 0) + " / " + nPages + " · " + nProbes +
        " probe" + (nProbes === 1 ? "" : "s") + " · " + nRows + " model row" +
        (nRows === 1 ? "" : "s"));
      node.append(prev, info, next);
    }

    let lastPages = [];
    function render() {
      const items = selection();
      const pages = paginate(items);
      lastPages = pages;
      if (state.page >= pages.length) state.page = Math.max(0, pages.length - 1);
      const main = document.getElementById("probes");
      main.replaceChildren();
      const page = pages[state.page] || [];
      for (const item of page) main.append(renderProbe(item, item.more));
      if (!page.length) main.append(el("div", "empty", "No probes match."));
      const nRows = items.reduce((n, it) => n + it.rows.length, 0);
      pager(document.getElementById("pager-top"), pages.length, items.length, nRows);
      pager(document.getElementById("pager-bottom"), pages.length, items.length, nRows);
      markModel();
    }
    function go(page) {
      if (page < 0 || page >= lastPages.length) return;
      state.page = page;
      render();
      document.getElementById("controls").scrollIntoView();
    }

    function fill(id, values, labels) {
      const sel = document.getElementById(id);
      values.forEach((v, k) => {
        const o = el("option", "", labels[k]);
        o.value = v;
        sel.append(o);
      });
    }
    const catCount = {};
    for (const p of D.probes) catCount[p.category] = (catCount[p.category] || 0) + 1;
    fill("f-domain", D.categories, D.categories.map((c) => c + " (" + catCount[c] + ")"));
    fill("f-model", D.models.map((_, k) => String(k)), D.models);

    const legend = document.getElementById("legend");
    if (HL.length) {
      legend.append(el("span", "", "Highlighted matches:"));
      HL.forEach((name, k) => {
        const lab = el("label");
        const cb = el("input");
        cb.type = "checkbox";
        cb.checked = true;
        cb.dataset.signal = name;
        cb.addEventListener("change", () => {
          if (cb.checked) hidden.delete(k); else hidden.add(k);
          render();
        });
        lab.append(cb, el("span", "sw s" + k, name));
        legend.append(lab);
      });
    } else legend.hidden = true;

    // the per-model table: filter by name, click a model to show its responses
    const table = document.getElementById("model-table");
    const count = document.getElementById("model-count");
    function markModel() {
      if (!table) return;
      for (const tr of table.tBodies[0].rows) {
        tr.classList.toggle("sel", tr.dataset.model === state.model);
      }
    }
    function filterTable(q) {
      if (!table) return;
      const terms = q.toLowerCase().split(/\s+/).filter(Boolean);
      let shown = 0;
      for (const tr of table.tBodies[0].rows) {
        const name = D.models[Number(tr.dataset.model)].toLowerCase();
        tr.hidden = terms.some((t) => name.indexOf(t) < 0);
        if (!tr.hidden) shown++;
      }
      count.textContent = terms.length ? shown + " of " + D.models.length + " shown" : "";
    }
    if (table) {
      document.getElementById("f-model-table").addEventListener("input",
        (e) => filterTable(e.target.value));
      table.addEventListener("click", (e) => {
        const b = e.target.closest("button.pick");
        if (!b) return;
        state.model = b.dataset.model;
        document.getElementById("f-model").value = state.model;
        state.page = 0;
        render();
        document.getElementById("controls").scrollIntoView();
      });
    }

    function bind(id, ev, fn) {
      document.getElementById(id).addEventListener(ev, (e) => { fn(e.target); state.page = 0;
        render(); });
    }
    bind("f-domain", "change", (t) => { state.domain = t.value; });
    bind("f-model", "change", (t) => { state.model = t.value; });
    bind("f-search", "input", (t) => { state.query = t.value; });
    bind("f-sort", "change", (t) => { state.sort = t.value; });
    bind("f-reg", "change", (t) => { state.reg = t.checked; });
    bind("f-reg-x", "input", (t) => {
      const x = parseFloat(t.value);
      state.regX = isNaN(x) ? 0 : x;
    });
    bind("f-page-size", "change", (t) => { state.pageSize = Number(t.value) || 50; });
    document.getElementById("f-expand").addEventListener("change", (e) => {
      document.body.classList.toggle("expand", e.target.checked);
    });
    render();
    document.body.dataset.ready = "1";
  }

  decode(document.getElementById("lem-data")).then(start).catch((err) => {
    const status = document.getElementById("status");
    if (status) status.textContent = "Could not read the embedded responses: " + err;
    document.body.dataset.ready = "error";
    throw err;
  });
})();
