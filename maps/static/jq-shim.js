/* Wayfinder: the one jQuery call folium's generated code makes is $(`<html>`)[0] (popups built from
 * HTML). This shim covers exactly that, so folium pages need no jQuery download. */
(function (w) {
  if (w.$) { return; }
  w.$ = function (html) {
    var t = document.createElement('template');
    t.innerHTML = String(html).trim();
    return [t.content.firstElementChild];
  };
})(window);
