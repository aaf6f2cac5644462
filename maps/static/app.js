/* Wayfinder web page: sign in, map with layer toggles and a date filter, premises search,
 * network view (Cytoscape.js), meeting packs. Talks only to its own origin (the Wayfinder API);
 * all scripts are vendored (/static/vendor). */
(function () {
  'use strict';
  var S = { token: null, me: null, map: null, layers: {}, data: {}, collections: [], cy: null };
  var GI = { '3': '#b2182b', '2': '#ef8a62', '1': '#fddbc7', '0': '#f7f7f7', '-1': '#d1e5f0', '-2': '#67a9cf', '-3': '#2166ac' };
  var LINE_COLOURS = ['#1b9e77', '#d95f02', '#7570b3', '#e7298a', '#66a61e', '#e6ab02'];
  var POINT_COLOURS = { found_at: '#b2182b', found_at_clusters: '#6a3d9a', premises_of_concern: '#f03b20', premises: '#555', placements: '#1b7837' };
  var DEFAULT_ON = { hotspots_ward: true };
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
    S.map.attributionControl.addAttribution('Boundaries: Contains Ordnance Survey and ONS data &copy; Crown copyright and database right 2016 (OGL v3). ' +
      'Postcodes: Contains OS data &copy; Crown copyright 2014; Royal Mail data &copy; Royal Mail copyright 2014; National Statistics data &copy; Crown copyright 2014. Synthetic people only.');
    L.control.scale().addTo(S.map);
    fetch('/static/boundaries/wards.geojson').then(function (r) { return r.ok ? r.json() : null; }).then(function (gj) {
      if (!gj) { return; }
      var base = L.geoJSON(gj, { style: { color: '#555', weight: 1, fillColor: '#fbfbf8', fillOpacity: 0.6 }, interactive: false });
      base.addTo(S.map); base.bringToBack();
      S.map.fitBounds(base.getBounds());
    });
    var legend = WF.legend('<b>Gi* hot and cold spots</b>' + ['3', '2', '1', '0', '-1', '-2', '-3'].map(function (k) {
      var lab = { '3': 'hot 99%', '2': 'hot 95%', '1': 'hot 90%', '0': 'not significant', '-1': 'cold 90%', '-2': 'cold 95%', '-3': 'cold 99%' }[k];
      return '<div><i style="background:' + GI[k] + '"></i>' + lab + '</div>';
    }).join(''));
    legend.addTo(S.map);
  }

  function buildToggles() {
    var box = $('layers');
    box.innerHTML = '';
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
      if (DEFAULT_ON[id]) { cb.checked = true; toggle(id, true); }
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
    if (!on) { $('count-' + id).textContent = ''; return Promise.resolve(); }
    status('Loading ' + id + '...');
    $('count-' + id).textContent = '...';
    return fetchAll(id).then(function (feats) {
      S.data[id] = feats;
      if (!$('layer-' + id).checked) { return; }
      var layer = render(id, feats);
      S.layers[id] = layer.addTo(S.map);
      $('count-' + id).textContent = '(' + feats.length + ')';
      status('');
      document.body.dataset['loaded_' + id.replace(/[^a-z_]/g, '')] = String(feats.length);
    }).catch(function (e) { $('count-' + id).textContent = ''; status(id + ': ' + e.message); });
  }

  function popupHTML(id, p) {
    var rows = Object.keys(p).filter(function (k) { return p[k] !== null && p[k] !== '' && k !== 'gi_bin_colour'; }).map(function (k) {
      return '<tr><td>' + esc(k.replace(/_/g, ' ')) + '</td><td>' + esc(p[k]) + '</td></tr>';
    }).join('');
    var ref = p.person_id || p.child || p.person || null;
    var btn = ref && S.me && (S.me.routes || []).indexOf('network_ego') >= 0 ?
      '<button type="button" class="wf-net" data-ref="' + esc(ref) + '">Network view</button>' : '';
    var members = p.members || p.children_refs;
    if (!btn && members && S.me && (S.me.routes || []).indexOf('network_ego') >= 0) {
      var first = String(members).split(/[;, ]+/)[0];
      if (first) { btn = '<button type="button" class="wf-net" data-ref="' + esc(first) + '">Network view</button>'; }
    }
    return '<div class="wf-popup" data-collection="' + esc(id) + '"><b>' + esc(p.name || p.area_name || p.cluster_id || p.group_id || id) + '</b><table>' + rows + '</table>' + btn + '</div>';
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
      .then(function (data) {
        var els = data.elements || data;
        var nodes = els.nodes || [], edges = els.edges || [];
        $('network').hidden = false;
        $('network-title').textContent = 'Network of ' + ref + ' (' + nodes.length + ' nodes, ' + edges.length + ' links)';
        if (S.cy) { S.cy.destroy(); }
        S.cy = cytoscape({
          container: $('cy'), elements: { nodes: nodes, edges: edges },
          style: [
            { selector: 'node', style: { label: 'data(label)', 'font-size': 9, width: 16, height: 16, 'background-color': '#999' } },
            { selector: 'node[kind = "child"]', style: { 'background-color': '#d6604d' } },
            { selector: 'node[kind = "person"]', style: { 'background-color': '#4393c3' } },
            { selector: 'node[kind = "premises"]', style: { 'background-color': '#f4a582' } },
            { selector: 'node[kind = "vehicle"]', style: { 'background-color': '#762a83' } },
            { selector: 'edge', style: { width: 1.5, 'line-color': '#bbb', 'curve-style': 'bezier', label: 'data(relation)', 'font-size': 7, color: '#666' } },
            { selector: 'edge[?intelligence]', style: { 'line-style': 'dashed', 'line-color': '#762a83' } }
          ],
          layout: { name: 'cose', animate: false, randomize: false }
        });
        window.wfCy = S.cy;
        $('network-status').textContent = nodes.length + ' nodes shown.';
      })
      .catch(function (e) { $('network-status').textContent = e.message; });
  }

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
