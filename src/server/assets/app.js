// paperscope's page: plain JavaScript over the JSON API, no framework and no build step.
// Everything the page keeps (reading list, language, last visit) stays in this browser's
// localStorage; the server keeps nothing per user.
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const KEYS = { list: 'paperscope.list', lang: 'paperscope.lang', visit: 'paperscope.visit' };
  const PAGE = 20;

  const S = {
    lang: 'en',
    q: '',
    mode: 'hybrid',
    category: '',
    since: '',
    until: '',
    sort: 'relevance',
    // '' (meaning feedback on, the default) or 'false' (off), as the URL and the API say it.
    feedback: '',
    results: [],
    total: 0,
    took: null,
    fusion: '',
    seq: 0,
    view: 'search',
    stats: null,
    map: null,
    pointById: new Map(),
    topicById: new Map(),
    list: [],
    prevVisit: null,
    papers: new Map(),
    lastFocus: null,
    inside: false,
  };

  // ---------- small helpers ----------

  function t(key, ...args) {
    const table = window.I18N[S.lang] || window.I18N.en;
    const v = key in table ? table[key] : window.I18N.en[key];
    if (v === undefined) return key;
    return typeof v === 'function' ? v(...args) : v;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  function load(key, fallback) {
    try {
      const raw = localStorage.getItem(key);
      return raw === null ? fallback : JSON.parse(raw);
    } catch (_) {
      return fallback;
    }
  }

  function save(key, value) {
    try {
      localStorage.setItem(key, JSON.stringify(value));
    } catch (_) {
      // Private windows may refuse storage; the page works without it, only forgetting.
    }
  }

  async function api(path, params) {
    const url = new URL(path, location.origin);
    for (const [k, v] of Object.entries(params || {})) {
      if (v !== '' && v !== null && v !== undefined) url.searchParams.set(k, v);
    }
    const response = await fetch(url);
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (!response.ok) {
      const message = body && body.error ? body.error : `${response.status} ${response.statusText}`;
      const err = new Error(message);
      err.status = response.status;
      throw err;
    }
    return body;
  }

  function status(text, isError) {
    const s = $('status');
    s.textContent = text || '';
    s.classList.toggle('error', !!isError);
  }

  function fail(err) {
    status(`${t('error')}: ${err.message}`, true);
  }

  // Topic labels come as word lists (topics) or as one joined string (the map).
  function splitLabel(label) {
    return Array.isArray(label) ? label : String(label || '').split(/\s*[·,，、]\s*/).filter(Boolean);
  }

  function words(label, n) {
    return splitLabel(label).slice(0, n).join(' · ');
  }

  function topicLabel(topic, n) {
    if (!topic) return '';
    const en = words(topic.label_en, n);
    const zh = words(topic.label_zh, n);
    return S.lang === 'zh' ? `${zh} / ${en}` : `${en} / ${zh}`;
  }

  function topicColor(id, alpha) {
    // Golden-angle hues keep neighbouring topic ids apart in colour.
    const hue = (id * 137.508) % 360;
    const light = id % 2 ? 42 : 52;
    return alpha === undefined ? `hsl(${hue} 62% ${light}%)` : `hsl(${hue} 62% ${light}% / ${alpha})`;
  }

  // Snippet highlights are UTF-8 byte ranges (the server's string offsets).
  function highlighted(text, ranges) {
    const frag = document.createDocumentFragment();
    const bytes = new TextEncoder().encode(text || '');
    const decode = (a, b) => new TextDecoder().decode(bytes.subarray(a, b));
    let at = 0;
    const sorted = (ranges || []).slice().sort((x, y) => x[0] - y[0]);
    for (const [a, b] of sorted) {
      if (a < at || b > bytes.length || b <= a) continue;
      frag.append(decode(at, a), el('mark', { text: decode(a, b) }));
      at = b;
    }
    frag.append(decode(at, bytes.length));
    return frag;
  }

  // ---------- reading list ----------

  function starred(id) {
    return S.list.some((p) => p.id === id);
  }

  function toggleStar(paper) {
    const id = paper.arxiv_id;
    if (starred(id)) {
      S.list = S.list.filter((p) => p.id !== id);
    } else {
      S.list.push({
        id,
        title_en: paper.title_en || '',
        title_zh: paper.title_zh || '',
        month: paper.month || '',
        category: paper.category || (paper.listings || [])[0] || '',
      });
    }
    save(KEYS.list, S.list);
    for (const b of document.querySelectorAll(`.star[data-id="${CSS.escape(id)}"]`)) paintStar(b, id);
    $('list-count').textContent = String(S.list.length);
    if (S.view === 'list') renderList();
  }

  function paintStar(button, id) {
    const on = starred(id);
    button.textContent = on ? '★' : '☆';
    button.setAttribute('aria-pressed', on ? 'true' : 'false');
    button.setAttribute('aria-label', on ? t('unstar') : t('star'));
    button.title = on ? t('unstar') : t('star');
  }

  function starButton(paper) {
    const b = el('button', { type: 'button', class: 'star', 'data-id': paper.arxiv_id });
    paintStar(b, paper.arxiv_id);
    b.addEventListener('click', (e) => {
      e.stopPropagation();
      toggleStar(paper);
    });
    return b;
  }

  // ---------- one result ----------

  // How a list was ranked, in a researcher's words: the status line says "words + meaning";
  // the fusion's detail ("convex 0.35") is under each result's "why?".
  function rankedBy(mode) {
    return t(`ranked_${mode}`) === `ranked_${mode}` ? mode : t(`ranked_${mode}`);
  }

  function fusionDetail(fusion) {
    const m = /^convex ([0-9.]+)$/.exec(fusion || '');
    if (m) {
      const alpha = Number(m[1]);
      return t('why_convex', alpha.toFixed(2), (1 - alpha).toFixed(2));
    }
    return fusion;
  }

  function whyList(why, how) {
    const dl = el('dl');
    const row = (label, value) => dl.append(el('dt', { text: label }), el('dd', { text: value }));
    const rank = (r) => (r === null || r === undefined ? t('why_none') : `#${r}`);
    if (!why) return dl;
    if (how && how.mode) row(t('why_how'), rankedBy(how.mode) + (how.fusion ? ` · ${fusionDetail(how.fusion)}` : ''));
    if ('bm25_rank' in why) row(t('why_bm25'), rank(why.bm25_rank) + (why.bm25_score != null ? ` (BM25 ${why.bm25_score.toFixed(2)})` : ''));
    if ('vector_rank' in why) row(t('why_vector'), rank(why.vector_rank));
    if (why.cosine != null) row(t('why_cosine'), why.cosine.toFixed(3));
    if (why.feedback_cosine != null) row(t('why_feedback'), why.feedback_cosine.toFixed(3) + (why.bm25_rank == null && why.vector_rank == null ? ` (${t('why_feedback_only')})` : ''));
    if (why.fused != null) row(t('why_fused'), why.fused.toFixed(3));
    return dl;
  }

  // Some source digests cut abstracts at a fixed length, mid-word ("multimodal qu") or
  // mid-character (a trailing U+FFFD): such a text is shown ending in "…", without the broken
  // word. A text ending as sentences end is shown as it is. (The digest's HTML does the same.)
  function clipped(text) {
    let s = String(text || '').trimEnd();
    const broken = /\uFFFD+$/.test(s);
    s = s.replace(/\uFFFD+$/, '').trimEnd();
    if (!s || (!broken && /[.!?。！？…:;)\]"'”’」』》】]$/.test(s))) return s;
    if (!broken && /[A-Za-z0-9]$/.test(s) && /\s\S+$/.test(s)) s = s.replace(/\s+\S+$/, '');
    return `${s.replace(/[\s,;:，、；：]+$/, '')}…`;
  }

  function titles(paper, big) {
    const en = el(big ? 'h1' : 'a', { class: 'title-en', lang: 'en', text: paper.title_en || paper.arxiv_id });
    const zh = paper.title_zh ? el(big ? 'p' : 'div', { class: 'title-zh', lang: 'zh-CN', text: paper.title_zh }) : null;
    if (!big) {
      en.href = `#/paper/${encodeURIComponent(paper.arxiv_id)}`;
      en.tabIndex = -1;
    }
    const box = el('div', { class: 'titles' });
    if (S.lang === 'zh' && zh) {
      box.classList.add('zh-first');
    }
    box.append(en, zh || '');
    return box;
  }

  function metaLine(paper) {
    const parts = [paper.category || (paper.listings || []).join(', '), paper.month, paper.arxiv_id].filter(Boolean);
    const meta = el('p', { class: 'meta', text: parts.join(' · ') });
    const point = S.pointById.get(paper.arxiv_id);
    const topic = point ? S.topicById.get(point.topic) : null;
    if (topic) {
      const chip = el('a', { class: 'chip', href: `#/topic/${topic.id}`, tabindex: '-1', text: words(S.lang === 'zh' ? topic.label_zh : topic.label_en, 2) });
      chip.style.setProperty('--c', topicColor(topic.id));
      meta.append(' ', chip);
    }
    return meta;
  }

  function resultItem(r) {
    const li = el('li', { class: 'result', tabindex: '0', 'data-id': r.arxiv_id });
    li.append(el('div', { class: 'rhead' }, starButton(r), titles(r, false)));
    li.append(metaLine(r));
    if (r.summary_zh) li.append(el('p', { class: 'zh-summary', lang: 'zh-CN', text: r.summary_zh }));
    if (r.snippet) li.append(el('p', { class: 'snippet' }, highlighted(r.snippet, r.highlights)));
    if (r.why) {
      const d = el('details', { class: 'why' }, el('summary', { text: t('why') }), whyList(r.why, r.how));
      li.append(d);
    }
    li.addEventListener('click', (e) => {
      if (e.target.closest('button, summary, details, .chip')) return;
      e.preventDefault();
      openPaper(r.arxiv_id);
    });
    return li;
  }

  function fillList(ol, items) {
    ol.replaceChildren(...items.map(resultItem));
  }

  // ---------- search ----------

  let timer = null;

  function readControls() {
    S.q = $('q').value;
    S.mode = document.querySelector('input[name="mode"]:checked').value;
    S.category = $('category').value;
    S.since = $('since').value;
    S.until = $('until').value;
    S.sort = $('sort').value;
    S.feedback = $('feedback').checked ? '' : 'false';
  }

  function writeControls() {
    $('q').value = S.q;
    for (const r of document.querySelectorAll('input[name="mode"]')) r.checked = r.value === S.mode;
    setSelect('category', S.category);
    setSelect('since', S.since);
    setSelect('until', S.until);
    setSelect('sort', S.sort);
    $('feedback').checked = S.feedback !== 'false';
  }

  function setSelect(id, value) {
    const s = $(id);
    if (value && ![...s.options].some((o) => o.value === value)) s.append(el('option', { value, text: value }));
    s.value = value;
  }

  function filterParams() {
    return { category: S.category, since: S.since, until: S.until };
  }

  function searchHash() {
    const p = new URLSearchParams();
    if (S.q.trim()) p.set('q', S.q.trim());
    if (S.mode !== 'hybrid') p.set('mode', S.mode);
    for (const [k, v] of Object.entries(filterParams())) if (v) p.set(k, v);
    if (S.sort !== 'relevance') p.set('sort', S.sort);
    if (S.feedback) p.set('feedback', S.feedback);
    const s = p.toString();
    return s ? `#/search?${s}` : '#/';
  }

  // The Search tab and the digest link always carry the current search, so leaving the results
  // for the map or a paper and coming back finds them as they were.
  function updateLinks() {
    document.querySelector('.tabs a[data-view="search"]').href = searchHash();
    const format = $('digest-format').value;
    const p = new URLSearchParams({ by_topic: 'true', format });
    for (const [k, v] of Object.entries(filterParams())) if (v) p.set(k, v);
    if (S.q.trim()) p.set('q', S.q.trim());
    const a = $('digest');
    a.href = `/api/digest?${p}`;
    a.setAttribute('download', `paperscope-digest.${format}`);
  }

  function onControlsChanged(immediate) {
    readControls();
    updateLinks();
    if (S.view !== 'search') {
      S.inside = true;
      location.hash = searchHash();
    } else {
      history.replaceState(null, '', searchHash());
    }
    clearTimeout(timer);
    timer = setTimeout(() => runSearch(0), immediate ? 0 : 180);
  }

  async function runSearch(offset) {
    const q = S.q.trim();
    const seq = ++S.seq;
    if (!q) {
      S.shownQuery = '';
      S.results = [];
      S.total = 0;
      renderResults();
      status('');
      drawMap();
      return;
    }
    status(t('searching'));
    try {
      const body = await api('/api/search', {
        q,
        mode: S.mode,
        limit: PAGE,
        offset,
        sort: S.sort,
        feedback: S.feedback,
        ...filterParams(),
      });
      if (seq !== S.seq) return;
      S.shownQuery = q;
      const how = { mode: body.mode, fusion: body.fusion || '' };
      for (const r of body.results) r.how = how;
      S.results = offset ? S.results.concat(body.results) : body.results;
      S.total = body.total;
      S.took = body.took_ms;
      S.fusion = body.fusion || '';
      S.modeUsed = body.mode;
      status(coverageNote());
      renderResults();
      drawMap();
    } catch (err) {
      if (seq === S.seq) fail(err);
    }
  }

  // While the server is still embedding the index (words came first), what meaning covers.
  function coverageNote() {
    const st = S.stats;
    if (!st || st.papers_with_vectors === undefined || st.papers_with_vectors >= st.papers) return '';
    const n = (x) => x.toLocaleString('en-US');
    return t('coverage', n(st.papers_with_vectors), n(st.papers));
  }

  // The feed of the current search (the same words, mode and filters; always newest first),
  // offered as "Subscribe" and announced to feed readers with a <link rel="alternate">.
  function searchFeed() {
    const p = new URLSearchParams({ q: S.q.trim() });
    if (S.mode !== 'hybrid') p.set('mode', S.mode);
    for (const [k, v] of Object.entries(filterParams())) if (v) p.set(k, v);
    return `/feeds/search.atom?${p}`;
  }

  function announceFeed(href, title) {
    let link = document.querySelector('link[rel="alternate"][type="application/atom+xml"]');
    if (!href) {
      if (link) link.remove();
      return;
    }
    if (!link) {
      link = el('link', { rel: 'alternate', type: 'application/atom+xml' });
      document.head.append(link);
    }
    link.href = href;
    link.title = title;
  }

  function renderResults() {
    const has = S.q.trim() !== '';
    const feed = $('subscribe');
    feed.hidden = !has;
    if (has) feed.href = searchFeed();
    announceFeed(has ? searchFeed() : null, `paperscope: ${S.q.trim()}`);
    $('welcome').hidden = has;
    fillList($('results'), S.results);
    $('more').hidden = !(has && S.results.length < S.total);
    if (!has) {
      $('summary').textContent = '';
    } else if (S.results.length === 0) {
      $('summary').textContent = t('no_results');
    } else {
      const ms = S.took === null ? '?' : S.took < 10 ? S.took.toFixed(1) : Math.round(S.took);
      $('summary').textContent = `${t('n_results', S.total, ms)} · ${t('showing', 1, S.results.length)} · ${rankedBy(S.modeUsed || S.mode)}`;
    }
    $('results').dataset.count = String(S.results.length);
    // Which query these results answer: a test (or a script) can tell them from a partial one's.
    $('results').dataset.query = has ? S.shownQuery || '' : '';
  }

  // ---------- paper view ----------

  async function paper(id) {
    if (S.papers.has(id)) return S.papers.get(id);
    const p = await api(`/api/papers/${encodeURIComponent(id)}`);
    S.papers.set(id, p);
    return p;
  }

  function openPaper(id) {
    S.inside = true;
    location.hash = `#/paper/${encodeURIComponent(id)}`;
  }

  function field(dl, label, value) {
    if (value === null || value === undefined || value === '' || (Array.isArray(value) && !value.length)) return;
    dl.append(el('dt', { text: label }), el('dd', {}, value instanceof Node ? value : String(Array.isArray(value) ? value.join(', ') : value)));
  }

  async function showPaper(id) {
    show('paper');
    const box = $('paper');
    box.replaceChildren(el('p', { class: 'hint', text: t('loading') }));
    $('related').replaceChildren();
    let p;
    try {
      p = await paper(id);
    } catch (err) {
      box.replaceChildren(el('p', { class: 'hint error', text: err.status === 404 ? t('not_found') : err.message }));
      return;
    }
    const back = el('button', { type: 'button', class: 'ghost back', text: t('back'), onclick: goBack });
    const head = el('div', { class: 'phead' }, starButton(p), titles(p, true));
    const dl = el('dl', { class: 'fields' });
    field(dl, t('field_id'), el('a', { href: p.url || `https://arxiv.org/abs/${p.arxiv_id}`, target: '_blank', rel: 'noopener', text: `${p.arxiv_id}v${p.version || 1}` }));
    field(dl, t('field_category'), p.category);
    field(dl, t('field_listings'), p.listings);
    field(dl, t('field_announce'), p.announce_type);
    field(dl, t('field_variant'), p.variant);
    field(dl, t('field_month'), p.month);
    const point = S.pointById.get(p.arxiv_id);
    const topic = point ? S.topicById.get(point.topic) : null;
    if (topic) field(dl, t('field_topic'), el('a', { href: `#/topic/${topic.id}`, text: topicLabel(topic, 3) }));
    field(dl, t('field_source'), p.source_file ? `${p.source_file}${p.source_line ? `:${p.source_line}` : ''}` : '');
    const known = new Set(['arxiv_id', 'version', 'title_en', 'title_zh', 'summary_zh', 'abstract_en', 'abstract_zh', 'category', 'announce_type', 'url', 'variant', 'listings', 'source_file', 'source_line', 'month']);
    for (const [k, v] of Object.entries(p)) {
      if (!known.has(k) && (typeof v !== 'object' || Array.isArray(v))) field(dl, k, v);
    }
    const sections = [];
    if (p.summary_zh) sections.push(el('section', { class: 'block' }, el('h2', { text: t('summary_zh') }), el('p', { lang: 'zh-CN', text: p.summary_zh })));
    if (p.abstract_en) sections.push(el('section', { class: 'block' }, el('h2', { text: t('abstract_en') }), el('p', { lang: 'en', class: 'abstract', text: clipped(p.abstract_en) })));
    if (p.abstract_zh) sections.push(el('section', { class: 'block' }, el('h2', { text: t('abstract_zh') }), el('p', { lang: 'zh-CN', class: 'abstract', text: clipped(p.abstract_zh) })));
    box.replaceChildren(back, head, dl, ...sections);
    box.dataset.id = p.arxiv_id;
    try {
      const rel = await api('/api/related', { ids: p.arxiv_id, limit: 10 });
      if (box.dataset.id !== p.arxiv_id) return;
      fillList($('related'), rel.results);
      $('related').dataset.count = String(rel.results.length);
    } catch (err) {
      fail(err);
    }
  }

  function goBack() {
    if (S.inside && history.length > 1) history.back();
    else location.hash = '#/';
  }

  // ---------- topic map ----------

  const M = { scale: 1, tx: 0, ty: 0, hover: null, drag: null, box: null, moved: false, labelKey: '', labels: null };

  async function loadMap() {
    try {
      S.map = await api('/api/map');
    } catch (err) {
      fail(err);
      return;
    }
    S.pointById = new Map(S.map.points.map((p) => [p.id, p]));
    M.labelKey = '';
    S.topicById = new Map(S.map.topics.map((tp) => [tp.id, tp]));
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const p of S.map.points) {
      x0 = Math.min(x0, p.x); x1 = Math.max(x1, p.x);
      y0 = Math.min(y0, p.y); y1 = Math.max(y1, p.y);
    }
    M.box = { x0, x1, y0, y1 };
    drawMap();
    if (S.view === 'search') renderResults();
    if (S.view === 'trends') renderTrends();
  }

  function mapGeometry() {
    const canvas = $('map');
    const w = canvas.clientWidth, h = canvas.clientHeight;
    const pad = 28;
    const b = M.box;
    const k = Math.min((w - 2 * pad) / Math.max(b.x1 - b.x0, 1e-6), (h - 2 * pad) / Math.max(b.y1 - b.y0, 1e-6)) * M.scale;
    const cx = (b.x0 + b.x1) / 2, cy = (b.y0 + b.y1) / 2;
    return {
      w, h,
      sx: (x) => w / 2 + M.tx + (x - cx) * k,
      sy: (y) => h / 2 + M.ty - (y - cy) * k,
    };
  }

  function drawMap() {
    const canvas = $('map');
    if (!S.map || !M.box || S.view !== 'map') return;
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const g = mapGeometry();
    const hits = new Set(S.view === 'map' ? S.results.map((r) => r.arxiv_id) : []);
    const dim = hits.size > 0;
    const r = Math.max(1.4, Math.min(6, 1.8 * Math.sqrt(M.scale)));
    const drawn = new Set();
    const byTopic = new Map();
    for (const p of S.map.points) {
      if (!byTopic.has(p.topic)) byTopic.set(p.topic, []);
      byTopic.get(p.topic).push(p);
    }
    for (const [topic, points] of byTopic) {
      ctx.fillStyle = topicColor(topic, dim ? 0.3 : 0.75);
      ctx.beginPath();
      for (const p of points) {
        const x = g.sx(p.x), y = g.sy(p.y);
        if (x < -r || y < -r || x > w + r || y > h + r) continue;
        ctx.moveTo(x + r, y);
        ctx.arc(x, y, r, 0, 2 * Math.PI);
        drawn.add(p.id);
      }
      ctx.fill();
    }
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = '#111';
    for (const id of hits) {
      const p = S.pointById.get(id);
      if (!p) continue;
      ctx.beginPath();
      ctx.fillStyle = topicColor(p.topic);
      ctx.arc(g.sx(p.x), g.sy(p.y), r + 2.5, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
    }
    drawLabels(ctx, g, w, h);
    if (M.hover) {
      ctx.beginPath();
      ctx.strokeStyle = '#000';
      ctx.lineWidth = 2;
      ctx.arc(g.sx(M.hover.x), g.sy(M.hover.y), r + 4, 0, 2 * Math.PI);
      ctx.stroke();
    }
    canvas.dataset.points = String(drawn.size);
    canvas.dataset.topics = String(S.map.topics.length);
    canvas.dataset.highlighted = String(hits.size);
    canvas.dataset.scale = M.scale.toFixed(3);
    canvas.dataset.hover = M.hover ? M.hover.id : '';
  }

  // Every topic whose centre is on screen gets a label, and no two labels' boxes meet: biggest
  // topics first, each at its centre when that is free, else at the nearest free place on a
  // spiral around it (inside the canvas), joined to its centre by a thin line. On a narrow
  // canvas a label is one word per language; one that still finds no room (never at the
  // default zoom) drops to its interface-language line. The boxes are published on the
  // canvas (data-labels) so a test can check them.
  function placeLabels(ctx, g, w, h) {
    const small = w < 600;
    const n = small ? 1 : 2;
    const size = small ? 11 : 12;
    const lineH = size + 3;
    const sans = 'system-ui, "Noto Sans", "Noto Sans CJK SC", sans-serif';
    const zhFirst = S.lang === 'zh';
    const free = (b) => b.x0 >= 1 && b.y0 >= 1 && b.x1 <= w - 1 && b.y1 <= h - 1 &&
      !placed.some((o) => o.x0 < b.x1 + 2 && b.x0 < o.x1 + 2 && o.y0 < b.y1 + 2 && b.y0 < o.y1 + 2);
    const boxAt = (x, y, bw, bh) => ({ x0: x - bw / 2, x1: x + bw / 2, y0: y - bh / 2, y1: y + bh / 2 });
    const search = (cx, cy, bw, bh) => {
      const at = boxAt(cx, cy, bw, bh);
      if (free(at)) return at;
      const step = Math.max(6, bh / 3);
      const reach = Math.hypot(w, h);
      for (let r = step; r < reach; r += step) {
        const count = Math.max(8, Math.ceil((2 * Math.PI * r) / step));
        for (let i = 0; i < count; i++) {
          // Start above the centre and go round, so labels prefer to sit over their topic.
          const a = -Math.PI / 2 + (2 * Math.PI * i) / count;
          const b = boxAt(cx + r * Math.cos(a), cy + r * Math.sin(a), bw, bh);
          if (free(b)) return b;
        }
      }
      return null;
    };
    const placed = [];
    const labels = [];
    const topics = S.map.topics.slice().sort((a, b) => b.size - a.size || a.id - b.id);
    for (const tp of topics) {
      const cx = g.sx(tp.x), cy = g.sy(tp.y);
      if (cx < 0 || cy < 0 || cx > w || cy > h) continue;
      const en = words(tp.label_en, n);
      const zh = words(tp.label_zh, n);
      let lines = zhFirst ? [zh, en] : [en, zh];
      let box = null;
      for (const tryLines of [lines, lines.slice(0, 1)]) {
        ctx.font = `600 ${size}px ${sans}`;
        const bw = Math.max(...tryLines.map((l) => ctx.measureText(l).width)) + 8;
        const bh = tryLines.length * lineH + 4;
        box = search(cx, cy, bw, bh);
        if (box) { lines = tryLines; break; }
      }
      if (!box) continue;
      placed.push(box);
      labels.push({ id: tp.id, cx, cy, box, lines });
    }
    return { labels, size, lineH, sans };
  }

  function drawLabels(ctx, g, w, h) {
    // Placed again only when the view changes, not on every hover.
    const key = [w, h, M.scale, M.tx, M.ty, S.lang, S.map.topics.length].join();
    if (M.labelKey !== key) {
      M.labels = placeLabels(ctx, g, w, h);
      M.labelKey = key;
    }
    const { labels, size, lineH, sans } = M.labels;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.lineJoin = 'round';
    for (const l of labels) {
      const b = l.box;
      const mx = (b.x0 + b.x1) / 2, my = (b.y0 + b.y1) / 2;
      if (l.cx < b.x0 || l.cx > b.x1 || l.cy < b.y0 || l.cy > b.y1) {
        // A label moved off its centre points back to it.
        ctx.strokeStyle = 'rgba(27,31,36,0.55)';
        ctx.lineWidth = 1;
        ctx.beginPath();
        ctx.moveTo(l.cx, l.cy);
        ctx.lineTo(Math.max(b.x0, Math.min(l.cx, b.x1)), Math.max(b.y0, Math.min(l.cy, b.y1)));
        ctx.stroke();
        ctx.fillStyle = topicColor(l.id);
        ctx.beginPath();
        ctx.arc(l.cx, l.cy, 2.5, 0, 2 * Math.PI);
        ctx.fill();
      }
      ctx.fillStyle = 'rgba(255,255,255,0.86)';
      ctx.strokeStyle = topicColor(l.id);
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.rect(b.x0 + 0.5, b.y0 + 0.5, b.x1 - b.x0 - 1, b.y1 - b.y0 - 1);
      ctx.fill();
      ctx.stroke();
      l.lines.forEach((line, i) => {
        ctx.font = `${i === 0 ? '600 ' : ''}${size}px ${sans}`;
        const yy = my + (i - (l.lines.length - 1) / 2) * lineH;
        ctx.fillStyle = i === 0 ? '#1b1f24' : '#4a5260';
        ctx.fillText(line, mx, yy);
      });
    }
    const canvas = $('map');
    canvas.dataset.labels = JSON.stringify(labels.map((l) => ({ id: l.id, x0: l.box.x0, y0: l.box.y0, x1: l.box.x1, y1: l.box.y1 })));
  }

  function nearestPoint(mx, my) {
    if (!S.map || !M.box) return null;
    const g = mapGeometry();
    let best = null, bestD = 64;
    for (const p of S.map.points) {
      const dx = g.sx(p.x) - mx, dy = g.sy(p.y) - my;
      const d = dx * dx + dy * dy;
      if (d < bestD) { bestD = d; best = p; }
    }
    return best;
  }

  async function showTip(p, mx, my) {
    const tip = $('tip');
    if (!p) { tip.hidden = true; return; }
    const topic = S.topicById.get(p.topic);
    tip.hidden = false;
    tip.style.left = `${Math.min(mx + 14, $('map').clientWidth - 260)}px`;
    tip.style.top = `${my + 14}px`;
    tip.replaceChildren(el('strong', { text: p.id }), el('span', { class: 'hint', text: topic ? ` · ${topicLabel(topic, 2)}` : '' }));
    try {
      const full = await paper(p.id);
      if (M.hover !== p) return;
      tip.replaceChildren(el('div', { class: 'tip-en', text: full.title_en }), el('div', { class: 'tip-zh', lang: 'zh-CN', text: full.title_zh || '' }), el('div', { class: 'hint', text: `${p.id}${topic ? ' · ' + topicLabel(topic, 2) : ''}` }));
    } catch (_) {
      // The id stays shown; a failed title lookup is not worth an error line.
    }
  }

  function zoomAt(factor, mx, my) {
    const canvas = $('map');
    const w = canvas.clientWidth, h = canvas.clientHeight;
    const next = Math.max(0.5, Math.min(60, M.scale * factor));
    const f = next / M.scale;
    M.tx = mx - w / 2 - (mx - w / 2 - M.tx) * f;
    M.ty = my - h / 2 - (my - h / 2 - M.ty) * f;
    M.scale = next;
    drawMap();
  }

  function bindMap() {
    const canvas = $('map');
    // Where a paper is drawn, in CSS pixels from the canvas' corner: lets a test (or a script)
    // point at a paper as a user would.
    canvas.pointAt = (id) => {
      const p = S.pointById.get(id);
      if (!p || !M.box) return null;
      const g = mapGeometry();
      return [g.sx(p.x), g.sy(p.y)];
    };
    canvas.addEventListener('wheel', (e) => {
      e.preventDefault();
      const rect = canvas.getBoundingClientRect();
      zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - rect.left, e.clientY - rect.top);
    }, { passive: false });
    canvas.addEventListener('pointerdown', (e) => {
      M.drag = { x: e.clientX, y: e.clientY, tx: M.tx, ty: M.ty };
      M.moved = false;
      canvas.setPointerCapture(e.pointerId);
    });
    canvas.addEventListener('pointermove', (e) => {
      const rect = canvas.getBoundingClientRect();
      const mx = e.clientX - rect.left, my = e.clientY - rect.top;
      if (M.drag) {
        const dx = e.clientX - M.drag.x, dy = e.clientY - M.drag.y;
        if (Math.abs(dx) + Math.abs(dy) > 3) M.moved = true;
        if (M.moved) {
          M.tx = M.drag.tx + dx;
          M.ty = M.drag.ty + dy;
          $('tip').hidden = true;
          drawMap();
          return;
        }
      }
      const p = nearestPoint(mx, my);
      if (p !== M.hover) {
        M.hover = p;
        drawMap();
        showTip(p, mx, my);
      }
      canvas.style.cursor = p ? 'pointer' : M.drag ? 'grabbing' : 'grab';
    });
    canvas.addEventListener('pointerup', (e) => {
      const rect = canvas.getBoundingClientRect();
      const wasDrag = M.moved;
      M.drag = null;
      if (wasDrag) return;
      const p = nearestPoint(e.clientX - rect.left, e.clientY - rect.top);
      if (p) openPaper(p.id);
    });
    canvas.addEventListener('pointerleave', () => {
      M.hover = null;
      $('tip').hidden = true;
      drawMap();
    });
    canvas.addEventListener('keydown', (e) => {
      const step = 40;
      const w = canvas.clientWidth, h = canvas.clientHeight;
      const moves = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
      if (moves[e.key]) {
        M.tx += moves[e.key][0];
        M.ty += moves[e.key][1];
        drawMap();
      } else if (e.key === '+' || e.key === '=') zoomAt(1.4, w / 2, h / 2);
      else if (e.key === '-') zoomAt(1 / 1.4, w / 2, h / 2);
      else if (e.key === '0') resetMap();
      else return;
      e.preventDefault();
    });
    $('zoom-in').addEventListener('click', () => zoomAt(1.4, canvas.clientWidth / 2, canvas.clientHeight / 2));
    $('zoom-out').addEventListener('click', () => zoomAt(1 / 1.4, canvas.clientWidth / 2, canvas.clientHeight / 2));
    $('zoom-reset').addEventListener('click', resetMap);
  }

  function resetMap() {
    M.scale = 1;
    M.tx = 0;
    M.ty = 0;
    drawMap();
  }

  // ---------- topics over time ----------

  async function renderTrends() {
    const box = $('trends');
    if (!S.overTime) {
      box.replaceChildren(el('p', { class: 'hint', text: t('loading') }));
      try {
        S.overTime = await api('/api/topics/over-time');
      } catch (err) {
        fail(err);
        return;
      }
    }
    if (!S.topicById.size) return;
    box.replaceChildren(trendsChart(S.overTime));
  }

  function monthsBetween(first, last) {
    const out = [];
    let [y, m] = first.split('-').map(Number);
    const [ly, lm] = last.split('-').map(Number);
    while (y < ly || (y === ly && m <= lm)) {
      out.push(`${y}-${String(m).padStart(2, '0')}`);
      m += 1;
      if (m > 12) { m = 1; y += 1; }
    }
    return out;
  }

  // The months holding the middle 99% of the papers: a few stray old papers would otherwise
  // stretch the chart over empty years.
  function monthSpan(totals) {
    const months = Object.keys(totals).sort();
    const all = months.reduce((s, m) => s + totals[m], 0);
    let acc = 0, first = months[0], last = months[months.length - 1];
    for (const m of months) { acc += totals[m]; if (acc >= all * 0.005) { first = m; break; } }
    acc = 0;
    for (const m of months.slice().reverse()) { acc += totals[m]; if (acc >= all * 0.005) { last = m; break; } }
    return monthsBetween(first, last);
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const c of children) node.append(c);
    return node;
  }

  function trendsChart(data) {
    const totals = {};
    for (const months of Object.values(data)) for (const [m, n] of Object.entries(months)) totals[m] = (totals[m] || 0) + n;
    const months = monthSpan(totals);
    const topics = [...S.topicById.values()].sort((a, b) => b.size - a.size);
    const avail = Math.max($('trends').clientWidth - 20, 300);
    const labelW = avail < 600 ? 120 : 240;
    const cell = Math.max(4, Math.min(22, Math.floor((avail - labelW - 8) / months.length)));
    const rowH = 22, top = 54;
    const width = labelW + cell * months.length + 8;
    const height = top + rowH * (topics.length + 1) + 8;
    let max = 1;
    for (const tp of topics) for (const m of months) max = Math.max(max, (data[tp.id] || {})[m] || 0);
    const chart = svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': t('nav_trends'), class: 'heat' });
    months.forEach((m, i) => {
      if (m.endsWith('-01') || i === 0) {
        chart.append(svg('text', { x: labelW + i * cell, y: 16, class: 'axis' }, m.slice(0, 4)));
        chart.append(svg('line', { x1: labelW + i * cell, x2: labelW + i * cell, y1: 20, y2: height, class: 'tick' }));
      }
    });
    const maxTotal = Math.max(...months.map((m) => totals[m] || 0), 1);
    months.forEach((m, i) => {
      const n = totals[m] || 0;
      const bh = Math.round((n / maxTotal) * 28);
      chart.append(svg('rect', { x: labelW + i * cell + 1, y: top - 4 - bh, width: cell - 2, height: bh, class: 'total' }, svg('title', {}, `${m}: ${n}`)));
    });
    topics.forEach((tp, row) => {
      const y = top + row * rowH;
      const name = S.lang === 'zh' ? `${words(tp.label_zh, 2)} · ${words(tp.label_en, 1)}` : `${words(tp.label_en, 2)} · ${words(tp.label_zh, 1)}`;
      const shown = name.length > labelW / 7 ? `${name.slice(0, Math.floor(labelW / 7) - 1)}…` : name;
      const link = svg('a', { href: `#/topic/${tp.id}` }, svg('text', { x: 4, y: y + 15, class: 'rowlabel' }, shown, svg('title', {}, name)));
      chart.append(link);
      const counts = data[tp.id] || data[String(tp.id)] || {};
      months.forEach((m, i) => {
        const n = counts[m] || 0;
        if (!n) return;
        const a = 0.12 + 0.88 * Math.sqrt(n / max);
        chart.append(svg('rect', { x: labelW + i * cell + 1, y: y + 2, width: cell - 2, height: rowH - 4, rx: 2, fill: topicColor(tp.id, a.toFixed(3)) }, svg('title', {}, `${words(tp.label_en, 3)} · ${m}: ${n}`)));
      });
    });
    return chart;
  }

  // ---------- topic view ----------

  // The topic's papers per month, as small bars over the collection's month span.
  async function topicBars(id) {
    try {
      if (!S.overTime) S.overTime = await api('/api/topics/over-time');
    } catch (_) {
      return null;
    }
    const counts = S.overTime[id] || S.overTime[String(id)] || {};
    const totals = {};
    for (const months of Object.values(S.overTime)) for (const [m, n] of Object.entries(months)) totals[m] = (totals[m] || 0) + n;
    const months = monthSpan(totals);
    const max = Math.max(1, ...months.map((m) => counts[m] || 0));
    const width = Math.min(760, Math.max(300, $('topic').clientWidth - 50));
    const cell = width / months.length, height = 56;
    const chart = svg('svg', { width, height: height + 16, viewBox: `0 0 ${width} ${height + 16}`, class: 'heat bars', role: 'img', 'aria-label': t('nav_trends') });
    months.forEach((m, i) => {
      const n = counts[m] || 0;
      if (m.endsWith('-01')) chart.append(svg('text', { x: i * cell, y: height + 13, class: 'axis' }, m.slice(0, 4)));
      if (!n) return;
      const h = Math.max(2, (n / max) * height);
      chart.append(svg('rect', { x: i * cell + 0.5, y: height - h, width: Math.max(1, cell - 1), height: h, fill: topicColor(id) }, svg('title', {}, `${m}: ${n}`)));
    });
    return chart;
  }

  async function showTopic(id) {
    show('topic');
    const box = $('topic');
    box.replaceChildren(el('p', { class: 'hint', text: t('loading') }));
    $('topic-papers').replaceChildren();
    let tp;
    try {
      tp = await api(`/api/topics/${encodeURIComponent(id)}`, { limit: 10 });
    } catch (err) {
      box.replaceChildren(el('p', { class: 'hint error', text: err.message }));
      return;
    }
    const topic = tp.topic || tp;
    const en = splitLabel(topic.label_en), zh = splitLabel(topic.label_zh);
    const search = el('button', { type: 'button', class: 'button', text: t('topic_search') });
    search.addEventListener('click', () => {
      $('q').value = en.slice(0, 3).join(' ');
      onControlsChanged(true);
    });
    const feedHref = `/feeds/topics/${encodeURIComponent(topic.id)}.atom`;
    const feed = el('a', { class: 'feed', id: 'topic-subscribe', href: feedHref, type: 'application/atom+xml', title: t('subscribe_title'), text: t('subscribe') });
    announceFeed(feedHref, `paperscope topic ${topic.id}`);
    const [first, second] = S.lang === 'zh' ? [words(zh, 6), words(en, 6)] : [words(en, 6), words(zh, 6)];
    const head = el('div', { class: 'phead' }, el('span', { class: 'swatch' }), el('div', { class: 'titles' }, el('h1', { text: first }), el('p', { class: 'title-zh', text: second })));
    head.querySelector('.swatch').style.background = topicColor(Number(topic.id));
    box.replaceChildren(
      el('button', { type: 'button', class: 'ghost back', text: t('back'), onclick: goBack }),
      head,
      el('p', { class: 'meta', text: `${t('topic_size', topic.size)} · ${words(en.slice(6), 12)}` }),
      search,
      ' ',
      feed,
      el('h2', { text: t('topic_representative') }),
    );
    const bars = await topicBars(Number(topic.id));
    if (bars) box.insertBefore(bars, search);
    // The topic's papers come closest to its centre first: its most typical.
    fillList($('topic-papers'), (tp.papers || []).slice(0, 10));
  }

  // ---------- reading list ----------

  // "Export my list": the list's ids, in the order starred, written by the server in the
  // chosen reference format (/api/references) and saved as a file a reference manager imports.
  function updateExport() {
    const format = $('export-format').value;
    const ext = { bibtex: 'bib', 'csl-json': 'json', ris: 'ris', csv: 'csv' }[format] || 'txt';
    const a = $('export-list');
    const p = new URLSearchParams({ ids: S.list.map((p) => p.id).join(','), format });
    a.href = `/api/references?${p}`;
    a.setAttribute('download', `paperscope-references.${ext}`);
    a.setAttribute('aria-disabled', String(!S.list.length));
    a.classList.toggle('disabled', !S.list.length);
  }

  function renderList() {
    updateExport();
    $('list-empty').hidden = S.list.length > 0;
    fillList($('list'), S.list.map((p) => ({ arxiv_id: p.id, title_en: p.title_en, title_zh: p.title_zh, month: p.month, category: p.category })));
    $('list').dataset.count = String(S.list.length);
  }

  async function likeMyList() {
    const out = $('list-out');
    $('list-new').replaceChildren();
    if (!S.list.length) {
      $('list-out-title').textContent = t('list_need');
      out.replaceChildren();
      return;
    }
    $('list-out-title').textContent = t('loading');
    try {
      const body = await api('/api/related', { ids: S.list.map((p) => p.id).join(','), limit: 20 });
      $('list-out-title').textContent = t('list_like_title');
      fillList(out, body.results);
      out.dataset.count = String(body.results.length);
    } catch (err) {
      $('list-out-title').textContent = '';
      fail(err);
    }
  }

  async function newSinceVisit() {
    const box = $('list-new');
    $('list-out').replaceChildren();
    $('list-out-title').textContent = '';
    if (!S.prevVisit || !S.prevVisit.month) {
      box.replaceChildren(el('p', { class: 'hint', text: t('first_visit') }));
      return;
    }
    const when = new Date(S.prevVisit.at).toLocaleDateString(S.lang === 'zh' ? 'zh-CN' : 'en');
    box.replaceChildren(el('p', { class: 'hint', text: t('loading') }));
    try {
      const body = await api('/api/digest', { by_topic: 'true', format: 'json', since: S.prevVisit.month, ...(S.category ? { category: S.category } : {}) });
      const sections = body.sections || [];
      const count = sections.reduce((s, x) => s + (x.papers || []).length, 0);
      const parts = [el('h2', { text: t('new_title', S.prevVisit.month, when) })];
      if (!count) parts.push(el('p', { class: 'hint', text: t('new_none') }));
      sections.forEach((sec, i) => {
        const ol = el('ol', { class: 'compact' }, ...(sec.papers || []).map((p) => el('li', {}, el('a', { href: `#/paper/${encodeURIComponent(p.arxiv_id)}`, text: p.title_en }), el('span', { class: 'title-zh', lang: 'zh-CN', text: p.title_zh ? ` ${p.title_zh}` : '' }))));
        parts.push(el('details', { open: i === 0 }, el('summary', { text: `${sec.title || ''} (${(sec.papers || []).length})` }), ol));
      });
      box.replaceChildren(...parts);
      box.dataset.count = String(count);
    } catch (err) {
      box.replaceChildren();
      fail(err);
    }
  }

  // ---------- views, routing, language ----------

  function show(view) {
    S.view = view;
    for (const v of ['search', 'paper', 'map', 'trends', 'topic', 'list']) $(`view-${v}`).hidden = v !== view;
    for (const a of document.querySelectorAll('.tabs a')) {
      const on = a.dataset.view === view || (view === 'paper' && a.dataset.view === 'search') || (view === 'topic' && a.dataset.view === 'trends');
      a.classList.toggle('on', on);
      if (on) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    document.body.dataset.view = view;
    if (view !== 'search' && view !== 'topic') announceFeed(null);
  }

  function route() {
    const hash = location.hash.replace(/^#/, '') || '/';
    const [path, query] = hash.split('?');
    const parts = path.split('/').filter(Boolean);
    const view = parts[0] || 'search';
    status('');
    if (view === 'paper' && parts[1]) {
      showPaper(decodeURIComponent(parts[1]));
    } else if (view === 'topic' && parts[1]) {
      showTopic(decodeURIComponent(parts[1]));
    } else if (view === 'map') {
      show('map');
      requestAnimationFrame(drawMap);
    } else if (view === 'trends') {
      show('trends');
      renderTrends();
    } else if (view === 'list') {
      show('list');
      renderList();
    } else {
      show('search');
      const p = new URLSearchParams(query || '');
      const wanted = {
        q: p.get('q') || '',
        mode: p.get('mode') || 'hybrid',
        category: p.get('category') || '',
        since: p.get('since') || '',
        until: p.get('until') || '',
        sort: p.get('sort') || 'relevance',
        feedback: p.get('feedback') === 'false' ? 'false' : '',
      };
      const changed = Object.entries(wanted).some(([k, v]) => S[k].trim() !== v);
      if (changed) {
        Object.assign(S, wanted);
        writeControls();
        updateLinks();
        runSearch(0);
      } else if (S.lastFocus) {
        const li = $('results').querySelector(`li[data-id="${CSS.escape(S.lastFocus)}"]`);
        if (li) li.focus();
      }
    }
  }

  function applyLanguage() {
    document.documentElement.lang = S.lang === 'zh' ? 'zh-CN' : 'en';
    for (const n of document.querySelectorAll('[data-i18n]')) n.textContent = t(n.dataset.i18n);
    for (const n of document.querySelectorAll('[data-i18n-placeholder]')) n.placeholder = t(n.dataset.i18nPlaceholder);
    for (const n of document.querySelectorAll('[data-i18n-aria]')) n.setAttribute('aria-label', t(n.dataset.i18nAria));
    for (const n of document.querySelectorAll('[data-i18n-title]')) n.title = t(n.dataset.i18nTitle);
    $('lang').textContent = t('lang_switch');
    $('lang').setAttribute('aria-label', t('lang_label'));
    document.title = S.lang === 'zh' ? 'paperscope · 论文搜索' : 'paperscope · paper search';
  }

  function switchLanguage() {
    S.lang = S.lang === 'zh' ? 'en' : 'zh';
    save(KEYS.lang, S.lang);
    applyLanguage();
    renderResults();
    if (S.view === 'paper' || S.view === 'topic' || S.view === 'trends' || S.view === 'list') route();
    drawMap();
  }

  // ---------- keyboard ----------

  function results(ol) {
    return [...ol.querySelectorAll(':scope > li.result')];
  }

  function onKey(e) {
    const target = e.target;
    const typing = target instanceof HTMLInputElement || target instanceof HTMLSelectElement || target instanceof HTMLTextAreaElement;
    if (e.key === '/' && !typing) {
      e.preventDefault();
      $('q').focus();
      $('q').select();
      return;
    }
    if (target === $('q')) {
      if (e.key === 'ArrowDown') {
        const first = results($('results'))[0];
        if (first) { e.preventDefault(); first.focus(); }
      } else if (e.key === 'Enter') {
        e.preventDefault();
        onControlsChanged(true);
      } else if (e.key === 'Escape') {
        $('q').value = '';
        onControlsChanged(true);
      }
      return;
    }
    const li = target.closest && target.closest('li.result');
    if (li && target === li) {
      const list = results(li.parentElement);
      const i = list.indexOf(li);
      if (e.key === 'ArrowDown' || e.key === 'j') {
        e.preventDefault();
        (list[i + 1] || li).focus();
      } else if (e.key === 'ArrowUp' || e.key === 'k') {
        e.preventDefault();
        if (i > 0) list[i - 1].focus();
        else if (li.parentElement === $('results')) $('q').focus();
      } else if (e.key === 'Enter') {
        e.preventDefault();
        S.lastFocus = li.dataset.id;
        openPaper(li.dataset.id);
      } else if (e.key === 's') {
        e.preventDefault();
        li.querySelector('.star').click();
      } else if (e.key === 'w') {
        const d = li.querySelector('details.why');
        if (d) d.open = !d.open;
      }
      return;
    }
    if (e.key === 'Escape' && !typing && (S.view === 'paper' || S.view === 'topic')) {
      e.preventDefault();
      goBack();
    }
  }

  // ---------- start ----------

  function fillFilters(stats) {
    const cats = Object.entries(stats.by_category || {}).sort((a, b) => b[1] - a[1]);
    const archives = {};
    for (const [c, n] of cats) {
      const a = c.split('.')[0];
      archives[a] = (archives[a] || 0) + n;
    }
    const category = $('category');
    const groupA = el('optgroup', { label: 'archive' }, ...Object.entries(archives).sort((a, b) => b[1] - a[1]).map(([a, n]) => el('option', { value: a, text: `${a} (${n})` })));
    const groupC = el('optgroup', { label: 'category' }, ...cats.map(([c, n]) => el('option', { value: c, text: `${c} (${n})` })));
    category.append(groupA, groupC);
    const months = Object.keys(stats.by_month || {}).sort().reverse();
    for (const id of ['since', 'until']) $(id).append(...months.map((m) => el('option', { value: m, text: m })));
    writeControls();
  }

  function rememberVisit(stats) {
    S.prevVisit = load(KEYS.visit, null);
    const months = Object.keys(stats.by_month || {}).sort();
    const newest = months[months.length - 1] || '';
    save(KEYS.visit, { at: new Date().toISOString(), month: newest });
  }

  async function start() {
    const stored = load(KEYS.lang, null);
    S.lang = stored === 'zh' || stored === 'en' ? stored : /^zh\b/i.test(navigator.language || '') ? 'zh' : 'en';
    S.list = load(KEYS.list, []).filter((p) => p && typeof p.id === 'string');
    $('list-count').textContent = String(S.list.length);
    applyLanguage();
    $('q').addEventListener('input', () => onControlsChanged(false));
    for (const r of document.querySelectorAll('input[name="mode"]')) r.addEventListener('change', () => onControlsChanged(true));
    $('feedback').addEventListener('change', () => onControlsChanged(true));
    for (const id of ['category', 'since', 'until', 'sort']) $(id).addEventListener('change', () => onControlsChanged(true));
    $('digest-format').addEventListener('change', updateLinks);
    $('more').addEventListener('click', () => runSearch(S.results.length));
    $('lang').addEventListener('click', switchLanguage);
    $('filters-toggle').addEventListener('click', () => {
      const open = document.body.classList.toggle('filters-open');
      $('filters-toggle').setAttribute('aria-expanded', String(open));
    });
    $('like-list').addEventListener('click', likeMyList);
    $('export-format').addEventListener('change', updateExport);
    $('export-list').addEventListener('click', (e) => {
      if (!S.list.length) {
        e.preventDefault();
        $('list-out-title').textContent = t('list_need');
      }
    });
    $('new-visit').addEventListener('click', newSinceVisit);
    document.addEventListener('keydown', onKey);
    document.addEventListener('focusin', (e) => {
      const li = e.target.closest && e.target.closest('#results > li.result');
      if (li) S.lastFocus = li.dataset.id;
    });
    window.addEventListener('hashchange', route);
    let resizeTimer = null;
    window.addEventListener('resize', () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => {
        drawMap();
        if (S.view === 'trends') renderTrends();
      }, 120);
    });
    bindMap();
    updateLinks();
    route();
    try {
      S.stats = await api('/api/stats');
      fillFilters(S.stats);
      rememberVisit(S.stats);
      status(coverageNote());
    } catch (err) {
      fail(err);
    }
    await loadMap();
    document.body.dataset.ready = 'true';
  }

  start();
})();
