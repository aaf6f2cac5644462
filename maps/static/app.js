/* Wayfinder web page: sign in, map with layer toggles and a date filter, premises search,
 * network view (Cytoscape.js), meeting packs. Talks only to its own origin (the Wayfinder API);
 * all scripts are vendored (/static/vendor). */
(function () {
  'use strict';
  var S = { token: null, me: null, map: null, layers: {}, data: {}, collections: [], cy: null };
  var GI = { '3': '#b2182b', '2': '#ef8a62', '1': '#fddbc7', '0': '#f7f7f7', '-1': '#d1e5f0', '-2': '#67a9cf', '-3': '#2166ac' };
  var LINE_COLOURS = ['#1b9e77', '#d95f02', '#7570b3', '#e7298a', '#66a61e', '#e6ab02'];
  var POINT_COLOURS = { found_at: '#b2182b', found_at_clusters: '#6a3d9a', premises_of_concern: '#f03b20', premises: '#555', placements: '#1b7837' };
  // Layers on when the page opens: ward hot spots, the flagged premises and (when the clusters
  // carry a significance test) the significant clusters; everything else is one click away.
  var DEFAULT_ON = { hotspots_ward: true, premises_of_concern: true, found_at_clusters: 'if-tested' };
  // Layers that hold flags or significance: with "Flagged and significant only" ticked (the
  // default) they draw only those features.
  var FLAGGABLE = { premises_of_concern: true, found_at_clusters: true };
  var ALPHA = 0.05;
  var FIELD_LABELS = {
    event_key: 'Record', person_id: 'Child (person id)', episode_key: 'Episode', at: 'Date',
    text: 'Place as written', precision: 'Location precision', confidence: 'Geocoding confidence',
    ward_code: 'Ward code', lsoa_code: 'LSOA code', child: 'Child (pseudonym)',
    cluster_id: 'Cluster', method: 'Method', episodes: 'Missing episodes', children: 'Children',
    events: 'Reports', first_seen: 'First seen', last_seen: 'Last seen',
    nearest_premises_id: 'Nearest premises', nearest_premises_m: 'Distance to nearest premises (m)',
    area_code: 'Area code', area_name: 'Area', level: 'Level', value: 'Value',
    gi_z: 'Gi* z-score', gi_p: 'Gi* p-value', gi_q: 'Gi* q-value (FDR)', gi_bin: 'Hot or cold spot',
    lisa_i: "Local Moran's I", lisa_p: "Local Moran's p-value", lisa_q: "Local Moran's q-value (FDR)",
    lisa_type: "Local Moran's cluster type", cell: 'Grid cell',
    rank: 'Rank', premises_id: 'Premises id', name: 'Name', premises_type: 'Type', score: 'Score',
    mentions: 'Mentions', intel: 'Intelligence logs', p_value: 'p-value', q_value: 'q-value (FDR)',
    explanation: 'Why it is listed', recent_children: 'Children (recent)',
    near_children: 'Children found nearby', named_children: 'Children who named it',
    rhi_mentions: 'Return-interview mentions', link_mentions: 'Reported relationships',
    event_mentions: 'Found-at reports', intel_weight: 'Intelligence weight',
    intel_grades: 'Intelligence grades', expected: 'Expected children', significant: 'Flagged (q < 0.05)',
    source: 'Source', address: 'Address', postcode: 'Postcode', licence_type: 'Licence type',
    status: 'Status', group_id: 'Group', members: 'Children in the group', size: 'Children',
    co_episodes: 'Episodes together', first: 'First', last: 'Last', child_key: 'Child record',
    placement_type: 'Placement type', care_status: 'Care status',
    responsible_authority: 'Responsible authority', placement_ward: 'Placement ward'
  };
  var HIDDEN_FIELDS = { gi_bin_colour: true, stratum: true, centroid_e: true, centroid_n: true };
  // Gi_Bin is the BH q of the permutation p (geo.getis_ord.GI_BIN_LABELS): say so, never "confidence"
  var GI_LABEL = { '3': 'hot spot, FDR q < 0.01', '2': 'hot spot, FDR q < 0.05', '1': 'hot spot, FDR q < 0.10',
    '0': 'not significant (q >= 0.10)', '-1': 'cold spot, FDR q < 0.10', '-2': 'cold spot, FDR q < 0.05',
    '-3': 'cold spot, FDR q < 0.01' };
  var MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  var MAX_FEATURES = 200000;
  var $ = function (id) { return document.getElementById(id); };

  function status(msg) { $('status').textContent = msg || ''; }
  function esc(v) {
    return String(v == null ? '' : v).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }

  // ------------------------------------------------------------------ API
  function api(path, opts) {
    opts = opts || {};
    opts.headers = Object.assign({}, opts.headers || {}, S.token ? { Authorization: 'Bearer ' + S.token } : {});
    return fetch(path, opts).then(function (r) {
      if (r.status === 401 && S.token) { signOut('Your session has ended: sign in again.'); }
      if (!r.ok) {
        return r.text().then(function (t) {
          var msg = t;
          try { var j = JSON.parse(t); msg = j.detail || j.description || j.title || t; } catch (e) { /* text */ }
          throw new Error(r.status + ': ' + (typeof msg === 'string' ? msg : JSON.stringify(msg)));
        });
      }
      return r;
    });
  }
  function apiJSON(path, opts) { return api(path, opts).then(function (r) { return r.json(); }); }

  // ------------------------------------------------------------------ sign in
  function signIn(ev) {
    ev.preventDefault();
    $('signin-error').textContent = '';
    var body = new URLSearchParams({ username: $('username').value, password: $('password').value, grant_type: 'password' });
    fetch('/auth/token', { method: 'POST', body: body, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } })
      .then(function (r) {
        if (!r.ok) { throw new Error(r.status === 401 || r.status === 400 ? 'User name or password not recognised.' : 'Sign-in failed (' + r.status + ').'); }
        return r.json();
      })
      .then(function (tok) {
        S.token = tok.access_token;
        try { sessionStorage.setItem('wf_token', S.token); } catch (e) { /* private mode */ }
        scheduleRefresh(tok.expires_in);
        $('password').value = '';
        return start();
      })
      .catch(function (e) { $('signin-error').textContent = e.message; });
  }

  // a signed-in page renews its token before it expires (the old one is revoked by the server),
  // so a chair is not signed out mid-meeting
  function scheduleRefresh(seconds) {
    if (S.refreshTimer) { clearTimeout(S.refreshTimer); }
    var wait = Math.max(10, Math.floor((seconds || 60) * 0.8)) * 1000;
    S.refreshTimer = setTimeout(function () {
      if (!S.token) { return; }
      fetch('/auth/refresh', { method: 'POST', headers: { Authorization: 'Bearer ' + S.token } })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(function (tok) {
          S.token = tok.access_token;
          try { sessionStorage.setItem('wf_token', S.token); } catch (e) { /* private mode */ }
          scheduleRefresh(tok.expires_in);
        })
        .catch(function () { signOut('Your session has ended: sign in again.'); });
    }, wait);
  }

  function purposeParam() {
    // person-level layers (found-at points, co-missing lines, placements) need a stated purpose
    var p = $('network-purpose') ? $('network-purpose').value.trim() : '';
    return p.length >= 5 ? '&purpose=' + encodeURIComponent(p) : '';
  }

  function signOut(msg) {
    if (S.refreshTimer) { clearTimeout(S.refreshTimer); S.refreshTimer = null; }
    S.token = null; S.me = null;
    try { sessionStorage.removeItem('wf_token'); } catch (e) { /* ignore */ }
    Object.keys(S.layers).forEach(function (id) { if (S.map && S.layers[id]) { S.map.removeLayer(S.layers[id]); } });
    S.layers = {}; S.data = {};
    $('app').hidden = true; $('signin').hidden = false; $('signout').hidden = true; $('who').textContent = '';
    $('signin-error').textContent = msg || '';
  }

  function start() {
    return apiJSON('/auth/me').then(function (me) {
      S.me = me;
      $('who').textContent = me.name + ' (' + String(me.role).replace(/_/g, ' ') + ')';
      $('signin').hidden = true; $('app').hidden = false; $('signout').hidden = false;
      document.body.dataset.role = me.role;
      var routes = me.routes || [];
      $('network-panel').hidden = routes.indexOf('network_ego') < 0;
      $('packs-panel').hidden = routes.indexOf('pack') < 0 &&
        ['analyst', 'mog_member', 'cog_member', 'mase_member'].indexOf(me.role) < 0;
      if (me.role === 'licensing_officer') { $('premises-panel').open = true; }
      initMap();
      if (!S.refreshTimer) { scheduleRefresh(60); }   // a token kept from before a reload
      return apiJSON('/collections');
    }).then(function (cols) {
      S.collections = (cols.collections || []);
      buildToggles();
    }).catch(function (e) { status(e.message); });
  }

  // ------------------------------------------------------------------ map
  function initMap() {
    if (S.map) { setTimeout(function () { S.map.invalidateSize(); }, 0); return; }
    S.map = L.map('map', { preferCanvas: true, zoomControl: true }).setView([52.48, -1.89], 11);
    S.map.attributionControl.setPrefix(false);
    S.map.attributionControl.addAttribution('<span title="Boundaries: Contains Ordnance Survey and ONS data &copy; Crown copyright and database right 2016 (OGL v3). ' +
      'Postcodes: Contains OS data &copy; Crown copyright 2014; Royal Mail data &copy; Royal Mail copyright 2014; National Statistics data &copy; Crown copyright 2014.">' +
      'Contains OS, ONS and Royal Mail data &copy; Crown copyright (OGL v3). Synthetic people only.</span>');
    L.control.scale({ position: 'bottomleft', imperial: false, maxWidth: 160 }).addTo(S.map);
    S.map.createPane('labels');
    S.map.getPane('labels').style.zIndex = 450;          // above overlays, below popups
    S.map.getPane('labels').style.pointerEvents = 'none';
    fetch('/static/boundaries/wards.geojson').then(function (r) { return r.ok ? r.json() : null; }).then(function (gj) {
      if (!gj) { return; }
      var base = L.geoJSON(gj, { style: { color: '#555', weight: 1, fillColor: '#fbfbf8', fillOpacity: 0.6 }, interactive: false });
      base.addTo(S.map); base.bringToBack();
      S.baseWards = base;
      S.map.fitBounds(base.getBounds());
    });
    fetch('/static/base/labels.geojson').then(function (r) { return r.ok ? r.json() : null; }).then(function (gj) {
      if (!gj) { return; }
      var wards = L.layerGroup(), places = L.layerGroup();
      gj.features.forEach(function (f) {
        var p = f.properties || {}, c = f.geometry.coordinates;
        var ward = p.kind === 'ward';
        var icon = L.divIcon({ className: 'wf-label ' + (ward ? 'ward' : 'place ' + esc(p.kind)), html: esc(p.name), iconSize: null });
        L.marker([c[1], c[0]], { icon: icon, interactive: false, keyboard: false, pane: 'labels' }).addTo(ward ? wards : places);
      });
      S.base = { wards: wards, places: places };
      function byZoom() {
        var z = S.map.getZoom();
        if (z >= 11) { wards.addTo(S.map); } else { wards.remove(); }
        if (z >= 13) { places.addTo(S.map); } else { places.remove(); }
        document.body.dataset.baseLabels = String(document.querySelectorAll('.wf-label').length);
      }
      S.map.on('zoomend', byZoom);
      byZoom();
    });
    var legend = L.control({ position: 'topright' });
    legend.onAdd = function () {
      var div = L.DomUtil.create('div', 'wf-legend');
      div.id = 'wf-legend';
      div.innerHTML = '<b>Legend</b><div id="wf-legend-body"></div>';
      L.DomEvent.disableClickPropagation(div);
      return div;
    };
    legend.addTo(S.map);
    updateLegend();
  }

  function buildToggles() {
    var box = $('layers');
    box.innerHTML = '';
    var only = document.createElement('label');
    only.className = 'only';
    only.innerHTML = '<input type="checkbox" id="flagged-only" checked> <span>Flagged premises and significant clusters only</span>';
    only.title = 'Premises of concern with an FDR q-value under 0.05 and clusters that passed their significance test';
    box.appendChild(only);
    only.querySelector('input').addEventListener('change', function () {
      Object.keys(S.layers).filter(function (id) { return FLAGGABLE[id]; }).forEach(function (id) { toggle(id, true); });
    });
    S.collections.forEach(function (c) {
      var id = c.id;
      var lab = document.createElement('label');
      var cb = document.createElement('input');
      cb.type = 'checkbox'; cb.id = 'layer-' + id; cb.dataset.collection = id;
      cb.addEventListener('change', function () { toggle(id, cb.checked); });
      var span = document.createElement('span'); span.textContent = c.title || id;
      var count = document.createElement('span'); count.className = 'count'; count.id = 'count-' + id;
      lab.appendChild(cb); lab.appendChild(span); lab.appendChild(count);
      lab.title = c.description || '';
      box.appendChild(lab);
      if (c.numberOfFeatures === 0) {      // nothing to draw: say so rather than offer an empty layer
        cb.disabled = true; lab.classList.add('empty'); count.textContent = '(none)';
        lab.title = (c.description || '') + ' No features in the store.';
        return;
      }
      var on = DEFAULT_ON[id] === true || (DEFAULT_ON[id] === 'if-tested' && tested(c));
      if (on) { cb.checked = true; toggle(id, true); }
    });
    if (!S.collections.length) { box.textContent = 'No layers for this role.'; }
  }

  function dateParam() {
    var a = $('date-from').value, b = $('date-to').value;
    if (!a && !b) { return ''; }
    return (a ? a + 'T00:00:00Z' : '..') + '/' + (b ? b + 'T23:59:59Z' : '..');
  }

  function fetchAll(id) {
    var feats = [];
    var dt = dateParam();
    function page(url) {
      return apiJSON(url).then(function (fc) {
        feats = feats.concat(fc.features || []);
        var next = (fc.links || []).filter(function (l) { return l.rel === 'next'; })[0];
        if (next && feats.length < MAX_FEATURES) {
          var u = new URL(next.href, location.href);
          return page(u.pathname + u.search);
        }
        return feats;
      });
    }
    return page('/collections/' + encodeURIComponent(id) + '/items?limit=10000' + (dt ? '&datetime=' + encodeURIComponent(dt) : '') + purposeParam());
  }

  function toggle(id, on) {
    if (S.layers[id]) { S.map.removeLayer(S.layers[id]); delete S.layers[id]; }
    if (!on) { $('count-' + id).textContent = ''; updateLegend(); return Promise.resolve(); }
    status('Loading ' + label(id).toLowerCase() + '...');
    $('count-' + id).textContent = '...';
    return fetchAll(id).then(function (feats) {
      S.data[id] = feats;
      if (!$('layer-' + id).checked) { return; }
      if (S.layers[id]) { S.map.removeLayer(S.layers[id]); }
      var only = FLAGGABLE[id] && $('flagged-only') && $('flagged-only').checked;
      var shown = only ? feats.filter(function (f) { return flagged(f.properties || {}); }) : feats;
      var layer = render(id, shown);
      S.layers[id] = layer.addTo(S.map);
      restack();
      $('count-' + id).textContent = '(' + (shown.length === feats.length ? shown.length.toLocaleString('en-GB')
        : shown.length.toLocaleString('en-GB') + ' of ' + feats.length.toLocaleString('en-GB')) + ')';
      status('');
      document.body.dataset['loaded_' + id.replace(/[^a-z_]/g, '')] = String(shown.length);
      document.body.dataset['total_' + id.replace(/[^a-z_]/g, '')] = String(feats.length);
      updateLegend();
    }).catch(function (e) { $('count-' + id).textContent = ''; status(label(id) + ': ' + e.message); });
  }

  // ------------------------------------------------------------------ legend
  var SYMBOLS = {
    found_at: function () { return '<i class="pt" style="background:' + POINT_COLOURS.found_at + '"></i>'; },
    found_at_clusters: function () { return '<i class="pt big" style="background:' + POINT_COLOURS.found_at_clusters + '"></i>'; },
    premises_of_concern: function () { return '<i class="pt" style="background:' + POINT_COLOURS.premises_of_concern + '"></i>'; },
    premises: function () { return '<i class="pt" style="background:' + POINT_COLOURS.premises + '"></i>'; },
    placements: function () { return '<i class="pt" style="background:' + POINT_COLOURS.placements + '"></i>'; },
    co_missing_lines: function () { return '<i class="ln" style="background:' + LINE_COLOURS[0] + '"></i>'; },
    heat_grid: function () { return '<i style="background:#6a3d9a;opacity:.5"></i>'; }
  };

  function updateLegend() {
    var box = document.getElementById('wf-legend-body');
    if (!box) { return; }
    var parts = [];
    Object.keys(S.layers).forEach(function (id) {
      if (/^hotspots_/.test(id)) { return; }
      var sym = SYMBOLS[id] ? SYMBOLS[id]() : '<i style="background:#6a3d9a;opacity:.5"></i>';
      var note = FLAGGABLE[id] && $('flagged-only') && $('flagged-only').checked ?
        (id === 'premises_of_concern' ? ' (flagged: q &lt; 0.05)' : ' (significant only)') : '';
      if (id === 'found_at_clusters') { note += ', size by episodes'; }
      parts.push('<div>' + sym + esc(layerTitle(id)) + note + '</div>');
    });
    var hot = Object.keys(S.layers).filter(function (id) { return /^hotspots_/.test(id); });
    if (hot.length) {
      parts.push('<div class="head">' + esc(hot.map(layerTitle).join(', ')) + ': Getis-Ord Gi* (permutation test, Benjamini-Hochberg q)</div>' +
        ['3', '2', '1', '0', '-1', '-2', '-3'].map(function (k) {
          return '<div><i style="background:' + GI[k] + '"></i>' + esc(GI_LABEL[k]) + '</div>';
        }).join(''));
    }
    parts.push('<div class="head">Base map</div><div><i class="ln" style="background:#555"></i>ward boundary</div>' +
      '<div><span class="wf-label-key">Ward</span> ward name, <span class="wf-label-key place">place</span> major place</div>');
    box.innerHTML = parts.join('');
  }

  function label(k) {
    if (FIELD_LABELS[k]) { return FIELD_LABELS[k]; }
    var t = String(k).replace(/_/g, ' ');
    return t.charAt(0).toUpperCase() + t.slice(1);
  }

  // A property value as a chair reads it: UK dates, rounded numbers, words for codes.
  function fmt(k, v) {
    if (v === true) { return 'Yes'; }
    if (v === false) { return 'No'; }
    if (k === 'gi_bin' && GI_LABEL[String(v)]) { return GI_LABEL[String(v)]; }
    if (typeof v === 'number') {
      if (/(^|_)(p|q)(_value)?$/.test(k)) { return v < 0.001 ? '< 0.001' : v.toFixed(3); }
      if (Number.isInteger(v)) { return v.toLocaleString('en-GB'); }
      return (Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 100) / 100).toLocaleString('en-GB');
    }
    var s = String(v);
    var d = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}))?/.exec(s);
    if (d) {
      var day = d[3] + '/' + d[2] + '/' + d[1];
      return d[4] && (d[4] !== '00' || d[5] !== '00') ? day + ' ' + d[4] + ':' + d[5] : day;
    }
    var m = /^(\d{4})-(\d{2})$/.exec(s);
    if (m) { return MONTHS[+m[2] - 1] + ' ' + m[1]; }
    if (/^[a-z0-9]+(_[a-z0-9]+)+$/.test(s)) { return s.replace(/_/g, ' '); }
    return s;
  }

  function popupHTML(id, p) {
    var rows = Object.keys(p).filter(function (k) { return p[k] !== null && p[k] !== '' && !HIDDEN_FIELDS[k]; }).map(function (k) {
      return '<tr><td>' + esc(label(k)) + '</td><td>' + esc(fmt(k, p[k])) + '</td></tr>';
    }).join('');
    var ref = p.person_id || p.child || p.person || null;
    var btn = ref && S.me && (S.me.routes || []).indexOf('network_ego') >= 0 ?
      '<button type="button" class="wf-net" data-ref="' + esc(ref) + '">Network view</button>' : '';
    var members = p.members || p.children_refs;
    if (!btn && members && S.me && (S.me.routes || []).indexOf('network_ego') >= 0) {
      var first = String(members).split(/[;, ]+/)[0];
      if (first) { btn = '<button type="button" class="wf-net" data-ref="' + esc(first) + '">Network view</button>'; }
    }
    var title = p.name || p.area_name || (p.cluster_id != null ? 'Cluster ' + p.cluster_id : null) ||
      (p.group_id != null ? 'Group ' + p.group_id : null) || layerTitle(id);
    return '<div class="wf-popup" data-collection="' + esc(id) + '"><b>' + esc(title) + '</b>' +
      '<div class="note">' + esc(layerTitle(id)) + '</div><table>' + rows + '</table>' + btn + '</div>';
  }

  function layerTitle(id) {
    var c = S.collections.filter(function (x) { return x.id === id; })[0];
    return (c && c.title) || label(id);
  }

  // Flagged or significant: the FDR q-value when the layer has one, else the p-value, else
  // the layer's own flag; a feature of a layer with none of these is kept.
  function flagged(p) {
    if (p.q_value !== undefined && p.q_value !== null && p.q_value !== '') { return +p.q_value < ALPHA; }
    if (p.p_value !== undefined && p.p_value !== null && p.p_value !== '') { return +p.p_value < ALPHA; }
    if (p.significant !== undefined && p.significant !== null) { return p.significant === true; }
    if (p.flagged !== undefined && p.flagged !== null) { return p.flagged === true; }
    return true;
  }

  function tested(c) {
    var cols = (c && c.properties) || [];
    return ['q_value', 'p_value', 'significant', 'flagged'].some(function (k) { return cols.indexOf(k) >= 0; });
  }

  function render(id, feats) {
    var gtype = feats.length ? feats[0].geometry && feats[0].geometry.type : 'Point';
    if (gtype === 'Point' && feats.length > 1500) {
      var data = { lat: [], lng: [], label: [] };
      feats.forEach(function (f) {
        if (!f.geometry) { return; }
        data.lng.push(f.geometry.coordinates[0]); data.lat.push(f.geometry.coordinates[1]);
        data.label.push(popupHTML(id, f.properties || {}));
      });
      return WF.pointsLayer(data, { colors: [POINT_COLOURS[id] || '#b2182b'], radius: 3 });
    }
    var k = 0;
    return L.geoJSON({ type: 'FeatureCollection', features: feats }, {
      style: function (f) {
        var p = f.properties || {};
        if (f.geometry && /Point/.test(f.geometry.type)) { return {}; }   // pointToLayer's style
        if (p.gi_bin !== undefined && p.gi_bin !== null) {
          return { fillColor: GI[String(Math.max(-3, Math.min(3, Math.round(p.gi_bin))))] || '#f7f7f7', color: '#444', weight: 0.8, fillOpacity: 0.72 };
        }
        if (f.geometry && /Line/.test(f.geometry.type)) { return { color: LINE_COLOURS[(k++) % LINE_COLOURS.length], weight: 3 }; }
        return { color: '#6a3d9a', weight: 1, fillOpacity: 0.35 };
      },
      pointToLayer: function (f, latlng) {
        var p = f.properties || {};
        var r = id === 'found_at_clusters' ? 6 + 2 * Math.sqrt(+p.episodes || 1) : id.indexOf('premises') === 0 ? 7 : 4;
        return L.circleMarker(latlng, { radius: r, color: '#333', weight: 1, fillColor: POINT_COLOURS[id] || '#b2182b', fillOpacity: 0.8 });
      },
      onEachFeature: function (f, layer) { layer.bindPopup(popupHTML(id, f.properties || {}), { maxWidth: 360, maxHeight: 320 }); }
    });
  }

  // Areas under lines under points, whatever order the layers finished loading in, and the base
  // map's ward fill under everything.
  function restack() {
    ['heat_grid', 'hotspots_grid', 'hotspots_lsoa', 'hotspots_ward'].forEach(function (id) {
      if (S.layers[id] && S.layers[id].bringToBack) { S.layers[id].bringToBack(); }
    });
    if (S.baseWards) { S.baseWards.bringToBack(); }
  }

  function reloadActive() {
    Object.keys(S.layers).forEach(function (id) { toggle(id, true); });
  }

  // ------------------------------------------------------------------ premises search
  function premisesSearch(ev) {
    ev.preventDefault();
    var q = $('premises-q').value.trim().toLowerCase().replace(/\s+/g, '');
    var out = $('premises-results');
    out.innerHTML = '';
    var ids = ['premises_of_concern', 'premises'].filter(function (id) {
      return S.collections.some(function (c) { return c.id === id; });
    });
    Promise.all(ids.map(function (id) {
      return S.data[id] ? Promise.resolve(S.data[id]) : fetchAll(id).then(function (f) { S.data[id] = f; return f; });
    })).then(function (lists) {
      var seen = {}, hits = [];
      lists.forEach(function (feats, i) {
        feats.forEach(function (f) {
          var p = f.properties || {};
          var key = p.premises_id || p.name;
          var hay = [p.name, p.premises_id, p.postcode, p.address].join(' ').toLowerCase().replace(/\s+/g, '');
          if (q && hay.indexOf(q) < 0) { return; }
          if (seen[key]) { return; }
          seen[key] = true; hits.push({ f: f, id: ids[i] });
        });
      });
      if (!hits.length) { out.innerHTML = '<li class="note">No premises found.</li>'; return; }
      hits.slice(0, 50).forEach(function (h) {
        var p = h.f.properties || {};
        var li = document.createElement('li');
        li.textContent = (p.name || p.premises_id) + (p.premises_type ? ' (' + String(p.premises_type).replace(/_/g, ' ') + ')' : '') +
          (h.id === 'premises_of_concern' ? ' - of concern, rank ' + p.rank : '');
        li.addEventListener('click', function () {
          if (!h.f.geometry) { return; }
          var ll = [h.f.geometry.coordinates[1], h.f.geometry.coordinates[0]];
          S.map.setView(ll, 16);
          L.popup({ maxWidth: 360, maxHeight: 320 }).setLatLng(ll).setContent(popupHTML(h.id, p)).openOn(S.map);
        });
        out.appendChild(li);
      });
    }).catch(function (e) { out.innerHTML = '<li class="error">' + esc(e.message) + '</li>'; });
  }

  // ------------------------------------------------------------------ network view
  function showNetwork(ref) {
    var purpose = $('network-purpose').value.trim();
    $('network-panel').open = true;
    $('network-ref').value = ref;
    if (purpose.length < 5) {
      $('network-status').textContent = 'State the purpose (recorded in the audit trail), then Show network.';
      $('network-purpose').focus();
      return Promise.resolve();
    }
    var depth = $('network-depth').value;
    $('network-status').textContent = 'Loading network...';
    return apiJSON('/network/ego/' + encodeURIComponent(ref) + '?depth=' + depth + '&purpose=' + encodeURIComponent(purpose))
      .then(function (data) { drawNetwork(data, ref); })
      .catch(function (e) { $('network-status').textContent = e.message; });
  }

  // A link chart that stays legible: at most NET_CAP nodes (the ego, then the nearest and best
  // connected; the rest collapse into one "N more" node), an fCoSE force layout, i2-style shapes
  // per kind, labels only on the few key nodes (never overlapping) and on hover, and filters by
  // kind, grading and date.
  var NET_CAP = 120, NET_KEY_LABELS = 12;
  var KIND_STYLE = {
    child: { color: '#d6604d', shape: 'ellipse' }, person: { color: '#4393c3', shape: 'ellipse' },
    place: { color: '#999999', shape: 'diamond' }, premises: { color: '#f4a582', shape: 'round-rectangle' },
    vehicle: { color: '#762a83', shape: 'triangle' }, more: { color: '#ffffff', shape: 'round-rectangle' }
  };

  function capElements(nodes, edges, ego) {
    if (nodes.length <= NET_CAP) { return { nodes: nodes, edges: edges, hidden: 0 }; }
    var adj = {}, deg = {};
    edges.forEach(function (e) {
      var a = e.data.source, b = e.data.target;
      (adj[a] = adj[a] || []).push(b); (adj[b] = adj[b] || []).push(a);
      deg[a] = (deg[a] || 0) + 1; deg[b] = (deg[b] || 0) + 1;
    });
    var dist = {}, queue = [];
    if (ego) { dist[ego] = 0; queue.push(ego); }
    while (queue.length) {
      var n = queue.shift();
      (adj[n] || []).forEach(function (m) { if (dist[m] === undefined) { dist[m] = dist[n] + 1; queue.push(m); } });
    }
    var order = nodes.slice().sort(function (a, b) {
      var da = dist[a.data.id] === undefined ? 99 : dist[a.data.id], db = dist[b.data.id] === undefined ? 99 : dist[b.data.id];
      return da - db || (deg[b.data.id] || 0) - (deg[a.data.id] || 0) || (a.data.id < b.data.id ? -1 : 1);
    });
    var keep = {}, kept = order.slice(0, NET_CAP - 1);
    kept.forEach(function (x) { keep[x.data.id] = true; });
    var hidden = nodes.length - kept.length;
    var anchor = ego && keep[ego] ? ego : kept[0].data.id;
    var more = { data: { id: '__more__', label: hidden + ' more', kind: 'more' } };
    var kedges = edges.filter(function (e) { return keep[e.data.source] && keep[e.data.target]; });
    kedges.push({ data: { id: '__more_edge__', source: anchor, target: '__more__', relation: 'more' } });
    return { nodes: kept.concat([more]), edges: kedges, hidden: hidden };
  }

  function netFilters(cy) {
    var box = $('network-filters');
    if (!box) { return; }
    var kinds = {};
    cy.nodes().forEach(function (n) { var k = n.data('kind'); if (k && k !== 'more') { kinds[k] = (kinds[k] || 0) + 1; } });
    box.innerHTML = Object.keys(kinds).sort().map(function (k) {
      return '<label><input type="checkbox" data-kind="' + esc(k) + '" checked> <span class="dot ' + esc(k) + '"></span>' +
        esc(k) + ' (' + kinds[k] + ')</label>';
    }).join('') + '<label><input type="checkbox" id="net-intel" checked> intelligence links</label>';
    function apply() {
      var off = {};
      Array.prototype.forEach.call(box.querySelectorAll('input[data-kind]'), function (i) { if (!i.checked) { off[i.dataset.kind] = true; } });
      var intel = $('net-intel').checked;
      cy.batch(function () {
        cy.nodes().forEach(function (n) { n.style('display', off[n.data('kind')] ? 'none' : 'element'); });
        cy.edges().forEach(function (e) { e.style('display', !intel && e.data('intelligence') ? 'none' : 'element'); });
      });
    }
    Array.prototype.forEach.call(box.querySelectorAll('input'), function (i) { i.addEventListener('change', apply); });
  }

  // Labels on the key nodes (the ego, then by degree), dropping any that would overlap one
  // already shown: the default view has no overlapping labels at any size.
  function keyLabels(cy, ego) {
    cy.nodes().removeClass('key');
    var ranked = cy.nodes().sort(function (a, b) {
      return (b.id() === ego) - (a.id() === ego) || (b.data('kind') === 'more') - (a.data('kind') === 'more') || b.degree() - a.degree();
    });
    var shown = [];
    ranked.slice(0, NET_KEY_LABELS * 2).forEach(function (n) {
      if (shown.length >= NET_KEY_LABELS) { return; }
      n.addClass('key');
      var bb = n.boundingBox({ includeNodes: false, includeEdges: false, includeLabels: true });
      var clash = shown.some(function (o) { return !(bb.x2 < o.x1 || o.x2 < bb.x1 || bb.y2 < o.y1 || o.y2 < bb.y1); });
      if (clash || !bb.w) { n.removeClass('key'); } else { shown.push(bb); }
    });
    return shown.length;
  }

  function drawNetwork(data, ref) {
    var els = data.elements || data;
    var allNodes = els.nodes || [], allEdges = els.edges || [];
    var ego = data.ego || (allNodes.filter(function (n) { return n.data.id === ref || n.data.pseudonym === ref; })[0] || {}).data;
    ego = typeof ego === 'object' && ego ? ego.id : ego;
    var capped = capElements(allNodes, allEdges, ego);
    $('network').hidden = false;
    $('network-title').textContent = 'Network of ' + ref + ' (' + allNodes.length + ' nodes, ' + allEdges.length + ' links' +
      (capped.hidden ? '; ' + capped.hidden + ' collapsed' : '') + ')';
    if (S.cy) { S.cy.destroy(); }
    var style = [
      { selector: 'node', style: { label: '', width: 14, height: 14, 'background-color': '#999', 'border-width': 1, 'border-color': '#555',
        'font-size': 10, 'text-valign': 'bottom', 'text-margin-y': 2, 'text-background-color': '#fff', 'text-background-opacity': 0.85,
        'text-background-padding': 1, 'min-zoomed-font-size': 6 } },
      { selector: 'node.key, node.hover', style: { label: 'data(label)' } },
      { selector: 'node.hover', style: { 'z-index': 10, 'font-weight': 'bold' } },
      { selector: 'edge', style: { width: 1.2, 'line-color': '#c4c4c4', 'curve-style': 'haystack', opacity: 0.8 } },
      { selector: 'edge.hover', style: { label: 'data(relation)', 'font-size': 8, color: '#444', 'line-color': '#666', width: 2 } },
      { selector: 'edge[?intelligence]', style: { 'line-style': 'dashed', 'line-color': '#9e7bb5' } }
    ];
    Object.keys(KIND_STYLE).forEach(function (k) {
      style.push({ selector: 'node[kind = "' + k + '"]', style: { 'background-color': KIND_STYLE[k].color, shape: KIND_STYLE[k].shape } });
    });
    style.push({ selector: 'node[kind = "more"]', style: { width: 46, height: 18, 'border-style': 'dashed', label: 'data(label)',
      'text-valign': 'center', 'text-margin-y': 0, 'font-size': 9 } });
    if (ego) { style.push({ selector: 'node[id = "' + String(ego).replace(/["\\]/g, '') + '"]', style: { width: 22, height: 22, 'border-width': 3, 'border-color': '#222' } }); }
    var fcose = typeof cytoscapeFcose !== 'undefined' || (cytoscape.extension && cytoscape.extension('layout', 'fcose'));
    S.cy = cytoscape({
      container: $('cy'), elements: { nodes: capped.nodes, edges: capped.edges }, style: style,
      layout: fcose ? { name: 'fcose', quality: 'default', animate: false, randomize: true, nodeSeparation: 90,
                        idealEdgeLength: 70, nodeRepulsion: 9000, packComponents: true }
                    : { name: 'cose', animate: false, randomize: false }
    });
    S.cy.on('mouseover', 'node', function (e) { e.target.addClass('hover'); e.target.connectedEdges().addClass('hover'); });
    S.cy.on('mouseout', 'node', function (e) { e.target.removeClass('hover'); e.target.connectedEdges().removeClass('hover'); });
    S.cy.on('mouseover', 'edge', function (e) { e.target.addClass('hover'); });
    S.cy.on('mouseout', 'edge', function (e) { e.target.removeClass('hover'); });
    var labelled = keyLabels(S.cy, ego);
    netFilters(S.cy);
    window.wfCy = S.cy;
    $('network-status').textContent = S.cy.nodes().length + ' nodes shown' +
      (capped.hidden ? ' (' + capped.hidden + ' more collapsed)' : '') + '; ' + labelled + ' labelled: hover for the rest.';
  }
  S.drawNetwork = drawNetwork;

  // ------------------------------------------------------------------ packs
  function openPack(kind) {
    var a = $('date-from').value, b = $('date-to').value;
    if (!a || !b) { $('packs-status').textContent = 'Choose From and To dates first.'; return; }
    var qs = 'from=' + a + '&to=' + b;
    if (kind === 'mase') {
      var child = $('network-ref').value.trim(), purpose = $('network-purpose').value.trim();
      if (!child || purpose.length < 5) { $('packs-status').textContent = 'Enter the child and the purpose in the network box first.'; return; }
      qs += '&child=' + encodeURIComponent(child) + '&purpose=' + encodeURIComponent(purpose);
    } else if ($('network-purpose').value.trim().length >= 5) {
      qs += '&purpose=' + encodeURIComponent($('network-purpose').value.trim());
    }
    $('packs-status').textContent = 'Preparing the ' + kind.toUpperCase() + ' pack...';
    api('/packs/' + kind + '?' + qs).then(function (r) { return r.blob(); }).then(function (blob) {
      var url = URL.createObjectURL(blob);
      var link = document.createElement('a');
      link.href = url; link.download = 'wayfinder-' + kind + '-' + a + '-' + b + '.html';
      document.body.appendChild(link); link.click(); link.remove();
      $('packs-status').textContent = kind.toUpperCase() + ' pack ready (saved as ' + link.download + ').';
    }).catch(function (e) { $('packs-status').textContent = e.message; });
  }

  // ------------------------------------------------------------------ wiring
  document.addEventListener('DOMContentLoaded', function () {
    $('signin-form').addEventListener('submit', signIn);
    $('signout').addEventListener('click', function () { signOut(''); });
    $('dates').addEventListener('submit', function (e) { e.preventDefault(); reloadActive(); });
    $('date-clear').addEventListener('click', function () { $('date-from').value = ''; $('date-to').value = ''; reloadActive(); });
    $('premises-form').addEventListener('submit', premisesSearch);
    $('network-form').addEventListener('submit', function (e) { e.preventDefault(); showNetwork($('network-ref').value.trim()); });
    $('network-close').addEventListener('click', function () { $('network').hidden = true; });
    Array.prototype.forEach.call(document.querySelectorAll('#packs a'), function (a) {
      a.addEventListener('click', function (e) { e.preventDefault(); openPack(a.dataset.pack); });
    });
    document.addEventListener('click', function (e) {
      var t = e.target;
      if (t && t.classList && t.classList.contains('wf-net')) { showNetwork(t.dataset.ref); }
    });
    var saved = null;
    try { saved = sessionStorage.getItem('wf_token'); } catch (e) { /* ignore */ }
    if (saved) { S.token = saved; start().catch(function () { signOut(''); }); }
  });
  window.WFApp = S;
})();
