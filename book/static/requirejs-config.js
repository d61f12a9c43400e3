// Let RequireJS resolve modules next to this file (the book's _static folder), so the
// widget manager vendored there finds its own fonts and chunks without a CDN.
(function () {
  var here = document.currentScript.src;
  requirejs.config({ baseUrl: here.slice(0, here.lastIndexOf("/") + 1) });
})();
