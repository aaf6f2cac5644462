// Copies the pinned npm packages (package.json / package-lock.json) into static/vendor.
// Run at build time only: `cd maps && npm ci && npm run vendor`. The copies are committed so a
// fresh clone works without npm; nothing is fetched at run time.
const fs = require('fs');
const path = require('path');
const out = path.join(__dirname, 'static', 'vendor');
const files = [
  ['leaflet/dist/leaflet.js', 'leaflet.js'],
  ['leaflet/dist/leaflet.css', 'leaflet.css'],
  ['leaflet/dist/images/layers.png', 'images/layers.png'],
  ['leaflet/dist/images/layers-2x.png', 'images/layers-2x.png'],
  ['leaflet/dist/images/marker-icon.png', 'images/marker-icon.png'],
  ['leaflet/dist/images/marker-icon-2x.png', 'images/marker-icon-2x.png'],
  ['leaflet/dist/images/marker-shadow.png', 'images/marker-shadow.png'],
  ['leaflet.markercluster/dist/leaflet.markercluster.js', 'leaflet.markercluster.js'],
  ['leaflet.markercluster/dist/MarkerCluster.css', 'MarkerCluster.css'],
  ['leaflet.markercluster/dist/MarkerCluster.Default.css', 'MarkerCluster.Default.css'],
  ['leaflet.heat/dist/leaflet-heat.js', 'leaflet-heat.js'],
  ['cytoscape/dist/cytoscape.min.js', 'cytoscape.min.js'],
  // fCoSE force-directed layout for link charts (and the two modules it is built on, in load order)
  ['layout-base/layout-base.js', 'layout-base.js'],
  ['cose-base/cose-base.js', 'cose-base.js'],
  ['cytoscape-fcose/cytoscape-fcose.js', 'cytoscape-fcose.js'],
];
fs.mkdirSync(path.join(out, 'images'), { recursive: true });
const manifest = {};
for (const [src, dst] of files) {
  const from = path.join(__dirname, 'node_modules', src);
  fs.copyFileSync(from, path.join(out, dst));
  const pkg = src.split('/')[0];
  const version = JSON.parse(fs.readFileSync(path.join(__dirname, 'node_modules', pkg, 'package.json'))).version;
  manifest[dst] = { package: pkg, version, from: src };
}
fs.writeFileSync(path.join(out, 'MANIFEST.json'), JSON.stringify(manifest, null, 2) + '\n');
console.log('vendored', Object.keys(manifest).length, 'files into', out);
