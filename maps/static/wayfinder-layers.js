/*
 * Wayfinder map layers for Leaflet 1.9 (no other dependency; leaflet.heat optional).
 *
 * WF.pointsLayer(data, options): draws many points (100k+) on ONE canvas, no DOM node per point.
 *   data = {lat: [...], lng: [...], cls: [...] (optional class index), label: [...] (optional
 *   popup HTML per point), t: [...] (optional epoch days for time filtering)}
 *   options = {colors: ['#c00', ...], radius: 3, name: 'found at'}
 *   Hit-testing for popups uses a screen grid built at each redraw.
 * WF.timeHeat(data, options): leaflet.heat layer with a month slider control.
 *   data = {lat, lng, month: [index into months], months: ['2017-01', ...]}
 * WF.legend(html, position): a plain legend control.
 */
(function (global) {
  'use strict';
  var WF = global.WF || {};
  var D2R = Math.PI / 180;

  function mercX(lng) { return (lng + 180) / 360; }
  function mercY(lat) {
    var s = Math.sin(lat * D2R);
    s = Math.max(Math.min(s, 0.9999), -0.9999);
    return 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI);
  }

  WF.PointsLayer = L.Layer.extend({
    options: { colors: ['#b2182b'], radius: 3, opacity: 0.75, pane: 'overlayPane', cell: 8 },

    initialize: function (data, options) {
      L.setOptions(this, options);
      if (data.enc === 'b64') { data = WF.decodePoints(data); }
      var n = data.lat.length;
      this._n = n;
      this._mx = new Float64Array(n);
      this._my = new Float64Array(n);
      for (var i = 0; i < n; i++) {
        this._mx[i] = mercX(data.lng[i]);
        this._my[i] = mercY(data.lat[i]);
      }
      this._cls = data.cls ? Uint8Array.from(data.cls) : new Uint8Array(n);
      this._t = data.t ? Float64Array.from(data.t) : null;
      this._label = data.label || null;
      this._pcols = data.cols || null;  // [{name, codes: Int32Array, values: [...]}]: popups built on click
      this._lat = data.lat; this._lng = data.lng;
      this._range = null;
      this.drawCount = 0;
    },

    setTimeRange: function (t0, t1) { this._range = [t0, t1]; if (this._map) { this._redraw(); } return this; },

    onAdd: function (map) {
      this._canvas = L.DomUtil.create('canvas', 'wf-points-layer leaflet-zoom-hide');
      this._canvas.style.pointerEvents = 'none';
      this.getPane().appendChild(this._canvas);
      map.on('moveend zoomend resize viewreset', this._redraw, this);
      map.on('click', this._onClick, this);
      this._redraw();
    },

    onRemove: function (map) {
      map.off('moveend zoomend resize viewreset', this._redraw, this);
      map.off('click', this._onClick, this);
      L.DomUtil.remove(this._canvas);
      this._grid = null;
    },

    _redraw: function () {
      var map = this._map; if (!map) { return; }
      var size = map.getSize();
      var topLeft = map.containerPointToLayerPoint([0, 0]);
      L.DomUtil.setPosition(this._canvas, topLeft);
      var ratio = global.devicePixelRatio || 1;
      this._canvas.width = size.x * ratio; this._canvas.height = size.y * ratio;
      this._canvas.style.width = size.x + 'px'; this._canvas.style.height = size.y + 'px';
      var ctx = this._canvas.getContext('2d');
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      var scale = 256 * Math.pow(2, map.getZoom());
      var origin = map.getPixelBounds().min;  // world pixel of container (0,0)
      var ox = origin.x, oy = origin.y;
      var r = this.options.radius, d = 2 * r, cell = this.options.cell;
      var cols = Math.ceil(size.x / cell) + 1, rows = Math.ceil(size.y / cell) + 1;
      var grid = (this._label || this._pcols) ? new Int32Array(cols * rows).fill(-1) : null;
      var colors = this.options.colors, ncol = colors.length;
      var paths = [];
      for (var c = 0; c < ncol; c++) { paths.push(new Path2D()); }
      var mx = this._mx, my = this._my, cls = this._cls, t = this._t, range = this._range;
      var drawn = 0;
      for (var i = 0; i < this._n; i++) {
        if (range && t && (t[i] < range[0] || t[i] > range[1])) { continue; }
        var x = mx[i] * scale - ox, y = my[i] * scale - oy;
        if (x < -d || y < -d || x > size.x + d || y > size.y + d) { continue; }
        paths[cls[i] % ncol].rect(x - r, y - r, d, d);
        drawn++;
        if (grid && x >= 0 && y >= 0) {
          var gi = ((y / cell) | 0) * cols + ((x / cell) | 0);
          if (gi < grid.length) { grid[gi] = i; }
        }
      }
      ctx.globalAlpha = this.options.opacity;
      for (c = 0; c < ncol; c++) { ctx.fillStyle = colors[c]; ctx.fill(paths[c]); }
      this._grid = grid; this._cols = cols; this._rows = rows;
      this.drawCount++;
      this.lastDrawn = drawn;
      this.fire('drawn', { drawn: drawn });
    },

    /** Index of the point nearest a container point, or -1 (within 2 grid cells). */
    hitTest: function (p) {
      if (!this._grid) { return -1; }
      var cell = this.options.cell, cx = (p.x / cell) | 0, cy = (p.y / cell) | 0;
      for (var rad = 0; rad <= 2; rad++) {
        for (var dy = -rad; dy <= rad; dy++) {
          for (var dx = -rad; dx <= rad; dx++) {
            var x = cx + dx, y = cy + dy;
            if (x < 0 || y < 0 || x >= this._cols || y >= this._rows) { continue; }
            var i = this._grid[y * this._cols + x];
            if (i >= 0) { return i; }
          }
        }
      }
      return -1;
    },

    popupContent: function (i) {
      if (this._label) { return String(this._label[i]); }
      var rows = '';
      for (var c = 0; c < this._pcols.length; c++) {
        var col = this._pcols[c], v = col.values[col.codes[i]];
        if (v === null || v === undefined || v === '') { continue; }
        rows += '<tr><td>' + WF.esc(col.name.replace(/_/g, ' ')) + '</td><td>' + WF.esc(v) + '</td></tr>';
      }
      return '<div class="wf-popup"><table>' + rows + '</table></div>';
    },

    _onClick: function (e) {
      var i = this.hitTest(e.containerPoint);
      if (i < 0 || !(this._label || this._pcols)) { return; }
      L.popup({ maxHeight: 320 }).setLatLng([this._lat[i], this._lng[i]]).setContent(this.popupContent(i)).openOn(this._map);
    }
  });
  WF.esc = function (v) {
    return String(v == null ? '' : v).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  };

  var TYPES = { u8: Uint8Array, u16: Uint16Array, i32: Int32Array };
  function b64(col) {
    var bin = atob(col.b), n = bin.length, bytes = new Uint8Array(n);
    for (var i = 0; i < n; i++) { bytes[i] = bin.charCodeAt(i); }
    return new TYPES[col.t](bytes.buffer);
  }

  /** Compact form written by maps.layers.points_data: little-endian u8/u16/i32 base64 columns. */
  WF.decodePoints = function (d) {
    var lat = b64(d.lat), lng = b64(d.lng), n = lat.length;
    var out = { lat: new Float64Array(n), lng: new Float64Array(n) };
    for (var i = 0; i < n; i++) { out.lat[i] = d.lat0 + lat[i] / d.scale; out.lng[i] = d.lng0 + lng[i] / d.scale; }
    if (d.cls) { out.cls = b64(d.cls); }
    if (d.t) { out.t = b64(d.t); }
    if (d.cols) {
      out.cols = d.cols.map(function (c) { return { name: c.name, codes: b64(c.codes), values: c.values }; });
    }
    return out;
  };

  WF.pointsLayer = function (data, options) { return new WF.PointsLayer(data, options); };

  WF.timeHeat = function (data, options) {
    options = options || {};
    var group = L.layerGroup();
    var months = data.months || [];
    var heat = L.heatLayer([], { radius: options.radius || 18, blur: options.blur || 15, maxZoom: 16 });
    group.addLayer(heat);
    var control = L.control({ position: options.position || 'bottomleft' });
    var state = { from: 0, to: Math.max(months.length - 1, 0) };
    function points() {
      var out = [];
      for (var i = 0; i < data.lat.length; i++) {
        var m = data.month[i];
        if (m >= state.from && m <= state.to) { out.push([data.lat[i], data.lng[i], 1]); }
      }
      return out;
    }
    function refresh() {
      heat.setLatLngs(points());
      if (control._label) {
        control._label.textContent = (months[state.from] || '') + (state.to !== state.from ? ' to ' + (months[state.to] || '') : '');
      }
    }
    control.onAdd = function () {
      var div = L.DomUtil.create('div', 'wf-time-slider leaflet-bar');
      div.style.background = 'white'; div.style.padding = '4px 8px'; div.style.font = '12px sans-serif';
      var title = L.DomUtil.create('div', '', div); title.textContent = (options.title || 'Heat map') + ': month';
      var input = L.DomUtil.create('input', '', div);
      input.type = 'range'; input.min = 0; input.max = Math.max(months.length - 1, 0); input.value = input.max;
      input.setAttribute('aria-label', 'heat map month');
      var all = L.DomUtil.create('label', '', div);
      var cb = L.DomUtil.create('input', '', all); cb.type = 'checkbox'; cb.checked = true;
      all.appendChild(document.createTextNode(' all months'));
      control._label = L.DomUtil.create('div', 'wf-time-label', div);
      L.DomEvent.disableClickPropagation(div);
      function update() {
        var v = parseInt(input.value, 10);
        if (cb.checked) { state.from = 0; state.to = months.length - 1; } else { state.from = v; state.to = v; }
        refresh();
      }
      input.addEventListener('input', function () { cb.checked = false; update(); });
      cb.addEventListener('change', update);
      return div;
    };
    group.on('add', function () { control.addTo(group._map); refresh(); });
    group.on('remove', function () { control.remove(); });
    group.heat = heat; group.slider = control; group.state = state; group.refresh = refresh;
    return group;
  };

  WF.legend = function (html, position) {
    var c = L.control({ position: position || 'bottomright' });
    c.onAdd = function () {
      var div = L.DomUtil.create('div', 'wf-legend');
      div.style.background = 'rgba(255,255,255,0.92)'; div.style.padding = '6px 8px';
      div.style.font = '12px sans-serif'; div.style.borderRadius = '4px';
      div.innerHTML = html;
      return div;
    };
    return c;
  };

  global.WF = WF;
})(window);
